"""factor.values: each factor used equals the published one."""

from __future__ import annotations

from verifier import numbers
from verifier.checks.base import Check, Outcome, register
from verifier.tolerance import same_factor


@register
class FactorValues(Check):
    """Each default value the report uses must equal the factor table's entry for the claim year
    (the calendar year of period_end): bike `Eb`; transit `EF_baseline`, `EF_bus`, `EF_metro`,
    `bus_ride_km` and the daily caps. Factors the methodology computes from earlier operating
    data (`Methodology.factor_data_lag`; transit: claim year Y from Y − 2): an entry whose
    data_year is given and is not Y − lag fails too. Not
    evaluated when no published value is on file (supply the regulator's table with --factors).
    Its verdicts name each factor judged: "<name>.value" and, when wrong, "<name>.data_year"."""

    id = "factor.values"
    order = 18  # row of the contract's check table
    title = {"zh": "排放因子取值", "en": "Emission factor values"}
    description = {
        "zh": "核对所用排放因子与主管部门公布的核算年度数值一致（公共出行：项目因子采用核算年前两年的运营数据）。",
        "en": "Confirms each factor used equals the value published for the claim year (transit - project factors from the data of the claim year minus two)."}
    correction = {
        "zh": "采用主管部门公布的排放因子重新计算减排量。",
        "en": "Recompute the reduction with the published emission factors."}
    catalogue = {
        "ok": Outcome("pass", "所用缺省值与公布值一致：{summary}。", "The factors used equal the published values: {summary}."),
        "mismatch": Outcome("fail", "所用缺省值与公布值不一致：{summary}。", "Factors differ from the published values: {summary}."),
        "missing": Outcome("not_evaluated", "无法评估：因子表中没有 {year} 年的公布值（请提供主管部门公布的因子表）。",
                           "Not evaluated: no published value for {year} on file (supply the regulator's table with --factors)."),
    }

    def evaluate(self, ctx):
        year = ctx.sub.claim_year
        rows, bad, verdicts = [], [], {}
        for name in ctx.methodology.default_params:
            f = ctx.factor(name)
            entry = f.published
            if entry is None:
                continue
            reported = f.reported
            rows.append({"parameter": name, "reported": reported, "published": entry.value,
                         "year": entry.year, "data_year": entry.data_year, "source": entry.source})
            verdicts[f"{name}.value"] = "pass"
            if not same_factor(reported, entry.value):
                bad.append({lang: f"{name} {numbers.plain(reported)} ≠ {numbers.plain(entry.value)}" for lang in ("zh", "en")})
                verdicts[f"{name}.value"] = "fail"
            lag = ctx.methodology.factor_data_lag.get(name)
            if lag is not None and entry.data_year is not None and entry.data_year != entry.year - lag:
                bad.append({"zh": f"{name} 数据年份 {entry.data_year} ≠ {entry.year - lag}",
                            "en": f"{name} data_year {entry.data_year} ≠ {entry.year - lag}"})
                verdicts[f"{name}.data_year"] = "fail"
        if not rows:
            return self.result("missing", year=year)
        summary = ({lang: ("；" if lang == "zh" else "; ").join(b[lang] for b in bad) for lang in ("zh", "en")} if bad
                   else ", ".join(f"{r['parameter']} = {numbers.plain(r['published'])}" for r in rows))
        return self.result("mismatch" if bad else "ok", affected=len(bad), examples=rows, summary=summary,
                           reported={r["parameter"]: r["reported"] for r in rows},
                           observed={r["parameter"]: r["published"] for r in rows}, verdicts=verdicts)
