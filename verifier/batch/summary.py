"""The regulator's summary (contract section 7, summary.json): one row per filing from its
findings.json and the double claims, the totals (overall, per year, applicant and methodology)
and the parameters; then the summary files, each written completely or not at all.

Filing order everywhere: period end, then name; unreadable filings last, by name. Sums are
math.fsum in that order, rounded to 6 decimals, so the summary is the same byte for byte
whatever the number of jobs or the order in which the filings finished."""

from __future__ import annotations

import json
import math
from pathlib import Path

from verifier import __version__
from verifier.batch.runner import FILINGS_DIR, Batch, Outcome, filing_dir
from verifier.outdir import write_atomic
from verifier.data.engine import EngineOptions

SUMMARY_FILE = "summary.json"
DOUBLE_CLAIMS_CSV = "double_claims.csv"
DOUBLE_CLAIM = "batch.double_claim"
AMOUNTS = ("reported_reduction_tco2", "verified_reduction_tco2", "double_claimed_tco2", "creditable_reduction_tco2")
GROUP_AMOUNTS = ("reported_reduction_tco2", "verified_reduction_tco2", "creditable_reduction_tco2")


def build_summary(batch: Batch) -> dict:
    """summary.json's content for a finished batch (writes double_claims.csv on the way)."""
    findings = {o.filing.name: _findings(batch.out, o) for o in batch.outcomes if o.status == "verified"}
    ordered = sorted(batch.outcomes, key=lambda o: _order(o, findings.get(o.filing.name)))
    found = find_double_claims(batch, [o for o in ordered if o.filing.name in findings], findings)
    later = {pair["filing"] for pair in found.block.get("pairs", [])} | \
            {b for _, b in found.block.get("overlapping_periods", [])}
    rows = [_row(batch.out, o, findings.get(o.filing.name), found.per_filing.get(o.filing.name), later,
                 batch.options.lang) for o in ordered]
    o = batch.options
    return {"schema_version": 1, "tool": {"name": "verifier", "version": __version__}, "seed": batch.seed,
            "filings": rows, "double_claims": {**found.block, "csv": DOUBLE_CLAIMS_CSV},
            "totals": totals(rows),
            "parameters": {"seed": batch.seed, "lang": o.lang, "engine": o.engine,
                           "factors": _sha(o.factors), "boundary": _sha(o.boundary)}}


def _findings(out: Path, o: Outcome) -> dict:
    return json.loads((filing_dir(out, o.filing.name) / "findings.json").read_text(encoding="utf-8"))


def _order(o: Outcome, f: dict | None) -> tuple:
    """Filing order: period end, then name (as verifier.batch.double_claims.filing_order: no
    period end after every dated one); unreadable last (by name)."""
    end = (f.get("period") or {}).get("end") if f else None
    return (f is None, end is None, str(end or ""), o.filing.name)


def _sha(path) -> str | None:
    from verifier.pipeline import sha256_file

    return sha256_file(Path(path)) if path else None


# -- rows -------------------------------------------------------------------------------------
def _row(out: Path, o: Outcome, f: dict | None, doubled: dict | None, later: set[str], lang: str) -> dict:
    name = o.filing.name
    base = {"name": name, "path": str(o.filing.path), "status": "unreadable", "conclusion": None,
            "methodology": None, "methodology_name": None, "applicant": None, "period": None, "year": None,
            "reported_reduction_tco2": None, "recalculated_reduction_tco2": None,
            "verified_reduction_tco2": None, "double_claimed_tco2": None, "creditable_reduction_tco2": None,
            "failing_checks": [], "double_claims": None, "findings": None, "report": None,
            "error": o.error}
    if f is None:
        return base
    r = f.get("recalculation") or {}
    period = f.get("period") or {}
    failing = [c["id"] for c in f.get("checks", []) if c.get("status") == "fail"]
    if name in later:
        failing.append(DOUBLE_CLAIM)
    doubled = doubled or {}
    verified = r.get("verified_reduction_tco2")
    double_tco2 = doubled.get("tco2") or 0.0
    folder = f"{FILINGS_DIR}/{name}"
    return {**base, "status": "fail" if f.get("conclusion") != "pass" or DOUBLE_CLAIM in failing else "pass",
            "conclusion": f.get("conclusion"), "methodology": f.get("methodology"),
            "methodology_name": _methodology_name(f.get("methodology"), lang),
            "applicant": {"name": (f.get("applicant") or {}).get("name"), "uscc": (f.get("applicant") or {}).get("uscc")},
            "period": {"start": period.get("start"), "end": period.get("end")},
            "year": _year(period.get("end")),
            "reported_reduction_tco2": r.get("reported_reduction_tco2"),
            "recalculated_reduction_tco2": r.get("recalculated_reduction_tco2"),
            "verified_reduction_tco2": verified, "double_claimed_tco2": double_tco2,
            "creditable_reduction_tco2": _creditable(verified, double_tco2),
            "failing_checks": failing, "double_claims": int(doubled.get("records") or 0),
            "findings": f"{folder}/findings.json",
            "report": f"{folder}/report.pdf" if (out / folder / "report.pdf").is_file() else None}


def _methodology_name(methodology_id, lang: str) -> str | None:
    """The methodology's title in the summary's language (the id stays beside it)."""
    from verifier.methodologies import UnknownMethodology, get

    try:
        return get(methodology_id).name[lang]
    except (UnknownMethodology, KeyError):
        return None


def _creditable(verified: float | None, double_tco2: float) -> float | None:
    """Verified less double claimed (rounded only where something was taken off: to 10 decimals,
    below every amount's precision, so that no float residue shows)."""
    if verified is None:
        return None
    return verified if not double_tco2 else round(verified - double_tco2, 10) + 0.0


def _year(end) -> int | None:
    try:
        return int(str(end)[:4])
    except ValueError:
        return None


def _round(x: float) -> float:
    return round(x, 6) + 0.0  # + 0.0: never -0.0


# -- totals -----------------------------------------------------------------------------------
def totals(rows: list[dict]) -> dict:
    """The batch's totals and the same per year, applicant (USCC) and methodology."""
    readable = [r for r in rows if r["status"] != "unreadable"]
    out = {"filings": len(rows), "passed": _count(rows, "pass"), "failed": _count(rows, "fail"),
           "unreadable": _count(rows, "unreadable"), **_sums(readable, AMOUNTS)}
    out["by_year"] = _groups(readable, lambda r: r["year"], lambda r: None)
    out["by_applicant"] = _groups(readable, lambda r: r["applicant"]["uscc"], lambda r: r["applicant"]["name"])
    out["by_methodology"] = _groups(readable, lambda r: r["methodology"], lambda r: r["methodology_name"])
    return out


def _count(rows: list[dict], status: str) -> int:
    return sum(1 for r in rows if r["status"] == status)


def _sums(rows: list[dict], names) -> dict:
    return {n: _round(math.fsum(r[n] for r in rows if r[n] is not None)) for n in names}


def _groups(rows: list[dict], key, label) -> list[dict]:
    """{key, label?, filings, passed, amounts} per key, by key (a missing key first); the label
    is that of the group's first filing in filing order."""
    groups: dict = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    out = []
    for k in sorted(groups, key=lambda k: (k is not None, k if k is not None else "")):
        members = groups[k]
        entry = {"key": k}
        if label(members[0]) is not None:
            entry["label"] = label(members[0])
        out.append({**entry, "filings": len(members), "passed": _count(members, "pass"),
                    **_sums(members, GROUP_AMOUNTS)})
    return out


# -- double claims ----------------------------------------------------------------------------
def find_double_claims(batch: Batch, readable: list[Outcome], findings: dict[str, dict]):
    """The double claims across the readable filings (verifier.batch.double_claims, one engine
    pass with the batch's whole memory budget: the filings are done)."""
    from verifier.batch.double_claims import ClaimsInput, find_double_claims as find
    from verifier.claims import CLAIMS_FILE
    from verifier.pipeline import spark_conf_pairs

    o = batch.options
    inputs = []
    for oc in readable:
        f = findings[oc.filing.name]
        period = f.get("period") or {}
        inputs.append(ClaimsInput(
            name=oc.filing.name, claims=filing_dir(batch.out, oc.filing.name) / CLAIMS_FILE,
            uscc=(f.get("applicant") or {}).get("uscc"), methodology=f.get("methodology"),
            period_start=period.get("start"), period_end=period.get("end"),
            factors=(f.get("recalculation") or {}).get("factors_used") or {}))
    engine = EngineOptions(memory_limit=o.memory_limit, threads=o.threads, temp_dir=o.temp_dir, engine=o.engine,
                           spark_master=o.spark_master, spark_conf=spark_conf_pairs(o.spark_conf))
    return find(inputs, batch.out / DOUBLE_CLAIMS_CSV, engine)


# -- writing ----------------------------------------------------------------------------------
def write_summary(out: Path, summary: dict) -> None:
    """summary.json, then the tables and pages made from it (each written atomically)."""
    write_atomic(out / SUMMARY_FILE, json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    write_views(out, summary, summary["parameters"]["lang"])


def write_views(out: Path, summary: dict, lang: str) -> None:
    """summary.csv/.xlsx (verifier.batch.outputs) and summary.html/.pdf (verifier.batch.pages),
    each written whole or not at all."""
    from verifier.batch.outputs import write_tables
    from verifier.batch.pages import write_pages

    write_tables(out, summary, lang)
    write_pages(out, summary, lang)
