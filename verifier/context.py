"""The run's phases and what a check reads of them.

`verifier.pipeline` passes typed, immutable results from phase to phase: `Inputs` (what was
given) -> `Staged` (verifier.data.sources: the staged records) -> `Measures` (the engine's
totals, the sample, the materiality) -> check results. A check reads one read-only `Context`
built from those phases plus the results of the checks it `requires`; nothing assigns to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

import pandas as pd

from verifier.findings import CheckResult
from verifier.methodologies import Methodology
from verifier.reference.factors import FactorTable, FactorUse
from verifier.submission import Submission

if TYPE_CHECKING:
    from verifier.data.engine import Engine
    from verifier.data.sources import Staged
    from verifier.geo.boundary import Boundary
    from verifier.transit.fares import FareTable

EMPTY: Mapping = MappingProxyType({})


@dataclass(frozen=True)
class Options:
    seed: int
    seed_drawn: bool  # True when the tool drew it (it is recorded either way)
    confidence: float = 0.95
    tolerable_rate: float = 0.05
    expected_rate: float = 0.0
    materiality: float | None = None  # None: by the claimed reduction's size
    lang: str = "zh"
    boundary_crs: str = "wgs84"
    engine: str = "duckdb"  # the engine that held the population (verifier.data.engine.ENGINES)


@dataclass(frozen=True)
class Inputs:
    """What the run was given: the submission, the options and the reference data."""

    sub: Submission
    opts: Options
    methodology: Methodology
    factors: FactorTable
    boundary: Boundary | None
    fares: FareTable | None


@dataclass(frozen=True)
class Measures:
    """What the engine measured over the staged records: the aggregates, the attribute sample
    (with each record's outcomes), the findings.json `sampling` block, sample.csv, the records
    drawn for the map, and the materiality the recalculation is judged by."""

    stats: Mapping[str, Any]
    sample: pd.DataFrame
    sampling: Mapping[str, Any]
    sample_table: pd.DataFrame
    map_points: pd.DataFrame
    materiality: float
    materiality_source: str


@dataclass(frozen=True)
class Context:
    """What a check reads: the phases done so far (`measures` is None while the predicates and
    the sample tests are asked), the engine, the results of the checks it requires and, once
    its inputs are known, the recalculation."""

    inputs: Inputs
    staged: Staged
    engine: Engine
    measures: Measures | None = None
    results: Mapping[str, CheckResult] = field(default_factory=lambda: EMPTY)
    recalculation: Mapping[str, Any] | None = None

    # -- the inputs ---------------------------------------------------------------------------
    @property
    def sub(self) -> Submission:
        return self.inputs.sub

    @property
    def opts(self) -> Options:
        return self.inputs.opts

    @property
    def methodology(self) -> Methodology:
        return self.inputs.methodology

    @property
    def factors(self) -> FactorTable:
        return self.inputs.factors

    @property
    def boundary(self) -> Boundary | None:
        return self.inputs.boundary

    @property
    def fares(self) -> FareTable | None:
        return self.inputs.fares

    def param(self, name: str):
        """A reported default or monitored parameter, or None."""
        return self.sub.parameters("default_data").get(name) or self.sub.parameters("monitored_data").get(name)

    def factor(self, name: str) -> FactorUse:
        """The factor `name` of this filing: reported, published for the claim year, and the value
        the recalculation uses (the one lookup factor.values, the recalculation and findings.json
        share)."""
        reported = self.param(name)
        return self.factors.use(self.sub.methodology, name, self.sub.claim_year,
                                reported.number if reported else None)

    # -- the staged records -------------------------------------------------------------------
    @property
    def columns(self) -> Mapping[str, str | None]:
        return self.staged.columns

    @property
    def population(self) -> int:
        return self.staged.population

    @property
    def has_fares(self) -> bool:
        return self.staged.has_fares

    @property
    def station_table(self) -> bool:
        return self.staged.station_table

    @property
    def tap_stats(self):
        return self.staged.tap_stats

    def has(self, column: str) -> bool:
        """The trip data carries this canonical column."""
        return self.columns.get(column) is not None

    # -- the measures -------------------------------------------------------------------------
    def _measured(self) -> Measures:
        if self.measures is None:
            raise RuntimeError("the engine's measures are read before they are taken")
        return self.measures

    @property
    def stats(self) -> Mapping[str, Any]:
        return self._measured().stats

    @property
    def sample(self) -> pd.DataFrame:
        return self._measured().sample

    @property
    def sampling(self) -> Mapping[str, Any]:
        return self._measured().sampling

    @property
    def materiality(self) -> float:
        return self._measured().materiality

    def flagged(self, check_id: str) -> int:
        return int(self.stats.get(f"n:{check_id}", 0) or 0)
