"""records.duplicates: no record is claimed twice."""

from __future__ import annotations

from verifier.checks.base import Outcome, register
from verifier.checks.record import FlagCheck
from verifier.data.dialect import DIALECT


@register
class RecordsDuplicates(FlagCheck):
    """No repeated trip_id, nor a repeated (user, mode, start time, end time) where an empty end
    counts as a value. The first record in file order is kept; each repeat is excluded and
    counted. Judged on every record (the engine's window rule)."""

    id = "records.duplicates"
    order = 12  # row of the contract's check table
    rule = "duplicates"
    title = {"zh": "重复记录", "en": "Duplicate records"}
    description = {
        "zh": "核对不存在重复的订单号，或重复的（用户、方式、开始时间、结束时间）组合；保留首条。",
        "en": "Confirms no trip id, nor (user, mode, start time, end time), is repeated; the first is kept."}
    correction = {
        "zh": "剔除重复记录，并据此更正次数、里程和减排量。",
        "en": "Remove the repeated records and correct counts, mileage and reduction accordingly."}
    catalogue = {
        "ok": Outcome("pass", "未发现重复记录。", "No duplicate record."),
        "found": Outcome("fail", "{affected} 条重复记录（{pkm} 人公里），保留首条，重复项已剔除。",
                         "{affected} repeated record(s) ({pkm} pkm): the first is kept, the repeats excluded."),
    }
    example_extra = ["trip_id"]

    def reason_sql(self, ctx, lang):
        """The row (row_no) of the first record it repeats (the engine's `repeats_row`)."""
        row = DIALECT.number_text("repeats_row", 0)  # an integer as text, in the engine's dialect
        return f"'与第 ' || {row} || ' 行重复'" if lang == "zh" else f"'repeats row ' || {row}"

    def rule_args(self, ctx):
        """The keys a repeat shares, each with the fields a record must have for it to count:
        the trip id (where the data has one), and the ride: user, mode (where the methodology
        has one), start and end, an empty end counting as a value."""
        ride = tuple(c for c in ("user_id", "mode", "start_time", "end_time") if c in ctx.methodology.columns)
        same_id = [(("trip_id",), ("trip_id",))] if ctx.has("trip_id") else []
        return same_id + [(ride, ("user_id", "start_time"))]
