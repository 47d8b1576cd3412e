"""Exact, order-independent sums of DOUBLE columns, as SQL any engine can run.

A float sum depends on the order of its terms, and a parallel engine's order depends on the thread
count: the same file gave different totals on 1 and 2 threads (contract section 4 wants them
byte-identical). Here a total is the mathematically exact sum of the doubles, rounded once to the
nearest double, the value `math.fsum` gives, whatever the order:

- the window: every x with |x| < 2^32 that is a multiple of 2^-64 (every distance from 0.001 km,
  whose lowest bit is 2^-62, up to 4·10^9 km): x·2^64 is an integer below 2^96, summed exactly as
  a 128-bit integer (room for 2^31 records), the dialect's `exact_sum`;
- the rest of the finite values (tiny ones with bits below 2^-64, huge ones): the same scan counts
  them (`exact_rest_count`); only where there are any, a second query (`exact_rest`) groups them
  by a binary scale s and sums their integer mantissas m = x·2^-s (|m| < 2^62) exactly;
- NaN and ±inf are not numbers: they add nothing (as NULL), so every total stays finite.

The SQL is one helper of the dialect (verifier.data.dialect: exact_sum, exact_rest_count,
exact_rest), so every engine sums the same way; it uses only CAST, abs, floor, log2, pow and
greatest, and the dialect's `int128` names the engine's 128-bit integer type (Spark:
DECIMAL(38,0)). Here: the constants, and `combine`, which adds the fetched integers as a Fraction
and rounds once.
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
