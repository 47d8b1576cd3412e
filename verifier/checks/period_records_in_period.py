"""period.records_in_period: every record lies in the accounting period."""

from __future__ import annotations

from verifier.checks.base import Outcome, register
from verifier.checks.record import FlagCheck, missing_outcome
from verifier.data.dialect import DIALECT


@register
class PeriodRecordsInPeriod(FlagCheck):
    """Each record's date (the local date of its start) lies between project.period_start and
    project.period_end inclusive; records outside are excluded."""

    id = "period.records_in_period"
    order = 7  # row of the contract's check table
    title = {"zh": "记录日期在核算期内", "en": "Records within the period"}
    description = {
        "zh": "核对每条记录的日期（起点当地日期）均在核算期内。",
        "en": "Confirms every record's date (local date of its start) lies within the accounting period."}
    correction = {
        "zh": "剔除核算期外的记录，并据此更正次数、里程和减排量。",
        "en": "Remove records outside the period and correct counts, mileage and reduction accordingly."}
    catalogue = {
        "ok": Outcome("pass", "全部记录日期均在核算期 {start} 至 {end} 内。",
                      "Every record is dated within the period {start} to {end}."),
        "found": Outcome("fail", "{affected} 条记录日期不在核算期 {start} 至 {end} 内（{pkm} 人公里），已剔除。",
                         "{affected} record(s) dated outside the period {start} to {end} ({pkm} pkm), excluded."),
        "missing": missing_outcome("无法评估：核算期起止日期缺失或格式错误。",
                                   "Not evaluated: the period's dates are missing or malformed."),
    }

    def evaluable(self, ctx):
        return None if ctx.sub.period_start and ctx.sub.period_end else "missing"

    def predicate(self, ctx):
        if self.evaluable(ctx):
            return None
        return f"record_date < {DIALECT.date(ctx.sub.period_start)} OR record_date > {DIALECT.date(ctx.sub.period_end)}"

    def reason_sql(self, ctx, lang):
        day = DIALECT.date_text("record_date")
        start, end = ctx.sub.period_start.isoformat(), ctx.sub.period_end.isoformat()
        return (f"'记录日期 ' || {day} || ' 不在核算期 {start} 至 {end} 内'" if lang == "zh"
                else f"'dated ' || {day} || ', outside the period {start} to {end}'")

    def values(self, ctx):
        return {"start": ctx.sub.period_start, "end": ctx.sub.period_end}
