"""records.overlap: no user makes two trips at once."""

from __future__ import annotations

from verifier.checks.base import Outcome, register
from verifier.checks.record import FlagCheck
from verifier.data.dialect import DIALECT


@register
class RecordsOverlap(FlagCheck):
    """One person rides one vehicle at a time. Among valid, non-duplicate records, a trip that
    starts before an earlier trip of the same user has ended is excluded (the later one; trips
    that only touch do not overlap). A bus record without an end time is an instant at its start:
    it overlaps a trip whose interval strictly contains it."""

    id = "records.overlap"
    order = 13  # row of the contract's check table
    rule = "overlap"
    title = {"zh": "行程时间重叠", "en": "Overlapping trips"}
    description = {
        "zh": "核对同一用户不存在时间上重叠的行程；重叠时剔除较晚的一条。",
        "en": "Confirms no user has two trips overlapping in time; the later one is excluded."}
    correction = {
        "zh": "说明重叠行程的原因并剔除重叠记录，据此更正次数、里程和减排量。",
        "en": "Explain the overlapping trips, remove them and correct counts, mileage and reduction accordingly."}
    catalogue = {
        "ok": Outcome("pass", "未发现同一用户时间重叠的行程。", "No user has overlapping trips."),
        "found": Outcome("fail", "{affected} 条行程与同一用户更早的行程时间重叠（{pkm} 人公里），已剔除较晚者。",
                         "{affected} trip(s) overlap an earlier trip of the same user ({pkm} pkm); the later ones are excluded."),
    }

    def reason_sql(self, ctx, lang):
        """The row (row_no) of an earlier trip it overlaps (the engine's `overlaps_row`)."""
        row = DIALECT.number_text("overlaps_row", 0)  # an integer as text, in the engine's dialect
        return f"'与第 ' || {row} || ' 行时间重叠'" if lang == "zh" else f"'overlaps row ' || {row}"

    def rule_args(self, ctx):
        """The trip's (user, start, end) columns."""
        return ("user_id", "start_time", "end_time")
