"""The Spark engine: the protocol of verifier.data.engine over Apache Spark, for a cluster.

The same passes as the DuckDB engine (verifier.data.engine describes them), written in Spark
SQL through `SparkDialect` (verifier.data.spark_dialect). What a table is differs: Spark's
temporary views are recomputed at every use, so every table a later pass reads (`stored`, the
marks, the drawn records) is materialised once as Parquet in the work folder (on a cluster the
work folder must be a path every executor can read: --temp-dir on a shared file system) and
read back as a view. Only the drawn and the example records reach the driver.

pyspark is an optional extra (`pip install 'verifier[spark]'`); it is imported here only.
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import pandas as pd

from verifier.data.engine import Engine, EngineOptions
from verifier.data.spark_dialect import SPARK
from verifier.errors import EnvironmentFailure, InputError

# Settings for a run on this machine (local[*]); --spark-conf overrides any of them.
LOCAL_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",  # stderr holds the progress lines and one-line errors
    "spark.sql.ansi.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.session.timeZone": "UTC",  # set_timezone gives the data's zone
    "spark.driver.memory": "2g",
}


class SparkEngine(Engine):
    """Stages one submission's records in Spark and answers the checks' questions about them."""

    dialect = SPARK
    # Tests share one session across engines (it costs 10-30 s to start): when True, `close`
    # leaves the session running for the next engine with the same master and settings.
    reuse_session: ClassVar[bool] = False
    reads_uris: ClassVar[bool] = True  # data.trips: hdfs://, s3a://, file:// ... (verifier.data.uris)

    def __init__(self, options: EngineOptions | None = None):
        self.options = options or EngineOptions(engine="spark")
        try:
            self._tmp = tempfile.TemporaryDirectory(prefix="verifier-spark-", dir=self.options.temp_dir or None)
        except OSError as exc:
            raise InputError("command line", "--temp-dir", f"cannot create a work folder: {exc}") from None
        self.workdir = Path(self._tmp.name)
        self.spark = session(self.options, self.workdir)
        self.flag_columns: list[str] = []
        self.warn_only: tuple[str, ...] = ()
        self.has_trip_id = False
        self.population = 0
        self.timezone_rejected = None
        self._views: list[str] = []  # temporary views this engine registered (dropped at close)

    def close(self) -> None:
        try:
            for name in self._views:
                self.spark.catalog.dropTempView(name)
            if not self.reuse_session:
                stop_session()
        finally:
            self._tmp.cleanup()

    # -- statements ------------------------------------------------------------------------------
    def _execute(self, sql: str):
        """Every statement the engine issues passes here (and into `statement_log` when set)."""
        if self.statement_log is not None:
            self.statement_log.append(sql)
        return self.spark.sql(sql)

    def execute(self, sql: str, reading=None) -> None:
        with _reading(reading):
            self._execute(sql).collect()

    def rows(self, sql: str, reading=None) -> list[tuple]:
        with _reading(reading):
            return [tuple(r) for r in self._execute(sql).collect()]

    def materialize(self, name: str, sql: str) -> None:
        """Compute `sql` once into Parquet in the work folder and register it as the view `name`
        (Spark's own views would recompute the query at every pass that reads them)."""
        path = self.workdir / "tables" / name
        self._execute(sql).write.mode("overwrite").parquet(str(path))
        self.spark.read.parquet(str(path)).createOrReplaceTempView(name)
        if name not in self._views:
            self._views.append(name)

    def describe(self, source) -> dict[str, str]:
        raise NotImplementedError

    def drop_tables(self, names) -> None:
        for name in names:
            self.spark.catalog.dropTempView(name)

    def write_parquet(self, table: str, path: Path) -> None:
        raise NotImplementedError

    # -- staging -----------------------------------------------------------------------------------
    def set_timezone(self, timezone: str) -> None:
        raise NotImplementedError

    def stage(self, source, columns, timezone, boundary=None, users=None, users_encoding="utf-8",
              relation=None, extra_columns=(), derived=None, *, canonical, coordinates=False,
              districts=None) -> int:
        raise NotImplementedError

    def attach_station_distances(self, path: Path, encoding: str, fill_missing: bool = False) -> None:
        raise NotImplementedError

    def parquet_counts(self, files: list[Path]) -> list[int]:
        raise NotImplementedError

    def uri_parts(self, uri) -> list[tuple[str, str]]:
        from verifier.data.spark_files import uri_parts

        return uri_parts(self.spark, uri)

    # -- flags and answers -------------------------------------------------------------------------
    def flag(self, predicates, rules, warn_only=()) -> None:
        raise NotImplementedError

    def excluded_sql(self) -> str:
        raise NotImplementedError

    def aggregate(self, extra=None, pkm=None) -> dict:
        raise NotImplementedError

    def examples(self, check_id, fields, limit=5, reason=None) -> list[dict]:
        raise NotImplementedError

    def write_excluded(self, path: Path, reasons, fields, sep) -> int:
        raise NotImplementedError

    def sample(self, seed: int, size: int, extra: int = 0) -> pd.DataFrame:
        raise NotImplementedError

    def quantiles(self, specs) -> dict:
        raise NotImplementedError

    def histograms(self, specs) -> dict[str, pd.DataFrame]:
        raise NotImplementedError

    def daily(self, by=None) -> pd.DataFrame:
        raise NotImplementedError


# -- the session ------------------------------------------------------------------------------------
_SESSION = {"key": None, "spark": None}


def session(options: EngineOptions, workdir: Path):
    """The Spark session for `options` (master, settings): the running one when they match,
    else a new one (spark.driver.memory and the master apply only when the JVM starts)."""
    master = options.spark_master or (f"local[{int(options.threads)}]" if options.threads else "local[*]")
    conf = {**LOCAL_DEFAULTS, "spark.local.dir": str(workdir / "spark-local"), **dict(options.spark_conf)}
    key = (master, tuple(sorted((k, v) for k, v in conf.items() if k != "spark.local.dir")))
    if _SESSION["spark"] is not None and _SESSION["key"] == key:
        return _SESSION["spark"]
    stop_session()
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EnvironmentFailure("pyspark is not installed", "pip install 'verifier[spark]' (and a Java 17 runtime)") from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName("verifier")
    for k, v in conf.items():
        builder = builder.config(k, v)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # no Java, a master that does not answer
        raise EnvironmentFailure(f"cannot start Spark ({master}): {str(exc).splitlines()[0][:300]}",
                                 "install a Java 17 runtime (JAVA_HOME) and check --spark-master") from None
    spark.sparkContext.setLogLevel("ERROR")
    _SESSION.update(key=key, spark=spark)
    return spark


def stop_session() -> None:
    spark, _SESSION["spark"], _SESSION["key"] = _SESSION["spark"], None, None
    if spark is not None:
        spark.stop()


@contextmanager
def _reading(source):
    """A statement that reads a submission file (`source`: its adapter): an error is that input's
    InputError. Without `source`, errors pass as they are."""
    try:
        yield
    except Exception as exc:
        if source is None or not _is_spark_error(exc):
            raise
        raise source.read_error(exc) from None


def _is_spark_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(("pyspark", "py4j"))


def _frame(df) -> pd.DataFrame:
    """A Spark result as the pandas frame the DuckDB engine's `.df()` gives (same dtypes)."""
    raise NotImplementedError
