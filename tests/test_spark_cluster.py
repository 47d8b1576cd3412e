"""A real cluster, simulated: a Spark standalone master and two workers on loopback (separate
JVMs; tools/spark_cluster.py), driven from another process as a user's would be."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO
from spark_support import SPARK_TESTS, spark_options
from tools.spark_cluster import alive_workers, standalone_cluster

pytestmark = SPARK_TESTS  # with the other Spark tests in one xdist worker: one JVM-heavy worker

# Executors small enough for a 2-core machine shared with other JVMs.
EXECUTOR_CONF = ["spark.executor.memory=512m", "spark.executor.cores=1", "spark.cores.max=2",
                 "spark.sql.shuffle.partitions=4", "spark.driver.memory=1g"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    spark_options()  # fails (never skips) without pyspark or Java
    with standalone_cluster(tmp_path_factory.mktemp("spark-cluster"), workers=2, cores=1, memory="1g") as c:
        yield c
    assert all(p.poll() is not None for p in c.processes)  # stopped: no JVM left behind


DRIVER = """
import json, os, sys
from pyspark.sql import SparkSession
builder = SparkSession.builder.master(sys.argv[1]).appName("fixture-check")
for kv in sys.argv[2:]:
    builder = builder.config(*kv.split("=", 1))
spark = builder.getOrCreate()
def where(_):
    import verifier
    return [(os.getpid(), os.path.dirname(os.path.dirname(verifier.__file__)))]
sc = spark.sparkContext
seen = sc.parallelize(range(8), 8).mapPartitions(where).collect()
shuffled = sc.parallelize(range(10000), 8).map(lambda x: (x % 7, 1)).reduceByKey(lambda a, b: a + b, 4).collect()
executors = sc._jsc.sc().getExecutorMemoryStatus().size() - 1
print(json.dumps({"executors": executors, "checkouts": sorted({c for _, c in seen}), "groups": sorted(shuffled)}))
spark.stop()
"""


def test_the_cluster_runs_jobs_on_two_executors_that_import_this_checkout(cluster):
    """The fixture: two workers registered; a job's tasks run in two executors (other JVMs,
    Python workers started with PYSPARK_PYTHON) that import this checkout's verifier; a
    shuffle crosses them."""
    assert alive_workers(cluster) == 2
    run = subprocess.run([sys.executable, "-c", DRIVER, cluster.master, *EXECUTOR_CONF], capture_output=True,
                         text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["executors"] == 2
    assert got["checkouts"] == [str(REPO)]
    assert got["groups"] == [[k, 1429 if k < 4 else 1428] for k in range(7)]


def verify_cli(pkg, out, *args):
    return subprocess.run([sys.executable, "-m", "verifier", "verify", str(pkg), "--out", str(out), "--seed", "7",
                           "--quiet", *map(str, args)], capture_output=True, text=True, timeout=900, cwd=REPO)


def test_a_package_verifies_on_the_cluster_as_on_duckdb(cluster, tmp_path):
    """`--engine spark --spark-master spark://...` through the CLI, the trips a file:// URI to a
    folder of Parquet files (read by the executors), the work folder on a path every executor
    reads: findings.json is DuckDB's on the same files but for parameters.engine, the inputs'
    paths (the URI's parts under their URIs, same SHA-256 and records) and what follows from
    report.yaml naming the URI (its digest, the report number); sample.csv and excluded.csv
    byte for byte."""
    from test_data_uris import parquet_folder_package, set_trips

    pkg, folder = parquet_folder_package(tmp_path, "bike-overlapping-rides", parts=3)
    duck = verify_cli(pkg, tmp_path / "duckdb")
    assert duck.returncode in (0, 1), duck.stderr
    set_trips(pkg, folder.as_uri())
    (tmp_path / "work").mkdir()  # --temp-dir names a folder that exists (on a cluster: a shared mount)
    spark = verify_cli(pkg, tmp_path / "spark", "--engine", "spark", "--spark-master", cluster.master,
                       "--temp-dir", tmp_path / "work", *[a for kv in EXECUTOR_CONF for a in ("--spark-conf", kv)])
    assert spark.returncode == duck.returncode, spark.stderr[-3000:]
    a, b = (json.loads((tmp_path / d / "findings.json").read_text(encoding="utf-8")) for d in ("duckdb", "spark"))
    assert (a["parameters"].pop("engine"), b["parameters"].pop("engine")) == ("duckdb", "spark")
    parts = [f"part-{i}.parquet" for i in range(3)]
    assert [i["path"] for i in a["inputs"] if i["role"] == "trips"] == [f"trips/{p}" for p in parts]
    assert [i["path"] for i in b["inputs"] if i["role"] == "trips"] == [f"{folder.as_uri()}/{p}" for p in parts]
    for i in a["inputs"]:
        if i["role"] == "trips":
            i["path"] = f"{folder.as_uri()}/{i['path'].split('/')[-1]}"
    # report.yaml itself differs (it names the URI), and so its digest and the report number
    # drawn from the digests; every other figure is the same
    for d in (a, b):
        d["report"].pop("number")
        next(i for i in d["inputs"] if i["role"] == "report").pop("sha256")
    assert a == b
    assert any(c["status"] == "fail" for c in b["checks"])  # the planted overlaps were found
    for name in ("sample.csv", "excluded.csv"):
        assert (tmp_path / "spark" / name).read_bytes() == (tmp_path / "duckdb" / name).read_bytes(), name
