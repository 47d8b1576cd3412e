"""What a methodology is, and the registry that maps contract ids to methodologies.

A methodology is one module in this package (``verifier/methodologies/<name>.py``) holding
everything specific to it: its names, columns, completeness rules, parameters and how each is
reconciled, the aggregates it needs, its emission formula, input forms, example fields, figures
and its checklist. Nothing outside that module names it: the pipeline, the checks and the report
ask the methodology. Only names and structure live here; every number a regulator publishes is
configuration (`verifier/reference/factors.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, ClassVar

import pandas as pd


KINDS = ("text", "time", "number")


@dataclass(frozen=True)
class Column:
    """A canonical record column: its kind (text, time or number: the engine stages it with that
    type), whether its text is read lower-cased, and, for the sample schema, the range a value
    should lie in (a warning, not an error)."""

    kind: str
    lo: float | None = None
    hi: float | None = None
    gt: float | None = None
    coerce: bool = True  # False: the sample keeps the staged value as it is (e.g. a mode label)
    lower: bool = False  # a label compared lower-case (e.g. mode, order_source): staged lower-cased

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"column kind {self.kind!r} is none of {', '.join(KINDS)}")


@dataclass(frozen=True)
class Problem:
    """One way a record fails records.validity: `sql` is true (or NULL) for such a record; `zh`
    and `en` say it in words (the reason excluded.csv and the examples give)."""

    sql: str
    zh: str
    en: str


# The words of a problem a methodology gives as bare SQL (no words of its own).
INVALID = {"zh": "必填字段缺失或无效", "en": "a required field missing or invalid"}


def as_problem(problem: Problem | str) -> Problem:
    """`problem` as a Problem: bare SQL gets the generic words (never the SQL itself)."""
    return problem if isinstance(problem, Problem) else Problem(problem, INVALID["zh"], INVALID["en"])


def missing(column: str, zh: str, en: str, where: str | None = None) -> Problem:
    """The problem "`column` is missing" (a value that does not parse is missing), named `zh` /
    `en`; with `where` (SQL), only for the records where it holds."""
    sql = f"{column} IS NULL" if where is None else f"({where} AND {column} IS NULL)"
    return Problem(sql, f"缺少{zh}", f"missing {en}")


class UnknownMethodology(KeyError):
    """A methodology id that no module registered."""

    def __init__(self, methodology: Any):
        self.methodology = methodology
        super().__init__(f"unknown methodology {methodology!r}; known: {', '.join(REGISTRY)}")


class Methodology:
    """Base of every methodology. A subclass sets the class attributes and overrides the
    methods that hold its rules; one instance is registered under ``id``."""

    id: ClassVar[str]
    name: ClassVar[dict[str, str]]  # {zh, en}
    business_models: ClassVar[tuple[str, ...]]
    eligible_business_model: ClassVar[str]
    default_params: ClassVar[dict[str, str]]  # name -> unit
    monitored_params: ClassVar[dict[str, str]]  # name -> unit
    # A monitored parameter in a reader's words ({zh, en}) where its name is no symbol of the
    # methodology's formulas (a message of the zh report prints no English identifier).
    param_names: ClassVar[dict[str, dict[str, str]]] = {}

    def param_name(self, name: str) -> dict[str, str]:
        """`name` for a message, per language."""
        return self.param_names.get(name) or {"zh": name, "en": name}
    columns: ClassVar[dict[str, Column]]  # the canonical record columns, in the contract's order
    required_columns: ClassVar[tuple[str, ...]]  # exit 2 when absent from the trip file
    input_forms: ClassVar[tuple[str, ...]] = ("trips",)  # data.<form> keys; "taps": raw tap files
    # Records carry a start and an end point (start_lon/lat, end_lon/lat): the engine stages
    # start_geo and end_geo, each point's inside bits against the boundary.
    coordinates: ClassVar[bool] = False
    example_fields: ClassVar[tuple[str, ...]] = ()  # shown with a flagged record
    # monitored parameter -> the engine aggregate it must equal (count.reconciliation) ...
    counted: ClassVar[dict[str, str]] = {}
    unclaimed: ClassVar[str | None] = None  # aggregate of records no counted parameter claims
    # ... and the one whose pkm it must equal (distance.reconciliation): (parameter, aggregate)
    measured: ClassVar[tuple[str, str] | None] = None
    # The formula's inputs: factors (published, else reported) and the activity it multiplies:
    # monitored parameter -> the aggregate of the eligible records standing for it.
    formula_factors: ClassVar[tuple[str, ...]] = ()
    activity: ClassVar[dict[str, str]] = {}
    formula_text: ClassVar[dict[str, str]] = {}  # {zh, en}: the recalculation, for the report
    # Factors computed from the operating data of the claim year minus this lag (factor.values).
    factor_data_lag: ClassVar[dict[str, int]] = {}
    daily_by: ClassVar[str | None] = None  # the column the daily figure is split by
    # Breakdowns in findings.json ("districts": per district of the boundary, by start point;
    # needs `coordinates`): the engine stages what they need only when asked.
    breakdowns: ClassVar[tuple[str, ...]] = ()
    checklist_path: ClassVar[Path | None] = None  # default: checklists/<id>.yaml

    # -- records ---------------------------------------------------------------------------------
    def record_problems(self, has: Callable[[str], bool]) -> list[Problem | str]:
        """The problems (`Problem`: an SQL condition true, or NULL, for a record that lacks a
        field it must have or holds an invalid one, with its words in zh and en) records.validity
        flags; `has(column)` says the data carries it. Bare SQL is accepted (generic words)."""
        raise NotImplementedError

    def sampled_complete(self, sample: pd.DataFrame) -> pd.Series:
        """Per sampled record: True when it has what a sampled record must (sample.completeness)."""
        raise NotImplementedError

    def aggregates(self, excluded: str) -> tuple[dict[str, str], dict[str, str]]:
        """The engine aggregates this methodology reads: (name -> SQL aggregate, name -> SQL
        condition whose records' exact pkm is summed); `excluded` is true for an excluded record."""
        return {}, {}

    # -- the formula -----------------------------------------------------------------------------
    def emissions(self, v: dict[str, float | None]) -> dict[str, float | None]:
        """Baseline, project and reduction (tCO2) from the factors and the activity in `v`
        (None where an input is missing): used by report.arithmetic on the reported figures,
        by the recalculation on the eligible records. Per-part reductions may be added
        (`reduction_<part>_tco2`)."""
        raise NotImplementedError

    def breakdown(self, stats: dict, v: dict, e: dict) -> list[dict] | None:
        """The recalculation per part (e.g. per mode) for findings.json, or None."""
        return None

    # -- double claims across filings (verifier.claims, verifier.batch.double_claims) ------------
    def fingerprint(self, point: Callable[[str, str], str]) -> tuple[dict[str, str], str] | None:
        """The trip fingerprint (contract section 7): (name -> SQL of one part over the staged
        columns, written with the dialect; the condition, SQL, under which a record has one), or
        None when the methodology's records have none. Two eligible records of filings of this
        methodology with every part equal are the same trip. `point(lon, lat)` is the SQL of a
        point (two staged columns, in the package's coordinate system) in WGS-84 to 4 decimals,
        as text (verifier.claims.wgs84_e4)."""
        return None

    def part_sql(self) -> str | None:
        """SQL: a record's activity part, the suffix of the `activity` aggregates that count it
        (transit: the mode); None when the activity has no parts."""
        return None

    def activity_of(self, records: dict[str | None, int], pkm: dict[str | None, float]) -> dict[str, float]:
        """The formula's activity (`activity`: parameter -> "eligible[:part]" or
        "eligible_pkm[:part]") of a set of records given as their count and pkm per part (None:
        no part): what `emissions` reads besides the factors. A part without records is 0."""
        out: dict[str, float] = {}
        for name, aggregate in self.activity.items():
            kind, _, part = aggregate.partition(":")
            per_part = {"eligible": records, "eligible_pkm": pkm}[kind]
            if part:
                out[name] = per_part.get(part, 0)
            elif kind == "eligible":
                out[name] = sum(per_part.values())
            else:
                out[name] = math.fsum(per_part.values())
        return out

    # -- the checklist ---------------------------------------------------------------------------
    @cached_property
    def checklist(self) -> dict:
        from verifier.resources import read_yaml, resource_dir

        path = self.checklist_path or resource_dir("checklists") / f"{self.id}.yaml"
        if not Path(path).is_file():
            raise KeyError(f"no checklist for methodology {self.id!r}")
        data = read_yaml(path)
        if data.get("methodology") != self.id:
            raise ValueError(f"{Path(path).name}: methodology is {data.get('methodology')!r}")
        return data

    @property
    def checks(self) -> frozenset[str]:
        """The check ids that apply: those its checklist's verification points map to."""
        return frozenset(c for p in self.checklist["points"] for c in p["checks"])

    @property
    def figures(self) -> list[str]:
        """The figures its checklist's points show, in order."""
        return [f for p in self.checklist["points"] for f in p.get("figures", [])]


def product(*xs: float | None) -> float | None:
    """The product, None when a factor is missing."""
    return None if any(x is None for x in xs) else math.prod(xs)


REGISTRY: dict[str, Methodology] = {}


def register(cls: type[Methodology]) -> type[Methodology]:
    if cls.id in REGISTRY:
        raise ValueError(f"methodology {cls.id} registered twice")
    REGISTRY[cls.id] = cls()
    return cls


def get(methodology_id: Any) -> Methodology:
    """The registered methodology; UnknownMethodology for any other id."""
    try:
        return REGISTRY[methodology_id]
    except (KeyError, TypeError):
        raise UnknownMethodology(methodology_id) from None


def has_all(sample: pd.DataFrame, fields: tuple[str, ...]) -> pd.Series:
    """Per record: every one of `fields` holds a value."""
    return sample[list(fields)].notna().all(axis=1)
