"""report.arithmetic: the report agrees with itself."""

from __future__ import annotations

from verifier.checks.base import Check, Outcome, register
from verifier.submission import parse_number
from verifier.tolerance import within_rounding

MAIN = ("baseline_emissions_tco2", "project_emissions_tco2", "reduction_tco2")


@register
class ReportArithmetic(Check):
    """The report's own figures agree within the rounding of each reported figure (half a unit
    in its last written decimal), computed with the methodology's formula
    (`Methodology.emissions`) from the reported parameters. Bike: baseline = Eb × m_t9 / 1000, project = 0. Transit:
    bus_pkm = n_bus × bus_ride_km; baseline = EF_baseline × (bus_pkm + metro_pkm) / 1000;
    project = (EF_bus × bus_pkm + EF_metro × metro_pkm) / 1000. Always reduction = baseline −
    project (tCO2)."""

    id = "report.arithmetic"
    order = 2  # row of the contract's check table
    title = {"zh": "核算报告计算一致性", "en": "Arithmetic of the reduction report"}
    description = {
        "zh": "按方法学公式复核报告自身的计算：基准线排放 = 排放因子 × 人公里 / 1000，减排量 = 基准线排放 − 项目排放，允许报告数值的舍入误差。",
        "en": "Recomputes the report's own figures with the methodology's formulas (baseline = factor × pkm / 1000, reduction = baseline − project) within the rounding of the reported figure."}
    correction = {
        "zh": "按方法学公式重新计算基准线排放、项目排放和减排量，更正核算报告。",
        "en": "Recompute baseline emissions, project emissions and the reduction with the methodology's formulas and correct the report."}
    catalogue = {
        "ok": Outcome("pass", "核算报告内部计算一致。", "The report's figures agree with each other."),
        "mismatch": Outcome("fail", "核算报告内部计算不一致：{summary}", "The report's figures disagree: {summary}"),
        "missing": Outcome("not_evaluated", "缺少计算所需字段：{summary}",
                           "Fields needed for the arithmetic are missing: {summary}"),
    }

    def evaluate(self, ctx):
        m = ctx.methodology
        values = {n: (p.number if p else None) for n, p in
                  ((n, ctx.param(n)) for n in (*m.formula_factors, *m.activity))}
        res = ctx.sub.results
        formula = m.emissions(values)
        names = MAIN + tuple(k for k in formula if k.startswith("reduction_") and k not in MAIN)
        reported = {k: parse_number(res.get(k)) for k in names}
        expected = self._expected(formula, reported)
        missing = sorted({k for k, v in expected.items() if v is None}
                         | {k for k in MAIN if reported[k] is None})
        if missing:
            return self.result("missing", summary=", ".join(missing))
        rows = []
        for name, want in expected.items():
            if reported.get(name) is None:
                continue  # optional per-mode figures
            if not within_rounding(reported[name], want, res.get(name)):
                rows.append({"field": f"results.{name}", "reported": reported[name], "expected": round(want, 9)})
        if not rows:
            return self.result("ok", reported=reported["reduction_tco2"], observed=expected["reduction_tco2"])
        summary = "; ".join(f"{r['field']} = {r['reported']}, expected {r['expected']}" for r in rows)
        return self.result("mismatch", affected=len(rows), examples=rows, summary=summary,
                           reported=reported["reduction_tco2"], observed=expected["reduction_tco2"])

    @staticmethod
    def _expected(formula, r):
        """The figures the methodology's formula gives from the reported parameters (the
        per-part reductions where it gives them); the reduction is baseline − project from the
        figures as reported (the report's own step)."""
        out = {k: formula[k] for k in MAIN[:2]}
        out.update({k: formula[k] for k in r if k not in MAIN and formula[k] is not None})
        b, p = r["baseline_emissions_tco2"], r["project_emissions_tco2"]
        out["reduction_tco2"] = None if b is None or p is None else b - p
        return out
