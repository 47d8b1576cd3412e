"""reduction.recalculation: the reported reduction stands within materiality."""

from __future__ import annotations

from verifier.checks.base import Check, Outcome, register
from verifier.recalc import REQUIRES
from verifier.tolerance import within_limit


@register
class ReductionRecalculation(Check):
    """The reduction is recalculated from the eligible records (those no record-level check
    excludes) with the published factors (the reported ones where none is on file): bike
    Eb × Σ pkm / 1000; transit [Σ bus (EF_baseline − EF_bus) × bus_ride_km + Σ metro
    (EF_baseline − EF_metro) × distance_km] / 1000. The difference rate |reported −
    recalculated| / reported must not exceed the materiality. The verified reduction is the
    smaller of the two (0 when the applicant is not eligible)."""

    id = "reduction.recalculation"
    order = 19  # row of the contract's check table
    requires = REQUIRES  # what the recalculation reads: it is made before this check runs
    title = {"zh": "减排量复算", "en": "Recalculation of the reduction"}
    description = {
        "zh": "以合格记录和公布的因子复算减排量，核对与报告数值的差异率不超过实质性阈值。",
        "en": "Recomputes the reduction from the eligible records and the published factors and confirms the difference rate is within materiality."}
    correction = {
        "zh": "按核证复算结果更正减排量。",
        "en": "Correct the reduction to the recalculated figure."}
    message_kinds = {"reported": "tco2e", "observed": "tco2e"}
    catalogue = {
        "ok": Outcome("pass", "申报减排量 {reported} tCO2e，复算 {observed} tCO2e，差异率 {rate} 不超过实质性水平 {materiality}。",
                      "Reported {reported} tCO2e, recalculated {observed} tCO2e: difference {rate}, within the materiality {materiality}."),
        "material": Outcome("fail", "申报减排量 {reported} tCO2e，复算 {observed} tCO2e，差异率 {rate} 超过实质性水平 {materiality}。",
                            "Reported {reported} tCO2e, recalculated {observed} tCO2e: difference {rate} exceeds the materiality {materiality}."),
        "missing": Outcome("not_evaluated", "无法评估：{what}。", "Not evaluated: {what}."),
    }

    def evaluate(self, ctx):
        r = ctx.recalculation
        if r.get("missing"):
            return self.result("missing", what=r["missing"])
        rate = r["difference_rate"]
        materiality = ctx.materiality
        code = "ok" if within_limit(rate, materiality) else "material"
        return self.result(code, reported=r["reported_reduction_tco2"], observed=r["recalculated_reduction_tco2"],
                           rate=rate, materiality=materiality)
