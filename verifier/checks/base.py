"""The shape of a check, its message catalogue, and the registry that maps ids to checks.

Each check is a small class in its own module, registered under its contract id. Its docstring
is its documentation; `catalogue` lists every outcome it can report with a message template in
Chinese and English (the frictionless-py way), and `title`, `description` and `correction` say
in both languages what it verifies and what the applicant must correct when it fails, so the
report and the docs read the same words the code emits.

A check declares what it needs and the pipeline asks: `requires` (checks whose outcome it
reads: evaluated first), `aggregates` (engine totals), `sample_test` (a column of sample.csv),
`histograms` (report figures of the records it judges, with its thresholds), and, for a record check, its `predicate` or the engine's window `rule` it stands for. Which
checks apply is the methodology's to say (its checklist maps its points to check ids).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping

from verifier import numbers
from verifier.findings import CheckResult

if TYPE_CHECKING:
    import pandas as pd

    from verifier.context import Context

@dataclass(frozen=True)
class Outcome:
    """One entry of a check's catalogue."""

    status: str
    zh: str  # message template, str.format fields
    en: str


@dataclass(frozen=True)
class Histogram:
    """A report figure a check contributes: how `value` (SQL) is distributed over the records
    where `where` holds. The axis reaches at least `floor` (a threshold stays in view); `marks`
    are the thresholds the figure draws (e.g. max_speed_kmh); `measure` names what `value` is
    when it is not the figure's usual quantity (e.g. "straight_line": the great-circle distance
    of start and end, where the data has no mileage), so the axis and caption say so."""

    value: str
    where: str
    floor: float = 0.0
    marks: Mapping[str, float] = field(default_factory=dict)
    measure: str | None = None


@dataclass
class Check:
    """Base class: a report- or data-level check evaluated once per run."""

    id: ClassVar[str]
    # Its row in the contract's check table: findings.json, the report and every id list follow
    # this order (a check the contract does not list yet comes after, in registration order).
    order: ClassVar[float] = 1000
    title: ClassVar[dict[str, str]] = {}  # {zh, en}
    description: ClassVar[dict[str, str]] = {}  # what the verifier does, {zh, en}
    correction: ClassVar[dict[str, str]] = {}  # what the applicant must correct, {zh, en}
    catalogue: ClassVar[dict[str, Outcome]] = {}
    # The quantity (verifier.numbers.KINDS) of message fields whose name does not say it, e.g.
    # {"reported": "pkm"}: every number in a message is written as the report writes it.
    message_kinds: ClassVar[dict[str, str]] = {}
    # Record-level checks exclude the records they flag from the verified reduction.
    record_level: ClassVar[bool] = False
    # Checks whose results this one reads (evaluated before it).
    requires: ClassVar[tuple[str, ...]] = ()

    def aggregates(self, ctx: Context) -> dict[str, str]:
        """Engine aggregates this check reads from ctx.stats (name -> SQL aggregate)."""
        return {}

    def sample_test(self, ctx: Context, sample: pd.DataFrame) -> pd.Series | None:
        """Per sampled record, True when it passes: a column of sample.csv (None: no test)."""
        return None

    def histograms(self, ctx: Context) -> dict[str, Histogram]:
        """Figure name -> the histogram this check gives it (drawn where the methodology's
        checklist names the figure); `ctx` says which columns the data carries."""
        return {}

    def evaluate(self, ctx: Context) -> CheckResult:
        raise NotImplementedError

    def _written(self, fields: dict, lang: str) -> dict:
        """Message fields as text: numbers in the report's form for their quantity; a value
        given per language ({"zh": ..., "en": ...}) in `lang`."""
        def one(name, value):
            if isinstance(value, dict) and set(value) == {"zh", "en"}:
                return value[lang]
            return numbers.written(value, self.message_kinds.get(name) or numbers.FIELD_KINDS.get(name))
        return {name: one(name, value) for name, value in fields.items()}

    def not_applicable(self) -> CheckResult:
        """The result of a check that does not apply to the methodology (its checklist)."""
        return CheckResult(self.id, NOT_APPLICABLE.status, message=NOT_APPLICABLE.zh, code="not_applicable",
                           messages={"zh": NOT_APPLICABLE.zh, "en": NOT_APPLICABLE.en})

    def result(self, code: str, *, affected: int = 0, reported: Any = None, observed: Any = None,
               examples: list | None = None, details: dict | None = None, verdicts: dict | None = None,
               **values: Any) -> CheckResult:
        """A result from the catalogue entry ``code``, its message filled from ``values``;
        ``verdicts`` (item -> status) travel with it to the report, not to findings.json."""
        outcome = self.catalogue[code]
        fields = {"affected": affected, "reported": reported, "observed": observed, **values}
        messages = {lang: template.format(**self._written(fields, lang))
                    for lang, template in (("zh", outcome.zh), ("en", outcome.en))}
        if not self.record_level and outcome.status != "warn" and affected:
            # `affected` counts records (contract section 4); a report-level count is a detail.
            details = {**(details or {}), "count": affected}
            affected = 0
        return CheckResult(id=self.id, status=outcome.status, affected=affected, reported=reported,
                           observed=observed, examples=examples or [], code=code,
                           messages=messages, details=details or {}, verdicts=verdicts or {})


@dataclass
class RecordCheck(Check):
    """A check that flags records. `predicate` is a SQL boolean over the staged record columns
    (see `verifier/data/engine.py`); the engine evaluates every predicate in one pass and the
    check reads back how many records it flagged."""

    record_level: ClassVar[bool] = True
    # The engine's window rule this check stands for ("validity": its predicate is the one the
    # window rules start from; "duplicates", "overlap", "daily_cap": judged over ordered
    # records), or None: its predicate is evaluated record by record.
    rule: ClassVar[str | None] = None
    # Columns the predicate reads that are derived from the canonical ones (name -> a function
    # giving its SQL in the active dialect): the engine adds them to the view `staged`, so each
    # is evaluated once per record and pass (written out inside a predicate, DuckDB evaluated it
    # at every mention).
    derived: ClassVar[dict[str, Callable[[], str]]] = {}

    def predicate(self, ctx: Context) -> str | None:
        """SQL that is true for a record this check flags; None when it cannot be evaluated."""
        return None

    def rule_args(self, ctx: Context) -> Any:
        """What the engine's window rule needs (e.g. the daily caps); None when it cannot run."""
        return None


@dataclass
class Registry:
    checks: dict[str, type[Check]] = field(default_factory=dict)

    def register(self, cls: type[Check]) -> type[Check]:
        if cls.id in self.checks:
            raise ValueError(f"check {cls.id} registered twice")
        taken = {c.order: c.id for c in self.checks.values()}
        if cls.order in taken and cls.order != Check.order:
            raise ValueError(f"check {cls.id}: order {cls.order} is {taken[cls.order]}'s")
        self.checks[cls.id] = cls
        self.checks = dict(sorted(self.checks.items(), key=lambda item: item[1].order))  # stable
        return cls

    def ids(self) -> list[str]:
        """Every check id, in the contract's order."""
        return list(self.checks)

    def in_order(self) -> list[type[Check]]:
        """Every check, each after the checks it requires (else in the contract's order)."""
        done: dict[str, type[Check]] = {}

        def visit(cls: type[Check], path: tuple[str, ...] = ()) -> None:
            if cls.id in path:
                raise ValueError(f"checks require each other: {' -> '.join(path + (cls.id,))}")
            for dep in cls.requires:
                visit(self.checks[dep], path + (cls.id,))
            done.setdefault(cls.id, cls)

        for cls in self.checks.values():
            visit(cls)
        return list(done.values())


REGISTRY = Registry()
register = REGISTRY.register

NOT_APPLICABLE = Outcome("not_applicable", "不适用于本方法学或本数据形式。",
                         "Does not apply to this methodology or data form.")
