"""One written form per quantity, wherever a number reaches a reader: the checks' messages and
the report's tables alike (findings.json keeps the values themselves).

- counts: an integer with thousands separators (12,345);
- pkm: three decimals (1,234.567); tCO2e: four decimals (0.0339);
- rates and shares: a percentage with two decimals (4.95%; 100% is written 100.00%);
- anything else (factors, a year, a date): as written, a float without trailing zeros.
A missing value is an em dash, never Python's ``None``.
"""

from __future__ import annotations

import math

DASH = "—"


def missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def count(value) -> str:
    return DASH if missing(value) else f"{int(value):,}"


def pkm(value) -> str:
    return DASH if missing(value) else f"{float(value):,.3f}"


def tco2e(value) -> str:
    return DASH if missing(value) else f"{float(value):,.4f}"


def rate(value) -> str:
    """A fraction (0.0495) as a percentage (4.95%)."""
    return DASH if missing(value) else f"{float(value) * 100:,.2f}%"


def plain(value) -> str:
    """A value that is no counted or measured quantity: a float with every written decimal (up
    to 6: a factor must trace to findings.json), an integer without separators (a year)."""
    if missing(value):
        return DASH
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") or "0"
    return str(value)


KINDS = {"count": count, "pkm": pkm, "tco2e": tco2e, "rate": rate, "plain": plain}

# The quantity each message field of the checks' catalogues holds, by its name; a check whose
# `reported`/`observed` are a quantity says which (`Check.message_kinds`).
FIELD_KINDS = {
    "affected": "count", "more": "count", "taps": "count", "size": "count", "deviations": "count",
    "trips_metro": "count", "trips_bus": "count", "unpaired_entries": "count", "unpaired_exits": "count",
    "exit_before_entry": "count", "overlong": "count", "exact_duplicates": "count",
    "unknown_type": "count", "invalid": "count",
    "pkm": "pkm", "diff": "pkm",
    "rate": "rate", "share": "rate", "share_other": "rate", "upper": "rate", "tolerable": "rate",
    "materiality": "rate", "confidence": "rate",
    "year": "plain",
}


def written(value, kind: str | None = None) -> str:
    """`value` as a reader sees it: by `kind` (a key of KINDS); without one, an integer is a
    count and other values are plain. Text passes unchanged."""
    if isinstance(value, str):
        return value
    if kind is None:
        kind = "count" if isinstance(value, int) and not isinstance(value, bool) else "plain"
    return KINDS[kind](value)
