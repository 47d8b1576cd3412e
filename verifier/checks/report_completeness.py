"""report.completeness: the report's required fields are present and well-formed."""

from __future__ import annotations

import math

from verifier.checks.base import Check, Outcome, register
from verifier.constants import CRS_NAMES, DOMAINS, ENTITY_TYPES
from verifier.errors import field_path, quoted
from verifier.methodologies import get
from verifier.submission import CITY_TIMEZONE, PLAUSIBLE_YEARS, known_timezone, parse_date, parse_number
from verifier.uscc import is_valid_uscc

TEXT_FIELDS = {
    "applicant": ("name", "legal_representative", "uscc", "registered_address", "entity_type",
                  "contact_name", "contact_phone", "business_model"),
    "project": ("name", "domain", "methodology_name", "period_start", "period_end", "boundary"),
    "results": ("baseline_emissions_tco2", "project_emissions_tco2", "reduction_tco2"),
}
# Units counted in whole records (rides, trips): a count is a whole number, never negative.
COUNT_UNITS = ("rides", "trips")
# Results that are emissions (never negative); the reduction is their difference.
EMISSIONS = ("baseline_emissions_tco2", "project_emissions_tco2")


@register
class ReportCompleteness(Check):
    """Every field of the reduction report template (附录A) is present and well-formed: the
    applicant (USCC with a valid GB 32100-2015 check character, entity type, business model),
    the project (domain, dates, start not after end), the default and monitored data (each
    parameter of the methodology with its unit and a number; no unknown parameter names), the
    results (numbers) and the data section (coordinate system, time zone). Each problem is one
    example.

    A value that is there but cannot be what its field needs is a problem too: an impossible or
    implausible date (`2024-13-45`, a year outside 1900-2999), a count (rides, trips) that is
    negative or not whole, a negative amount (pkm, km, factor, emissions), NaN or an infinity
    anywhere a number is needed, and a `data.timezone` that names no known zone (the records are
    then read in Asia/Shanghai, the methodologies' city zone, and the message says so)."""

    id = "report.completeness"
    order = 1  # row of the contract's check table
    title = {"zh": "核算报告完整性", "en": "Completeness of the reduction report"}
    description = {
        "zh": "核对核算报告必填字段齐全且格式正确（统一社会信用代码校验位、日期、单位、参数名称）。",
        "en": "Confirms the required fields of the reduction report are present and well-formed (USCC check character, dates, units, parameter names)."}
    correction = {
        "zh": "补全或更正核算报告中缺失或格式错误的字段，并重新提交核算报告。",
        "en": "Complete or correct the missing or malformed fields of the reduction report and resubmit it."}
    catalogue = {
        "ok": Outcome("pass", "核算报告各必填字段齐全、格式正确。", "All required report fields are present and well-formed."),
        "problems": Outcome("fail", "核算报告有 {affected} 处字段缺失或格式错误：{summary}",
                            "{affected} report field(s) missing or malformed: {summary}"),
    }

    def evaluate(self, ctx):
        problems = list(problems_of(ctx.sub))
        rejected = getattr(ctx.engine, "timezone_rejected", None)  # known to zoneinfo, not to the engine
        if rejected is not None and not any(p["field"] == "data.timezone" for p in problems):
            problems.append(_timezone_problem(rejected))
        if not problems:
            return self.result("ok")
        summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:6])
        return self.result("problems", affected=len(problems), examples=problems, summary=summary)


def problems_of(sub):
    m = get(sub.methodology)
    if sub.raw.get("schema_version") not in (1, "1"):
        yield _p("schema_version", f"expected 1, got {_shown(sub.raw.get('schema_version'))}")
    for section, names in TEXT_FIELDS.items():
        values = sub.section(section)
        for name in names:
            if values.get(name) in (None, ""):
                yield _p(f"{section}.{name}", "missing")
    applicant, project = sub.applicant, sub.project
    if applicant.get("uscc") and not is_valid_uscc(str(applicant["uscc"]).strip()):
        yield _p("applicant.uscc", "not a valid 18-character code (GB 32100-2015 check character)")
    if applicant.get("entity_type") and applicant["entity_type"] not in ENTITY_TYPES:
        yield _p("applicant.entity_type", f"not one of {', '.join(ENTITY_TYPES)}")
    if applicant.get("business_model") and applicant["business_model"] not in m.business_models:
        yield _p("applicant.business_model", f"not one of {', '.join(m.business_models)}")
    if project.get("domain") and project["domain"] not in DOMAINS:
        yield _p("project.domain", f"not one of {', '.join(DOMAINS)}")
    for name in ("period_start", "period_end"):
        value = project.get(name)
        if value in (None, "") or parse_date(value) is not None:
            continue
        if parse_date(value, plausible=False) is None:
            yield _p(f"project.{name}", f"not a date (YYYY-MM-DD): {_shown(value)}")
        else:
            yield _p(f"project.{name}", f"not a plausible date (a year from {PLAUSIBLE_YEARS[0]} to "
                                        f"{PLAUSIBLE_YEARS[1]}): {_shown(value)}")
    if sub.period_start and sub.period_end and sub.period_start > sub.period_end:
        yield _p("project.period_start", "after period_end")
    for name in TEXT_FIELDS["results"]:
        value = sub.results.get(name)
        if value in (None, ""):
            continue
        problem = _number_problem(value, negative_ok=name not in EMISSIONS)
        if problem:
            yield _p(f"results.{name}", problem)
    yield from _parameters(sub, "default_data", m.default_params)
    yield from _parameters(sub, "monitored_data", m.monitored_params)
    if m.coordinates and sub.crs not in CRS_NAMES:
        yield _p("data.crs", f"missing or not one of {', '.join(CRS_NAMES)}")
    if not known_timezone(sub.timezone_declared):
        yield _timezone_problem(sub.timezone_declared)


def _timezone_problem(declared):
    return _p("data.timezone", f"unknown time zone {_shown(declared)}; the records were read in "
                               f"{CITY_TIMEZONE} (the methodology's city zone)")


def _number_problem(value, negative_ok=False, whole=False):
    """Why `value` is not the number a field needs, or None."""
    number = parse_number(value)
    if number is None:
        if isinstance(value, float) and not math.isfinite(value):
            return f"not a finite number: {_shown(value)}"
        return f"not a number: {_shown(value)}"
    if number < 0 and not negative_ok:
        return f"negative: {_shown(value)}"
    if whole and not number.is_integer():
        return f"not a whole number: {_shown(value)}"
    return None


def _shown(value):
    """A report value in a message: quoted repr-style, at most 80 characters."""
    return quoted(value, 80)


def _parameters(sub, section, expected):
    items = sub.raw.get(section)
    if items is None and not expected:
        return  # the methodology has no parameter of this kind
    if not isinstance(items, list):
        yield _p(section, "missing (a list of {name, unit, value})")
        return
    given = sub.parameters(section)
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            yield _p(section, f"entry without a name: {_shown(item)}")
        elif item["name"] not in expected:
            yield _p(field_path(section, item["name"]), f"unknown parameter name; expected {', '.join(expected)}")
    for name, unit in expected.items():
        p = given.get(name)
        if p is None:
            yield _p(f"{section}.{name}", "missing")
            continue
        if str(p.unit).strip() != unit:
            yield _p(f"{section}.{name}.unit", f"expected {unit}, got {_shown(p.unit)}")
        problem = _number_problem(p.value, whole=unit in COUNT_UNITS)
        if problem:
            yield _p(f"{section}.{name}.value", problem)


def _p(field, problem):
    return {"field": field, "problem": problem}
