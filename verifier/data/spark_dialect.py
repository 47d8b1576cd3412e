"""Spark SQL: what the Spark engine (verifier.data.spark_engine) spells differently from DuckDB.

Every method of DuckDBDialect the checks, methodologies and adapters call has its Spark form here
when the DuckDB form does not run on Spark or means something else there (measured facts in
/work/shared/domain/stack-facts.md and issue 13): identifiers in backticks, string literals
with backslashes escaped, DECIMAL(38,0) for the exact sums' 128-bit integer, durations in
integer microseconds (epoch() is whole seconds on Spark), try_cast under ANSI mode.
"""

from __future__ import annotations

from pathlib import Path

from verifier.data import exact
from verifier.data.dialect import DuckDBDialect


class SparkDialect(DuckDBDialect):
    name = "spark"
    int128 = "DECIMAL(38,0)"
    types = {"text": "STRING", "time": "TIMESTAMP_NTZ", "number": "DOUBLE"}

    # -- names and literals --------------------------------------------------------------------
    def ident(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def text(self, value: str | Path) -> str:
        # Spark reads backslash escapes inside string literals: both quote and backslash escaped.
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


SPARK = SparkDialect()


# -- aggregates (answer) ------------------------------------------------------------------------
# Spark has count_if, FILTER clauses on aggregates, `&` and GROUPING SETS as DuckDB spells them
# (count_if, has_bits stay DuckDB's). What differs: floor() of a double is a BIGINT (it raises
# past 2^63 under ANSI), a double cast to DECIMAL goes through its shortest decimal text (not
# exact past 2^53), and the quantile is `percentile`.
class SparkAggregates:
    """The aggregate forms of SparkDialect (mixed in below)."""

    def quantile(self, expr: str, q: float, where: str) -> str:
        """The interpolated quantile q of the finite values of expr where `where` holds
        (percentile: exact linear interpolation at (n - 1)·q, as DuckDB's quantile_cont)."""
        return f"percentile({expr}, {float(q)!r}) FILTER (WHERE ({where}) AND {self.finite(expr)})"

    def exact_sum(self, x: str, where: str | None = None) -> str:
        """Aggregate: the window part of the exact sum of x (verifier.data.exact), as text
        '<hi>:<lo>' (NULL with no value), the window sum being hi·2^33 + lo: `exact_window`.

        x·2^64 (below 2^96) cannot pass through DECIMAL exactly (the cast reads the double's
        shortest text), so it is split into two exact BIGINTs: hi = floor(x·2^31) (|hi| < 2^63)
        and lo = frac(x·2^31)·2^33 (0 <= lo < 2^33, an integer in the window), each summed as
        DECIMAL(38,0): no overflow below 10^19 records; hi·2^33 + lo is added in Python (it may
        pass 38 digits)."""
        v = f"({x} * {2.0 ** (exact.SCALE - HI_SHIFT)!r})"
        hi = f"CAST(floor({v}) AS BIGINT)"
        lo = f"CAST(({v} - floor({v})) * {2.0 ** HI_SHIFT!r} AS BIGINT)"
        cond = f"({where}) AND {self._in_window(x)}" if where else self._in_window(x)
        part = f"sum(CAST(CASE WHEN {cond} THEN {{}} END AS {self.int128}))"
        return f"concat(CAST({part.format(hi)} AS STRING), ':', CAST({part.format(lo)} AS STRING))"

    @staticmethod
    def exact_window(value) -> int | None:
        """The window sum (an integer, for exact.combine) from `exact_sum`'s text."""
        if value is None:
            return None
        hi, lo = str(value).split(":")
        return (int(hi) << HI_SHIFT) + int(lo)

    def exact_rest(self, x: str, relation: str, sums: dict[str, str | None]) -> str:
        """DuckDB's query (DuckDBDialect.exact_rest) with the mantissas summed as DECIMAL(38,0)
        (a BIGINT sum raises past 2^63 under ANSI; DuckDB's sum of BIGINT is a HUGEINT)."""
        sql = DuckDBDialect.exact_rest(self, x, relation, sums)
        decimal = sql.replace(f"sum({_MANTISSA})", f"sum(CAST({_MANTISSA} AS {self.int128}))")
        if decimal.count(self.int128) != len(sums):
            raise AssertionError("DuckDBDialect.exact_rest changed: update SparkAggregates.exact_rest")
        return decimal

    def _in_window(self, x: str) -> str:
        # floor(x·2^64) is a BIGINT on Spark (raises past 2^63): "an integer" as a zero remainder
        scaled = f"({x} * {2.0 ** exact.SCALE!r})"
        return f"(abs({x}) < {exact.LIMIT!r} AND {scaled} % 1 = 0)"

    def micros(self, ts: str) -> str:
        """A naive timestamp as integer microseconds since 1970-01-01 (zone-free: NTZ)."""
        return f"timestampdiff(MICROSECOND, TIMESTAMP_NTZ '1970-01-01 00:00:00', {ts})"


HI_SHIFT = 33  # exact_sum's split: x·2^64 = hi·2^33 + lo
# The mantissa expression of DuckDBDialect.exact_rest (its sums are rewritten as DECIMAL sums)
_MANTISSA = ("CAST(v * pow(2.0, CAST(floor(-s / 2) AS INTEGER)) * pow(2.0, -s - CAST(floor(-s / 2) AS INTEGER)) "
             "AS BIGINT)")


def _join(cls, section) -> None:
    """Give `cls` the methods of `section`; a name the class already defines is a clash between
    two sections of this module, never silently replaced."""
    for name, member in vars(section).items():
        if name.startswith("__"):
            continue
        if name in vars(cls):
            raise AssertionError(f"SparkDialect.{name} is defined twice")
        setattr(cls, name, member)


_join(SparkDialect, SparkAggregates)
