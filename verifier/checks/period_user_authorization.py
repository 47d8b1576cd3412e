"""period.user_authorization: no record before its user authorised data collection."""

from __future__ import annotations

from verifier.checks.base import Outcome, register
from verifier.checks.record import FlagCheck, missing_outcome
from verifier.data.dialect import DIALECT


@register
class PeriodUserAuthorization(FlagCheck):
    """A user's crediting period starts when the user authorised data collection (授权日期).
    A record that starts before its user's `authorized_at` is excluded; a user missing from the
    users file (or with an unreadable date) counts as unauthorised. A user listed twice counts
    from the latest date. Without a users file: not evaluated."""

    id = "period.user_authorization"
    order = 8  # row of the contract's check table
    title = {"zh": "用户授权日期", "en": "User authorisation date"}
    description = {
        "zh": "核对每条记录不早于该用户授权数据采集的日期；授权名单中不存在的用户视为未授权。",
        "en": "Confirms no record precedes its user's authorisation of data collection; a user missing from the authorisation list counts as unauthorised."}
    correction = {
        "zh": "剔除用户授权前及未授权用户的记录，并提供完整的用户授权记录。",
        "en": "Remove records made before authorisation or by unauthorised users and provide the complete authorisation records."}
    catalogue = {
        "ok": Outcome("pass", "全部记录均晚于用户授权日期。", "Every record starts after its user's authorisation."),
        "found": Outcome("fail", "{affected} 条记录早于用户授权日期或用户未授权（{pkm} 人公里），已剔除。",
                         "{affected} record(s) start before their user's authorisation or the user is not authorised ({pkm} pkm), excluded."),
        "missing": missing_outcome("无法评估：提交材料未提供用户授权文件。",
                                   "Not evaluated: the package names no users file (data.users)."),
    }
    example_extra = ["authorized_at"]

    def evaluable(self, ctx):
        return None if ctx.sub.data_files.get("users") else "missing"

    def reason_sql(self, ctx, lang):
        """An unknown user, or the authorisation time the record precedes."""
        at = DIALECT.time_text("authorized_at")
        unknown, before = (("'用户不在授权名单中'", f"'开始时间早于用户授权时间 ' || {at}") if lang == "zh"
                           else ("'user not in the authorisation list'", f"'starts before the user''s authorisation at ' || {at}"))
        return f"CASE WHEN authorized_at IS NULL THEN {unknown} ELSE {before} END"

    def predicate(self, ctx):
        if self.evaluable(ctx):
            return None
        return "start_time IS NOT NULL AND (authorized_at IS NULL OR start_time < authorized_at)"
