"""The Spark engine's passes after staging (flag, aggregate, examples, excluded.csv, sample,
figures) against the DuckDB engine's on the same staged records.

The records are staged once by DuckDB and loaded into Spark as they are (`_twins`), so only the
passes under test differ: ties, duplicates under two keys, instants and intervals starting
together, overlaps, daily caps, NaN/inf and tiny/huge distances (the exact sums' second pass),
text that excluded.csv must quote, and an empty population. Spark runs on the test process's
shared session (tests/spark_support.py); without Java or pyspark these tests fail (never skip).
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager

import numpy as np
import pandas as pd
import pytest

from verifier.data.duckdb_engine import DuckDBEngine
from verifier.data.sources import open_source
from verifier.data.spark_engine import SparkEngine
from verifier.methodologies import get

from spark_support import SPARK_TESTS, engine_options, share_session

pytestmark = SPARK_TESTS

TRANSIT = get("shenzhen-public-transit").columns
COLUMNS = ("trip_id", "user_id", "mode", "start_time", "end_time", "distance_km", "route")


@pytest.fixture(scope="module", autouse=True)
def one_session():
    share_session()  # conftest stops it when the tests end
    yield


@pytest.fixture(scope="module")
def flagged(tmp_path_factory):
    """Both engines with `_records()` staged and flagged (shared: each Spark pass costs seconds)."""
    tmp = tmp_path_factory.mktemp("flagged")
    with _twins(tmp, _records()) as (duck, spark):
        _flag(duck)
        _flag(spark)
        yield duck, spark, tmp


def _records(n: int = 2500, seed: int = 7) -> pd.DataFrame:
    """Rides of 60 users on 5 days, each day within 40 minutes: most share a start with another
    (some 1 s apart); instants (no end, or end = start), exact copies, reused ids, bad rows,
    awkward distances and text."""
    rng = np.random.default_rng(seed)
    start = (pd.Timestamp("2024-03-01 08:00") + pd.to_timedelta(rng.integers(0, 5, n), unit="D")
             + pd.to_timedelta(rng.integers(0, 40, n), unit="min") + pd.to_timedelta(rng.choice([0, 0, 0, 1], n), unit="s"))
    end = start + pd.to_timedelta(rng.choice([0, 0, 0, 1, 1, 3, 10], n), unit="min")
    km = rng.choice([0.8, 1.6, 2.35, 12.1, 0.1], n) + rng.integers(0, 1000, n) / 1000
    df = pd.DataFrame({"trip_id": [f"t{i}" for i in range(n)], "user_id": [f"u{k}" for k in rng.integers(0, 60, n)],
                       "mode": rng.choice(["bus", "metro", "bus"], n), "start_time": start, "end_time": end,
                       "distance_km": km.astype(object),
                       "route": rng.choice(["M1", 'say "hi"', "a,b", "#7", "", "x\ny", " pad "], n)})
    df.loc[rng.random(n) < 0.1, "end_time"] = pd.NaT  # a tap: an instant
    df.loc[rng.random(n) < 0.04, "trip_id"] = "bad" + df["trip_id"]
    odd = rng.choice(n, 12, replace=False)
    df.loc[odd, "distance_km"] = ["nan", "inf", "-inf", "1e-30", "1e300", "-2.5", "", "3e-20", "7e15",
                                  "0.1", "1e-320", "4294967296.5"]
    df["start_time"] = df["start_time"].astype(object)
    df.loc[odd[:2], "start_time"] = ["not a time", ""]  # undated
    copies = df.sample(60, random_state=1)
    reused = df.sample(30, random_state=2).assign(trip_id=lambda d: d["trip_id"].sample(frac=1, random_state=3).values)
    return pd.concat([df, copies, reused], ignore_index=True).sample(frac=1, random_state=4).reset_index(drop=True)


@contextmanager
def _twins(tmp_path, df: pd.DataFrame, users: bool = True):
    """A DuckDB engine with `df` staged (and a users file) and a Spark engine holding the same
    `staged` and `users` (DuckDB's, through Parquet)."""
    df.to_csv(tmp_path / "trips.csv", index=False, date_format="%Y-%m-%d %H:%M:%S")
    (tmp_path / "users.csv").write_text("user_id,authorized_at\nu1,2024-03-01 08:10:00\nu2,2024-01-01\nu1,2024-02-01\n",
                                        encoding="utf-8")
    with ExitStack() as stack:
        duck = stack.enter_context(DuckDBEngine())
        duck.stage(open_source([tmp_path / "trips.csv"], "utf-8", duck), {c: c for c in COLUMNS}, "Asia/Shanghai",
                   users=tmp_path / "users.csv" if users else None, canonical=TRANSIT)
        spark = stack.enter_context(SparkEngine(engine_options()))
        for table in ("staged", "users") if users else ("staged",):
            path = tmp_path / f"{table}.parquet"
            duck.write_parquet(table, path)
            spark.materialize(table, f"SELECT * FROM parquet.`{path}`")
        spark._has_users = users
        spark.population = duck.population
        yield duck, spark


def _rules(d) -> dict:
    ride = ("user_id", "mode", "start_time", "end_time")
    return {"records.validity": ("validity", "trip_id LIKE 'bad%' OR distance_km IS NULL"),
            "records.duplicates": ("duplicates", [(("trip_id",), ("trip_id",)), (ride, ("user_id", "start_time"))]),
            "records.overlap": ("overlap", ("user_id", "start_time", "end_time")),
            "transit.daily_cap": ("daily_cap", ("mode", {"bus": 2, "metro": 1}))}


def _flag(engine) -> None:
    d = engine.dialect
    engine.flag({"far": "distance_km > 13", "early": "start_time < authorized_at",
                 "warn": f"route = {d.text('#7')}"}, _rules(d), warn_only=("warn",))


def _marks(engine) -> list[tuple]:
    cols = ["row_no", "records.validity", "far", "early", "warn", "records.duplicates", "repeats_row",
            "records.overlap", "overlaps_row", "transit.daily_cap"]
    return engine.rows(f"SELECT {', '.join(map(engine.dialect.ident, cols))} FROM records ORDER BY row_no")


def test_window_rules_and_marks_equal_duckdb(flagged):
    duck, spark, _ = flagged
    want = _marks(duck)
    assert spark.flag_columns == duck.flag_columns
    assert _marks(spark) == want
    flagged = pd.DataFrame(want).iloc[:, [5, 7, 9]].sum()
    assert flagged.min() > 20  # duplicates, overlaps and capped records are all exercised


def test_aggregate_examples_and_figures_equal_duckdb(flagged):
    duck, spark, _ = flagged
    answers = []
    for engine in (duck, spark):
        d = engine.dialect
        extra = {"buses": d.count_if("mode = 'bus'"), "latest": "max(start_time)"}
        reason = "concat('repeats row ', CAST(repeats_row AS STRING))"
        answers.append((
            engine.aggregate(extra=extra, pkm={"bus_pkm": "mode = 'bus'", "none_pkm": "false"}),
            engine.examples("records.duplicates", ["trip_id", "start_time", "distance_km"], reason=reason),
            engine.examples("far", ["route"], limit=3),
            engine.quantiles({"km": ("distance_km", 0.95, "distance_km > 0"), "none": ("distance_km", 0.5, "false")}),
            engine.histograms({"km": ("distance_km", 0.5, "distance_km > 0", 20.0),
                               "raw": ("distance_km * 10", 2.0, "distance_km < 1e299", None)}),
            engine.daily(), engine.daily(by="mode"),
        ))
    (agg, ex1, ex2, q, h, daily, per_mode), spark_answers = answers
    assert spark_answers[0] == agg
    assert agg["pkm"] == 1e300 and agg["none_pkm"] == 0.0 and isinstance(agg["n:far"], int)
    assert spark_answers[1:3] == (ex1, ex2) and len(ex1) == 5
    assert spark_answers[3] == q and q["none"] is None
    for name in h:
        pd.testing.assert_frame_equal(spark_answers[4][name], h[name])
    pd.testing.assert_frame_equal(spark_answers[5], daily)
    pd.testing.assert_frame_equal(spark_answers[6], per_mode)
    assert daily["date"].isna().iloc[-1]  # the undated (bad time) records last


def test_sample_and_axes_from_drawn_equal_duckdb(flagged):
    duck, spark, _ = flagged
    frames, axes = [], []
    for engine in (duck, spark):
        frames.append(engine.sample(seed=42, size=300, extra=50))
        axes.append(engine.quantiles({"km": ("distance_km", 0.5, "distance_km > 0"),
                                      "late": ("distance_km", 0.25, "distance_km > 12.5")}))
    pd.testing.assert_frame_equal(frames[1], frames[0])
    assert len(frames[0]) == 350 and axes[1] == axes[0]


def test_excluded_csv_is_byte_identical(flagged):
    duck, spark, tmp_path = flagged
    out = []
    for engine in (duck, spark):
        d = engine.dialect
        reasons = {"records.validity": d.text("invalid, \"bad\""), "far": "NULL",
                   "early": "concat('user ', user_id)", "records.duplicates": "concat('#', CAST(repeats_row AS STRING))",
                   "records.overlap": d.text("overlap"), "transit.daily_cap": d.text("cap")}
        path = tmp_path / f"excluded-{d.name}.csv"
        rows = engine.write_excluded(path, reasons, ["trip_id", "user_id", "start_time", "end_time",
                                                    "distance_km", "route"], " | ")
        out.append((rows, path.read_bytes()))
    assert out[1] == out[0]
    assert out[0][0] > 500 and out[0][1].startswith("\ufeffrecord_key,".encode())


def test_empty_population(tmp_path):
    with _twins(tmp_path, _records().head(0), users=False) as (duck, spark):
        answers = []
        for engine in (duck, spark):
            _flag(engine)
            # Grouped (the district breakdown's form): Spark gives no row at all for an empty
            # input, not even the whole's; the totals are the same as ungrouped, no group.
            grouped = engine.aggregate(pkm={"bus": "mode = 'bus'"}, by="row_no")
            assert grouped.pop("groups") == {}
            answers.append((engine.aggregate(pkm={"bus": "mode = 'bus'"}), engine.daily(),
                            engine.quantiles({"km": ("distance_km", 0.5, "true")}),
                            engine.sample(seed=1, size=0, extra=0)))
            assert grouped == answers[-1][0]
            path = tmp_path / f"excluded-{engine.dialect.name}.csv"
            engine.write_excluded(path, {c: "NULL" for c in engine.flag_columns if c != "warn"}, ["trip_id"], ";")
            answers.append(path.read_bytes())
    (agg, daily, q, drawn), empty = answers[0], answers[1]
    assert answers[2][0] == agg and agg["records"] == 0 and agg["pkm"] == 0.0 and agg["first_date"] is None
    pd.testing.assert_frame_equal(answers[2][1], daily)
    assert answers[2][2] == q == {"km": None}
    pd.testing.assert_frame_equal(answers[2][3], drawn)
    assert answers[3] == empty == "\ufeffrecord_key,row_no,checks,reason,trip_id\n".encode()
