"""`verifier check-report`: is this report PDF the one verify wrote (and signed), and were its
inputs these files? (contract section 3)

Three questions, each answered by lines naming what differs:

1. The signatures, if any (pyHanko): each must be intact (the signed bytes unchanged) and valid
   (the signature value matches the signer's certificate), and the latest must cover the whole
   file (nothing added after it; an earlier one may be followed only by later signatures and
   their validation data). Whether a certification authority vouches for the certificate is
   reported ("signed by <subject>, certificate not trusted by a CA") but decides nothing: the
   verification body's own, self-signed or internal, certificate is the usual case, and what
   this command confirms is integrity; who the signer is, is for the reader to judge. Bytes
   after the file's last end-of-file marker are a difference of their own.
2. The attached evidence: every attachment's SHA-256 equals the digest recorded at rendering in
   the document information (`verifier.report.evidence`), none is missing or added, and the
   findings.json digest printed in the evidence annex is the recorded one. In an unsigned report
   the record could be rewritten along with the attachment; a signature closes that gap.
3. With ``inputs``: every input listed in the attached findings.json has, under that folder, a
   file of that path with that SHA-256. A listed path that is absolute or leaves the folder
   (``..``, or a symbolic link pointing out of it) is a difference and is never opened.

An unreadable file (missing, not a PDF) is an `InputError` (exit 2); differences are exit 1.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from verifier.errors import InputError, quoted
from verifier.report import evidence

EOF_MARKER = b"%%EOF"
MAX_REVISIONS = 64  # end-of-file markers tried from the last: a report has two or three revisions


@dataclass
class Checked:
    """What check-report found: lines confirmed (``notes``) and lines that differ."""
    notes: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.differences else 0


def check_report(pdf: Path, inputs: Path | None = None) -> Checked:
    """Check the report ``pdf`` (and, with ``inputs``, the input files listed in it)."""
    pdf = Path(pdf)
    if inputs is not None and not Path(inputs).is_dir():
        raise InputError("command line", "--inputs", f"{quoted(inputs)} is not a folder")
    data = _read_pdf(pdf)
    result = Checked()
    _quiet_pyhanko()
    data, reader = _last_revision(pdf, data, result)
    _check_signatures(reader, result)
    attachments, recorded, pages = _read_evidence(pdf, data)
    findings = _check_attachments(attachments, recorded, pages, result)
    if inputs is not None and findings is not None:
        check_inputs(findings, Path(inputs), result)
    return result


# -- reading ------------------------------------------------------------------------------------
def _read_pdf(pdf: Path) -> bytes:
    if not pdf.is_file():
        raise InputError(pdf, None, "not a file" if pdf.exists() else "no such file")
    try:
        data = pdf.read_bytes()
    except OSError as exc:
        raise InputError(pdf, None, f"cannot be read ({exc.strerror})") from exc
    if not data.lstrip(b"\x00\t\r\n ").startswith(b"%PDF-") or EOF_MARKER not in data:
        raise InputError(pdf, None, "not a PDF file")
    return data


def _last_revision(pdf: Path, data: bytes, result: Checked):
    """(the file up to the end of its last readable revision, its pyHanko reader). Bytes after
    that end (but the marker's line end) are a difference: they lie outside every revision and
    every signature. A file no prefix of which reads is unreadable (exit 2)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    ends, at = [], data.find(EOF_MARKER)
    while at >= 0:
        end = at + len(EOF_MARKER)
        ends.append(end + len(data[end:end + 2]) - len(data[end:end + 2].lstrip(b"\r\n")))
        at = data.find(EOF_MARKER, end)
    failure: Exception | None = None
    for end in reversed(ends[-MAX_REVISIONS:]):
        try:
            reader = PdfFileReader(io.BytesIO(data[:end]), strict=False)
            reader.embedded_signatures  # reads the form: a damaged one fails here, not later
        except Exception as exc:  # noqa: BLE001: whatever the parser says, this prefix is unreadable
            failure = failure or exc
            continue
        if end < len(data):
            result.differences.append(f"{len(data) - end:,} bytes were appended after the end of the PDF")
        return data[:end], reader
    raise _unreadable(pdf, failure)


def _unreadable(pdf: Path, exc: Exception | None) -> InputError:
    return InputError(pdf, None, f"not a readable PDF ({type(exc).__name__})")


# -- 1. signatures --------------------------------------------------------------------------------
def _check_signatures(reader, result: Checked) -> None:
    signatures = list(reader.embedded_signatures)
    if not signatures:
        result.notes.append("not signed: only the attachments can be checked (sign it with verifier sign)")
    for n, sig in enumerate(signatures):
        _check_signature(sig, last=n == len(signatures) - 1, result=result)


def _check_signature(sig, *, last: bool, result: Checked) -> None:
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    name = f"signature {quoted(sig.field_name)}"
    try:
        # No fetching: the check runs offline and says the same thing every time.
        status = validate_pdf_signature(sig, ValidationContext(allow_fetching=False))
    except Exception as exc:  # noqa: BLE001: a damaged signature (CMS, byte range) is a difference
        result.differences.append(f"{name}: cannot be validated ({type(exc).__name__})")
        return
    problems = _signature_problems(status, last)
    result.differences += [f"{name}: {problem}" for problem in problems]
    if not problems:
        trust = "certificate trusted" if status.trusted else "certificate not trusted by a CA"
        signer = status.signing_cert.subject.human_friendly if status.signing_cert is not None else "unknown"
        when = status.signer_reported_dt.isoformat() if status.signer_reported_dt else "time not given"
        result.notes.append(f"{name}: intact, signed by {quoted(signer)} at {when}, {trust}")


def _signature_problems(status, last: bool) -> list[str]:
    """What is wrong with one validated signature; trust is not among it (module docstring)."""
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    problems = []
    if not status.intact:
        problems.append("the signed bytes were changed after signing")
    if not status.valid:
        problems.append("the signature value does not match the signer's certificate")
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    if last and not whole:
        problems.append("content was added after signing (it does not cover the whole file)")
    elif not whole and not _only_signatures_after(status):
        problems.append("the document was changed after signing, not only signed again")
    return problems


def _only_signatures_after(status) -> bool:
    """Whether what follows a signature's revision is only further signatures (with their
    validation data or form values): pyHanko's diff analysis, at most form filling."""
    from pyhanko.sign.diff_analysis import ModificationLevel

    level = status.modification_level
    return level is not None and level.value <= ModificationLevel.FORM_FILLING.value


def _quiet_pyhanko() -> None:
    """pyHanko logs every untrusted certificate with a traceback; the result says it in one line."""
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logger = logging.getLogger(name)
        logger.propagate = False
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())


# -- 2. the attached evidence --------------------------------------------------------------------
def _read_evidence(pdf: Path, data: bytes):
    """(attachments name -> contents, the recorded digests or None, the pages)."""
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        attachments = {name: list(contents) for name, contents in reader.attachments.items()}
        recorded = evidence.decode((reader.metadata or {}).get("/" + evidence.INFO_KEY))
        pages = list(reader.pages)
    except Exception as exc:  # noqa: BLE001: the file's structure cannot be read
        raise _unreadable(pdf, exc) from None
    return attachments, recorded, pages


def _check_attachments(attachments: dict[str, list[bytes]], recorded: dict[str, str] | None, pages,
                       result: Checked) -> dict | None:
    """Compare; return the attached findings.json, parsed (None when absent or unreadable)."""
    if recorded is None:
        result.differences.append("the PDF records no attachment digests: it was not rendered by this "
                                  "verifier or the record was removed")
    else:
        _compare_attachments(attachments, recorded, result)
        if evidence.FINDINGS in recorded and not _printed(recorded[evidence.FINDINGS], pages):
            result.differences.append(f"the evidence annex does not print the recorded {evidence.FINDINGS} SHA-256")
    if evidence.FINDINGS not in attachments:
        result.differences.append(f"attachment {quoted(evidence.FINDINGS)}: missing")
        return None
    try:
        findings = json.loads(attachments[evidence.FINDINGS][-1])
    except ValueError:
        result.differences.append(f"attachment {quoted(evidence.FINDINGS)}: not readable JSON")
        return None
    return findings if isinstance(findings, dict) else None


def _compare_attachments(attachments: dict[str, list[bytes]], recorded: dict[str, str], result: Checked) -> None:
    if evidence.FINDINGS not in recorded:
        result.differences.append(f"the recorded digests name no {evidence.FINDINGS}")
    for name, digest in recorded.items():
        found = [evidence.sha256(content) for content in attachments.get(name, [])]
        if not found:
            continue  # reported once, below or by the caller (findings.json)
        if any(d != digest for d in found):
            other = next(d for d in found if d != digest)
            result.differences.append(f"attachment {quoted(name)}: not the file the report was rendered from "
                                      f"(SHA-256 {other}, recorded {digest})")
        else:
            result.notes.append(f"attachment {quoted(name)}: the file the report was rendered from")
    for name in sorted(set(recorded) - set(attachments) - {evidence.FINDINGS}):
        result.differences.append(f"attachment {quoted(name)}: missing")
    for name in sorted(set(attachments) - set(recorded)):
        result.differences.append(f"attachment {quoted(name)}: added after the report was rendered")


def _printed(digest: str, pages) -> bool:
    """Whether a page (the evidence annex is near the end: searched from the last) prints ``digest``."""
    for page in reversed(pages):
        try:
            text = "".join(page.extract_text().split())
        except Exception:  # noqa: BLE001: a page whose text cannot be read prints nothing we can see
            continue
        if digest in text:
            return True
    return False


# -- 3. the inputs --------------------------------------------------------------------------------
def check_inputs(findings: dict, folder: Path, result: Checked) -> None:
    """Compare each input findings['inputs'] lists with the file of that path under ``folder``."""
    from verifier.pipeline import sha256_file

    listed = findings.get("inputs")
    if not isinstance(listed, list):
        result.differences.append(f"attachment {quoted(evidence.FINDINGS)}: lists no inputs")
        return
    root = folder.resolve()
    matched = 0
    for n, item in enumerate(listed):
        path, digest = (item.get("path"), item.get("sha256")) if isinstance(item, dict) else (None, None)
        if not isinstance(path, str) or not isinstance(digest, str):
            result.differences.append(f"input [{n}] in {evidence.FINDINGS}: no path and SHA-256")
            continue
        name = f"input {quoted(path)} ({quoted(item.get('role'))})"
        problem = _outside(path, root)
        if problem:
            result.differences.append(f"{name}: {problem}; not opened")
            continue
        target = root / path
        if not target.is_file():
            result.differences.append(f"{name}: no such file under {quoted(folder)}"
                                      if not target.exists() else f"{name}: not a regular file")
            continue
        actual = sha256_file(target)
        if actual != digest:
            result.differences.append(f"{name}: SHA-256 {actual}, findings.json lists {digest}")
        else:
            matched += 1
    result.notes.append(f"inputs: {matched} of {len(listed)} listed in {evidence.FINDINGS} match the files "
                        f"under {quoted(folder)}")


def _outside(path: str, root: Path) -> str | None:
    """Why the listed ``path`` is not a file inside ``root`` (None when it is)."""
    if not path or "\x00" in path:
        return "not a file path"
    if PurePosixPath(path).is_absolute() or PureWindowsPath(path).is_absolute() or PureWindowsPath(path).drive:
        return "an absolute path, outside the inputs folder"
    if ".." in PurePosixPath(path.replace("\\", "/")).parts:
        return "leaves the inputs folder (..)"
    try:
        (root / path).resolve().relative_to(root)
    except (ValueError, OSError):
        return "resolves outside the inputs folder (symbolic link)"
    return None
