"""excluded.csv (contract section 4): every record an excluding record-level check flags, written
by the engine in one streaming pass while it is open, and the findings' `excluded` block that
records it (its rows and SHA-256)."""

from __future__ import annotations

from pathlib import Path

from verifier.checks.base import REGISTRY, Check
from verifier.checks.record import REASON_SEP, FlagCheck

EXCLUDED_FILE = "excluded.csv"


def write_excluded(ctx, applicable: list[Check], folder: Path) -> dict:
    """Write excluded.csv into `folder` (the run's temporary output folder) and return the
    findings' block: {"file", "records", "sha256", "bytes"}. The checks column lists the
    excluding checks in contract order; the reason and the
    canonical fields are those of the report's language and of sample.csv."""
    from verifier.pipeline import sha256_file

    lang = ctx.opts.lang
    ran = set(ctx.engine.flag_columns) - set(ctx.engine.warn_only)
    order = REGISTRY.ids()  # the contract's
    checks = sorted((c for c in applicable if isinstance(c, FlagCheck) and c.id in ran), key=lambda c: order.index(c.id))
    reasons = {c.id: c.reason_sql(ctx, lang) or "NULL" for c in checks}
    fields = [c for c in ctx.methodology.columns if ctx.has(c)]
    path = Path(folder) / EXCLUDED_FILE
    rows = ctx.engine.write_excluded(path, reasons, fields, REASON_SEP[lang])
    return {"file": EXCLUDED_FILE, "records": rows, "sha256": sha256_file(path), "bytes": path.stat().st_size}
