"""The engine's record order and keys: file order on any thread count, for CSV, Parquet and folders."""

from __future__ import annotations

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
