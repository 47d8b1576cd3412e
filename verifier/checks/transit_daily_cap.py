"""transit.daily_cap: credited trips per user, mode and day stay within the cap."""

from __future__ import annotations

from verifier.checks.base import Outcome, register
from verifier.checks.record import FlagCheck, missing_outcome
from verifier.data.dialect import DIALECT

CAP_PARAMS = {"bus": "daily_cap_bus", "metro": "daily_cap_metro"}


def daily_caps(ctx) -> dict[str, int] | None:
    """The caps to apply: the published value for the claim year where on file, else the
    reported one; None when either mode has neither."""
    caps = {}
    for mode, name in CAP_PARAMS.items():
        value = ctx.factor(name).value
        if value is None:
            return None
        caps[mode] = int(value)  # 每日平均出行次数, truncated to an integer
    return caps


@register
class TransitDailyCap(FlagCheck):
    """The previous year's average number of daily trips per user and mode (truncated to an
    integer) caps the credited trips. Per user, mode and record date, the records no other
    record-level check excludes, ordered by start time then record key, may number at most the
    cap; the excess (the latest of the day) is excluded. Caps are the published values for the
    claim year where on file, else the reported ones."""

    id = "transit.daily_cap"
    order = 22  # row of the contract's check table
    rule = "daily_cap"
    title = {"zh": "每日出行次数上限", "en": "Daily trip cap"}
    description = {
        "zh": "按用户、方式和日期核对计入的出行次数不超过每日上限；超出部分（当日最晚的记录）不计入。",
        "en": "Confirms credited trips per user, mode and day do not exceed the daily cap; the excess (the day's latest) is excluded."}
    correction = {
        "zh": "剔除超出每日上限的出行记录，并据此更正次数和减排量。",
        "en": "Remove trips above the daily cap and correct counts and the reduction accordingly."}
    catalogue = {
        "ok": Outcome("pass", "无用户单日出行次数超过上限（{caps}）。", "No user exceeds the daily cap ({caps})."),
        "found": Outcome("fail", "{affected} 条出行超过用户单日上限（{caps}），已剔除当日较晚者。",
                         "{affected} trip(s) exceed a user's daily cap ({caps}); the latest of the day are excluded."),
        "missing": missing_outcome("无法评估：缺少公交、地铁的每日出行次数上限。",
                                   "Not evaluated: daily_cap_bus / daily_cap_metro missing."),
    }

    def rule_args(self, ctx):
        """The column the caps are per (mode) and the caps; None without them (not evaluated)."""
        caps = daily_caps(ctx)
        return None if caps is None else ("mode", caps)

    MODE_WORDS = {"bus": ("公交", "bus"), "metro": ("地铁", "metro")}

    def reason_sql(self, ctx, lang):
        """The cap of its mode that the day's earlier trips already reached."""
        words = {m: (f"超过{self.MODE_WORDS.get(m, (m, m))[0]}当日上限 {c} 次" if lang == "zh"
                     else f"above the daily {self.MODE_WORDS.get(m, (m, m))[1]} cap of {c} trips")
                 for m, c in (daily_caps(ctx) or {}).items()}
        return "CASE mode " + " ".join(f"WHEN {DIALECT.text(m)} THEN {DIALECT.text(w)}" for m, w in words.items()) + " END"

    def evaluable(self, ctx):
        return None if daily_caps(ctx) else "missing"

    def values(self, ctx):
        caps = daily_caps(ctx) or {}
        words = {"bus": "公交", "metro": "地铁"}
        return {"caps": {"zh": "，".join(f"{words.get(m, m)} {c} 次" for m, c in caps.items()),
                         "en": ", ".join(f"{m} {c}" for m, c in caps.items())}}
