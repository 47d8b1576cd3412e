"""What a run found: one `CheckResult` per check and the `Findings` that flatten to findings.json."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

STATUSES = ("pass", "fail", "warn", "manual", "not_evaluated", "not_applicable")


@dataclass
class CheckResult:
    id: str
    status: str
    affected: int = 0
    reported: Any = None
    observed: Any = None
    message: str = ""
    examples: list = field(default_factory=list)
    code: str = ""  # the catalogue entry of the check that produced the message
    messages: dict = field(default_factory=dict)  # {"zh": ..., "en": ...}
    details: dict = field(default_factory=dict)  # extra figures for the report

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"{self.id}: unknown status {self.status!r}")

    def to_dict(self) -> dict:
        out = asdict(self)
        if not out["details"]:
            del out["details"]
        return out


@dataclass
class Findings:
    data: dict  # the findings.json document

    @property
    def conclusion(self) -> str:
        return self.data["conclusion"]

    @property
    def exit_code(self) -> int:
        return 0 if self.conclusion == "pass" else 1

    def check(self, check_id: str) -> dict:
        return next(c for c in self.data["checks"] if c["id"] == check_id)

    def to_dict(self) -> dict:
        return self.data

    def to_json(self) -> str:
        return json.dumps(_clean(self.data), ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null; numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    return value
