"""What every check may read during a run: the submission, the options, the reference data,
the engine's aggregates and the sample."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from verifier.findings import CheckResult
from verifier.methodologies import Methodology, get
from verifier.reference.factors import FactorTable
from verifier.submission import Submission

if TYPE_CHECKING:
    from verifier.data.engine import DuckDBEngine
    from verifier.geo.boundary import Boundary


@dataclass
class Options:
    seed: int
    seed_drawn: bool  # True when the tool drew it (it is recorded either way)
    confidence: float = 0.95
    tolerable_rate: float = 0.05
    expected_rate: float = 0.0
    materiality: float | None = None  # None: by the claimed reduction's size
    lang: str = "zh"
    boundary_crs: str = "wgs84"


@dataclass
class Context:
    sub: Submission
    opts: Options
    factors: FactorTable
    boundary: Boundary | None
    engine: DuckDBEngine
    columns: dict[str, str | None] = field(default_factory=dict)  # canonical -> file column
    stats: dict[str, Any] = field(default_factory=dict)  # engine aggregates
    sample: pd.DataFrame | None = None
    results: dict[str, CheckResult] = field(default_factory=dict)
    fares: Any = None
    station_table: bool = False
    tap_stats: Any = None
    has_fares: bool = False  # the records carry the fare paid (tap data)
    population: int = 0
    sampling: dict = field(default_factory=dict)  # the findings.json `sampling` block
    sample_table: pd.DataFrame | None = None  # sample.csv
    map_points: pd.DataFrame | None = None  # records drawn for the report's map
    recalculation: dict = field(default_factory=dict)
    materiality: float = 0.0
    materiality_source: str = ""

    @property
    def methodology(self) -> Methodology:
        return get(self.sub.methodology)

    def has(self, column: str) -> bool:
        """The trip data carries this canonical column."""
        return self.columns.get(column) is not None

    def flagged(self, check_id: str) -> int:
        return int(self.stats.get(f"n:{check_id}", 0) or 0)

    def param(self, name: str):
        """A reported default or monitored parameter, or None."""
        return self.sub.parameters("default_data").get(name) or self.sub.parameters("monitored_data").get(name)

    def factor_value(self, name: str) -> tuple[float | None, str]:
        """The value to recalculate with: the published one where on file, else the reported."""
        entry = self.factors.lookup(self.sub.methodology, name, self.sub.claim_year)
        if entry is not None:
            return entry.value, "published"
        reported = self.param(name)
        return (reported.number if reported else None), "reported"
