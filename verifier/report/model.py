"""The report's view model: the findings + checklist + sample -> plain dicts for the template.

No HTML here: the template (autoescaped) decides how things look. Nothing here decides a
verdict: statuses, the sampling result and which factors differ are the checks' (their results
and verdicts); this module only arranges and formats them.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from functools import lru_cache

import pandas as pd
from markupsafe import Markup, escape

from verifier import numbers
from verifier.checks import REGISTRY
from verifier.errors import escape_hidden
from verifier.findings import Findings
from verifier.methodologies import get
from verifier.report.checklist import CONTRACT_CHECK_IDS, text
from verifier.report.districts import view as district_view
from verifier.report.examples import CODED, coded, example_table
from verifier.report.excluded_view import evidence_note, nc_line
from verifier.resources import read_yaml, resource_dir


def visible(text: str) -> str:
    """`text` as the report and the workpaper print it: hidden characters (NUL, ESC, bidi
    overrides, BOM, ...; tab and line breaks excepted, shown as white space) as their Python
    escapes. HTML and XML cannot carry NUL, and a bidi override would show a reader another value;
    findings.json and sample.csv keep the value exactly as read."""
    return escape_hidden(text, keep="\t\n\r")


BREAK_AFTER = re.compile(r"(?<=\w)([_/:\-]+|\.(?!\d))(?=\w)")  # a decimal point is no separator


def report_datetime(date: str) -> datetime:
    """The report date (YYYY-MM-DD) at 00:00 UTC: every timestamp the PDF and workbook carry."""
    return datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=timezone.utc)


def breakable(value) -> Markup:
    """`value` (escaped, hidden characters shown) with a line-break opportunity after each `_`,
    `.`, `-`, `/` and `:` inside it: an id or key wraps at its separators ("own_operator" as
    "own_|operator"), never between two letters."""
    if isinstance(value, Markup):
        return value
    return Markup(BREAK_AFTER.sub(r"\1<wbr>", str(escape(visible(str(value))))))


STATUS_ORDER = ("fail", "warn", "manual", "not_evaluated", "pass", "not_applicable")
MAX_EXAMPLES = 5


@lru_cache(maxsize=1)
def strings() -> dict:
    """Every fixed string of the report: templates/i18n.yaml, then the topic files in
    templates/i18n/ (name order); a key defined twice is a defect, never silently overridden."""
    folder = resource_dir("templates")
    table: dict = {}
    for path in [folder / "i18n.yaml", *sorted((folder / "i18n").glob("*.yaml"))]:
        part = read_yaml(path) or {}
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


def fmt_num(value, kind: str | None = None) -> str:
    """A value as the report prints it (verifier.numbers): by `kind` (count, pkm, tco2e, rate,
    plain); without one an integer is a count, a float every written decimal; None -> —."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, dict):
        return "; ".join(f"{k} = {fmt_num(v, kind)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(fmt_num(v, kind) for v in value)
    return numbers.written(value, kind)


def fmt_pct(value) -> str:
    return numbers.rate(value)


def _kind(cid: str, field: str) -> str | None:
    """The quantity a check's `reported`/`observed` hold (the check's message_kinds)."""
    cls = REGISTRY.checks.get(cid)
    return cls.message_kinds.get(field) if cls is not None else None


def _lines(value, kind: str | None, words: dict[str, str]) -> list[str]:
    """A check's reported/observed value as printed lines: one per parameter of a dict; a code
    in words where it has them (`value_<code>`)."""
    if isinstance(value, dict):  # more than two parameters do not fit a column: the result text lists them
        if len(value) > 2:
            return [words["value_many"]]
        return [f"{k} = {fmt_num(v, kind)}" for k, v in value.items()] or ["—"]
    if isinstance(value, str):
        return [words.get(f"value_{value}", value)]
    return [fmt_num(value, kind)]


def field_labels(t) -> dict[str, str]:
    """Field name -> its column header in the report's language (`field_<name>` strings)."""
    return {key[len("field_"):]: t(key) for key in strings() if key.startswith("field_")}


def code_words(t) -> dict[str, str]:
    """`<field>_<code>` -> the code in words (mode_bus -> 公交), for the coded fields, and
    `value_<code>` -> a check's reported/observed code in words (value_gcj02 -> GCJ-02)."""
    return {key: t(key) for key in strings() if key.startswith(tuple(f"{f}_" for f in (*CODED, "value")))}


UNIT = re.compile(r"\b(k?g|t)CO2(e?)\b")


def units(value) -> Markup:
    """Plain text (a check's message) escaped, its CO2 units written with a subscript 2 (the
    CJK font has no U+2082)."""
    if isinstance(value, Markup):
        return value
    return Markup(UNIT.sub(r"\1CO<sub>2</sub>\2", str(escape(visible(str(value))))))


def worst(statuses) -> str:
    present = set(statuses)
    return next((s for s in STATUS_ORDER if s in present), "not_applicable")


def build(typed: Findings, sample: pd.DataFrame, checklist: dict, lang: str) -> dict:
    t = translator(lang)
    findings = typed.to_dict()
    checks = {c["id"]: c for c in findings.get("checks", [])}
    titles = {cid: text(entry["title"], lang) for cid, entry in checklist["checks"].items()}
    labels = field_labels(t)
    words = code_words(t)

    def view_check(cid: str) -> dict:
        c = checks.get(cid) or {"id": cid, "status": "not_evaluated"}
        msgs = c.get("messages") or {}
        return {
            "id": cid, "title": titles.get(cid, cid), "status": c.get("status", "not_evaluated"),
            "reported": _lines(c.get("reported"), _kind(cid, "reported"), words),
            "observed": _lines(c.get("observed"), _kind(cid, "observed"), words),
            "affected": fmt_num(c.get("affected"), "count"),
            "message": msgs.get(lang) or msgs.get("zh") or c.get("message") or "",
            "examples": example_table((c.get("examples") or [])[:MAX_EXAMPLES], labels, words),
            "more_examples": max(0, len(c.get("examples") or []) - MAX_EXAMPLES),
            "description": text(checklist["checks"].get(cid, {}).get("description"), lang),
            "correction": text(checklist["checks"].get(cid, {}).get("correction"), lang),
        }

    points = []
    for p in checklist["points"]:
        pc = [view_check(cid) for cid in p["checks"]]
        points.append({
            "id": p["id"], "anchor": f"pt-{p['id']}", "title": text(p["title"], lang),
            "clause": text(p.get("clause"), lang), "description": text(p.get("description"), lang),
            "checks": pc, "status": worst(c["status"] for c in pc), "figures": p.get("figures", []),
        })
    order = check_order(checklist)
    point_of = {cid: p for p in points for cid in (c["id"] for c in p["checks"])}
    ordered = [view_check(cid) for cid in order if cid in checks]

    ncs = []
    nc_number = nc_numbers({c["id"]: c["status"] for c in ordered}, checklist)
    for c in ordered:
        if c["status"] == "fail":
            p = point_of.get(c["id"])
            ncs.append({**c, "number": nc_number[c["id"]],
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
                 "records": fmt_num(e.get("records"), "count"), "pkm": fmt_num(e.get("pkm"), "pkm")}
                for e in rec.get("excluded") or []]
    factor_reasons = _factor_reasons(typed, t)
    per_mode = [{**m, "mode_label": t(f"mode_{m['mode']}") if m.get("mode") in ("bus", "metro")
                 else m.get("mode"), "records": fmt_num(m.get("records")),
                 "eligible": fmt_num(m.get("eligible")), "pkm": fmt_num(m.get("pkm"), "pkm"),
                 "reduction": fmt_num(m.get("reduction_tco2"), "tco2e")}
                for m in rec.get("per_mode") or []]
    diff = None if reported is None or recalculated is None else recalculated - reported

    project = findings.get("project") or {}
    applicant = findings.get("applicant") or {}
    period = findings.get("period") or {}
    sampling = {**(findings.get("parameters") or {}), **(findings.get("sampling") or {})}
    roles = strings()
    inputs = [{**i, "role_label": t(_role(i)) if _role(i) in roles else i.get("role"),
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
        "materiality": fmt_pct((findings.get("parameters") or {}).get("materiality")),
        "reported": fmt_num(reported, "tco2e"), "recalculated": fmt_num(recalculated, "tco2e"),
        "verified": fmt_num(verified, "tco2e"), "difference": fmt_num(diff, "tco2e"),
        "difference_rate": fmt_pct(rec.get("difference_rate")),
        "excluded": excluded, "factor_reasons": factor_reasons, "per_mode": per_mode,
        "ineligible": ineligible,
        "inputs": inputs, "trips_records": fmt_num(trips_records),
        "excluded_note": evidence_note(typed, t, fmt_num),
        "sampling": {
            "method": sampling.get("method", "md5-rank"), "seed": sampling.get("seed"),
            "population": fmt_num(sampling.get("population")),
            "confidence": fmt_pct(sampling.get("confidence")),
            "tolerable_rate": fmt_pct(sampling.get("tolerable_rate")),
            "expected_rate": fmt_pct(sampling.get("expected_rate")),
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
        "sample": sample_table(sample, titles, labels, words),
        **tracking_view(typed, checklist, lang),
        **district_view(findings, t),
    }


def check_order(checklist: dict) -> list[str]:
    """Check ids in the report's order: by verification point, then the rest in contract order."""
    order: list[str] = []
    for p in checklist["points"]:
        order += [c for c in p["checks"] if c not in order]
    return order + [c for c in CONTRACT_CHECK_IDS if c not in order]


def nc_numbers(statuses: dict, checklist: dict) -> dict[str, str]:
    """Check id -> its non-conformity number (NC-01, ...): the failing checks in report order.
    Per run: an earlier run's numbers come from its own statuses (verifier/report/previous.py)."""
    failing = [cid for cid in check_order(checklist) if statuses.get(cid) == "fail"]
    return {cid: f"NC-{n:02d}" for n, cid in enumerate(failing, start=1)}


def tracking_view(typed: Findings, checklist: dict, lang: str) -> dict:
    """The cover's verification fields and the comparison with an earlier run (imported here:
    those modules use this one's formatting)."""
    from verifier.report.cover import verification_view
    from verifier.report.previous import previous_view
    from verifier.report.workpaper import TRACKING

    return {"verification": verification_view(typed, lang), "previous": previous_view(typed, checklist, lang),
            "nc_tracking": TRACKING}


def _role(entry: dict) -> str:
    """The string key of an input's role ("document:application_form" is a document)."""
    return f"role_{str(entry.get('role') or '').split(':')[0]}"


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


# The fields the printed sample list shows (all fields are in sample.csv and sample.xlsx), with
# their widths in percent of the landscape page; the tests' columns share the rest.
SAMPLE_FIELDS = {"record_key": 8.5, "user_id": 6.5, "mode": 4, "start_time": 10.5, "end_time": 10.5,
                 "entry_station": 6.5, "exit_station": 6.5, "distance_km": 4.5}
NUMBER_WIDTH = 3  # the "#" column
# Narrowest test column: "不符合" at the annex's 6.8 pt and the cell padding (11 mm of 267 mm).
MIN_TEST_WIDTH = 4.2
MAX_TEST_WIDTH = 6  # in the tests' own table (split), the key fields take the rest
KEY_FIELDS = ("record_key", "user_id", "mode")  # repeated beside the tests when split


def sample_table(sample: pd.DataFrame, titles: dict, labels: dict[str, str], words: dict[str, str]) -> dict:
    """Columns and string rows of the sample annex: the key fields, then one numbered column
    per test (T1, T2, ...; the legend gives each test's title and check id). `tables` lays them
    out: one table when every test column fits beside the fields at MIN_TEST_WIDTH, else the
    fields and the tests as two tables keyed by the sample number (and record key)."""
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
                cells.append(numbers.plain(value))
            else:
                cells.append(str(coded(col, value, words)))
        rows.append(dict(zip(sample.columns, cells)))
    tests_view = [{"id": c, "title": titles[c], "label": f"T{i}"} for i, c in enumerate(tests, start=1)]
    return {"fields": fields, "tests": tests_view, "rows": rows,
            "tables": _sample_tables(fields, tests_view, labels)}


def _sample_tables(fields: list[str], tests: list[dict], labels: dict[str, str]) -> list[dict]:
    """Each printed table of the sample annex: its fields (key, label, width %) and tests."""
    def columns(names: list[str], share: float) -> list[dict]:
        total = sum(SAMPLE_FIELDS[f] for f in names) or 1
        return [{"key": f, "label": labels.get(f, f), "width": round(SAMPLE_FIELDS[f] * share / total, 2)}
                for f in names]

    used = NUMBER_WIDTH + sum(SAMPLE_FIELDS[f] for f in fields)
    if not tests or (100 - used) / len(tests) >= MIN_TEST_WIDTH:
        return [{"fields": columns(fields, used - NUMBER_WIDTH), "tests": tests,
                 "test_width": round((100 - used) / max(len(tests), 1), 2)}]
    keyed = [f for f in fields if f in KEY_FIELDS]
    test_width = min(MAX_TEST_WIDTH, (100 - NUMBER_WIDTH - sum(SAMPLE_FIELDS[f] for f in keyed)) / len(tests))
    return [{"fields": columns(fields, 100 - NUMBER_WIDTH), "tests": [], "test_width": 0},
            {"fields": columns(keyed, 100 - NUMBER_WIDTH - test_width * len(tests)), "tests": tests,
             "test_width": round(test_width, 2)}]
