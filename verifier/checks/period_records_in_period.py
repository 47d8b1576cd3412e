"""period.records_in_period: every record lies in the accounting period."""

from __future__ import annotations

from verifier.checks.base import Outcome, register
from verifier.checks.record import FlagCheck, missing_outcome


@register
class PeriodRecordsInPeriod(FlagCheck):
    """Each record's date (the local date of its start) lies between project.period_start and
    project.period_end inclusive; records outside are excluded."""

    id = "period.records_in_period"
    catalogue = {
        "ok": Outcome("pass", "全部记录日期均在核算期 {start} 至 {end} 内。",
                      "Every record is dated within the period {start} to {end}."),
        "found": Outcome("fail", "{affected} 条记录日期不在核算期 {start} 至 {end} 内（{pkm} pkm），已剔除。",
                         "{affected} record(s) dated outside the period {start} to {end} ({pkm} pkm), excluded."),
        "missing": missing_outcome("无法评估：核算期起止日期缺失或格式错误。",
                                   "Not evaluated: the period's dates are missing or malformed."),
    }

    def evaluable(self, ctx):
        return None if ctx.sub.period_start and ctx.sub.period_end else "missing"

    def predicate(self, ctx):
        if self.evaluable(ctx):
            return None
        return (f"record_date < DATE '{ctx.sub.period_start.isoformat()}' "
                f"OR record_date > DATE '{ctx.sub.period_end.isoformat()}'")

    def values(self, ctx):
        return {"start": ctx.sub.period_start, "end": ctx.sub.period_end}
