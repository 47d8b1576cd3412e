"""The Spark engine: the protocol of verifier.data.engine over Apache Spark, for a cluster.

The passes after staging are DuckDB's, the same code (verifier.data.sql_passes.SqlPasses, this
class's base), written in Spark SQL through `SparkDialect` (verifier.data.spark_dialect). What a
table is differs (`_make_table`): Spark's temporary views are recomputed at every use, so every table a later pass reads (`stored`, the
marks, the drawn records) is materialised once as Parquet in the work folder (on a cluster the
work folder must be a path every executor can read: --temp-dir on a shared file system) and
read back as a view. Only the drawn and the example records reach the driver.

pyspark is an optional extra (`pip install 'verifier[spark]'`); it is imported here only.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import pandas as pd

from verifier.data.engine import GEO_POINTS, EngineOptions
from verifier.data.sources.base import TripSource
from verifier.data.spark_dialect import SPARK
from verifier.data.sql_passes import SqlPasses
from verifier.errors import EnvironmentFailure, InputError

ident = SPARK.ident
# pyspark warns on import that it does not fully support pandas 3 (its pandas API, unused here;
# the Arrow transfers and pandas UDFs the engine uses are tested): not a line for the user.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

# Settings for a run on this machine (local[*]); --spark-conf overrides any of them.
LOCAL_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",  # stderr holds the progress lines and one-line errors
    "spark.sql.ansi.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.session.timeZone": "UTC",  # set_timezone gives the data's zone
    "spark.driver.memory": "2g",
}
# Settings the engine's SQL relies on (after --spark-conf: not for the user to change).
REQUIRED = {
    "spark.sql.timestampType": "TIMESTAMP_NTZ",  # a plain TIMESTAMP is naive, as on DuckDB
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",  # naive Parquet times stay naive
    "spark.sql.execution.arrow.pyspark.enabled": "true",  # results reach pandas through Arrow
}
ROW_NO = TripSource.RELATION_ROW_NO  # the record number column of the engine's scan views


class SparkEngine(SqlPasses):
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
        self._absent: dict[str, str] = {}  # canonical columns the file lacks: name -> SQL type
        self._derived: dict[str, str] = {}  # columns derived on read: name -> SQL
        self._has_users = False
        self._versions = 0  # materialised tables written (each to a fresh folder)

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
        # A fresh folder each time: a table may be rewritten from a view that reads its old files.
        self._versions += 1
        path = self.workdir / "tables" / f"{name}.{self._versions}"
        self._execute(sql).write.mode("overwrite").parquet(str(path))
        self.spark.read.parquet(str(path)).createOrReplaceTempView(name)
        if name not in self._views:
            self._views.append(name)

    def _view(self, name: str, df) -> str:
        """Register the DataFrame `df` as the temporary view `name` (recomputed at each read:
        cheap ones only; what later passes read again is `materialize`d)."""
        df.createOrReplaceTempView(name)
        if name not in self._views:
            self._views.append(name)
        return name

    def describe(self, source) -> dict[str, str]:
        """column -> type of the trip files, registering the engine's scan of them as a view with
        the record number (source.relation): CSV through a Parquet copy (`_csv_copy`), Parquet
        as it is. Types as DuckDB names the common ones (string: VARCHAR), else Spark's."""
        with _reading(source):
            df = self._csv_copy(source) if source.kind == "csv" else self._parquet_scan(source)
            source.relation = self._view(f"scan_{len(self._views)}", df)
            fields = df.schema.fields
        return {f.name: _type_name(f.dataType) for f in fields if f.name != ROW_NO}

    def _csv_copy(self, source):
        """Spark has no record numbers for CSV: the files go to Parquet with the record number
        through the project's one CSV reader (sources.text.csv_to_parquet: DuckDB's sniffing and
        the adapter's line-accurate InputErrors), which Spark then reads."""
        from verifier.data.sources.text import csv_to_parquet

        path = self.workdir / "csv" / f"{len(self._views)}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        csv_to_parquet(list(source.files), path, row_column=ROW_NO, reading=source, workdir=self.workdir / "csv-spill")
        return self.spark.read.parquet(str(path))

    def _parquet_scan(self, source):
        """The Parquet files with the record number: the file's offset (files in the order of
        source.files, a folder's in name order) + the row inside it (_metadata.row_index) + 1."""
        from pyspark.sql import functions as F

        df = self.spark.read.parquet(*(str(f) for f in source.files))
        offsets, total = [], 0
        for name, rows in self._files_in_order(df, [str(f) for f in source.files]):
            offsets += [F.lit(name), F.lit(total)]
            total += rows
        if not offsets:
            return df.select(F.lit(None).cast("bigint").alias(ROW_NO), "*")
        offset = F.element_at(F.create_map(*offsets), F.col("_metadata.file_path"))
        return df.select((offset + F.col("_metadata.row_index") + 1).alias(ROW_NO), "*")

    def _files_in_order(self, df, paths: list[str]) -> list[tuple[str, int]]:
        """(the file as Spark names it, its rows) for every file with rows that Spark reads for
        `paths` (files, folders, URIs), in record order: by the path given, then by name. One
        small aggregate (on a cluster the files need not be visible to the driver)."""
        from pyspark.sql import functions as F

        def place(name: str) -> tuple[int, str]:
            for i, path in enumerate(paths):
                if _same_file(name, path) or _same_file(name, path, inside=True):
                    return i, name
            raise EnvironmentFailure(f"Spark read a file it was not given: {name}", "report this as a defect")

        rows = df.groupBy(F.col("_metadata.file_path").alias("p")).count().collect()
        return sorted(((r["p"], int(r["count"])) for r in rows), key=lambda r: place(r[0]))
    def drop_tables(self, names) -> None:
        for name in names:
            self.spark.catalog.dropTempView(name)

    def write_parquet(self, table: str, path: Path) -> None:
        """One Parquet file at `path` in the table's record order (row_no, or seq for paired
        taps); Spark writes folders: the single part is moved there."""
        df = self.spark.table(table)
        order = next((c for c in ("row_no", "seq") if c in df.columns), None)
        self._single_parquet(df.orderBy(order) if order else df, path)

    def write_query_parquet(self, query: str, path: Path) -> None:
        self._single_parquet(self._execute(query), path)

    def _single_parquet(self, df, path: Path) -> None:
        """The sorted DataFrame `df` as one Parquet file at `path`: Spark writes folders of parts
        named by a random job id, so the single part is moved there (the same bytes every run)."""
        import shutil

        folder = self.workdir / "export" / path.name
        # One sorted partition: coalesce after the sort keeps its order (coalesce alone would pack
        # the table's files by size, not in order).
        df.coalesce(1).write.mode("overwrite").parquet(str(folder))
        part = next(folder.glob("part-*.parquet"))
        shutil.move(str(part), str(path))
        shutil.rmtree(folder, ignore_errors=True)

    def point_function(self, name: str, fn, returns: str = "text") -> None:
        import numpy as np
        from pyspark.sql.functions import pandas_udf

        @pandas_udf(self.dialect.types.get(returns, returns).lower())
        def point(lon: pd.Series, lat: pd.Series) -> pd.Series:
            out = fn(lon.to_numpy(dtype=float, na_value=np.nan), lat.to_numpy(dtype=float, na_value=np.nan))
            return out.to_pandas()

        self.spark.udf.register(name, point)

    # -- staging -----------------------------------------------------------------------------------
    def set_timezone(self, timezone: str) -> None:
        """As the DuckDB engine: a zone Spark (Java) does not know is read in the city zone and
        noted in `timezone_rejected`."""
        from verifier.submission import CITY_TIMEZONE

        self.timezone_rejected = None
        try:
            self._execute(self.dialect.set_timezone(timezone)).collect()
        except Exception as exc:
            if not _is_spark_error(exc):
                raise
            self.timezone_rejected = timezone
            self._execute(self.dialect.set_timezone(CITY_TIMEZONE)).collect()

    def stage(self, source, columns, timezone, boundary=None, users=None, users_encoding="utf-8",
              relation=None, extra_columns=(), derived=None, *, canonical, coordinates=False,
              districts=None) -> int:
        """As DuckDBEngine.stage: `stored` written once (Parquet in the work folder), `staged` a
        view over it with the same columns in the same order."""
        self.set_timezone(timezone)
        self._derived = dict(derived or {})
        self.has_trip_id = columns.get("trip_id") is not None
        raw = source.scan_sql() if relation is None else relation
        row_no = "row_no" if relation is not None else source.row_no_sql(self)
        types = source.types if source else {}
        exprs, names = [f"{row_no} AS row_no"], ["row_no"]
        self._absent = {}
        for name, column in canonical.items():
            col = columns.get(name)
            if not col:
                self._absent[name] = self.dialect.types[column.kind]
                continue
            exprs.append(f"{self.dialect.read_as(col, column, types.get(col, 'VARCHAR'))} AS {name}")
            names.append(name)
        exprs += [self.dialect.ident(c) for c in extra_columns]
        names += [self.dialect.ident(c) for c in extra_columns]
        # A column the file lacks is NULL for the point tests, named in `staged`, not stored.
        nulls = "".join(f", CAST(NULL AS {kind}) AS {name}" for name, kind in self._absent.items())
        points = self._point_columns(boundary, coordinates, districts if coordinates else None)
        typed = f"SELECT {', '.join(exprs)} FROM {raw}"
        self._has_users = self._load_users(users, users_encoding)
        with _reading(source):
            self.materialize("stored", f"SELECT {', '.join('t.' + n for n in names)}{points} "
                                       f"FROM (SELECT x.*{nulls} FROM ({typed}) x) t")
        self._define_staged()
        self.population = self.rows("SELECT count(*) FROM stored")[0][0]
        return self.population

    def _define_staged(self) -> None:
        d = self.dialect
        key = d.row_key("trip_id", "row_no") if self.has_trip_id else "row_no"
        absent = "".join(f", CAST(NULL AS {kind}) AS {name}" for name, kind in self._absent.items())
        derived = "".join(f", {sql} AS {d.ident(name)}" for name, sql in self._derived.items())
        self._execute(f"""
            CREATE OR REPLACE TEMPORARY VIEW staged AS
            SELECT *, {key} AS record_key, CAST(start_time AS DATE) AS record_date{derived}
            FROM (SELECT *{absent} FROM stored)""")
        if "staged" not in self._views:
            self._views.append("staged")

    def _point_columns(self, boundary, coordinates: bool, districts) -> str:
        """The points' inside bits (start_geo, end_geo) and start_district, each after a comma:
        one vectorised UDF (`_geo_bits_udf`, `_district_udf`) doing DuckDB's grid lookup and
        exact test; NULL bits without a boundary, none without points."""
        if not coordinates:
            return ""
        out = ""
        for name, lon, lat in GEO_POINTS:
            if boundary is None:
                out += f", CAST(NULL AS TINYINT) AS {name}"
                continue
            fn = self._udf("geo_bits", lambda: _geo_bits_udf(boundary))
            out += f", {_unless_nan(lon, lat, f'{fn}(t.{lon}, t.{lat})')} AS {name}"
        if districts is not None:
            fn = self._udf("district_of", lambda: _district_udf(districts))
            out += f", {_unless_nan('start_lon', 'start_lat', f'{fn}(t.start_lon, t.start_lat)')} AS start_district"
        return out

    def _udf(self, name: str, make) -> str:
        """Register the UDF `make()` once per stage under `name` (a new one replaces the old)."""
        self.spark.udf.register(name, make())
        return name

    def _load_users(self, users: Path | None, encoding: str) -> bool:
        """The users file as the table `users` (user_id, authorized_at), as DuckDB's: a user
        listed twice counts from the latest date (the conservative reading)."""
        if users is None:
            return False
        from verifier.data.sources import open_source

        d = self.dialect
        src = open_source([users], encoding, self, field_name="data.users")
        cols = src.resolve({}, ("user_id", "authorized_at"), ("user_id", "authorized_at"))
        when = d.local_time(d.ident(cols["authorized_at"]), src.types.get(cols["authorized_at"], "VARCHAR"))
        with _reading(src):
            self.materialize("users", f"SELECT {d.trimmed(d.ident(cols['user_id']))} AS user_id, "
                                      f"max({when}) AS authorized_at FROM {src.scan_sql()} GROUP BY 1")
        return True

    def attach_station_distances(self, path: Path, encoding: str, fill_missing: bool = False) -> None:
        """As DuckDB's: `table_km` (either direction; a pair listed twice: the shorter), with
        `fill_missing` also the distance of records without one."""
        from verifier.data.sources import open_source

        d = self.dialect
        src = open_source([path], encoding, self, field_name="data.station_distances")
        cols = src.resolve({}, ("from_station", "to_station", "distance_km"),
                           ("from_station", "to_station", "distance_km"))
        a, b = (d.trimmed(d.ident(cols[c])) for c in ("from_station", "to_station"))
        km = d.to_number(d.trimmed(d.ident(cols["distance_km"])))
        with _reading(src):
            self.materialize("stations", f"""
                WITH s AS (SELECT {a} AS a, {b} AS b, {km} AS km FROM {src.scan_sql()})
                SELECT a, b, min(km) AS km FROM (SELECT a, b, km FROM s UNION ALL SELECT b, a, km FROM s)
                WHERE a IS NOT NULL AND b IS NOT NULL GROUP BY a, b""")
        distance = "coalesce(r.distance_km, s.km)" if fill_missing else "r.distance_km"
        skip = {"record_key", "record_date", *self._derived}
        names = [f.name for f in self.spark.table("staged").schema.fields if f.name not in skip]
        cols_sql = ", ".join(f"{distance} AS distance_km" if n == "distance_km" else f"r.{d.ident(n)}" for n in names)
        self.materialize("stored", f"SELECT {cols_sql}, s.km AS table_km FROM staged r "
                                   f"LEFT JOIN stations s ON s.a = r.entry_station AND s.b = r.exit_station")
        self._absent = {}  # stored again from `staged`: every column is there now
        self._define_staged()

    def parquet_counts(self, files: list[Path]) -> list[int]:
        paths = [str(f) for f in files]
        counts = self._files_in_order(self.spark.read.parquet(*paths), paths)
        return [sum(n for name, n in counts if _same_file(name, p)) for p in paths]

    def uri_parts(self, uri) -> list[tuple[str, str]]:
        from verifier.data.spark_files import uri_parts

        return uri_parts(self.spark, uri)

    # -- the passes after staging: verifier.data.sql_passes, through these hooks --------------------
    # Every table a later pass reads (the marks, the drawn records) is materialised once.
    def _make_table(self, name: str, sql: str) -> None:
        self.materialize(name, sql)

    def _make_view(self, name: str, sql: str) -> None:
        self._view(name, self._execute(sql))

    def _frame_of(self, sql: str) -> pd.DataFrame:
        return _frame(self._execute(sql))

    @staticmethod
    def _value(value):
        return _python(value)

    def write_excluded(self, path: Path, reasons, fields, sep) -> int:
        """excluded.csv as DuckDBEngine.write_excluded writes it, byte for byte: the rows stream
        to the driver in row_no order (toLocalIterator: one partition at a time, bounded
        memory) and are written here in DuckDB's CSV form (`_csv_field`)."""
        checks, reason = self._excluded_reasons(reasons, sep)
        columns = {"record_key": "record_key", "row_no": "row_no", "checks": checks, "reason": reason,
                   **{f: ident(f) for f in fields if f not in ("record_key", "row_no")}}
        return self.write_csv(columns, f"FROM records WHERE {self._excluded_where()} ORDER BY row_no", path)

    def write_csv(self, columns: dict[str, str], source: str, path: Path) -> int:
        """As DuckDBEngine.write_csv, byte for byte: the rows stream to the driver in the
        query's order (toLocalIterator: one partition at a time, bounded memory) and are written
        here in DuckDB's CSV form (`_csv_field`)."""
        names = ["\ufeff" + n if i == 0 else n for i, n in enumerate(columns)]
        query = self._execute(f"SELECT {', '.join(f'{sql} AS c{i}' for i, sql in enumerate(columns.values()))} {source}")
        count = 0
        with open(path, "w", encoding="utf-8", newline="") as out:
            out.write(",".join(map(_csv_field, names)) + "\n")
            for row in query.toLocalIterator():
                out.write(",".join(map(_csv_field, row)) + "\n")
                count += 1
        return count


# -- the session ------------------------------------------------------------------------------------
_SESSION = {"key": None, "spark": None}


def session(options: EngineOptions, workdir: Path):
    """The Spark session for `options` (master, settings): the running one when they match,
    else a new one (spark.driver.memory and the master apply only when the JVM starts)."""
    master = options.spark_master or (f"local[{int(options.threads)}]" if options.threads else "local[*]")
    conf = {**LOCAL_DEFAULTS, **_local_partitions(master), **dict(options.spark_conf), **REQUIRED}
    key = (master, tuple(sorted(conf.items())))
    if _SESSION["spark"] is not None and _SESSION["key"] == key:
        return _SESSION["spark"]
    stop_session()
    # Spark's spill folder lives as long as the session (a shared session outlives the engine
    # whose work folder it would otherwise be in).
    if "spark.local.dir" not in conf:
        _SESSION["local_dir"] = tempfile.mkdtemp(prefix="verifier-spark-local-", dir=options.temp_dir or None)
        conf["spark.local.dir"] = _SESSION["local_dir"]
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
        with _jvm_output_to(options.temp_dir):
            spark = builder.getOrCreate()
    except Exception as exc:  # no Java, a master that does not answer
        if "JAVA_HOME" in str(exc) or "Java gateway" in str(exc):
            raise EnvironmentFailure("Spark needs Java 17 or later, and none was found",
                                     "install a Java 17 runtime (apt-get install openjdk-17-jre-headless) or set JAVA_HOME") from None
        raise EnvironmentFailure(f"cannot start Spark ({master}): {str(exc).splitlines()[0][:300]}",
                                 "install a Java 17 runtime (JAVA_HOME) and check --spark-master") from None
    spark.sparkContext.setLogLevel("ERROR")
    _SESSION.update(key=key, spark=spark)
    return spark


@contextmanager
def _jvm_output_to(temp_dir):
    """Start the JVM with its stderr in a log file (verifier-spark-*.log in the temporary
    folder, removed with the session): Java and log4j write their start-up notes and warnings
    there for the session's lifetime, so the run's stderr keeps its progress lines and an exit-2
    error stays one line."""
    fd, path = tempfile.mkstemp(prefix="verifier-spark-", suffix=".log", dir=temp_dir or None)
    _SESSION["log"] = path
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(fd, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)


def _local_partitions(master: str) -> dict[str, str]:
    """spark.sql.shuffle.partitions for a local master: twice its threads (Spark's default, 200,
    is meant for clusters and makes every small shuffle 200 tasks)."""
    if not master.startswith("local"):
        return {}
    threads = master[master.find("[") + 1:-1] if "[" in master else "1"
    n = (os.cpu_count() or 1) if threads in ("*", "") else int(threads.split(",")[0])
    return {"spark.sql.shuffle.partitions": str(2 * n)}


def stop_session() -> None:
    import shutil

    spark, _SESSION["spark"], _SESSION["key"] = _SESSION["spark"], None, None
    if spark is not None:
        spark.stop()
    if local := _SESSION.pop("local_dir", None):
        shutil.rmtree(local, ignore_errors=True)
    if log := _SESSION.pop("log", None):
        Path(log).unlink(missing_ok=True)


@contextmanager
def _reading(source):
    """A statement that reads a submission file (`source`: its adapter): an error is that input's
    InputError. Without `source`, errors pass as they are."""
    try:
        yield
    except Exception as exc:
        if not _is_spark_error(exc):
            raise
        if (failure := environment_failure(exc)) is not None:
            raise failure from None
        if source is None:
            raise
        raise source.read_error(exc) from None


def environment_failure(exc: BaseException) -> EnvironmentFailure | None:
    """What the machine ran out of, for a Spark error (memory, disk, the JVM gone); None when it
    is something else."""
    text = str(exc)
    if "OutOfMemoryError" in text or "Java heap space" in text:
        return EnvironmentFailure("Spark ran out of memory", "raise --spark-conf spark.driver.memory=... "
                                  "(or spark.executor.memory on a cluster)")
    if "No space left on device" in text:
        return EnvironmentFailure("disk full", "free space, or name a --temp-dir on a disk with room "
                                  "(Spark's spill files are in the work folder)")
    if "Connection refused" in text or "SparkContext was shut down" in text or "Py4JNetworkError" in type(exc).__name__:
        return EnvironmentFailure("the Spark session stopped (its JVM or master is gone)",
                                  "check the master (--spark-master) and the driver's memory, then run again")
    return None


def _is_spark_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(("pyspark", "py4j"))


def _frame(df) -> pd.DataFrame:
    """A Spark result as the pandas frame the DuckDB engine's `.df()` gives (DuckDB 2, pandas 3):
    through Arrow, column by column (`_pandas_column`)."""
    table = df.toArrow()
    return pd.DataFrame({name: _pandas_column(name, col) for name, col in zip(table.column_names, table.columns)},
                        columns=table.column_names)


# DuckDB stores these as UTINYINT (Spark has no unsigned types): the frame gives them as DuckDB.
_UNSIGNED = {"start_geo": "UInt8", "end_geo": "UInt8"}


def _pandas_column(name: str, column) -> pd.Series:
    """One column as DuckDB's .df() gives it: integers numpy-typed without NULLs, else pandas'
    nullable type of the same width; booleans likewise; timestamps and dates datetime64[us];
    text `str` (object when every value is NULL); decimals float64."""
    import pyarrow as pa

    kind, nulls = column.type, column.null_count
    if pa.types.is_integer(kind):
        dtype = _UNSIGNED.get(name, f"Int{kind.bit_width}")
        return pd.Series(column.to_pylist(), dtype=dtype if nulls else dtype.lower())
    if pa.types.is_boolean(kind):
        return pd.Series(column.to_pylist(), dtype="boolean" if nulls else "bool")
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return pd.Series(column.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False), dtype="datetime64[us]")
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        values = column.to_pylist()
        return pd.Series(values, dtype=object if nulls == len(values) else "str")
    if pa.types.is_decimal(kind):
        return pd.Series([None if v is None else float(v) for v in column.to_pylist()], dtype="float64")
    return column.to_pandas()


def _type_name(t) -> str:
    """A Spark type as the DuckDB engine names it where it matters (text: VARCHAR; naive and
    zoned timestamps: TIMESTAMP...), else Spark's own name upper-cased."""
    name = t.simpleString().upper()
    return "VARCHAR" if name == "STRING" else name


def _same_file(spark_path: str, path: str, inside: bool = False) -> bool:
    """Spark's name of a file (a URI: file:/x/y.parquet, hdfs://nn:8020/x) is `path` (a local
    path or a URI; file:/x and file:///x are the same); `inside`: is in the folder `path`."""
    from urllib.parse import unquote, urlparse

    def parts(name: str) -> tuple[str, str, str]:
        if "://" not in name and not name.startswith("file:"):
            return "file", "", str(Path(name).resolve())
        u = urlparse(name)
        return u.scheme or "file", u.netloc, unquote(u.path).rstrip("/")

    (s1, n1, p1), (s2, n2, p2) = parts(spark_path), parts(path)
    return (s1, n1) == (s2, n2) and (p1.startswith(p2 + "/") if inside else p1 == p2)


def _unless_nan(lon: str, lat: str, sql: str) -> str:
    """`sql` for a point with both coordinates numbers; NULL where either is NULL or NaN."""
    return (f"CASE WHEN t.{lon} IS NULL OR t.{lat} IS NULL OR isnan(t.{lon}) OR isnan(t.{lat}) THEN NULL "
            f"ELSE {sql} END")


def _cells(grid, lon, lat, outside):
    """`grid`'s cell value at each point (numpy), `outside` beyond its open box: the DuckDB
    engine's `_cell_sql` in the same double arithmetic."""
    import numpy as np

    inside = (lon > grid.x0) & (lon < grid.x1) & (lat > grid.y0) & (lat < grid.y1)
    with np.errstate(invalid="ignore"):
        i = np.minimum(np.floor((lon - grid.x0) * grid.sx), grid.n - 1)
        j = np.minimum(np.floor((lat - grid.y0) * grid.sy), grid.n - 1)
    out = np.full(len(lon), outside, dtype=np.int64)
    at = np.flatnonzero(inside)
    out[at] = np.asarray(grid.cells)[(j[at] * grid.n + i[at]).astype(np.int64)]
    return out


def _geo_bits_udf(boundary):
    """A pandas UDF (lon, lat) -> inside bits (bit i: inside when read as CRS_NAMES[i]): the grid
    lookup of `Boundary.crs_grid`, the exact test for the points in cells an outline crosses."""
    import numpy as np
    from pyspark.sql.functions import pandas_udf

    from verifier.constants import CRS_NAMES

    grid = boundary.crs_grid(CRS_NAMES)
    moved = [boundary.in_crs(crs) for crs in CRS_NAMES]

    @pandas_udf("tinyint")
    def geo_bits(lon: pd.Series, lat: pd.Series) -> pd.Series:
        x, y = lon.to_numpy(dtype=float), lat.to_numpy(dtype=float)
        out = _cells(grid, x, y, 0)
        todo = np.flatnonzero(out == grid.UNDECIDED)
        if todo.size:
            bits = np.zeros(todo.size, dtype=np.int64)
            for i, b in enumerate(moved):
                bits |= b.contains_exact(x[todo], y[todo]).astype(np.int64) << i
            out[todo] = bits
        return pd.Series(out.astype(np.int8))

    return geo_bits


def _district_udf(districts):
    """A pandas UDF (lon, lat) -> the index of the start point's district, NULL in none:
    `Districts.grid` lookup, `Districts.locate` for points in cells an outline crosses."""
    import numpy as np
    from pyspark.sql.functions import pandas_udf

    grid = districts.grid()

    @pandas_udf("smallint")
    def district_of(lon: pd.Series, lat: pd.Series) -> pd.Series:
        x, y = lon.to_numpy(dtype=float), lat.to_numpy(dtype=float)
        out = _cells(grid, x, y, grid.OUTSIDE)
        todo = np.flatnonzero(out == grid.UNDECIDED)
        if todo.size:
            out[todo] = districts.locate(x[todo], y[todo])
        return pd.Series(out, dtype="Int16").mask(out < 0)

    return district_of


# -- the passes after staging (answer) ---------------------------------------------------------------
def _python(value):
    """A SQL result value as the DuckDB engine returns it: DECIMAL sums and counts as int."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _csv_field(value) -> str:
    """One value as DuckDB's COPY (FORMAT csv) writes it: NULL empty, doubles in their shortest
    form (inf, nan), timestamps without trailing zeros in the fraction, text quoted where it
    holds the delimiter, a quote, a line break or '#' (or is empty), quotes doubled."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        text = value.isoformat(sep=" ")
        return text.rstrip("0") if "." in text else text
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if not isinstance(value, str):
        return text
    if text == "" or any(c in text for c in ',"\n\r#'):
        return '"' + text.replace('"', '""') + '"'
    return text
