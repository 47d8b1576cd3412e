"""applicant.eligibility: the applicant is of the kind the methodology admits."""

from __future__ import annotations

from verifier.checks.base import Check, Outcome, register


@register
class ApplicantEligibility(Check):
    """Bike: only an operator with its own shared-bike business (`own_operator`) may apply;
    aggregator platforms and third-party payment platforms are not eligible. Transit: only a data
    aggregation platform (`data_platform`). When this fails the verified reduction is 0 (the
    recalculated figure is still computed and reported)."""

    id = "applicant.eligibility"
    catalogue = {
        "ok": Outcome("pass", "申报主体类型为 {observed}，符合方法学要求。",
                      "The applicant's business model is {observed}, as the methodology requires."),
        "ineligible": Outcome("fail", "申报主体类型为 {observed}，方法学仅允许 {reported}；核证减排量为 0。",
                              "The applicant's business model is {observed}; the methodology admits only {reported}. Verified reduction is 0."),
    }

    def evaluate(self, ctx):
        required = ctx.methodology.eligible_business_model
        model = ctx.sub.applicant.get("business_model")
        code = "ok" if model == required else "ineligible"
        return self.result(code, reported=required, observed=model if model else "(not stated)")
