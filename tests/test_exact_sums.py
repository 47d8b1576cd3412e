"""Exact, order-independent totals (verifier.data.exact; contract section 4: byte-identical outputs
on any thread count).

The helper against `fractions.Fraction` (and `math.fsum`) on values a float sum gets wrong or
order-dependent, through DuckDB; then a Parquet package large enough for DuckDB to sum in parallel,
verified on 1 and 2 threads. (At commit 4599e15, before the exact sum, that package gave
eligible_pkm 2460000046964.8364 on one thread and 2460000046964.8623 on two.)
"""

from __future__ import annotations

import json
import math
import sys
from fractions import Fraction
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tools.synth import write_bike_package
from verifier.data import exact
from verifier.data.dialect import DIALECT
from verifier.run import verify


def _exact(values) -> float:
    return float(sum(Fraction(v) for v in values if math.isfinite(v)))


def _helper_sum(values, where: str | None = None) -> float:
    """The helper's total of the column x of these values, as the engine computes it."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT unnest($v::DOUBLE[]) AS x", {"v": list(values)})
    window, rest = con.execute(f"SELECT {DIALECT.exact_sum('x', where)}, {DIALECT.exact_rest_count('x')} "
                               "FROM t").fetchone()
    rows = con.execute(DIALECT.exact_rest("x", "t", {"total": where})).fetchall() if rest else []
    return exact.combine(window, rows)


ADVERSARIAL = {
    "big and small": [1e9, 0.001] * 500 + [1e9 + 0.001, -0.001],
    "tiny": [1e-300, 1.0, 1e-300, 5e-324, 2.0 ** -1022 * 1.5, -1e-310],
    "half past 2^52": [5e15 + 0.5, 5e15 + 0.5, 0.25, -0.125],
    "negative": [-1.5, -0.001, -1e9, 3.0, -7e-20],
    "cancelling": [1e16, 1.0, -1e16, 1e-5, 1e100, 0.1, -1e100, 2.0 ** 40 + 0.3, -(2.0 ** 40)],
    "fraction beyond 64 bits": [1e-5, 1e-7, 0.1 + 2.0 ** -56, 3.14159e-9, 1 / 3, 2 / 3, 1e-20],
    "huge": [2.0 ** 32, 2.0 ** 32 - 2.0 ** -20, 1e20, 1.5e300, -1.5e300, 7e307],
}


@pytest.mark.parametrize("values", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_helper_is_the_exact_sum(values):
    got = _helper_sum(values)
    assert got == _exact(values) == math.fsum(values)
    # and independent of order (the float sum of these lists is not, e.g. 'cancelling')
    assert _helper_sum(list(reversed(values))) == got


def test_a_float_sum_of_the_adversarial_values_is_wrong():
    """What the helper replaces: plain summation loses these low-order terms."""
    assert sum(ADVERSARIAL["cancelling"]) != math.fsum(ADVERSARIAL["cancelling"])
    assert sum(ADVERSARIAL["big and small"]) != math.fsum(ADVERSARIAL["big and small"])


def test_condition_and_not_a_number():
    values = [1e-300, -2.5, 0.001, float("nan"), float("inf"), -float("inf"), 4.0, None]
    finite = [v for v in values if v is not None and math.isfinite(v)]
    assert _helper_sum(values) == math.fsum(finite) == 1.501
    assert _helper_sum(values, "x > 0") == math.fsum(v for v in finite if v > 0)
    assert _helper_sum([float("nan")]) == 0.0


def test_beyond_the_double_range_is_the_largest_double():
    assert _helper_sum([1.7e308, 1.7e308]) == sys.float_info.max
    assert _helper_sum([-1.7e308, -1.7e308, 1.0]) == -sys.float_info.max


# -- end to end ------------------------------------------------------------------------------------
RIDES = 640_000


@pytest.fixture(scope="module")
def parallel_package(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """A clean bike package whose distances mix 10^9 and 10^-3 km (so the order of a float sum
    shows in the last digits), in a Parquet file of ten row groups (so DuckDB sums in parallel)."""
    pkg = tmp_path_factory.mktemp("exact") / "pkg"
    write_bike_package(pkg, RIDES, seed=5, fmt="parquet")
    table = pq.read_table(pkg / "trips.parquet")
    rng = np.random.default_rng(5)
    km = np.where(rng.random(RIDES) < 0.002, 1e9, 0.001) * rng.integers(1, 4, RIDES) + rng.random(RIDES) / 7
    table = table.set_column(table.schema.get_field_index("distance_km"), "distance_km", pa.array(km))
    pq.write_table(table, pkg / "trips.parquet", row_group_size=RIDES // 10)
    return pkg, km


def test_same_outputs_on_one_and_two_threads(parallel_package, tmp_path):
    pkg, km = parallel_package
    outs = {}
    for threads in (1, 2):
        out = tmp_path / f"t{threads}"
        verify(pkg, out, factors=pkg / "factors.yaml", seed=3, threads=threads, write_pdf=False)
        outs[threads] = out
    for name in ("findings.json", "sample.csv"):
        assert (outs[1] / name).read_bytes() == (outs[2] / name).read_bytes(), name
    findings = json.loads((outs[1] / "findings.json").read_text(encoding="utf-8"))
    total = math.fsum(km)
    assert findings["recalculation"]["eligible_pkm"] == round(total, 6)
    reconciliation = next(c for c in findings["checks"] if c["id"] == "distance.reconciliation")
    assert reconciliation["observed"] == round(total, 6)


def test_not_a_number_distance_is_invalid_and_adds_nothing(tmp_path):
    """NaN and ±inf (Parquet carries them) fail records.validity; every total stays finite."""
    pkg = tmp_path / "pkg"
    write_bike_package(pkg, 300, seed=2, fmt="parquet")
    table = pq.read_table(pkg / "trips.parquet")
    km = table.column("distance_km").to_numpy(zero_copy_only=False).astype(float)
    km[[3, 50, 299]] = [np.nan, np.inf, -np.inf]
    pq.write_table(table.set_column(table.schema.get_field_index("distance_km"), "distance_km", pa.array(km)),
                   pkg / "trips.parquet")
    verify(pkg, tmp_path / "out", factors=pkg / "factors.yaml", seed=3, write_pdf=False)
    text = (tmp_path / "out" / "findings.json").read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    findings = json.loads(text)
    validity = next(c for c in findings["checks"] if c["id"] == "records.validity")
    assert validity["affected"] == 3
    assert findings["recalculation"]["eligible_pkm"] == round(math.fsum(km[np.isfinite(km)]), 6)
    assert findings["recalculation"]["eligible_records"] == 297


def test_engine_totals_through_the_second_pass(tmp_path):
    """Distances outside the window (tiny, huge) reach every total: all, eligible, per check."""
    from verifier.data.engine import DuckDBEngine, EngineOptions
    from verifier.data.sources import open_source
    from verifier.methodologies import Column

    km = [1e-300, 2.5, 3e-7, 1e12 + 0.001, 0.001, float("nan"), 1.0, 5e-324]
    (tmp_path / "trips.csv").write_text("d\n" + "\n".join(map(repr, km)) + "\n", encoding="utf-8")
    with DuckDBEngine(EngineOptions(threads=2)) as engine:
        engine.stage(open_source([tmp_path / "trips.csv"], "utf-8", engine),
                     {"distance_km": "d", "trip_id": None}, "Asia/Shanghai",
                     canonical={"start_time": Column("time"), "distance_km": Column("number")})
        engine.flag({"small": "distance_km < 0.01"}, {"records.validity": ("validity", "NOT isfinite(distance_km)")})
        stats = engine.aggregate(pkm={"big": "distance_km > 100"})
    finite = [v for v in km if math.isfinite(v)]
    assert stats["pkm"] == _exact(finite) == 1000000000003.502
    assert stats["pkm:small"] == _exact(v for v in finite if v < 0.01) == 0.001 + 3e-7
    assert stats["eligible_pkm"] == _exact(v for v in finite if v >= 0.01)
    assert stats["big"] == 1e12 + 0.001
    assert stats["n:records.validity"] == 1 and stats["pkm:records.validity"] == 0.0


def test_engine_totals_grouped_by_a_column_through_the_second_pass(tmp_path):
    """`aggregate(by=...)` (the district breakdown): each value's records, eligible records, pkm
    and eligible pkm exact, the tiny and huge distances (the second pass) counted in their group;
    the totals themselves as without grouping."""
    from verifier.data.engine import DuckDBEngine, EngineOptions
    from verifier.data.sources import open_source
    from verifier.methodologies import Column

    km = [1e-300, 2.5, 3e-7, 1e12 + 0.001, 0.001, float("nan"), 1.0, 5e-324]
    group = ["0", "0", "1", "1", "", "0", "1", ""]
    (tmp_path / "trips.csv").write_text("d,g\n" + "\n".join(f"{v!r},{g}" for v, g in zip(km, group)) + "\n",
                                        encoding="utf-8")
    with DuckDBEngine(EngineOptions(threads=2)) as engine:
        engine.stage(open_source([tmp_path / "trips.csv"], "utf-8", engine),
                     {"distance_km": "d", "g": "g", "trip_id": None}, "Asia/Shanghai",
                     canonical={"start_time": Column("time"), "distance_km": Column("number"),
                                "g": Column("number")})
        engine.flag({"small": "distance_km < 0.01"}, {"records.validity": ("validity", "NOT isfinite(distance_km)")})
        whole = engine.aggregate(pkm={"big": "distance_km > 100"})
        stats = engine.aggregate(pkm={"big": "distance_km > 100"}, by="g")
    groups = stats.pop("groups")
    assert stats == whole
    assert groups == {
        0: {"records": 3, "eligible": 1, "pkm": _exact([1e-300, 2.5]), "eligible_pkm": 2.5},
        1: {"records": 3, "eligible": 2, "pkm": _exact([3e-7, 1e12 + 0.001, 1.0]),
            "eligible_pkm": _exact([1e12 + 0.001, 1.0])},
        None: {"records": 2, "eligible": 0, "pkm": _exact([0.001, 5e-324]), "eligible_pkm": 0.0},
    }
    assert groups[1]["pkm"] == 1000000000001.001  # the huge distance (second pass) is in it
