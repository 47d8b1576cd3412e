"""period.natural_year: accounting is by natural year."""

from __future__ import annotations

from datetime import date

from verifier.checks.base import Check, Outcome, register


@register
class PeriodNaturalYear(Check):
    """Accounting is by natural year (自然年): the period ends on 31 December. A first period
    shorter than a year may be merged into the next year's filing, so the start may fall in the
    previous year, but not on its 1 January (that would be two whole years) and not earlier."""

    id = "period.natural_year"
    order = 6  # row of the contract's check table
    title = {"zh": "按自然年核算", "en": "Accounting by natural year"}
    description = {
        "zh": "核对核算期以 12 月 31 日结束，起始日不早于上一年 1 月 1 日（首个不足一年的期间可并入）。",
        "en": "Confirms the period ends on 31 December and starts no earlier than 1 January of the previous year (a first partial year may be merged)."}
    correction = {
        "zh": "按自然年调整核算期，并据此更正申报数据和减排量。",
        "en": "Align the accounting period with the natural year and correct the data and the reduction accordingly."}
    catalogue = {
        "ok": Outcome("pass", "核算期 {start} 至 {end} 符合自然年核算要求。", "The period {start} to {end} follows natural years."),
        "bad": Outcome("fail", "核算期 {start} 至 {end} 不符合自然年核算要求：{why}。",
                       "The period {start} to {end} does not follow natural years: {why}."),
        "missing": Outcome("not_evaluated", "无法评估：核算期起止日期缺失或格式错误。",
                           "Not evaluated: the period's dates are missing or malformed."),
    }

    def evaluate(self, ctx):
        start, end = ctx.sub.period_start, ctx.sub.period_end
        if not (start and end):
            return self.result("missing")
        why = []
        if (end.month, end.day) != (12, 31):
            why.append("period_end is not 31 December / 截止日不是12月31日")
        earliest = date(end.year - 1, 1, 1)
        if start <= earliest:
            why.append(f"period_start on or before {earliest} / 起始日不晚于 {earliest}")
        if start > end:
            why.append("period_start after period_end / 起始日晚于截止日")
        values = {"start": start, "end": end, "reported": f"{start} – {end}"}
        if why:
            return self.result("bad", affected=len(why), why="; ".join(why), **values)
        return self.result("ok", **values)
