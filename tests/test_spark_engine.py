"""The Spark engine's staging (verifier.data.spark_engine): the same `staged` records, column
for column and dtype for dtype, as the DuckDB engine for the same files; the casts of odd text
values; the record order of CSV, Parquet files and folders; users, station distances, the geo
and district UDFs; errors. On the test process's one Spark session (tests/spark_support.py); no
skips: without Java or pyspark these tests fail."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from verifier.data.dialect import DUCKDB, using
from spark_support import SPARK_TESTS, engine_options, share_session
from verifier.data.engine import DuckDBEngine, EngineOptions
from verifier.data.sources import open_source
from verifier.data.spark_dialect import SPARK
from verifier.data.spark_engine import SparkEngine, _frame
from verifier.errors import InputError
from verifier.methodologies import get

pytestmark = SPARK_TESTS

BIKE = get("shenzhen-bike-sharing").columns
TRANSIT = get("shenzhen-public-transit").columns

NUMBERS = [" 1.5 ", "1e3", "1E3", "nan", "NaN", "inf", "-inf", "+inf", "Infinity", "-Infinity", "infinity",
           "1.5d", "1.5f", "0x1p3", "1_000", "1__000", "_1", "1_", "1_000.5_5", "1e1_0", ".5_5", "1._5",
           "1_.5", "\t1.5", "1.5\n", "0_1", "1,5", "", "  ", ".5", "5.", "+5", "-0", "1e400", "abc", "1.2.3", "--1"]
TIMES = ["2024-03-01 08:00:00", "2024-03-01T08:00:00+08:00", "2024/03/01 8:00", "2024/3/1 08:00:00",
         "2024-03-01 08:00:00.123456", "2024-03-01 08:00:00.1234567", "2024-03-01 23:59:60", "2024-03-01",
         "2024-3-1 8:00:00", "2024-03-01 8:00", "2024-03-01T08:00:00Z", "2024-03-01 08:00:00+0800",
         "2024-03-01T08:00:00-05:30", "2024-03-01 08:00:00+08", " 2024-03-01 08:00:00 ", "20240301 080000",
         "2024-02-30 08:00:00", "2024-02-29 08:00:00", "2024-03-01T08:00:00", "2024-03-01 08:00:00.5+05:30",
         "2024-03-10 02:30:00", "2024-03-01 08", "2024-03", "2024", "", "x", "+2024-03-01",
         "2024-03-01 24:00:00", "2024-03-01 24:00", "2024-03-01 24:00:00.5", "2024-03-01 24:00:00.000",
         "2024-03-01T24:00:00+08:00", "2024-12-31 24:00:00", "2024-03-01 24:01:00", "\t2024-03-01 08:00:00",
         "2024-03-01\t08:00:00", "2024-03-01  08:00:00", "2024-03-01 8:00:00 PM", "2024-03-01 08:00:00.",
         "2024-03-01 08:00:00,5", "2024/03/01 08:00:00", "2024-03-01 08:00:00 Asia/Tokyo", "2024-03-01 08:00:00UTC"]


@pytest.fixture(scope="module", autouse=True)
def shared_session():
    share_session()  # conftest does it too, and stops the session when the tests end

def _duck_values(sql_of, values, zone="Asia/Shanghai"):
    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{zone}'")
    rel = DUCKDB.values([(i, v) for i, v in enumerate(values)], ("i", "v"))
    return [r[0] for r in con.execute(f"SELECT {sql_of(DUCKDB)} FROM {rel} ORDER BY i").fetchall()]


def _spark_values(engine, sql_of, values):
    rel = SPARK.values([(i, v) for i, v in enumerate(values)], ("i", "v"))
    return [r[0] for r in engine.rows(f"SELECT {sql_of(SPARK)} FROM {rel} ORDER BY i")]


def test_text_reads_as_duckdb_reads_it():
    """Numbers and times from text: every odd form gives DuckDB's value or, where DuckDB reads a
    form Spark's casts cannot (listed), NULL on Spark."""
    number = lambda d: (d.to_number(d.trimmed("v")) if d is SPARK else f"TRY_CAST({d.trimmed('v')} AS DOUBLE)")
    time = lambda d: d.local_time(d.trimmed("v"))
    with SparkEngine(engine_options()) as engine:
        engine.set_timezone("America/New_York")  # a zone with a DST gap (2024-03-10 02:30)
        got = _spark_values(engine, number, NUMBERS)
        want = _duck_values(number, NUMBERS)
        assert [repr(x) for x in got] == [repr(x) for x in want]
        got = _spark_values(engine, time, TIMES)
    want = _duck_values(time, TIMES, "America/New_York")
    assert dict(zip(TIMES, got)) == dict(zip(TIMES, want))


def _compare_staged(tmp_path, files, columns, canonical, **kw):
    """Stage `files` on both engines; the `staged` records must be equal, dtypes included."""
    frames = []
    for engine in (DuckDBEngine(EngineOptions(threads=2)), SparkEngine(engine_options())):
        with engine:
            source = open_source(files, "utf-8", engine)
            n = engine.stage(source, columns, "Asia/Shanghai", canonical=canonical, **kw)
            query = "SELECT * FROM staged ORDER BY row_no"
            frames.append((n, engine._execute(query).df() if isinstance(engine, DuckDBEngine)
                           else _frame(engine._execute(query))))
    (n1, duck), (n2, spark) = frames
    assert n1 == n2
    pd.testing.assert_frame_equal(spark, duck)
    return duck


def _write_csv(path, rows, header):
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_bike_csv_stages_as_on_duckdb(tmp_path):
    rows = [f'T{i},u{i % 3}, 2024-03-0{1 + i % 3} 08:0{i % 10}:00 ,"{TIMES[i % len(TIMES)]}","{NUMBERS[i % len(NUMBERS)]}",'
            f"113.9,22.5,App" for i in range(60)]
    path = _write_csv(tmp_path / "trips.csv", rows, "trip_id,user_id,start_time,end_time,distance_km,start_lon,start_lat,order_source")
    cols = {c: c for c in ("trip_id", "user_id", "start_time", "end_time", "distance_km", "start_lon", "start_lat", "order_source")}
    staged = _compare_staged(tmp_path, [path], {**cols, "end_lon": None, "end_lat": None}, BIKE, coordinates=True)
    assert staged["row_no"].tolist() == list(range(1, 61))
    assert staged["record_key"].tolist()[:2] == ["T0", "T1"]
    assert staged["distance_km"].isna().sum() > 0 and staged["start_geo"].isna().all()


def test_parquet_folder_in_name_order_with_typed_columns(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    con = duckdb.connect()
    q = ("SELECT 'T' || range AS trip_id, 'u' || (range % 7) AS user_id, TIMESTAMP '2024-03-01 08:00:00' + "
         "to_seconds(range) AS start_time, CASE WHEN range % 5 = 0 THEN NULL ELSE range * 0.25 END AS distance_km, "
         "range::UINTEGER AS seats FROM range(3000)")
    con.execute(f"COPY ({q} WHERE range >= 1000) TO '{folder / 'c.parquet'}' (FORMAT parquet, ROW_GROUP_SIZE 300)")
    con.execute(f"COPY ({q} WHERE range < 1000) TO '{folder / 'b.parquet'}' (FORMAT parquet, ROW_GROUP_SIZE 300)")
    con.close()
    cols = {"trip_id": "trip_id", "user_id": "user_id", "start_time": "start_time", "distance_km": "distance_km"}
    staged = _compare_staged(tmp_path, [folder], cols, BIKE)
    assert staged["trip_id"].tolist() == [f"T{i}" for i in range(3000)]
    assert staged["row_no"].tolist() == list(range(1, 3001))


def test_unknown_timezone_reads_in_city_zone():
    with SparkEngine(engine_options()) as engine:
        engine.set_timezone("Mars/Olympus")
        assert engine.timezone_rejected == "Mars/Olympus"
        assert engine.rows("SELECT current_timezone()")[0][0] == "Asia/Shanghai"
        engine.set_timezone("Europe/Paris")
        assert engine.timezone_rejected is None


def test_bad_csv_is_the_same_input_error(tmp_path):
    path = _write_csv(tmp_path / "trips.csv", ["T1,u1,2024-03-01 08:00:00", "T2,u2,2024-03-01 08:00:00,extra,more",
                                                "T3,u3,2024-03-01 08:00:00"], "trip_id,user_id,start_time")
    messages = []
    for engine in (DuckDBEngine(EngineOptions(threads=1)), SparkEngine(engine_options())):
        with engine, pytest.raises(InputError) as err:
            source = open_source([path], "utf-8", engine)
            engine.stage(source, {"trip_id": "trip_id", "user_id": "user_id", "start_time": "start_time"},
                         "Asia/Shanghai", canonical=BIKE)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "line 3" in messages[1]


def test_frame_dtypes_are_duckdbs():
    query = ("SELECT 1 AS a, CAST(NULL AS BIGINT) AS b, CAST(NULL AS SMALLINT) AS c, "
             "CAST('2024-01-01 08:00:00' AS TIMESTAMP) AS t, CAST('2024-01-01' AS DATE) AS d, 'x' AS s, "
             "CAST(NULL AS VARCHAR) AS sn, 1.5 AS f, true AS bo")
    with SparkEngine(engine_options()) as engine:
        spark = _frame(engine._execute(query.replace("VARCHAR", "STRING").replace("1.5", "CAST(1.5 AS DOUBLE)")
                                       .replace("1 AS a", "CAST(1 AS INTEGER) AS a")))
    duck = duckdb.sql(query.replace("1 AS a", "CAST(1 AS INTEGER) AS a")).df()
    pd.testing.assert_frame_equal(spark, duck)


def test_points_districts_users_and_stations_as_on_duckdb(tmp_path):
    """The geo bits (grid + exact test, points next to the outline and NaN), the start district,
    the users' authorisation (latest of a user listed twice) and the station distances (either
    direction, the shorter of two) on both engines."""
    import numpy as np
    import shapely

    from verifier.geo.boundary import Boundary

    boundary = Boundary.default()
    rng = np.random.default_rng(3)
    verts = shapely.get_coordinates(boundary.geometry)
    pick = verts[rng.integers(0, len(verts), 1500)]
    lon = np.concatenate([pick[:, 0] + rng.uniform(-0.005, 0.005, 1500), rng.uniform(113.7, 114.7, 500), [np.nan, 114.0]])
    lat = np.concatenate([pick[:, 1] + rng.uniform(-0.005, 0.005, 1500), rng.uniform(22.4, 22.9, 500), [22.5, np.nan]])
    n = lon.size
    rows = [f"T{i},u{i % 5},2024-03-01 08:00:00,2024-03-01 08:20:00,,{float(lon[i])!r},{float(lat[i])!r},{float(lat[i])!r},{float(lon[i])!r},"
            f"S{i % 4},S{(i + 1) % 4}" for i in range(n)]
    trips = _write_csv(tmp_path / "trips.csv", rows, "trip_id,user_id,start_time,end_time,distance_km,start_lon,"
                                                      "start_lat,end_lon,end_lat,entry_station,exit_station")
    _write_csv(tmp_path / "users.csv", ["u0,2024-01-01", "u1,2024-02-01 10:00:00", "u1,2024-01-01", " u2 ,x"],
               "user_id,authorized_at")
    _write_csv(tmp_path / "stations.csv", ["S0,S1,1.5", "S1,S0,1.25", "S1,S2, 2 ", "S3,S2,abc"],
               "from_station,to_station,distance_km")
    cols = {c: c for c in ("trip_id", "user_id", "start_time", "end_time", "distance_km", "start_lon", "start_lat",
                           "end_lon", "end_lat")}
    frames = []
    for engine in (DuckDBEngine(EngineOptions(threads=2)), SparkEngine(engine_options())):
        with engine:
            source = open_source([trips], "utf-8", engine)
            engine.stage(source, cols, "Asia/Shanghai", boundary, users=tmp_path / "users.csv", canonical=BIKE,
                         coordinates=True, districts=boundary.districts, extra_columns=("entry_station", "exit_station"))
            engine.attach_station_distances(tmp_path / "stations.csv", "utf-8", fill_missing=True)
            frame = (engine._execute("SELECT * FROM staged ORDER BY row_no").df() if isinstance(engine, DuckDBEngine)
                     else _frame(engine._execute("SELECT * FROM staged ORDER BY row_no")))
            users = engine.rows("SELECT user_id, authorized_at FROM users ORDER BY user_id")
            frames.append((frame, users))
    (duck, duck_users), (spark, spark_users) = frames
    pd.testing.assert_frame_equal(spark, duck)
    assert spark_users == duck_users and len(spark_users) == 3
    assert duck["start_geo"].isna().sum() == 2 and duck["start_district"].notna().sum() > 500
    assert ((duck["start_geo"] > 0) & (duck["start_geo"] < 7)).sum() > 50  # readings disagree near the outline
    # S0-S1 listed both ways (the shorter), S1-S2 ' 2 ', S2-S3 not a number, S3-S0 not listed
    assert duck["table_km"].head(4).fillna(-1).tolist() == [1.25, 2.0, -1, -1]
    assert duck["distance_km"].head(4).fillna(-1).tolist() == [1.25, 2.0, -1, -1]  # filled from the table


def test_an_unreadable_file_on_spark_is_one_line_on_stderr(tmp_path):
    """The CLI with --engine spark: the JVM's start-up notes (log4j, Java, Hadoop) and pyspark's
    pandas warning stay off stderr, so a bad CSV is exit 2 with exactly the one error line (as on
    DuckDB), and the JVM's log file is gone with the session."""
    import shutil
    import subprocess
    import sys

    from conftest import REPO

    pkg = tmp_path / "pkg"
    shutil.copytree(REPO / "samples" / "bike-clean", pkg)
    with open(pkg / "trips.csv", "a", encoding="utf-8") as f:
        f.write("x,y\n")
    work = tmp_path / "work"
    work.mkdir()
    run = subprocess.run([sys.executable, "-m", "verifier", "verify", str(pkg), "--out", str(tmp_path / "out"),
                          "--factors", str(pkg / "factors.yaml"), "--seed", "7", "--engine", "spark",
                          "--spark-master", "local[1]", "--temp-dir", str(work)],
                         capture_output=True, text=True, timeout=600, cwd=REPO)
    assert run.returncode == 2
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and "data.trips" in lines[0] and "line 402" in lines[0], run.stderr[-2000:]
    assert not (tmp_path / "out").exists()
    assert list(work.iterdir()) == []  # the work folder and the JVM's log removed
