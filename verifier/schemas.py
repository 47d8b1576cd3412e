"""User-facing schemas of the tables the tool hands over: the sample (sample.csv, the report's
sample annex and the workpaper), one per methodology.

The schemas state the canonical columns, their types and ranges, and the outcome columns. They
are declarations only; pandera's pandas backend executes them. Ranges are warnings, not errors:
a sampled record may well be out of range (that is what the record checks report); the shape
(columns, types, outcome values) is ours to guarantee, and a violation there is a bug.
"""

from __future__ import annotations

import warnings

import pandas as pd
import pandera.pandas as pa

from verifier.methodology import BIKE, TRANSIT

OUTCOMES = ["pass", "fail"]


def _text():
    return pa.Column(str, nullable=True, required=False, coerce=True)


def _time():
    return pa.Column("datetime64[us]", nullable=True, required=False, coerce=True)


def _number(lo=None, hi=None, gt=None):
    checks = []
    if lo is not None:
        checks.append(pa.Check.in_range(lo, hi, raise_warning=True, ignore_na=True))
    if gt is not None:
        checks.append(pa.Check.gt(gt, raise_warning=True, ignore_na=True))
    return pa.Column(float, checks=checks, nullable=True, required=False, coerce=True)


_COMMON = {"record_key": pa.Column(nullable=False), "trip_id": _text(), "user_id": _text(),
           "start_time": _time(), "end_time": _time(), "distance_km": _number(gt=0)}

SAMPLE_SCHEMAS = {
    BIKE: pa.DataFrameSchema({
        **_COMMON, "order_source": _text(),
        "start_lon": _number(-180, 180), "end_lon": _number(-180, 180),
        "start_lat": _number(-90, 90), "end_lat": _number(-90, 90),
        r"^(sample|records|period|boundary|orders)\..+$": pa.Column(str, pa.Check.isin(OUTCOMES), regex=True),
    }, strict=True, name="bike sample"),
    TRANSIT: pa.DataFrameSchema({
        **_COMMON, "mode": pa.Column(str, nullable=True, required=False),
        "entry_station": _text(), "exit_station": _text(), "route": _text(),
        r"^(sample|records|period|transit)\..+$": pa.Column(str, pa.Check.isin(OUTCOMES), regex=True),
    }, strict=True, name="transit sample"),
}


def validate_sample(methodology: str, sample: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The sample, coerced to the schema's types, and the range warnings raised on it.
    Shape errors are collected (lazy) and raised together: they are the tool's bugs."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        checked = SAMPLE_SCHEMAS[methodology].validate(sample, lazy=True)
    return checked, sorted({str(w.message).splitlines()[0] for w in caught if "pandera" in str(w.category).lower()
                            or "Schema" in str(w.message)})
