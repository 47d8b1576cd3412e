"""What a run found: one `CheckResult` per check and the `Findings` that flatten to findings.json
(contract section 4). Both are immutable: the report reads them, it never re-decides them."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, Mapping

STATUSES = ("pass", "fail", "warn", "manual", "not_evaluated", "not_applicable")
SCHEMA_VERSION = 1


def frozen(value: Any) -> Any:
    """`value` read-only: mappings as MappingProxyType, lists and tuples as tuples, deeply."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: frozen(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(frozen(v) for v in value)
    return value


def plain(value: Any) -> Any:
    """The inverse of `frozen`: dicts and lists, as json.dumps and the report read them."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class CheckResult:
    id: str
    status: str
    affected: int = 0
    reported: Any = None
    observed: Any = None
    message: str = ""  # in the report's language (set by `in_language`)
    examples: tuple = ()
    code: str = ""  # the catalogue entry of the check that produced the message
    messages: Mapping[str, str] = field(default_factory=dict)  # {"zh": ..., "en": ...}
    details: Mapping[str, Any] = field(default_factory=dict)  # extra figures for the report
    # Per item the check judged (e.g. "Eb.value" -> "fail"): what the report states beside the
    # result. Not part of findings.json (the contract fixes its fields).
    verdicts: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"{self.id}: unknown status {self.status!r}")
        for name in ("reported", "observed", "examples", "messages", "details", "verdicts"):
            object.__setattr__(self, name, frozen(getattr(self, name)))

    def in_language(self, lang: str) -> CheckResult:
        """This result with `message` in `lang` (else as it is)."""
        return replace(self, message=self.messages.get(lang, self.message))

    def to_dict(self) -> dict:
        out = {f.name: plain(getattr(self, f.name)) for f in fields(self) if f.name != "verdicts"}
        if not out["details"]:
            del out["details"]
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> CheckResult:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class Findings:
    """The findings.json document, block by block (contract section 4; `project`, `report`,
    `factors` and `boundary` are the blocks the report prints besides; `breakdown` where the
    methodology asks for one). `conclusion` and
    `exit_code` follow from the checks."""

    tool: Mapping[str, Any]
    methodology: str
    applicant: Mapping[str, Any]
    period: Mapping[str, Any]
    inputs: tuple[Mapping[str, Any], ...]
    parameters: Mapping[str, Any]
    checks: tuple[CheckResult, ...]
    sampling: Mapping[str, Any]
    recalculation: Mapping[str, Any]
    project: Mapping[str, Any]
    report: Mapping[str, Any]
    factors: tuple[Mapping[str, Any], ...]
    boundary: Mapping[str, Any] | None = None
    verification: Mapping[str, Any] | None = None  # --verifier-info (verifier/verifier_info.py)
    previous: Mapping[str, Any] | None = None  # --previous: the comparison (verifier/previous.py)
    breakdown: Mapping[str, Any] | None = None  # e.g. {"districts": [...]} (verifier.geo.districts)
    # excluded.csv: {"file", "records", "sha256", "bytes"} (verifier.excluded); None when not written
    excluded: Mapping[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name != "checks":
                object.__setattr__(self, f.name, frozen(getattr(self, f.name)))
        object.__setattr__(self, "checks", tuple(self.checks))

    @property
    def conclusion(self) -> str:
        return "fail" if any(c.status == "fail" for c in self.checks) else "pass"

    @property
    def exit_code(self) -> int:
        return 0 if self.conclusion == "pass" else 1

    def result(self, check_id: str) -> CheckResult | None:
        return next((c for c in self.checks if c.id == check_id), None)

    def check(self, check_id: str) -> dict:
        return next(c.to_dict() for c in self.checks if c.id == check_id)

    def to_dict(self) -> dict:
        """The findings.json document, in the contract's order of blocks."""
        out = {"schema_version": self.schema_version, "tool": plain(self.tool), "methodology": self.methodology,
               "applicant": plain(self.applicant), "period": plain(self.period), "inputs": plain(self.inputs),
               "parameters": plain(self.parameters), "checks": [c.to_dict() for c in self.checks],
               "sampling": plain(self.sampling), "recalculation": plain(self.recalculation),
               "conclusion": self.conclusion, "project": plain(self.project), "report": plain(self.report),
               "factors": plain(self.factors)}
        if self.boundary is not None:
            out["boundary"] = plain(self.boundary)
        for name in ("verification", "previous"):  # optional blocks: written only when given
            if getattr(self, name) is not None:
                out[name] = plain(getattr(self, name))
        if self.breakdown is not None:
            out["breakdown"] = plain(self.breakdown)
        if self.excluded is not None:
            out["excluded"] = plain(self.excluded)
        return out

    def to_json(self) -> str:
        return json.dumps(_clean(self.to_dict()), ensure_ascii=False, indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping) -> Findings:
        """Findings read back from findings.json (the verdicts, not written there, are empty)."""
        blocks = {f.name: data.get(f.name) for f in fields(cls) if f.name not in ("checks", "schema_version")}
        return cls(**blocks, checks=tuple(CheckResult.from_dict(c) for c in data.get("checks") or ()),
                   schema_version=data.get("schema_version", SCHEMA_VERSION))


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
