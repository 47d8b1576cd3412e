"""period.crediting_start: nothing is credited before 2022-08-18."""

from __future__ import annotations

from dataclasses import replace

from verifier.checks.base import Outcome, register
from verifier.checks.record import FlagCheck
from verifier.constants import SCHEME_START
from verifier.data.dialect import DIALECT


@register
class PeriodCreditingStart(FlagCheck):
    """《深圳市碳普惠管理办法》 took effect on 2022-08-18: the crediting period may not start
    earlier, and records dated earlier (by the local date of their start) are excluded and are
    never eligible."""

    id = "period.crediting_start"
    order = 5  # row of the contract's check table
    title = {"zh": "计入期起始日期", "en": "Start of the crediting period"}
    description = {
        "zh": "核对计入期不早于《深圳市碳普惠管理办法》施行日 2022-08-18，且不含此前的记录。",
        "en": "Confirms the crediting period starts on or after 2022-08-18 (effective date of the Shenzhen carbon-inclusion measures) and no earlier record is claimed."}
    correction = {
        "zh": "剔除 2022-08-18 之前的记录，将计入期起始日期更正为不早于 2022-08-18。",
        "en": "Remove records dated before 2022-08-18 and start the crediting period no earlier than that date."}
    catalogue = {
        "ok": Outcome("pass", "计入期起始日 {reported} 不早于 2022-08-18，无更早的记录。",
                      "The period starts on {reported}, not before 2022-08-18; no earlier record."),
        "found": Outcome("fail", "{affected} 条记录早于 2022-08-18（{pkm} 人公里），已剔除；计入期起始日 {reported}。",
                         "{affected} record(s) dated before 2022-08-18 ({pkm} pkm), excluded; period starts {reported}."),
        "early_period": Outcome("fail", "计入期起始日 {reported} 早于 2022-08-18。",
                                "The period starts on {reported}, before 2022-08-18."),
        "missing": Outcome("not_evaluated", "无法评估：{what}。", "Not evaluated: {what}."),
    }

    def predicate(self, ctx):
        return f"record_date < {DIALECT.date(SCHEME_START)}"

    def reason_sql(self, ctx, lang):
        day = DIALECT.date_text("record_date")
        start = SCHEME_START.isoformat()
        return (f"'记录日期 ' || {day} || ' 早于 {start}'" if lang == "zh"
                else f"'dated ' || {day} || ', before {start}'")

    def values(self, ctx):
        start = ctx.sub.period_start
        return {"reported": start.isoformat() if start else "—"}

    def evaluate(self, ctx):
        result = super().evaluate(ctx)
        start = ctx.sub.period_start
        if result.status == "pass" and start is not None and start < SCHEME_START:
            return self.result("early_period", reported=start.isoformat())
        return replace(result, reported=start.isoformat() if start else None)
