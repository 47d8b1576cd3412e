"""The engine's record order and keys: file order on any thread count, for CSV, Parquet and folders."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from verifier.data.engine import DuckDBEngine, EngineOptions
from verifier.data.sources import open_source

N = 400_000  # several CSV buffers and Parquet row groups, so parallel readers are exercised


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
        source = open_source(paths, "utf-8", engine.workdir)
        cols = {"user_id": "user_id", "trip_id": None}
        assert engine.stage(source, cols, "Asia/Shanghai") == N
        # line k of the file (0-based) holds user 'u<k % 97>': row_no must be k + 1
        wrong = engine.sql("SELECT count(*) FROM staged WHERE user_id <> 'u' || ((row_no - 1) % 97)")[0][0]
        assert wrong == 0
        assert engine.sql("SELECT min(row_no), max(row_no), count(DISTINCT row_no) FROM staged")[0] == (1, N, N)


def test_geo_bits_equal_the_exact_test_near_the_outline(tmp_path):
    """Staging settles most points by the grid in SQL and the rest by the exact test: every
    point's bits must equal the exact test in each reading, also next to the outline."""
    import numpy as np
    import shapely

    from verifier.geo.boundary import Boundary
    from verifier.methodology import CRS_NAMES

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
        source = open_source([tmp_path / "pts.parquet"], "utf-8", engine.workdir)
        engine.stage(source, {"start_lon": "start_lon", "start_lat": "start_lat"}, "Asia/Shanghai", b)
        got = engine.con.execute("SELECT start_geo FROM staged ORDER BY row_no").df()["start_geo"]
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
        assert engine.sql("SELECT current_setting('memory_limit')")[0][0].replace(" ", "") in ("286.1MiB", "300.0MB")
    assert list(tmp_path.iterdir()) == []  # the work folder is gone with the engine
