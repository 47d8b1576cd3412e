"""records.duplicates: no record is claimed twice."""

from __future__ import annotations

from verifier.checks.base import Outcome, register
from verifier.checks.record import FlagCheck


@register
class RecordsDuplicates(FlagCheck):
    """No repeated trip_id, nor a repeated (user, mode, start time, end time) where an empty end
    counts as a value. The first record in file order is kept; each repeat is excluded and
    counted. Judged on every record (the engine's window rule)."""

    id = "records.duplicates"
    catalogue = {
        "ok": Outcome("pass", "未发现重复记录。", "No duplicate record."),
        "found": Outcome("fail", "{affected} 条重复记录（{pkm} pkm），保留首条，重复项已剔除。",
                         "{affected} repeated record(s) ({pkm} pkm): the first is kept, the repeats excluded."),
    }
    example_extra = ["trip_id"]
