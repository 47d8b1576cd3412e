"""Everything engine-specific in the SQL the checks and methodologies contribute.

Checks and methodologies never hold a connection. They write their predicates and aggregates
over the canonical record columns (verifier/data/engine.py) with these helpers, so that another
engine supplies its own dialect instead of new branches. `DuckDBDialect` is the default; the
Spark engine's dialect overrides what Spark spells differently.

(Seed of the dialect for issue 11: the data layer owns and extends it.)
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius


class DuckDBDialect:
    name = "duckdb"

    # -- names and literals --------------------------------------------------------------------
    def ident(self, name: str) -> str:
        """A quoted identifier (column or table)."""
        return '"' + name.replace('"', '""') + '"'

    def text(self, value: str | Path) -> str:
        """A string literal."""
        return "'" + str(value).replace("'", "''") + "'"

    def date(self, value: date) -> str:
        """A date literal."""
        return f"DATE '{value.isoformat()}'"

    def number(self, value: float | int) -> str:
        """A numeric literal that reads back as the same value."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"not a number: {value!r}")
        return repr(value) if isinstance(value, int) else repr(float(value))

    # -- values --------------------------------------------------------------------------------
    def seconds_between(self, start: str, end: str) -> str:
        """The duration from `start` to `end` (timestamps) in seconds, a double."""
        return f"(epoch({end}) - epoch({start}))"

    def finite(self, expr: str) -> str:
        """True when the double `expr` is neither NaN nor ±inf (NULL stays NULL)."""
        return f"isfinite({expr})"

    def great_circle_km(self, lat1: str, lon1: str, lat2: str, lon2: str) -> str:
        """The haversine distance between two points in degrees (km)."""
        return (f"2 * {EARTH_RADIUS_KM} * asin(sqrt(pow(sin(radians({lat2} - {lat1}) / 2), 2) + "
                f"cos(radians({lat1})) * cos(radians({lat2})) * pow(sin(radians({lon2} - {lon1}) / 2), 2)))")

    def selection_key(self, seed: str, key: str) -> str:
        """The md5-rank key of a record: lower-case hex md5 of "<seed>:<key>" (contract section 3)."""
        return f"md5(CAST({seed} AS VARCHAR) || ':' || CAST({key} AS VARCHAR))"

    # -- added for checks (H1) -----------------------------------------------------------------
    def count_if(self, condition: str) -> str:
        """The aggregate counting the records where `condition` holds."""
        return f"count_if({condition})"

    def has_bits(self, expr: str, mask: int) -> str:
        """True when the integer `expr` has any bit of `mask` set (the boundary's inside bits)."""
        return f"(({expr} & {int(mask)}) > 0)"


DIALECT = DuckDBDialect()
