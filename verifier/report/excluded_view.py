"""excluded.csv in the report: the line each non-conformity of an excluding check gets, the
evidence annex's note, and whether the file travels inside the PDF (at most
ATTACH_LIMIT_BYTES: the PDF is built in memory, so a larger file stays beside it, named by its
SHA-256 and row count)."""

from __future__ import annotations

from pathlib import Path

from verifier.checks import REGISTRY
from verifier.excluded import EXCLUDED_FILE
from verifier.findings import Findings

ATTACH_LIMIT_BYTES = 64 * 2**20  # 64 MiB


def attached(block) -> bool:
    """Whether excluded.csv (its findings block) is embedded in the PDF."""
    return bool(block) and int(block.get("bytes") or 0) <= ATTACH_LIMIT_BYTES


def excluded_attachment(out_dir: Path, findings: Findings) -> dict[str, bytes]:
    """{"excluded.csv": its bytes} when the run wrote it and it is small enough, else {}."""
    path = Path(out_dir) / EXCLUDED_FILE
    if not findings.excluded or not path.is_file() or path.stat().st_size > ATTACH_LIMIT_BYTES:
        return {}
    return {EXCLUDED_FILE: path.read_bytes()}


def excludes(check_id: str) -> bool:
    """A record-level check whose records leave the verified reduction (not a warning)."""
    cls = REGISTRY.checks.get(check_id)
    return bool(cls and cls.record_level and getattr(cls, "excludes", False))


def nc_line(findings: Findings, check_id: str, affected: str, t) -> str | None:
    """The non-conformity's pointer to excluded.csv with its count (`affected`, formatted);
    None for a check that excludes no record or a run without the file."""
    if not findings.excluded or not excludes(check_id):
        return None
    return t("ex_nc_attached" if attached(findings.excluded) else "ex_nc_apart").format(n=affected)


def evidence_note(findings: Findings, t, fmt) -> str | None:
    """The evidence annex's line on excluded.csv: embedded or not, its rows and SHA-256."""
    block = findings.excluded
    if not block:
        return None
    key = "ex_evidence_attached" if attached(block) else "ex_evidence_apart"
    return t(key).format(n=fmt(block.get("records")), sha=block.get("sha256"), limit=ATTACH_LIMIT_BYTES // 2**20)
