"""The engine's record order and keys: file order on any thread count, for CSV, Parquet and folders."""

from __future__ import annotations

import signal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from verifier.data.engine import DuckDBEngine, EngineOptions
from verifier.data.sources import open_source
from verifier.methodologies import get

N = 400_000
BIKE = get("shenzhen-bike-sharing").columns
TRANSIT = get("shenzhen-public-transit").columns


def window_rules(validity: str, columns=BIKE) -> dict:
    """The window rules as the pipeline hands them to `flag` (check id -> (rule, arguments)), for
    a methodology of these canonical `columns` and data with a trip id."""
    ride = tuple(c for c in ("user_id", "mode", "start_time", "end_time") if c in columns)
    return {"records.validity": ("validity", validity),
            "records.duplicates": ("duplicates", [(("trip_id",), ("trip_id",)), (ride, ("user_id", "start_time"))]),
            "records.overlap": ("overlap", ("user_id", "start_time", "end_time"))}  # several CSV buffers and Parquet row groups, so parallel readers are exercised


def _write(tmp_path, kind):
    con = duckdb.connect()
    q = f"SELECT range AS line, 'u' || (range % 97) AS user_id FROM range({N})"
    if kind == "csv":
        con.execute(f"COPY ({q}) TO '{tmp_path / 'trips.csv'}' (HEADER)")
        paths = [tmp_path / "trips.csv"]
    elif kind == "parquet":
        con.execute(f"COPY ({q}) TO '{tmp_path / 'trips.parquet'}' (FORMAT parquet, ROW_GROUP_SIZE 50000)")
        paths = [tmp_path / "trips.parquet"]
    else:
        folder = tmp_path / "parts"
        folder.mkdir()
        half = N // 2
        # names sort b < c although c is written first: order is by name
        con.execute(f"COPY ({q} WHERE range >= {half}) TO '{folder / 'c.parquet'}' (FORMAT parquet, ROW_GROUP_SIZE 30000)")
        con.execute(f"COPY ({q} WHERE range < {half}) TO '{folder / 'b.parquet'}' (FORMAT parquet, ROW_GROUP_SIZE 30000)")
        paths = [folder]
    con.close()
    return paths


@pytest.mark.parametrize("kind", ["csv", "parquet", "folder"])
@pytest.mark.parametrize("threads", [1, 2])
def test_row_no_is_file_order(tmp_path, kind, threads):
    paths = _write(tmp_path, kind)
    with DuckDBEngine(EngineOptions(threads=threads, memory_limit="500MB")) as engine:
        source = open_source(paths, "utf-8", engine)
        cols = {"user_id": "user_id", "trip_id": None}
        assert engine.stage(source, cols, "Asia/Shanghai", canonical=BIKE) == N
        # line k of the file (0-based) holds user 'u<k % 97>': row_no must be k + 1
        wrong = engine.rows("SELECT count(*) FROM staged WHERE user_id <> 'u' || ((row_no - 1) % 97)")[0][0]
        assert wrong == 0
        assert engine.rows("SELECT min(row_no), max(row_no), count(DISTINCT row_no) FROM staged")[0] == (1, N, N)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_row_no_is_file_order_with_boundary_users_and_text_times(tmp_path, kind):
    """The full staging statement (grid lookup, the exact test near the outline, text times
    with and without an offset) keeps file order; users missing from the users file still get
    their rows right."""
    from verifier.geo.boundary import Boundary

    con = duckdb.connect()
    q = (f"SELECT 'T' || range AS trip_id, 'u' || (range % 97) AS user_id, "
         f"CASE WHEN range % 5 = 0 THEN '2024-01-01T08:00:00+00:00' ELSE '2024-01-01 08:00:00' END AS start_time, "
         f"113.75 + (range % 1000) * 0.0009 AS start_lon, 22.40 + (range % 777) * 0.0006 AS start_lat FROM range({N})")
    path = tmp_path / f"trips.{kind}"
    con.execute(f"COPY ({q}) TO '{path}' " + ("(HEADER)" if kind == "csv" else "(FORMAT parquet, ROW_GROUP_SIZE 50000)"))
    con.execute(f"COPY (SELECT 'u' || range AS user_id, '2023-06-01' AS authorized_at FROM range(0, 97, 2)) "
                f"TO '{tmp_path / 'users.csv'}' (HEADER)")
    con.close()
    with DuckDBEngine(EngineOptions(threads=2, memory_limit="500MB")) as engine:
        source = open_source([path], "utf-8", engine)
        cols = {"trip_id": "trip_id", "user_id": "user_id", "start_time": "start_time",
                "start_lon": "start_lon", "start_lat": "start_lat"}
        engine.stage(source, cols, "Asia/Shanghai", boundary=Boundary.default(), users=tmp_path / "users.csv",
                     canonical=BIKE, coordinates=True)
        engine.flag({}, window_rules("false"))
        wrong = engine.rows(
            "SELECT count(*) FROM records WHERE trip_id <> 'T' || (row_no - 1) "
            "OR user_id <> 'u' || ((row_no - 1) % 97) "
            "OR (authorized_at IS NULL) <> (((row_no - 1) % 97) % 2 = 1) "
            "OR start_time <> CASE WHEN (row_no - 1) % 5 = 0 THEN TIMESTAMP '2024-01-01 16:00:00' "
            "ELSE TIMESTAMP '2024-01-01 08:00:00' END")[0][0]
        assert wrong == 0
        assert engine.rows("SELECT min(row_no), max(row_no), count(DISTINCT row_no), count(start_geo) FROM staged")[0] == (
            1, N, N, N)


def test_stored_file_keeps_a_dictionary_for_few_values_and_the_derived_columns(tmp_path):
    """The records are stored once with what the passes would otherwise recompute: the checks'
    derived columns (the great-circle distance, equal to the expression on read) are columns of
    the stored file; a text of few values (order source) keeps its dictionary, nearly unique ids
    are written without one (a dictionary built only to be dropped)."""
    from verifier.checks.records_plausibility import great_circle_sql

    con = duckdb.connect()
    path = tmp_path / "trips.parquet"
    con.execute(f"COPY (SELECT 'T' || range AS trip_id, 'u' || range AS user_id, "
                f"CASE WHEN range % 3 = 0 THEN 'app' ELSE 'mini-program' END AS order_source, "
                f"113.9 + (range % 1000) * 0.0001 AS start_lon, 22.5 AS start_lat, "
                f"114.0 AS end_lon, 22.5 + (range % 777) * 0.0001 AS end_lat FROM range(20000)) TO '{path}' (FORMAT parquet)")
    con.close()
    with DuckDBEngine() as engine:
        cols = {c: c for c in ("trip_id", "user_id", "order_source", "start_lon", "start_lat", "end_lon", "end_lat")}
        engine.stage(open_source([path], "utf-8", engine), cols, "Asia/Shanghai", canonical=BIKE,
                     derived={"straight_km": great_circle_sql()})
        stored = str(engine.workdir / "stored-1.parquet")
        encodings = dict(engine.rows(f"SELECT path_in_schema, string_agg(encodings, ',') FROM parquet_metadata('{stored}') "
                                     "GROUP BY 1"))
        differ = engine.rows(f"SELECT count(*) FROM staged WHERE straight_km IS DISTINCT FROM {great_circle_sql()}")[0][0]
        assert engine.rows("SELECT count(DISTINCT straight_km) FROM staged")[0][0] > 100
    assert "straight_km" in encodings and differ == 0
    assert "DICTIONARY" in encodings["order_source"]
    assert "DICTIONARY" not in encodings["trip_id"] and "DICTIONARY" not in encodings["user_id"]


def test_geo_bits_equal_the_exact_test_near_the_outline(tmp_path):
    """Staging settles most points by the grid in SQL and the rest by the exact test: every
    point's bits must equal the exact test in each reading, also next to the outline."""
    import numpy as np
    import shapely

    from verifier.geo.boundary import Boundary
    from verifier.constants import CRS_NAMES

    b = Boundary.from_geojson(Path(__file__).resolve().parents[2] / "shared/data/geo/shenzhen_districts_osm_wgs84.geojson")
    rng = np.random.default_rng(8)
    verts = shapely.get_coordinates(b.geometry)
    pick = verts[rng.integers(0, len(verts), 20_000)]
    lon = np.concatenate([pick[:, 0] + rng.uniform(-0.01, 0.01, 20_000), rng.uniform(113.7, 114.7, 20_000), [np.nan]])
    lat = np.concatenate([pick[:, 1] + rng.uniform(-0.01, 0.01, 20_000), rng.uniform(22.4, 22.9, 20_000), [22.5]])
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (SELECT unnest($x) AS start_lon, unnest($y) AS start_lat)",
                {"x": lon.tolist(), "y": lat.tolist()})
    con.execute(f"COPY t TO '{tmp_path / 'pts.parquet'}' (FORMAT parquet)")
    con.close()
    with DuckDBEngine(EngineOptions()) as engine:
        source = open_source([tmp_path / "pts.parquet"], "utf-8", engine)
        engine.stage(source, {"start_lon": "start_lon", "start_lat": "start_lat"}, "Asia/Shanghai", b,
                     canonical=BIKE, coordinates=True)
        got = pd.Series([g for (g,) in engine.rows("SELECT start_geo FROM staged ORDER BY row_no")], dtype=float)
    exact = np.zeros(lon.size, dtype=float)
    for i, crs in enumerate(CRS_NAMES):
        exact += b.in_crs(crs).contains_exact(lon, lat) * (1 << i)
    assert got.isna().tolist() == [False] * (lon.size - 1) + [True]
    assert np.array_equal(got.to_numpy()[:-1].astype(float), exact[:-1])
    assert ((exact > 0) & (exact < 7)).sum() > 500  # the readings disagree for many of them


def test_bad_memory_limit_and_temp_dir(tmp_path):
    from verifier.errors import InputError

    with pytest.raises(InputError, match="--memory-limit"):
        DuckDBEngine(EngineOptions(memory_limit="lots"))
    with pytest.raises(InputError, match="--temp-dir"):
        DuckDBEngine(EngineOptions(temp_dir=tmp_path / "missing" / "deeper"))
    with DuckDBEngine(EngineOptions(temp_dir=tmp_path, memory_limit="300MB")) as engine:
        assert engine.workdir.parent == tmp_path
        assert engine.rows("SELECT current_setting('memory_limit')")[0][0].replace(" ", "") in ("286.1MiB", "300.0MB")
    assert list(tmp_path.iterdir()) == []  # the work folder is gone with the engine


def _sorted_scan(df, valid):
    """The overlap and duplicate rules as written (engine.flag's docstring), record by record."""
    seen_ids, seen_tuples, dup = set(), set(), {}
    for r in df.itertuples():
        t = (r.user_id, r.mode, r.start_time, r.end_time)
        dup[r.row_no] = (r.trip_id in seen_ids) or (t in seen_tuples)
        seen_ids.add(r.trip_id)
        seen_tuples.add(t)
    over = dict.fromkeys(df["row_no"], False)
    ends = df["end_time"].fillna(df["start_time"])
    eligible = df[[valid[n] and not dup[n] for n in df["row_no"]]].assign(ends=ends)
    eligible = eligible.assign(interval=eligible["ends"] > eligible["start_time"])
    for _, g in eligible.sort_values(["start_time", "interval", "row_no"]).groupby("user_id"):
        latest = None
        for r in g.itertuples():
            over[r.row_no] = latest is not None and latest > r.start_time
            latest = r.ends if latest is None else max(latest, r.ends)
    return dup, over


@pytest.mark.parametrize("threads, colliding", [(1, False), (2, False), (2, True)])
def test_overlaps_and_duplicates_with_many_ties(tmp_path, threads, colliding, monkeypatch):
    """Starts drawn from a few minutes, so most records share a start with others: instants
    (no end, or end = start), intervals, exact copies, repeated ids, invalid records. The engine's
    flags must equal a plain sorted scan of the same rules; also when the 64-bit key hash the
    passes narrow by collides for most keys (`colliding`: 2 values), and each overlapping trip
    names an earlier trip of its own user."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(5)
    n = 3000
    start = pd.Timestamp("2024-03-01 08:00") + pd.to_timedelta(rng.integers(0, 40, n), unit="min")
    length = rng.choice([0, 0, 1, 3, 10, 25], n)
    end = start + pd.to_timedelta(length, unit="min")
    df = pd.DataFrame({"trip_id": [f"t{i}" for i in range(n)], "user_id": [f"u{k}" for k in rng.integers(0, 12, n)],
                       "mode": rng.choice(["bus", "metro"], n), "start_time": start, "end_time": end})
    df.loc[rng.random(n) < 0.1, "end_time"] = pd.NaT  # a bus tap: an instant
    df.loc[rng.random(n) < 0.05, "trip_id"] = "bad" + df["trip_id"]  # invalid by the predicate below
    copies = df.sample(60, random_state=1)
    reused = df.sample(30, random_state=2).assign(trip_id=lambda d: d["trip_id"].sample(frac=1, random_state=3).values)
    df = pd.concat([df, copies, reused], ignore_index=True).sample(frac=1, random_state=4).reset_index(drop=True)
    df.to_csv(tmp_path / "trips.csv", index=False, date_format="%Y-%m-%d %H:%M:%S")
    df["row_no"] = range(1, len(df) + 1)
    valid = dict(zip(df["row_no"], ~df["trip_id"].str.startswith("bad")))
    want_dup, want_over = _sorted_scan(df, valid)

    with DuckDBEngine(EngineOptions(threads=threads)) as engine:
        if colliding:
            monkeypatch.setattr(type(engine.dialect), "key_hash",
                                lambda self, exprs: f"(hash({', '.join(exprs)}) % 2)")
        source = open_source([tmp_path / "trips.csv"], "utf-8", engine)
        cols = {c: c for c in ("trip_id", "user_id", "mode", "start_time", "end_time")}
        engine.stage(source, cols, "Asia/Shanghai", canonical=TRANSIT)
        engine.flag({}, window_rules("trip_id LIKE 'bad%'", TRANSIT))
        got = pd.DataFrame(engine.rows('SELECT row_no, "records.duplicates" AS dup, "records.overlap" AS over '
                                       "FROM records ORDER BY row_no"), columns=["row_no", "dup", "over"])
        named = engine.rows('SELECT r.user_id, e.user_id, e.start_time < r.start_time OR e.row_no < r.row_no '
                            'FROM records r JOIN staged e ON e.row_no = r.overlaps_row WHERE r."records.overlap"')
        riders = engine.rows("SELECT count(DISTINCT user_id) FROM overlap_riders")[0][0]
    assert sum(want_dup.values()) > 60 and sum(want_over.values()) > 500  # the rules are exercised
    assert dict(zip(got["row_no"], got["dup"])) == want_dup
    assert dict(zip(got["row_no"], got["over"])) == want_over
    assert len(named) == sum(want_over.values()) and all(u == e and earlier for u, e, earlier in named)
    assert riders == 12  # every rider's records are judged by the rule itself (with 2 hash values, all)


@pytest.mark.parametrize("overlap", [False, True])
def test_earlier_trips_are_looked_up_only_for_the_riders_who_overlap(tmp_path, overlap):
    """The overlap pass reads every record once, in its window; the earlier trip an overlapping
    record names is looked up among that rider's records only, and when nothing overlaps the
    records are not read a second time (at 2x10^7 records that read was a third of the pass)."""
    rows = [("t1", "u1", "2024-03-01 08:00:00", "2024-03-01 08:20:00"),
            ("t2", "u1", "2024-03-01 08:10:00" if overlap else "2024-03-01 08:30:00", "2024-03-01 08:40:00"),
            ("t3", "u2", "2024-03-01 08:05:00", "2024-03-01 08:15:00"),
            ("t4", "u2", "2024-03-01 09:00:00", "2024-03-01 09:10:00")]
    (tmp_path / "trips.csv").write_text("trip_id,user_id,start_time,end_time\n" + "".join(
        ",".join(r) + "\n" for r in rows), encoding="utf-8")
    log: list[str] = []
    with DuckDBEngine() as engine:
        engine.stage(open_source([tmp_path / "trips.csv"], "utf-8", engine),
                     {c: c for c in ("trip_id", "user_id", "start_time", "end_time")}, "Asia/Shanghai", canonical=BIKE)
        engine.statement_log = log
        engine.flag({}, window_rules("false"))
        got = engine.rows('SELECT trip_id, overlaps_row FROM records WHERE "records.overlap" ORDER BY row_no')
    riders = next(sql for sql in log if "TABLE overlap_riders" in sql)
    if overlap:
        assert got == [("t2", 1)]  # t2 starts while t1 (row 1) runs
        # the rule and the lookup read the records of the candidates' users only
        assert "IN (SELECT user_key FROM overlap_candidates)" in riders
        assert "FROM overlap_riders j WHERE j.user_id IN (SELECT user_id FROM overlap_rows)" in next(
            sql for sql in log if "TABLE overlapping" in sql)
    else:
        assert got == []
        assert riders.rstrip().endswith("WHERE false")  # no candidate: no second read of the records


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_text_is_trimmed_of_spaces_and_empty_is_null(tmp_path, kind):
    """Surrounding spaces go, inner ones and tabs stay, an empty or all-space value is NULL; the
    users file is read the same way, so a padded user id still finds its authorisation."""
    import pandas as pd

    ids = ["a", " a", "a ", "  a b  ", "", "   ", "\ta", "a\t ", None]
    df = pd.DataFrame({"trip_id": [f"t{i}" for i in range(len(ids))], "user_id": ids})
    if kind == "csv":
        df.to_csv(tmp_path / "trips.csv", index=False)
        path = tmp_path / "trips.csv"
    else:
        df.to_parquet(tmp_path / "trips.parquet", index=False)
        path = tmp_path / "trips.parquet"
    (tmp_path / "users.csv").write_text("user_id,authorized_at\n  a  ,2024-01-02\n", encoding="utf-8")
    with DuckDBEngine() as engine:
        source = open_source([path], "utf-8", engine)
        engine.stage(source, {"trip_id": "trip_id", "user_id": "user_id"}, "Asia/Shanghai", canonical=BIKE,
                     users=tmp_path / "users.csv")
        engine.flag({}, window_rules("false"))
        got = engine.rows("SELECT user_id, CAST(authorized_at AS VARCHAR) FROM records ORDER BY row_no")
    auth = "2024-01-02 00:00:00"
    assert got == [("a", auth), ("a", auth), ("a", auth), ("a b", None), (None, None), (None, None),
                   ("\ta", None), ("a\t", None), (None, None)]


def test_histograms_and_quantiles_in_one_query(tmp_path):
    """Two figures from one grouping-sets scan: each counts only its own records, values above
    the cap in the last bin; the axis quantile falls back to the population when the drawn
    records hold no qualifying value."""
    import numpy as np
    import pandas as pd

    km = [0.1, 0.4, 0.5, 0.99, 1.0, 2.2, 7.5, 30.0, 0.0, -1.0, None, float("inf")]
    pd.DataFrame({"trip_id": [f"t{i}" for i in range(len(km))], "distance_km": km}).to_csv(
        tmp_path / "trips.csv", index=False)
    with DuckDBEngine() as engine:
        source = open_source([tmp_path / "trips.csv"], "utf-8", engine)
        engine.stage(source, {"trip_id": "trip_id", "distance_km": "distance_km"}, "Asia/Shanghai", canonical=BIKE)
        engine.flag({}, window_rules("false"))
        h = engine.histograms({"km": ("distance_km", 0.5, "distance_km > 0", 2.25),
                               "small": ("distance_km * 10", 2.0, "distance_km < 0.5", None)})
        assert h["km"].to_dict("list") == {"bin_start": [0.0, 0.5, 1.0, 2.0], "bin_end": [0.5, 1.0, 1.5, 2.5],
                                           "records": [2, 2, 1, 3]}  # 2.2, 7.5 and 30 capped at 2.25
        assert h["small"].to_dict("list") == {"bin_start": [-10.0, 0.0, 4.0], "bin_end": [-8.0, 2.0, 6.0],
                                              "records": [1, 2, 1]}  # -10, then 1 and 0, then 4
        # nothing drawn yet: from the population (finite values only: the median of 8)
        assert engine.quantiles({"q": ("distance_km", 0.5, "distance_km > 0")}) == {"q": 0.995}
        engine.sample(seed=1, size=4)
        drawn = [d for (d,) in engine.rows("SELECT distance_km FROM drawn") if d is not None and 0 < d < float("inf")]
        assert 2 <= len(drawn) < 8  # the seed draws some, not all, of the finite values
        assert engine.quantiles({"q": ("distance_km", 0.5, "distance_km > 0")}) == {"q": float(np.median(drawn))}
        # a condition no drawn record meets: from the population again
        assert engine.quantiles({"q": ("distance_km", 0.5, "distance_km > 20")}) == {"q": 30.0}


HOURS = "SELECT sum(i * i % 7) FROM range(100000000000) t(i)"  # a statement of hours, unless stopped


def _stopped(stop, run) -> None:
    """`run()` raises KeyboardInterrupt when `stop()` is called 0.3 s into it."""
    import threading

    timer = threading.Timer(0.3, stop)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run()
    finally:
        timer.cancel()


def _signalled_child(sig: int, setup: str = "") -> str:
    """What a process of its own prints when it sends itself `sig` 0.5 s into a statement of
    hours (after `setup`, Python lines): 'KeyboardInterrupt' when the statement was stopped."""
    import subprocess
    import sys

    from terminal import at_a_terminal

    script = ("import os, signal, threading\n" + setup +
              "from verifier.data.engine import DuckDBEngine, EngineOptions\n"
              "with DuckDBEngine(EngineOptions(threads=1)) as engine:\n"
              f"    threading.Timer(0.5, os.kill, (os.getpid(), {int(sig)})).start()\n"
              "    try:\n"
              f"        engine.rows({HOURS!r})\n"
              "    except KeyboardInterrupt:\n"
              "        print('KeyboardInterrupt')\n")
    done = subprocess.run(at_a_terminal([sys.executable, "-c", script]), capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[1])
    return done.stdout.strip() or done.stderr[-2000:]


def test_ctrl_c_during_a_statement_is_an_interruption_not_an_error():
    """Ctrl-C stops DuckDB's statement with a RuntimeError ('Query interrupted' in DuckDB 2):
    the engine raises KeyboardInterrupt (the CLI's exit 130, the batch stops), also while a file
    is staged, where an engine error otherwise names the file as unreadable (exit 2)."""
    from verifier.data.duckdb_engine import interrupted

    with DuckDBEngine(EngineOptions(threads=1)) as engine:
        _stopped(engine.con.interrupt, lambda: engine.rows(HOURS))
        # A query's rows stream: its work, and the interruption, come while they are fetched.
        _stopped(engine.con.interrupt,
                 lambda: engine._frame_of("SELECT i FROM range(300000000) t(i) WHERE i % 3 = 0"))  # seconds of rows
        assert engine.rows("SELECT 42") == [(42,)]  # the connection is usable afterwards
    # A real Ctrl-C (SIGINT to the process, as a terminal sends it), in a process of its own.
    assert _signalled_child(signal.SIGINT) == "KeyboardInterrupt"
    assert interrupted(RuntimeError("Query interrupted"))
    assert interrupted(duckdb.InvalidInputException("Python exception occurred while executing the UDF: KeyboardInterrupt"))
    assert not interrupted(RuntimeError("something else"))
    assert not interrupted(duckdb.ConversionException("Could not convert string 'x' to DOUBLE"))


def test_sigterm_during_a_statement_stops_it_as_ctrl_c_does():
    """SIGTERM (`kill`, a scheduler's time limit) while a statement runs: the CLI's handler
    (verifier.cli._stop_on_sigterm) stops every open engine's statement (`interrupt_all`), which
    DuckDB does not do for SIGTERM itself (the statement would run for hours), and the run goes
    on as after Ctrl-C: KeyboardInterrupt."""
    from verifier.data.duckdb_engine import interrupt_all

    with DuckDBEngine(EngineOptions(threads=1)) as engine:
        _stopped(interrupt_all, lambda: engine.rows(HOURS))
        assert engine.rows("SELECT 42") == [(42,)]
    assert _signalled_child(signal.SIGTERM, "from verifier.cli import _stop_on_sigterm\n_stop_on_sigterm()\n") \
        == "KeyboardInterrupt"


def test_a_signal_inside_the_work_folders_removal_leaves_it_to_close_all(tmp_path, monkeypatch):
    """SIGTERM is a KeyboardInterrupt wherever it lands, also inside `close` while the work folder
    is being removed (the engine's `with` ending as the signal comes): the engine stays listed,
    and `close_all` (verifier.cli.entry, on the way out) removes what is left."""
    import shutil

    from verifier.data.duckdb_engine import close_all

    engine = DuckDBEngine(EngineOptions(temp_dir=str(tmp_path)))
    (engine.workdir / "stored-1.parquet").write_bytes(b"x" * 1000)
    removing = shutil.rmtree

    def interrupted_once(path, *args, **kwargs):
        monkeypatch.setattr(shutil, "rmtree", removing)
        raise KeyboardInterrupt  # the SIGTERM handler's, before anything is removed

    monkeypatch.setattr(shutil, "rmtree", interrupted_once)
    with pytest.raises(KeyboardInterrupt):
        engine.close()
    assert engine.workdir.exists()
    close_all()
    assert list(tmp_path.iterdir()) == []


def test_flag_runs_only_the_rules_handed_to_it(tmp_path):
    """No duplicates or overlap asked for: no pass, no column; the daily cap alone still marks
    the day's latest records beyond the cap, among the records validity does not flag. A rule
    the engine does not know is a defect, not a silent skip."""
    rows = [("t1", "u1", "bus", "2024-03-01 08:00:00"), ("t2", "u1", "bus", "2024-03-01 09:00:00"),
            ("t3", "u1", "bus", "2024-03-01 08:00:00"),  # the same ride again: no duplicates rule
            ("bad", "u1", "bus", "2024-03-01 07:00:00"),  # invalid: not counted against the cap
            ("t5", "u1", "metro", "2024-03-01 10:00:00"), ("t6", "u2", "bus", "2024-03-01 11:00:00")]
    (tmp_path / "trips.csv").write_text("trip_id,user_id,mode,start_time\n" + "".join(
        ",".join(r) + "\n" for r in rows), encoding="utf-8")
    log: list[str] = []
    with DuckDBEngine() as engine:
        engine.statement_log = log
        engine.stage(open_source([tmp_path / "trips.csv"], "utf-8", engine),
                     {c: c for c in ("trip_id", "user_id", "mode", "start_time")}, "Asia/Shanghai", canonical=TRANSIT)
        engine.flag({}, {"records.validity": ("validity", "trip_id = 'bad'"),
                         "transit.daily_cap": ("daily_cap", ("mode", {"bus": 2}))})
        assert engine.flag_columns == ["records.validity", "transit.daily_cap"]
        got = engine.rows('SELECT trip_id FROM records WHERE "transit.daily_cap" ORDER BY row_no')
        with pytest.raises(ValueError, match="unknown window rule 'speed'"):
            engine.flag({}, {"records.speed": ("speed", 1)})
    assert got == [("t2",)]  # u1's buses that day: t1, t3 (08:00, by key), then t2 beyond the cap of 2
    assert not [sql for sql in log if "dups" in sql or "overlapping" in sql]
