"""`verifier sign`: a PAdES signature over a finished report PDF (contract section 3).

The signature is an incremental update: the bytes of the report as rendered stay the first part
of the signed file, so its PDF/A-3 declaration, its attachments (findings.json, sample.csv, ...)
and the attachment digests recorded at rendering are kept and covered by the signature. The
signature widget is invisible with the print flag set, as PDF/A requires (pyHanko's default).
The document information dictionary and the XMP metadata are left exactly as rendered: pyHanko
would append itself to the Producer of the one and replace it in the other, which PDF/A forbids
(the two must agree); the signing time is in the signature.

The input is never modified; the signed file is written to a temporary file beside the output
and renamed over it, so it is written completely or not at all.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from verifier.errors import InputError, quoted

SUFFIX = ".signed.pdf"


@dataclass(frozen=True)
class Signed:
    out: Path
    field: str
    signer: str  # the certificate's subject, as people read it


def default_out(report: Path) -> Path:
    """`report.pdf` -> `report.signed.pdf` beside it."""
    return report.with_name(report.stem + SUFFIX)


def sign_report(report: Path, key: Path, *, passphrase_file: Path | None = None,
                reason: str | None = None, out: Path | None = None) -> Signed:
    """Sign ``report`` with the key and certificate in the PKCS#12 file ``key``; write ``out``."""
    report, key = Path(report), Path(key)
    out = Path(out) if out is not None else default_out(report)
    data = _read(report, "REPORT")
    _check_out(report, out)
    signer = _load_signer(key, passphrase_file)

    from pyhanko.sign import fields, signers

    writer = _open(report, data)
    field = _new_field_name(name for name, _, _ in fields.enumerate_sig_fields(writer.prev))
    meta = signers.PdfSignatureMetadata(field_name=field, reason=reason, md_algorithm="sha256",
                                        subfilter=fields.SigSeedSubFilter.PADES)
    tmp = tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", suffix=".part", delete=False)
    try:
        os.chmod(tmp.name, report.stat().st_mode & 0o777)  # the report's permissions, not 0600
        with tmp:
            signers.PdfSigner(meta, signer=signer).sign_pdf(writer, output=tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, out)
    except BaseException:
        Path(tmp.name).unlink(missing_ok=True)
        raise
    return Signed(out, field, signer.signing_cert.subject.human_friendly)


def _read(path: Path, label: str) -> bytes:
    if not path.is_file():
        raise InputError(path, None, f"{label}: not a file" if path.exists() else f"{label}: no such file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(path, None, f"{label}: cannot be read ({exc.strerror})") from exc


def _check_out(report: Path, out: Path) -> None:
    """The output is a new file beside nothing we read: never the input itself."""
    if out.resolve() == report.resolve() or (out.exists() and os.path.samefile(out, report)):
        raise InputError("command line", "--out", f"{quoted(out)} is the report itself; inputs are never modified")
    if out.is_dir():
        raise InputError("command line", "--out", f"{quoted(out)} is a folder; give the signed file's name")
    if not out.parent.is_dir():
        raise InputError("command line", "--out", f"folder of {quoted(out)} does not exist")


def _load_signer(key: Path, passphrase_file: Path | None):
    from pyhanko.sign import signers

    data = _read(key, "--key")
    passphrase = _passphrase(passphrase_file) if passphrase_file is not None else None
    try:
        signer = signers.SimpleSigner.load_pkcs12_data(data, other_certs=[], passphrase=passphrase)
    except ValueError:
        hint = "wrong passphrase?" if passphrase_file is not None else "encrypted? give --passphrase-file"
        raise InputError(key, "--key", f"not a readable PKCS#12 key and certificate ({hint})") from None
    if signer.signing_cert is None or signer.signing_key is None:
        raise InputError(key, "--key", "holds no private key with its certificate")
    return signer


def _passphrase(path: Path) -> bytes:
    """The passphrase file's content without its final line break (as `echo` writes it)."""
    data = _read(Path(path), "--passphrase-file")
    return data[:-2] if data.endswith(b"\r\n") else data[:-1] if data.endswith(b"\n") else data


def _open(report: Path, data: bytes):
    import io

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    class MetadataKeepingWriter(IncrementalPdfFileWriter):
        def _update_meta(self):  # pyHanko 0.38's hook for its Info/XMP update: keep both as they are
            pass

    try:
        writer = MetadataKeepingWriter(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001: whatever the parser says, the file is no PDF we can sign
        raise InputError(report, None, f"REPORT: not a readable PDF ({type(exc).__name__})") from None
    if writer.prev.encrypted:
        raise InputError(report, None, "REPORT: encrypted PDF; sign the report as verify wrote it")
    return writer


def _new_field_name(existing) -> str:
    """`Signature1`, or the next free number when the report is signed again (a countersignature)."""
    taken = set(existing)
    n = 1
    while f"Signature{n}" in taken:
        n += 1
    return f"Signature{n}"
