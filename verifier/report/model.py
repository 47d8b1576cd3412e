"""The report's view model: the findings + checklist + sample -> plain dicts for the template.

No HTML here: the template (autoescaped) decides how things look. Nothing here decides a
verdict: statuses, the sampling result and which factors differ are the checks' (their results
and verdicts); this module only arranges and formats them.
"""

from __future__ import annotations

import math
from functools import lru_cache

import pandas as pd
import yaml

from verifier.errors import escape_hidden
from verifier.findings import Findings
from verifier.methodologies import get
from verifier.report.checklist import CONTRACT_CHECK_IDS, text
from verifier.report.excluded_view import evidence_note, nc_line
from verifier.resources import resource_dir


def visible(text: str) -> str:
    """`text` as the report and the workpaper print it: hidden characters (NUL, ESC, bidi
    overrides, BOM, ...; tab and line breaks excepted, shown as white space) as their Python
    escapes. HTML and XML cannot carry NUL, and a bidi override would show a reader another value;
    findings.json and sample.csv keep the value exactly as read."""
    return escape_hidden(text, keep="\t\n\r")


STATUS_ORDER = ("fail", "warn", "manual", "not_evaluated", "pass", "not_applicable")
MAX_EXAMPLES = 5


@lru_cache(maxsize=1)
def strings() -> dict:
    """Every fixed string of the report: templates/i18n.yaml, then the topic files in
    templates/i18n/ (name order); a key defined twice is a defect, never silently overridden."""
    folder = resource_dir("templates")
    table: dict = {}
    for path in [folder / "i18n.yaml", *sorted((folder / "i18n").glob("*.yaml"))]:
        with path.open(encoding="utf-8") as fh:
            part = yaml.safe_load(fh) or {}
        twice = sorted(set(part) & set(table))
        if twice:
            raise ValueError(f"{path.name}: report string(s) {', '.join(twice)} already defined")
        table.update(part)
    return table


def translator(lang: str):
    table = strings()

    def t(key: str):
        entry = table[key]
        return entry[lang] if lang in entry else entry["zh"]
    return t


def fmt_num(value, digits: int | None = None) -> str:
    """Numbers with thousands separators; None -> an em dash; other values as text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if digits is None:  # every written decimal up to 6: figures must trace to findings.json
            text_ = f"{value:,.6f}".rstrip("0").rstrip(".")
            return text_ or "0"
        return f"{value:,.{digits}f}"
    if isinstance(value, dict):
        return "; ".join(f"{k} = {fmt_num(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(fmt_num(v) for v in value)
    return str(value)


def fmt_pct(value, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{float(value) * 100:.{digits}f}%"


PLAIN_NUMBERS = {"year", "data_year", "row", "row_no"}  # identifiers, not quantities: no separators


def _example(ex) -> str:
    if isinstance(ex, dict):
        return "; ".join(f"{k}: {v if k in PLAIN_NUMBERS else fmt_num(v)}" for k, v in ex.items())
    return fmt_num(ex)


def worst(statuses) -> str:
    present = set(statuses)
    return next((s for s in STATUS_ORDER if s in present), "not_applicable")


def build(typed: Findings, sample: pd.DataFrame, checklist: dict, lang: str) -> dict:
    t = translator(lang)
    findings = typed.to_dict()
    checks = {c["id"]: c for c in findings.get("checks", [])}
    titles = {cid: text(entry["title"], lang) for cid, entry in checklist["checks"].items()}

    def view_check(cid: str) -> dict:
        c = checks.get(cid) or {"id": cid, "status": "not_evaluated"}
        msgs = c.get("messages") or {}
        return {
            "id": cid, "title": titles.get(cid, cid), "status": c.get("status", "not_evaluated"),
            "reported": fmt_num(c.get("reported")), "observed": fmt_num(c.get("observed")),
            "affected": fmt_num(c.get("affected")),
            "message": msgs.get(lang) or msgs.get("zh") or c.get("message") or "",
            "examples": [_example(e) for e in (c.get("examples") or [])[:MAX_EXAMPLES]],
            "more_examples": max(0, len(c.get("examples") or []) - MAX_EXAMPLES),
            "description": text(checklist["checks"].get(cid, {}).get("description"), lang),
            "correction": text(checklist["checks"].get(cid, {}).get("correction"), lang),
        }

    points = []
    order: list[str] = []
    for p in checklist["points"]:
        pc = [view_check(cid) for cid in p["checks"]]
        order += [c for c in p["checks"] if c not in order]
        points.append({
            "id": p["id"], "anchor": f"pt-{p['id']}", "title": text(p["title"], lang),
            "clause": text(p.get("clause"), lang), "description": text(p.get("description"), lang),
            "checks": pc, "status": worst(c["status"] for c in pc), "figures": p.get("figures", []),
        })
    order += [c for c in CONTRACT_CHECK_IDS if c not in order]
    point_of = {cid: p for p in points for cid in (c["id"] for c in p["checks"])}
    ordered = [view_check(cid) for cid in order if cid in checks]

    ncs = []
    for c in ordered:
        if c["status"] == "fail":
            p = point_of.get(c["id"])
            ncs.append({**c, "number": f"NC-{len(ncs) + 1:02d}",
                        "clause": p["clause"] if p else "", "point": p["title"] if p else "",
                        "excluded_note": nc_line(typed, c["id"], c["affected"], t)})
    cls = []
    for c in ordered:
        if c["status"] in ("warn", "manual", "not_evaluated"):
            p = point_of.get(c["id"])
            cls.append({**c, "number": f"CL-{len(cls) + 1:02d}", "clause": p["clause"] if p else "",
                        "action": t(f"cl_action_{c['status']}")})

    rec = findings.get("recalculation") or {}
    reported = rec.get("reported_reduction_tco2")
    recalculated = rec.get("recalculated_reduction_tco2")
    verified = rec.get("verified_reduction_tco2")
    excluded = [{"title": titles.get(e.get("check"), e.get("check")), "id": e.get("check"),
                 "records": fmt_num(e.get("records")), "pkm": fmt_num(e.get("pkm"))}
                for e in rec.get("excluded") or []]
    factor_reasons = _factor_reasons(typed, t)
    per_mode = [{**m, "mode_label": t(f"mode_{m['mode']}") if m.get("mode") in ("bus", "metro")
                 else m.get("mode"), "records": fmt_num(m.get("records")),
                 "eligible": fmt_num(m.get("eligible")), "pkm": fmt_num(m.get("pkm")),
                 "reduction": fmt_num(m.get("reduction_tco2"), 4)}
                for m in rec.get("per_mode") or []]
    diff = None if reported is None or recalculated is None else recalculated - reported

    project = findings.get("project") or {}
    applicant = findings.get("applicant") or {}
    period = findings.get("period") or {}
    sampling = {**(findings.get("parameters") or {}), **(findings.get("sampling") or {})}
    roles = strings()
    inputs = [{**i, "role_label": translator(lang)(f"role_{i.get('role')}")
               if f"role_{i.get('role')}" in roles else i.get("role"),
               "records": fmt_num(i.get("records"))} for i in findings.get("inputs") or []]
    trips_records = sum(int(i.get("records") or 0) for i in findings.get("inputs") or []
                        if i.get("role") in ("trips", "taps"))
    ineligible = (checks.get("applicant.eligibility") or {}).get("status") == "fail"
    return {
        "lang": lang,
        "report": findings.get("report") or {},
        "project_name": project.get("name") or applicant.get("name") or "",
        "methodology_name": text(checklist["name"], lang),
        "formula_text": text(get(findings["methodology"]).formula_text, lang),
        "methodology_declared": project.get("methodology_name"),
        "boundary_text": project.get("boundary") or (findings.get("boundary") or {}).get("name") or "—",
        "applicant": applicant, "period": period,
        "tool": findings.get("tool") or {}, "conclusion": findings.get("conclusion"),
        "points": points, "ncs": ncs, "cls": cls,
        "n_contract": len(CONTRACT_CHECK_IDS),
        "materiality": fmt_pct((findings.get("parameters") or {}).get("materiality"), 1),
        "reported": fmt_num(reported, 4), "recalculated": fmt_num(recalculated, 4),
        "verified": fmt_num(verified, 4), "difference": fmt_num(diff, 4),
        "difference_rate": fmt_pct(rec.get("difference_rate")),
        "excluded": excluded, "factor_reasons": factor_reasons, "per_mode": per_mode,
        "ineligible": ineligible,
        "inputs": inputs, "trips_records": fmt_num(trips_records),
        "excluded_note": evidence_note(typed, t, fmt_num),
        "sampling": {
            "method": sampling.get("method", "md5-rank"), "seed": sampling.get("seed"),
            "population": fmt_num(sampling.get("population")),
            "confidence": fmt_pct(sampling.get("confidence"), 0),
            "tolerable_rate": fmt_pct(sampling.get("tolerable_rate"), 1),
            "expected_rate": fmt_pct(sampling.get("expected_rate"), 1),
            "allowed_deviations": fmt_num(sampling.get("allowed_deviations")),
            "size": fmt_num(sampling.get("size")), "deviations": fmt_num(sampling.get("deviations")),
            "upper_rate": fmt_pct(sampling.get("upper_deviation_rate")),
            "status": (checks.get(SAMPLING_CHECK) or {}).get("status", "not_evaluated"),
        },
        "no_records": sampling.get("population") == 0,
        "boundary": findings.get("boundary"),
        "factors": [{**f, "reported": fmt_num(f.get("reported")),
                     "published": fmt_num(f.get("published")) if f.get("published") is not None
                     else t("not_on_file"), "source": f.get("source") or "—"}
                    for f in findings.get("factors") or []],
        "sample": sample_table(sample, titles),
    }


SAMPLING_CHECK = "sample.completeness"  # judges the sampling result
FACTOR_CHECK = "factor.values"  # judges each factor used against the published one


def _factor_reasons(findings: Findings, t) -> list[str]:
    """Why the recalculation differs, factor by factor: those whose value factor.values found
    differing from the published one (its verdicts), with both values."""
    result = findings.result(FACTOR_CHECK)
    verdicts = result.verdicts if result is not None else {}
    return [t("reason_factor").format(p=f["parameter"], r=fmt_num(f.get("reported")), v=fmt_num(f.get("published")))
            for f in findings.factors or ()
            if verdicts.get(f"{f['parameter']}.value") == "fail" and f.get("reported") is not None]


# The fields the printed sample list shows (all fields are in sample.csv and sample.xlsx).
SAMPLE_FIELDS = ("record_key", "user_id", "mode", "start_time", "end_time", "entry_station", "exit_station",
                 "distance_km")


def sample_table(sample: pd.DataFrame, titles: dict) -> dict:
    """Columns and string rows of the sample annex: the key fields, then one numbered column
    per test (T1, T2, ...; the legend gives each test's title and check id)."""
    tests = [c for c in sample.columns if c in titles]
    fields = [c for c in SAMPLE_FIELDS if c in sample.columns]
    rows = []
    for rec in sample.itertuples(index=False, name=None):
        cells = []
        for col, value in zip(sample.columns, rec):
            if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
                cells.append("")
            elif col in tests:
                cells.append(str(value))
            elif isinstance(value, float):
                cells.append(f"{value:.6f}".rstrip("0").rstrip("."))
            else:
                cells.append(str(value))
        rows.append(dict(zip(sample.columns, cells)))
    return {"fields": fields, "tests": [{"id": c, "title": titles[c], "label": f"T{i}"}
                                        for i, c in enumerate(tests, start=1)],
            "rows": rows}
