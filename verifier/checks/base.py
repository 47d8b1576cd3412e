"""The shape of a check, its message catalogue, and the registry that maps ids to checks.

Each check is a small class in its own module, registered under its contract id. Its docstring
is its documentation; `catalogue` lists every outcome it can report with a title and a message
template in Chinese and English (the frictionless-py way), so the report and the docs read the
same words the code emits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from verifier.findings import CheckResult
from verifier.methodology import BIKE, TRANSIT

if TYPE_CHECKING:
    from verifier.context import Context

BOTH = frozenset({BIKE, TRANSIT})


@dataclass(frozen=True)
class Outcome:
    """One entry of a check's catalogue."""

    status: str
    zh: str  # message template, str.format fields
    en: str


@dataclass
class Check:
    """Base class: a report- or data-level check evaluated once per run."""

    id: ClassVar[str]
    methodologies: ClassVar[frozenset[str]] = BOTH
    catalogue: ClassVar[dict[str, Outcome]] = {}
    # Record-level checks exclude the records they flag from the verified reduction.
    record_level: ClassVar[bool] = False
    # Checks that judge each sampled record: a column of sample.csv.
    sampled: ClassVar[bool] = False

    def evaluate(self, ctx: Context) -> CheckResult:
        raise NotImplementedError

    def result(self, code: str, *, affected: int = 0, reported: Any = None, observed: Any = None,
               examples: list | None = None, details: dict | None = None, **values: Any) -> CheckResult:
        """A result from the catalogue entry ``code``, its message filled from ``values``."""
        outcome = self.catalogue[code]
        fields = {"affected": affected, "reported": reported, "observed": observed, **values}
        messages = {"zh": outcome.zh.format(**fields), "en": outcome.en.format(**fields)}
        if not self.record_level and outcome.status != "warn" and affected:
            # `affected` counts records (contract section 4); a report-level count is a detail.
            details = {**(details or {}), "count": affected}
            affected = 0
        return CheckResult(id=self.id, status=outcome.status, affected=affected, reported=reported,
                           observed=observed, examples=examples or [], code=code,
                           messages=messages, details=details or {})


@dataclass
class RecordCheck(Check):
    """A check that flags records. `predicate` is a SQL boolean over the staged record columns
    (see `verifier/data/engine.py`); the engine evaluates every predicate in one pass and the
    check reads back how many records it flagged."""

    record_level: ClassVar[bool] = True
    # Columns the predicate reads that are derived from the canonical ones (name -> SQL): the
    # engine adds them to the view `staged`, so each is evaluated once per record and pass
    # (written out inside a predicate, DuckDB evaluated it at every mention).
    derived: ClassVar[dict[str, str]] = {}

    def predicate(self, ctx: Context) -> str | None:
        """SQL that is true for a record this check flags; None when it cannot be evaluated."""
        return None


@dataclass
class Registry:
    checks: dict[str, type[Check]] = field(default_factory=dict)

    def register(self, cls: type[Check]) -> type[Check]:
        if cls.id in self.checks:
            raise ValueError(f"check {cls.id} registered twice")
        self.checks[cls.id] = cls
        return cls

    def ids(self) -> list[str]:
        return list(self.checks)


REGISTRY = Registry()
register = REGISTRY.register

NOT_APPLICABLE = Outcome("not_applicable", "不适用于本方法学或本数据形式。",
                         "Does not apply to this methodology or data form.")
