"""Exact, order-independent sums of DOUBLE columns, as SQL any engine can run.

A float sum depends on the order of its terms, and a parallel engine's order depends on the thread
count: the same file gave different totals on 1 and 2 threads (contract section 4 wants them
byte-identical). Here a total is the mathematically exact sum of the doubles, rounded once to the
nearest double, the value `math.fsum` gives, whatever the order:

- the window: every x with |x| < 2^32 that is a multiple of 2^-64 (every distance from 0.001 km,
  whose lowest bit is 2^-62, up to 4·10^9 km): x·2^64 is an integer below 2^96, summed exactly as
  a 128-bit integer (room for 2^31 records), `window_sum_sql`;
- the rest of the finite values (tiny ones with bits below 2^-64, huge ones): the same scan counts
  them (`rest_count_sql`); only where there are any, a second query (`rest_query`) groups them by
  a binary scale s and sums their integer mantissas m = x·2^-s (|m| < 2^62) exactly;
- NaN and ±inf are not numbers: they add nothing (as NULL), so every total stays finite.

`combine` adds the fetched integers as a Fraction and rounds once. The SQL uses only CAST, abs,
floor, log2, pow and greatest; `int128` names the engine's 128-bit integer type (Spark:
DECIMAL(38,0)).
"""

from __future__ import annotations

import sys
from fractions import Fraction
from typing import Iterable

SCALE = 64  # window values are multiples of 2^-SCALE ...
LIMIT = 2.0 ** 32  # ... below this in magnitude: x·2^SCALE < 2^96
MANTISSA_BITS = 60  # rest values: m = x·2^-s with 2^60 <= |m| < 2^62 (log2 may be one off)
MIN_EXPONENT = -1074  # the smallest subnormal double is 2^-1074
MAX_FINITE = repr(sys.float_info.max)  # NaN compares above every number in DuckDB and Spark


def finite_sql(x: str) -> str:
    """x is a number: not NULL, NaN or ±inf."""
    return f"(abs({x}) <= {MAX_FINITE})"


def _in_window(x: str) -> str:
    scaled = f"({x} * {2.0 ** SCALE!r})"
    return f"(abs({x}) < {LIMIT!r} AND floor({scaled}) = {scaled})"


def window_sum_sql(x: str, where: str | None = None, int128: str = "HUGEINT") -> str:
    """Aggregate: the sum of x·2^SCALE over the window values of x (where `where` holds)."""
    filt = f" FILTER (WHERE {where})" if where else ""
    return f"sum(CASE WHEN {_in_window(x)} THEN CAST({x} * {2.0 ** SCALE!r} AS {int128}) END){filt}"


def rest_count_sql(x: str) -> str:
    """Aggregate: how many values of x are finite but outside the window (0 on clean data)."""
    return f"count_if({finite_sql(x)} AND NOT {_in_window(x)})"


def rest_query(x: str, relation: str, sums: dict[str, str | None]) -> str:
    """Rows (s, one integer per name in `sums`): per binary scale s, the exact sum of the
    mantissas m = x·2^-s of the finite values outside the window where the name's condition
    holds. x·2^-s is an integer: s = floor(log2|x|) - 60 is at most the exponent of x's lowest
    bit (log2 may be off by one near a power of two), and never below 2^-1074. The power of two
    is applied in two halves: 2^1074 alone is not a double."""
    e = "CAST(floor(log2(abs(v))) AS INTEGER)"
    half = "CAST(floor(-s / 2) AS INTEGER)"
    m = f"CAST(v * pow(2.0, {half}) * pow(2.0, -s - {half}) AS BIGINT)"
    conds = "".join(f", {cond or 'true'} AS w{i}" for i, cond in enumerate(sums.values()))
    parts = ", ".join(f"sum({m}) FILTER (WHERE w{i}) AS w{i}" for i in range(len(sums)))
    return (f"SELECT s, {parts} FROM ("
            f"SELECT v, greatest({e} - {MANTISSA_BITS}, {MIN_EXPONENT}) AS s{conds} FROM ("
            f"SELECT *, {x} AS v FROM {relation} WHERE {finite_sql(x)} AND NOT {_in_window(x)})) GROUP BY s")


def combine(window: int | None, rest: Iterable[tuple[int, int | None]] = ()) -> float:
    """The total as a double: window / 2^SCALE + sum of m·2^s, exact, rounded once (beyond the
    double range: ±the largest double, so a total is always a finite number)."""
    total = Fraction(int(window or 0), 2 ** SCALE)
    for s, m in rest:
        if m:
            total += Fraction(int(m)) * Fraction(2) ** int(s)
    try:
        return float(total)
    except OverflowError:
        return sys.float_info.max if total > 0 else -sys.float_info.max
