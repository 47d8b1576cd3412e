"""When two figures count as equal: each comparison the checks make, once, with its margin's reason.

Every margin is the figure's own precision plus the least that absorbs floating-point error in
how the other side was computed, never more: a wider margin would pass a real difference.
"""

from __future__ import annotations

from typing import Any

from verifier.data.dialect import DIALECT
from verifier.submission import half_unit

# A figure computed from records or by the formula carries float error (products, divisions by
# 1000) far below 1e-9 of its size, and every written figure's rounding far above it.
COMPUTED_REL = 1e-9
# A factor is a written number, reported and published: equal means the same value; 1e-12 of it
# admits only the float error of a value converted on its way, nothing published differently.
FACTOR_REL = 1e-12
# A rate is a quotient of computed figures: one exactly at its limit reads a few units of the
# last place off (0.05000000000000001); 1e-12 keeps it at the limit.
RATE_ABS = 1e-12
# Distances are doubles: two written exactly the margin apart differ by a few units of the last
# place more or less than it (1.01 - 1.0 = 0.010000000000000009 km); 1e-9 km keeps them within.
DISTANCE_ABS_KM = 1e-9


def within_rounding(reported: float, computed: float, written: Any) -> bool:
    """A reported figure against the one computed from the records or the formula: equal within
    the rounding of the figure as written (half a unit in its last written decimal), plus the
    computation's float error (report.arithmetic, distance.reconciliation)."""
    return abs(reported - computed) <= half_unit(written) + COMPUTED_REL * max(1.0, abs(computed))


def same_factor(reported: float | None, published: float) -> bool:
    """A reported factor against the published one: the same number (factor.values)."""
    return reported is not None and abs(reported - published) <= FACTOR_REL * max(1.0, abs(published))


def within_limit(rate: float | None, limit: float) -> bool:
    """A rate at most a limit (reduction.recalculation: the difference rate and the
    materiality); no rate is not within."""
    return rate is not None and rate <= limit + RATE_ABS


def distance_differs_sql(distance: str, table: str, margin_km: float) -> str:
    """SQL, true where the record's `distance` (km) differs from the `table` value by more than
    the contract's `margin_km` (transit.metro_distance)."""
    return f"abs({distance} - {table}) > {DIALECT.number(margin_km)} + {DIALECT.number(DISTANCE_ABS_KM)}"
