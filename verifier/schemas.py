"""User-facing schemas of the tables the tool hands over: the sample (sample.csv, the report's
sample annex and the workpaper), one per methodology.

The schemas state the canonical columns, their types and ranges, and the outcome columns. They
are declarations only; pandera's pandas backend executes them. Ranges are warnings, not errors:
a sampled record may well be out of range (that is what the record checks report); the shape
(columns, types, outcome values) is ours to guarantee, and a violation there is a bug.
"""

from __future__ import annotations

import sys
import threading
import warnings
from contextlib import contextmanager
from functools import lru_cache

import pandas as pd


class _NoPysparkHere:
    """A meta path finder that makes `import pyspark...` fail in one thread: pandera imports
    pyspark.pandas and pyspark.sql when they are installed (verifier[spark]; 1 s and a warning
    on stderr), only to validate pyspark frames, and the samples validated here are pandas."""

    def __init__(self):
        self.thread = threading.get_ident()

    def find_spec(self, name, path=None, target=None):
        if threading.get_ident() == self.thread and name.split(".")[0] == "pyspark":
            raise ModuleNotFoundError(f"pyspark is not for pandera here ({name})", name=name)
        return None


@contextmanager
def _pandera_without_pyspark():
    finder = _NoPysparkHere()  # thread-bound: the Spark engine may import pyspark meanwhile
    sys.meta_path.insert(0, finder)
    try:
        with warnings.catch_warnings():
            # pyspark already imported (the Spark engine): pyspark.pandas warns on stderr that
            # it does not support pandas 3; that must not print beside an exit-2 message.
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        sys.meta_path.remove(finder)


with _pandera_without_pyspark():
    import pandera.pandas as pa

from verifier.methodologies import Methodology, get

OUTCOMES = ["pass", "fail"]


def _column(c) -> pa.Column:
    """The sample schema of a canonical column (methodologies.Column); ranges only warn."""
    if c.kind == "time":
        return pa.Column("datetime64[us]", nullable=True, required=False, coerce=True)
    if c.kind == "text":
        return pa.Column(str, nullable=True, required=False, coerce=c.coerce)
    checks = []
    if c.lo is not None:
        checks.append(pa.Check.in_range(c.lo, c.hi, raise_warning=True, ignore_na=True))
    if c.gt is not None:
        checks.append(pa.Check.gt(c.gt, raise_warning=True, ignore_na=True))
    return pa.Column(float, checks=checks, nullable=True, required=False, coerce=True)


@lru_cache(maxsize=None)
def sample_schema(m: Methodology, outcomes: tuple[str, ...]) -> pa.DataFrameSchema:
    """The sample of methodology `m`: the record key, its canonical columns and one outcome
    column per test in `outcomes` (check ids)."""
    columns = {"record_key": pa.Column(nullable=False), **{n: _column(c) for n, c in m.columns.items()}}
    columns.update({cid: pa.Column(str, pa.Check.isin(OUTCOMES)) for cid in outcomes})
    return pa.DataFrameSchema(columns, strict=True, name=f"{m.id} sample")


def validate_sample(methodology: str, sample: pd.DataFrame, outcomes: tuple[str, ...]) -> tuple[pd.DataFrame, list[str]]:
    """The sample, coerced to the schema's types, and the range warnings raised on it.
    Shape errors are collected (lazy) and raised together: they are the tool's bugs."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        checked = sample_schema(get(methodology), outcomes).validate(sample, lazy=True)
    return checked, sorted({str(w.message).splitlines()[0] for w in caught if "pandera" in str(w.category).lower()
                            or "Schema" in str(w.message)})
