"""A real cluster, simulated: a Spark standalone master and two workers on loopback (separate
JVMs; tools/spark_cluster.py), driven from another process as a user's would be."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO
from tools.spark_cluster import alive_workers, standalone_cluster

# Executors small enough for a 2-core machine shared with other JVMs.
EXECUTOR_CONF = ["spark.executor.memory=512m", "spark.executor.cores=1", "spark.cores.max=2",
                 "spark.sql.shuffle.partitions=4", "spark.driver.memory=1g"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
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
