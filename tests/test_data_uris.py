"""data.trips as a URI (verifier.data.uris): kept as written, read only by the Spark engine,
listed and hashed where the data lives (contract section 1, README "Running on Apache Spark")."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from conftest import REPO
from verifier.data.uris import DataUri
from verifier.submission import load_submission


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "verifier", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def parquet_folder_package(tmp_path: Path, sample: str = "bike-clean", parts: int = 2) -> tuple[Path, Path]:
    """`sample` with its trips.csv rewritten as a folder of `parts` Parquet files (file order
    kept: part i holds the i-th slice of the rows). Returns (package, trips folder)."""
    pkg = tmp_path / sample
    shutil.copytree(REPO / "samples" / sample, pkg)
    folder = pkg / "trips"
    folder.mkdir()
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT *, row_number() OVER () AS n FROM read_csv('{pkg / 'trips.csv'}')")
    rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    step = -(-rows // parts)
    for i in range(parts):
        con.execute(f"COPY (SELECT * EXCLUDE (n) FROM t WHERE n > {i * step} AND n <= {(i + 1) * step} ORDER BY n) "
                    f"TO '{folder / f'part-{i}.parquet'}' (FORMAT parquet)")
    (pkg / "trips.csv").unlink()
    set_trips(pkg, "trips")
    return pkg, folder


def set_trips(pkg: Path, value: str) -> None:
    report = yaml.safe_load((pkg / "report.yaml").read_text(encoding="utf-8"))
    report["data"]["trips"] = value
    (pkg / "report.yaml").write_text(yaml.safe_dump(report, allow_unicode=True, sort_keys=False), encoding="utf-8")


def one_error_line(result) -> str:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_uri_is_kept_as_written_not_as_a_path(tmp_path):
    pkg, folder = parquet_folder_package(tmp_path)
    set_trips(pkg, "hdfs://namenode:8020/city//trips/2024/")
    named = load_submission(pkg).data_files["trips"]
    assert named == ["hdfs://namenode:8020/city//trips/2024/"] and isinstance(named[0], DataUri)
    assert named[0].scheme == "hdfs" and named[0].local is None
    set_trips(pkg, folder.as_uri())
    uri = load_submission(pkg).data_files["trips"][0]
    assert uri == f"file://{folder}" and uri.local == folder


def test_duckdb_refuses_a_uri_naming_the_spark_engine(tmp_path):
    pkg, folder = parquet_folder_package(tmp_path)
    for uri in (folder.as_uri(), "s3a://bucket/trips/"):
        set_trips(pkg, uri)
        line = one_error_line(run_cli("verify", pkg, "--out", tmp_path / "out", "--quiet"))
        assert line == (f"error: {str(pkg / 'report.yaml')!r}: data.trips: {uri!r} is a URI, which only a cluster "
                        "engine reads; use --engine spark")
        assert not (tmp_path / "out").exists()


def test_a_file_uri_must_name_a_local_file_or_folder(tmp_path):
    pkg, folder = parquet_folder_package(tmp_path)
    set_trips(pkg, (tmp_path / "nowhere").as_uri())
    line = one_error_line(run_cli("verify", pkg, "--out", tmp_path / "out", "--engine", "spark"))
    assert line == f"error: {str(tmp_path / 'nowhere')!r}: data.trips: file not found"
    set_trips(pkg, "file://otherhost/data/trips")  # file:// names this machine only
    line = one_error_line(run_cli("verify", pkg, "--out", tmp_path / "out", "--engine", "spark"))
    assert line.endswith("data.trips: not a URI the engine can read: 'file://otherhost/data/trips'")


def test_the_output_folder_must_lie_apart_from_a_file_uri(tmp_path):
    """Checked before the engine starts: no Spark session for this refusal."""
    outside = tmp_path / "lake"
    pkg, folder = parquet_folder_package(tmp_path)
    shutil.move(folder, outside)
    set_trips(pkg, outside.as_uri())
    line = one_error_line(run_cli("verify", pkg, "--out", outside / "out", "--engine", "spark"))
    assert line.startswith("error: command line: --out: ") and f"lies inside the data.trips {outside.as_uri()}" in line


@pytest.mark.spark
def test_spark_lists_and_hashes_a_uri_where_the_data_lives(tmp_path):
    """Engine.uri_parts (the path of hdfs:// and s3a:// URIs), here on the local file system
    through Hadoop's client: the Parquet parts in name order, `_` and `.` files skipped, each
    SHA-256 computed on the executors equal to the file's own."""
    from spark_support import engine_options
    from verifier.data.spark_engine import SparkEngine

    _, folder = parquet_folder_package(tmp_path, parts=3)
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / ".part-0.parquet.crc").write_bytes(b"x")
    with SparkEngine(engine_options()) as engine:
        parts = engine.uri_parts(folder.as_uri())
    assert parts == [(f"file:{folder}/part-{i}.parquet",
                      hashlib.sha256((folder / f"part-{i}.parquet").read_bytes()).hexdigest()) for i in range(3)]
