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
    order = 3  # row of the contract's check table
    title = {"zh": "申报主体资格", "en": "Eligibility of the applicant"}
    description = {
        "zh": "核对申报主体的业务模式符合方法学适用条件（共享单车：自营单车运营企业；公共出行：数据聚集平台）。",
        "en": "Confirms the applicant's business model meets the methodology's applicability condition (bike - an operator of its own bikes; transit - a data aggregation platform)."}
    correction = {
        "zh": "申报主体不符合方法学适用条件，本期减排量不予核证；应由符合条件的主体申报。",
        "en": "The applicant does not meet the applicability condition; no reduction can be verified for this filing. An eligible entity must file."}
    catalogue = {
        "ok": Outcome("pass", "申报主体类型为{model}，符合方法学要求。",
                      "The applicant's business model is {model}, as the methodology requires."),
        "ineligible": Outcome("fail", "申报主体类型为{model}，方法学仅允许{required}；核证减排量为 0。",
                              "The applicant's business model is {model}; the methodology admits only {required}. Verified reduction is 0."),
    }

    def evaluate(self, ctx):
        required = ctx.methodology.eligible_business_model
        model = ctx.sub.applicant.get("business_model")
        code = "ok" if model == required else "ineligible"
        return self.result(code, reported=required, observed=model if model else "(not stated)",
                           model=_named(model), required=_named(required))


# The business models a report declares (report.yaml applicant.business_model), in words.
BUSINESS_MODELS = {
    "own_operator": {"zh": "“自有单车运营企业”", "en": "own_operator (an operator of its own bikes)"},
    "aggregator": {"zh": "“聚合平台”", "en": "aggregator (an aggregation platform)"},
    "data_platform": {"zh": "“数据聚集平台”", "en": "data_platform (a data aggregation platform)"},
}


def _named(model) -> dict[str, str]:
    """A declared business model in the message's language; another value quoted as given."""
    if not model:
        return {"zh": "（未填写）", "en": "(not stated)"}
    return BUSINESS_MODELS.get(model) or {"zh": f"“{model}”", "en": repr(model)}
