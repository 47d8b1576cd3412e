"""distance.reconciliation: the reported pkm equals the records' total."""

from __future__ import annotations

from verifier.checks.base import Check, Outcome, register
from verifier.tolerance import within_rounding


@register
class DistanceReconciliation(Check):
    """The methodology's measured parameter (`Methodology.measured`) against the exact sum of
    its records' distance_km: bike `m_t9`, all records; transit `metro_pkm`, the metro records
    (bus pkm is trips × bus_ride_km and is not reconciled separately). Equal within
    the rounding of the reported figure: half a unit in its last written decimal."""

    id = "distance.reconciliation"
    order = 16  # row of the contract's check table
    title = {"zh": "里程核对", "en": "Mileage reconciliation"}
    description = {
        "zh": "核对报告的人公里（共享单车 m_t9；公共出行为地铁人公里数）与记录里程之和在报告数值舍入范围内一致。",
        "en": "Confirms the reported pkm (bike m_t9; transit metro_pkm) equals the sum of the records' distance within the rounding of the reported figure."}
    correction = {
        "zh": "更正报告的人公里，使其与记录里程之和一致。",
        "en": "Correct the reported pkm to equal the sum of the records' distance."}
    message_kinds = {"reported": "pkm", "observed": "pkm"}
    catalogue = {
        "ok": Outcome("pass", "申报里程 {reported} 人公里 与数据合计 {observed} 人公里 一致。",
                      "Reported {reported} pkm equals the records' {observed} pkm."),
        "mismatch": Outcome("fail", "申报里程 {reported} 人公里 与数据合计 {observed} 人公里 不一致（差 {diff} 人公里）。",
                            "Reported {reported} pkm differs from the records' {observed} pkm (by {diff} pkm)."),
        "missing": Outcome("not_evaluated", "无法评估：报告缺少 {what}。", "Not evaluated: the report lacks {what}."),
    }

    def evaluate(self, ctx):
        name, stat = ctx.methodology.measured
        param = ctx.param(name)
        if param is None or param.number is None:
            return self.result("missing", what=ctx.methodology.param_name(name))
        observed = float(ctx.stats[stat] or 0.0)
        diff = param.number - observed
        code = "ok" if within_rounding(param.number, observed, param.text) else "mismatch"
        return self.result(code, reported=param.number, observed=round(observed, 6), diff=round(diff, 6))
