"""factor.values: each factor used equals the published one."""

from __future__ import annotations

from verifier.checks.base import Check, Outcome, register

PROJECT_FACTORS = ("EF_baseline", "EF_bus", "EF_metro")  # computed from the data of claim year − 2


@register
class FactorValues(Check):
    """Each default value the report uses must equal the factor table's entry for the claim year
    (the calendar year of period_end): bike `Eb`; transit `EF_baseline`, `EF_bus`, `EF_metro`,
    `bus_ride_km` and the daily caps. Transit factors for claim year Y are computed from the
    operating data of Y − 2: an entry whose data_year is given and is not Y − 2 fails too. Not
    evaluated when no published value is on file (supply the regulator's table with --factors)."""

    id = "factor.values"
    catalogue = {
        "ok": Outcome("pass", "所用缺省值与公布值一致：{summary}。", "The factors used equal the published values: {summary}."),
        "mismatch": Outcome("fail", "所用缺省值与公布值不一致：{summary}。", "Factors differ from the published values: {summary}."),
        "missing": Outcome("not_evaluated", "无法评估：因子表中没有 {year} 年的公布值（请以 --factors 提供主管部门公布的因子表）。",
                           "Not evaluated: no published value for {year} on file (supply the regulator's table with --factors)."),
    }

    def evaluate(self, ctx):
        year = ctx.sub.claim_year
        rows, bad = [], []
        for name in ctx.methodology.default_params:
            entry = ctx.factors.lookup(ctx.sub.methodology, name, year)
            if entry is None:
                continue
            reported = ctx.param(name).number if ctx.param(name) else None
            row = {"parameter": name, "reported": reported, "published": entry.value,
                   "year": entry.year, "data_year": entry.data_year, "source": entry.source}
            rows.append(row)
            if reported is None or abs(reported - entry.value) > 1e-12 * max(1.0, abs(entry.value)):
                bad.append(f"{name} {reported} ≠ {entry.value}")
            if ctx.is_transit and name in PROJECT_FACTORS and entry.data_year is not None \
                    and entry.data_year != entry.year - 2:
                bad.append(f"{name} data_year {entry.data_year} ≠ {entry.year - 2}")
        if not rows:
            return self.result("missing", year=year)
        summary = "; ".join(bad) if bad else ", ".join(f"{r['parameter']} = {r['published']}" for r in rows)
        return self.result("mismatch" if bad else "ok", affected=len(bad), examples=rows, summary=summary,
                           reported={r["parameter"]: r["reported"] for r in rows},
                           observed={r["parameter"]: r["published"] for r in rows})
