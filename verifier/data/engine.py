"""The engine protocol: what the verifier asks of the engine that holds the full population.

Nothing outside verifier/data/ holds a connection or issues SQL: the run, the checks and the
methodologies call the methods of `Engine`, and write the SQL fragments they hand it (predicates,
aggregates) with the engine's `dialect` (verifier.data.dialect). `DuckDBEngine`
(verifier.data.duckdb_engine) and `SparkEngine` (verifier.data.spark_engine) implement it, each
with its own dialect, not new branches; the passes after staging are one class both subclass
(verifier.data.sql_passes.SqlPasses), what differs being the dialect's or a small hook's. The input adapters (verifier.data.sources) stage through `execute`,
`rows` and `describe`.

Checks never query the data themselves. They hand the engine SQL predicates over the canonical
record columns below; the engine stages the trip file once, evaluates the window rules the
applicable checks stand for (duplicates, overlaps, daily caps) and every predicate, aggregates in
one scan and draws the sample. Another engine (Spark) would implement the same methods over the
same column names.

What is staged is what the methodology declares, nothing else: its canonical columns, each of
its kind (`methodologies.Column`: text, time or number; a label declared `lower` is read
lower-cased), so a methodology may bring a column no other has and never carries another's; and
only where its records carry points (`Methodology.coordinates`), each point's inside bits. Which
window rules run is the checks' to say: `flag` evaluates exactly the rules of the checks handed
to it, so a methodology whose checklist omits a rule pays no pass for it and has no column.

The DuckDB engine, as measured: memory stays bounded, the database lives in memory under a
memory limit (default DEFAULT_MEMORY_LIMIT); what does not fit spills to a temporary folder. The
staged records are the exception: written once to a Parquet file in the work folder (`stored`,
a view of it), read column by column, compressed, by every later pass. (A table in memory, 114
bytes a record, was spilled beyond the budget and read back in every pass; DuckDB compresses its
tables only at a checkpoint, which cost more than it saved: 12 s at 2x10^7 records.) No pass
pulls records into Python except the drawn sample and the examples.

Every query that needs an order states it (row_no, or the md5 rank), so results do not depend
on the thread count. The stored file's physical order matters in one place only: a CSV file has
no row numbers, so it is written in file order and row_no is the record's place in it.

Passes over the records (bench/results.md measures them):
  stage      one read of the file into the Parquet file behind `stored`: typed columns and the
             boundary bits (a grid lookup in SQL; the exact test only for points in cells an
             outline crosses) and the checks' derived columns (DuckDB; Spark derives them on
             read); the view `staged` adds record_key and record_date on read;
  flag       the window rules the applicable checks name, in the contract's order:
             duplicates by hash aggregate (file order only inside repeated groups), overlaps by
             one window over (user, start) among valid non-duplicates, the daily cap by one
             window over the records nothing else excludes; each keeps only the records it marks
             (table `marks`, usually tiny); the view `records` adds one boolean column per
             record-level check, evaluated on the fly, so the wide table is never rewritten;
  aggregate  one scan of `records` (which joins the users file) for every count and total
             (totals exact: the dialect's exact_sum, verifier.data.exact; a second pass only where a distance lies
             outside its window: tiny or huge values, none on real data); with `by` (the district
             breakdown) the same scan grouped, GROUPING SETS ((), (by)): the whole and each value;
             sample: md5 rank over `staged`, then only the drawn records through `records`
             (table `drawn`); figures: the axes from `drawn`, both histograms in one scan of
             `staged`, daily counts (records and excluded) in one scan of `records`.

Staged record columns (view `staged`, seen through the view `records`):
  row_no        1-based record order (file order; folder files in name order)
  record_key    trip_id where the file has that column (else '#<row_no>'), or row_no
  record_date   the local date of start_time
  the methodology's canonical columns (Methodology.columns; times local and naive, a column the
  file lacks NULL), e.g. trip_id, user_id, start_time, end_time, distance_km, and per methodology
  order_source, start_lon ... end_lat (bike), mode, entry_station, exit_station, route (transit);
  start_geo, end_geo    where the records carry points: bit i set = inside the boundary when read
                        as CRS_NAMES[i] (NULL without a boundary)
  start_district        where the methodology asks for the district breakdown
                        (Methodology.breakdowns): the index of the district holding the start
                        point (verifier.geo.districts), NULL in none
  table_km              with a station-distance table: the station pair's distance
  plus the columns the record checks derive (RecordCheck.derived);
and in `records` also
  authorized_at         the user's authorisation time (users file), NULL when unknown
  repeats_row           where the duplicates rule ran: the row_no of the first record a
                        duplicate repeats (NULL for the others)
  overlaps_row          where the overlap rule ran: the row_no of an earlier trip an
                        overlapping one overlaps (NULL for the others)
and one boolean column per record-level check id, named by the id.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd

# The points of a methodology with coordinates: (inside bits column, its longitude, its latitude).
GEO_POINTS = (("start_geo", "start_lon", "start_lat"), ("end_geo", "end_lon", "end_lat"))


# DuckDB's own default is 80 % of RAM; a fixed budget keeps a 10^8-record run flat in memory
# (what does not fit spills to the temporary folder). Measured in bench/results.md.
DEFAULT_MEMORY_LIMIT = "1GB"


@dataclass
class EngineOptions:
    memory_limit: str | None = None  # DuckDB syntax, e.g. "4GB"; default DEFAULT_MEMORY_LIMIT
    threads: int | None = None
    temp_dir: Path | None = None
    database: Path | None = None  # DuckDB: a file-backed database (import-taps); default in memory
    engine: str = "duckdb"  # a key of ENGINES (--engine)
    spark_master: str | None = None  # --spark-master (default local[*]; local[threads] with --threads)
    spark_conf: tuple[tuple[str, str], ...] = ()  # --spark-conf KEY=VALUE, in the order given


# The engines a run can use (--engine): name -> "module:class", imported on first use (pyspark is
# an optional extra: `pip install verifier[spark]`).
ENGINES = {"duckdb": "verifier.data.duckdb_engine:DuckDBEngine",
           "spark": "verifier.data.spark_engine:SparkEngine"}


def open_engine(options: EngineOptions | None = None) -> "Engine":
    """The engine `options.engine` names, opened with the options (InputError: not one of ENGINES)."""
    options = options or EngineOptions()
    return engine_class(options.engine)(options)


def engine_class(name: str) -> type["Engine"]:
    """The class of the engine `name` (InputError: not one of ENGINES); importing it starts nothing."""
    import importlib

    from verifier.errors import InputError

    if name not in ENGINES:
        raise InputError("command line", "--engine", f"{name!r} is not an engine; use {' or '.join(ENGINES)}")
    module, _, cls = ENGINES[name].partition(":")
    return getattr(importlib.import_module(module), cls)


class Engine(ABC):
    """Stages one submission's records and answers the checks' questions about them."""

    dialect: ClassVar  # the SQL the fragments handed to this engine are written in
    # When a list: every statement the engine issues is appended (tests/test_sql_portability.py).
    statement_log: ClassVar[list[str] | None] = None
    # data.trips may be a URI (verifier.data.uris: file://, hdfs://, s3a://) only where True;
    # such an engine reads it as a Parquet source and lists and hashes it (`uri_parts`).
    reads_uris: ClassVar[bool] = False

    workdir: Path  # the engine's work folder (transcoded copies, spill files)
    population: int  # records staged
    flag_columns: list[str]  # the record-level check ids, one boolean column each in `records`
    warn_only: tuple[str, ...]  # flagged, but the records stay eligible
    has_trip_id: bool
    timezone_rejected: str | None  # a data.timezone the engine did not know (read in the city zone)

    # -- lifetime ------------------------------------------------------------------------------
    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self):
        """Entered, the engine's dialect is the active one (verifier.data.dialect.DIALECT) for
        the checks, methodologies and adapters the run calls, until it is left."""
        from verifier.data.dialect import using

        self._dialect_scope = using(self.dialect)
        self._dialect_scope.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.close()
        finally:
            scope, self._dialect_scope = getattr(self, "_dialect_scope", None), None
            if scope is not None:
                scope.__exit__(None, None, None)

    # -- statements, for the input adapters (verifier.data.sources) only -----------------------
    @abstractmethod
    def execute(self, sql: str, reading=None) -> None:
        """Run a statement; with `reading` (an adapter: scan_sql, read_error) an engine error
        is that input's InputError (or the machine's EnvironmentFailure)."""

    @abstractmethod
    def rows(self, sql: str, reading=None) -> list[tuple]:
        """The rows of a query (as `execute`)."""

    @abstractmethod
    def describe(self, source) -> dict[str, str]:
        """column -> type of an adapter's scan (InputError when it cannot be read)."""

    @abstractmethod
    def materialize(self, name: str, sql: str) -> None:
        """Compute the query `sql` once into the work table `name` (replacing it), which later
        statements read by name until `drop_tables` (Spark: Parquet in the work folder)."""

    @abstractmethod
    def drop_tables(self, names) -> None: ...

    @abstractmethod
    def write_parquet(self, table: str, path: Path) -> None: ...

    # -- staging -------------------------------------------------------------------------------
    @abstractmethod
    def set_timezone(self, timezone: str) -> None:
        """Naive timestamps are local time in `timezone` (an unknown one: the city zone, noted
        in `timezone_rejected`)."""

    @abstractmethod
    def stage(self, source, columns: dict[str, str | None], timezone: str, boundary=None,
              users: Path | None = None, users_encoding: str = "utf-8", relation: str | None = None,
              extra_columns: tuple[str, ...] = (), derived: dict[str, str] | None = None, *,
              canonical: dict, coordinates: bool = False, districts=None) -> int:
        """Stage the records (`source`, or an already staged `relation`) as `staged`: the
        `canonical` columns (name -> methodologies.Column), read from the file columns
        `columns` names; the points' inside bits with `coordinates`, and with `districts` the
        start point's district (start_district). The count."""

    @abstractmethod
    def attach_station_distances(self, path: Path, encoding: str, fill_missing: bool = False) -> None: ...

    def uri_parts(self, uri) -> list[tuple[str, str]]:
        """The Parquet part files a URI (not file://) names, in name order, each with its
        SHA-256 computed where the data lives (the run's `inputs`); engines with `reads_uris`."""
        raise NotImplementedError(f"{type(self).__name__} reads no URIs")

    @abstractmethod
    def parquet_counts(self, files: list[Path]) -> list[int]:
        """The row count of each Parquet file, in the order given."""

    # -- flags and answers ---------------------------------------------------------------------
    @abstractmethod
    def flag(self, predicates: dict[str, str], rules: dict[str, tuple[str, object]],
             warn_only: tuple[str, ...] = ()) -> None:
        """One boolean column per check: `predicates` (check id -> SQL) record by record, `rules`
        (check id -> (window rule, its arguments; None: cannot run)) in the contract's order;
        the records of the `warn_only` checks stay eligible."""

    @abstractmethod
    def excluded_sql(self) -> str:
        """The condition (dialect SQL over `records`) of a record some excluding check flags."""

    @abstractmethod
    def aggregate(self, extra: dict[str, str] | None = None, pkm: dict[str, str | None] | None = None,
                  by: str | None = None) -> dict: ...

    @abstractmethod
    def examples(self, check_id: str, fields: list[str], limit: int = 5, reason: str | None = None) -> list[dict]: ...

    @abstractmethod
    def write_excluded(self, path: Path, reasons: dict[str, str], fields: list[str], sep: str) -> int:
        """Write excluded.csv (contract section 4) to `path` in one streaming pass, never through
        Python: per excluded record in row_no order, record_key, row_no, checks (the ids of
        `reasons` that flag it, `;`-joined, in the order of `reasons`), reason (their reason SQL,
        joined with `sep`), then `fields`; UTF-8 with a BOM. `reasons` names every excluding
        check. Returns the rows written."""

    # -- streaming writes and point functions (excluded.csv, claims.parquet, double claims) -----
    @abstractmethod
    def write_csv(self, columns: dict[str, str], source: str, path: Path) -> int:
        """Stream the rows of `SELECT <columns> <source>` (`columns`: header name -> SQL, in
        order; `source`: FROM ... ORDER BY ..., which fixes the row order) to `path` as CSV in
        DuckDB's COPY form, UTF-8 with a BOM, never through Python memory as a whole. The rows
        written."""

    @abstractmethod
    def write_query_parquet(self, query: str, path: Path) -> None:
        """One Parquet file at `path` holding the rows of `query` in its ORDER BY, written as
        the engine scans (bounded memory); the same bytes on every run of the same engine."""

    @abstractmethod
    def point_function(self, name: str, fn, returns: str = "text") -> None:
        """Register `fn(lon, lat)` (numpy float64 arrays, NaN for NULL -> a pyarrow array of the
        `returns` kind, NULL where it says) as the SQL function `name`; the same numpy code runs
        on every engine (DuckDB: an Arrow UDF; Spark: a pandas UDF)."""

    @abstractmethod
    def sample(self, seed: int, size: int, extra: int = 0) -> pd.DataFrame: ...

    @abstractmethod
    def quantiles(self, specs: dict[str, tuple[str, float, str]]) -> dict: ...

    @abstractmethod
    def histograms(self, specs: dict[str, tuple[str, float, str, float | None]]) -> dict[str, pd.DataFrame]: ...

    @abstractmethod
    def daily(self, by: str | None = None) -> pd.DataFrame:
        """Records and excluded records per date (and per value of the column `by`), read from
        `records` after `flag`; undated records in a row with date NULL."""


def __getattr__(name: str):
    """The engine of this release, importable from here (loaded on first use: it implements the
    protocol above)."""
    if name in ("DuckDBEngine", "environment_failure", "environment_failures"):
        from verifier.data import duckdb_engine

        return getattr(duckdb_engine, name)
    raise AttributeError(name)

__all__ = ["Engine", "EngineOptions", "ENGINES", "engine_class", "open_engine", "DuckDBEngine", "environment_failure", "environment_failures",
           "DEFAULT_MEMORY_LIMIT"]
