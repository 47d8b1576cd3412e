"""The one Spark session of a test process, shared by every Spark test.

A Spark session costs 10-30 s to start and each small query 0.2-8 s, so the tests never start
their own: every Spark verify goes through `spark_options()` (the same master and settings, so
`verifier.data.spark_engine.session` hands back the running session) and `SparkEngine.reuse_session`
is set for the whole test process by conftest.py, which stops the session when the tests end.

Settings for tiny inputs (measured with the conformance suite, see its docstring): one shuffle
partition, no adaptive planning (its re-planning costs more than it saves on a few thousand rows),
no UI, whole-stage code generation off (compiling Java for every small query costs more than it
saves), local[1] (the CI runner has 2 cores and another xdist worker beside us).

Spark test files mark themselves `pytestmark = SPARK_TESTS` (marker `spark`). They are spread
over the xdist workers like any test (measured: the Spark tests are a large share of the suite,
and one worker holding them all would be its longest path); each worker starts at most one JVM
and shares it. Without pyspark or Java they FAIL with what to install: CI must run them, never
skip them.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import pytest

SPARK_MASTER = "local[1]"
SPARK_TESTS = [pytest.mark.spark]
_LOCAL_DIR = Path(tempfile.mkdtemp(prefix="verifier-tests-spark-"))  # outlives every engine's work folder
atexit.register(shutil.rmtree, _LOCAL_DIR, True)
SPARK_CONF = (
    ("spark.sql.shuffle.partitions", "1"),
    ("spark.default.parallelism", "1"),
    ("spark.sql.adaptive.enabled", "false"),
    ("spark.ui.enabled", "false"),
    ("spark.sql.codegen.wholeStage", "false"),
    ("spark.sql.codegen.factoryMode", "NO_CODEGEN"),
    ("spark.driver.memory", "1g"),
    ("spark.local.dir", str(_LOCAL_DIR)),
    ("spark.driver.extraJavaOptions", "-Dlog4j2.level=ERROR"),
)


def missing() -> str | None:
    """Why Spark cannot run here (None when it can): pyspark or a Java runtime is absent."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed: pip install -e '.[spark,test]'"
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and (Path(java_home) / "bin" / "java").exists()) and shutil.which("java") is None:
        return "no Java runtime (java on PATH or JAVA_HOME): apt-get install openjdk-17-jre-headless"
    return None


def spark_options() -> dict:
    """The `verify` keywords of a Spark run on the shared session; fails the test (never skips)
    when Spark cannot run here."""
    reason = missing()
    if reason:
        pytest.fail(f"the Spark tests need Spark: {reason}", pytrace=False)
    return {"engine": "spark", "spark_master": SPARK_MASTER, "spark_conf": SPARK_CONF}


def engine_options(**more):
    """`EngineOptions` for a SparkEngine built directly by a test, on the shared session."""
    from verifier.data.engine import EngineOptions

    return EngineOptions(**spark_options(), **more)


def share_session() -> None:
    """Make every SparkEngine of this process leave its session running for the next one."""
    from verifier.data.spark_engine import SparkEngine

    SparkEngine.reuse_session = True


def stop_session() -> None:
    """Stop the shared session (at the end of the tests), if one was started."""
    import sys

    engine = sys.modules.get("verifier.data.spark_engine")
    if engine is not None:
        engine.stop_session()
