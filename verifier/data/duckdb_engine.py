"""The DuckDB engine: the protocol of verifier.data.engine over one in-memory DuckDB database.

How it answers each method, and what each pass costs: see verifier.data.engine. Every statement
goes through `_execute` (and is logged there when `statement_log` is set); the SQL is written
with the dialect (verifier.data.dialect), except the few DuckDB forms only this class holds
(SET, COPY TO, EXCLUDE/REPLACE, the geo_bits UDF ...: tests/test_sql_portability.py lists them).
"""

from __future__ import annotations

import errno
import tempfile
import weakref
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from verifier.data.dialect import DUCKDB as DIALECT
from verifier.data.engine import DEFAULT_MEMORY_LIMIT, GEO_POINTS, EngineOptions
from verifier.data.sql_passes import SqlPasses
from verifier.data.sources import TripSource, open_source
from verifier.data.sources.text import duckdb_reason
from verifier.errors import EnvironmentFailure, InputError
from verifier.constants import CRS_NAMES

sql_ident, sql_str = DIALECT.ident, DIALECT.text
_OPEN: weakref.WeakSet = weakref.WeakSet()  # the engines not closed yet: `interrupt_all`, `close_all`


class DuckDBEngine(SqlPasses):
    """Stages one submission's records and answers the checks' questions about them."""

    dialect = DIALECT

    def __init__(self, options: EngineOptions | None = None):
        self.options = options or EngineOptions()
        self.con = self._tmp = None
        _OPEN.add(self)  # from here, `close_all` removes what this engine creates
        try:
            self._tmp = tempfile.TemporaryDirectory(prefix="verifier-", dir=self.options.temp_dir or None)
        except OSError as exc:
            _OPEN.discard(self)
            raise (environment_failure(exc) or InputError(
                "command line", "--temp-dir", f"cannot create a work folder: {exc}")) from None
        self.workdir = Path(self._tmp.name)
        # An in-memory database bounded by the memory limit: what does not fit spills to the
        # temporary folder. (A file-backed database compresses what it writes, but took 9-11 s
        # to stage 2x10^7 records against 3 s; in memory, DuckDB compresses only at a CHECKPOINT,
        # which cost more than it saved: bench/results.md.)
        # A file-backed `database` (import-taps) scales past memory on its own: the memory limit
        # is DuckDB's default there unless one is given.
        database = self.options.database
        self.con = duckdb.connect(str(database) if database else ":memory:")
        self._execute(f"SET temp_directory = {sql_str(self.workdir / 'spill')}")
        limit = self.options.memory_limit or (None if database else DEFAULT_MEMORY_LIMIT)
        try:
            if limit:
                self._execute(f"SET memory_limit = {sql_str(limit)}")
        except duckdb.Error:
            self.close()
            raise InputError("command line", "--memory-limit",
                             f"{self.options.memory_limit!r} is not a size (e.g. 1GB, 4GB, 500MB)") from None
        self._execute("SET preserve_insertion_order = true")
        if self.options.threads:
            self._execute(f"SET threads = {int(self.options.threads)}")
        self.flag_columns: list[str] = []
        self.warn_only: tuple[str, ...] = ()  # flagged, but the records stay eligible
        self.has_trip_id = False
        self.population = 0  # records staged
        self._absent: dict[str, str] = {}  # canonical columns the file lacks: name -> SQL type
        self._derived: dict[str, str] = {}  # the checks' derived columns, stored: name -> SQL
        self._row_no_from_place = False  # CSV: row_no is the record's place in the stored file
        self._stores = 0  # Parquet files written for `stored` (a transit run writes a second)
        self._has_users = False
        self._has_drawn = False  # `sample` kept the table `drawn`
        self._flag_sql: list[str] = []  # the check columns of `records`
        self._marked: dict[str, str] = {}  # check id -> its column in `marks` (window rules that ran)
        self.timezone_rejected = None

    def close(self) -> None:
        """Close the database and remove the work folder (the staged records). Idempotent. The
        engine stays listed for `close_all` until its folder is gone: a SIGTERM landing inside the
        removal (KeyboardInterrupt, verifier.cli) would otherwise leave the rest behind."""
        try:
            if self.con is not None:
                self.con.close()
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()
        _OPEN.discard(self)

    # -- statements (for the input adapters in verifier/data/) -----------------------------------
    def _execute(self, sql: str, params=None):
        """Every statement the engine issues passes here (and into `statement_log` when set)."""
        if self.statement_log is not None:
            self.statement_log.append(sql)
        with interruptible():
            return self.con.execute(sql) if params is None else self.con.execute(sql, params)

    def _fetch(self, sql: str, fetch=lambda result: result.fetchall()):
        """A statement's result, fetched under the same Ctrl-C rule as the statement: DuckDB
        streams a query's rows, so most of its work (and an interruption) can come in the fetch."""
        with interruptible():
            return fetch(self._execute(sql))

    def execute(self, sql: str, reading=None) -> None:
        with _reading(reading, bool(reading)):
            self._execute(sql)

    def rows(self, sql: str, reading=None) -> list[tuple]:
        with _reading(reading, bool(reading)):
            return self._fetch(sql)

    def describe(self, source) -> dict[str, str]:
        rows = self.rows(f"DESCRIBE SELECT * FROM {source.scan_sql()}", reading=source)
        return {r[0]: r[1] for r in rows if r[0] not in ("filename", "file_row_number")}

    def materialize(self, name: str, sql: str) -> None:
        self._execute(f"CREATE OR REPLACE TEMP TABLE {sql_ident(name)} AS {sql}")

    def drop_tables(self, names) -> None:
        for name in names:
            try:
                self._execute(f"DROP TABLE IF EXISTS {sql_ident(name)}")
            except duckdb.Error:
                pass

    def write_parquet(self, table: str, path: Path) -> None:
        self._execute(DIALECT.write_parquet(sql_ident(table), path))

    # -- staging ---------------------------------------------------------------------------
    def stage(self, source: TripSource, columns: dict[str, str | None], timezone: str,
              boundary=None,
              users: Path | None = None, users_encoding: str = "utf-8",
              relation: str | None = None, extra_columns: tuple[str, ...] = (),
              derived: dict[str, str] | None = None, *, canonical: dict, coordinates: bool = False,
              districts=None) -> int:
        """Create `staged` from the trip file (or an already staged `relation`) with the
        `canonical` columns (name -> methodologies.Column: its kind and reading), `columns`
        naming the file column of each (absent: NULL); with `coordinates` each point's inside
        bits against the `boundary`, and with `districts` (verifier.geo.districts.Districts, in
        the records' coordinate system) the start point's district; and the `derived` columns
        (name -> SQL over the others, computed once and stored). Returns the count."""
        self.set_timezone(timezone)
        self._derived = dict(derived or {})
        self.has_trip_id = columns.get("trip_id") is not None
        raw = source.scan_sql() if relation is None else relation
        # CSV has no row number column: the table is written in file order (preserve_insertion_
        # order; nothing in the statement below reorders rows, which is why the users join is
        # in `records`) and `staged` numbers its rows. row_number() OVER () ran the whole
        # statement on one thread: CSV staging took twice as long.
        row_no = "row_no" if relation is not None else source.row_no_sql(self)
        self._row_no_from_place = row_no is None
        exprs = [] if self._row_no_from_place else [f"{row_no} AS row_no"]
        types = source.types if source else {}
        # A column the file does not have is NULL for every record: NULL here (the boundary test
        # may read it), named in the view `staged`, not stored (stored, a NULL column costs 5-10
        # bytes a record in every pass).
        self._absent = {}
        for name, column in canonical.items():
            col = columns.get(name)
            if not col:
                self._absent[name] = DIALECT.types[column.kind]
            exprs.append(f"{DIALECT.read_as(col, column, types.get(col, 'VARCHAR')) if col else f'CAST(NULL AS {self._absent[name]})'} AS {name}")
        exprs += [sql_ident(c) for c in extra_columns]
        typed = f"SELECT {', '.join(exprs)} FROM {raw}"
        (cells, add, grid_join), geo = self._geo_sql(boundary, coordinates)
        (d_cells, d_add, d_join), district = self._district_sql(districts if coordinates else None)
        drop = ", ".join(cells + d_cells + list(self._absent))
        self._has_users = self._load_users(users, users_encoding)
        with _reading(source):
            self._store(f"""
                SELECT t.*{f' EXCLUDE ({drop})' if drop else ''}{geo}{district}{self._derived_sql()}
                FROM (SELECT x.*{add}{d_add} FROM ({typed}) x{grid_join}{d_join}) t""")
        self._define_staged()
        self.population = self.rows("SELECT count(*) FROM stored")[0][0]
        return self.population

    def _store(self, select: str) -> None:
        """The staged records (`select`) written once to a Parquet file in the work folder, and
        `stored` a view of it: later passes read the native columns they need, compressed, as
        the floor reads the submission's own file, instead of parsing it again. A table in
        memory (114 bytes a record: twice the 1 GB budget at 2x10^7) was spilled and read back
        in every pass. A CSV file has no row numbers: its records are written in the order read
        and numbered by their place in the written file."""
        self._stores += 1
        path = self.workdir / f"stored-{self._stores}.parquet"
        # Records that carry their row number may be written in any order (40 % faster); the
        # file's own order numbers those of a CSV file. No later pass reads the physical order.
        ordered = "true" if self._row_no_from_place else "false"
        self._execute(f"SET preserve_insertion_order = {ordered}")
        try:
            self._execute(f"COPY ({select}) TO {sql_str(path)} ({_STORED_FORMAT})")
        finally:
            self._execute("SET preserve_insertion_order = true")
        numbered = "file_row_number + 1 AS row_no, * EXCLUDE (file_row_number)" if self._row_no_from_place else "*"
        self._execute(f"CREATE OR REPLACE VIEW stored AS SELECT {numbered} FROM "
                      f"read_parquet({sql_str(path)}, file_row_number = {str(self._row_no_from_place).lower()})")
        self._row_no_from_place = False  # a column of `stored` now

    def _derived_sql(self) -> str:
        """The checks' derived columns (each after a comma), computed once when the records are
        stored: on read, the great-circle distance was computed in each pass that reads it
        (the totals and the speed histogram: 0.75 s each at 2x10^7 records), stored it costs
        one double column."""
        return "".join(f", {sql} AS {sql_ident(name)}" for name, sql in self._derived.items())

    def _define_staged(self) -> None:
        # The record key and date are derived on read: stored, they widened every pass by a
        # quarter (a second copy of trip_id), and every pass here is a scan of `stored`.
        key = DIALECT.row_key("trip_id", "row_no") if self.has_trip_id else "row_no"
        absent = "".join(f", CAST(NULL AS {kind}) AS {name}" for name, kind in self._absent.items())
        self._execute(f"""
            CREATE OR REPLACE VIEW staged AS
            SELECT *, {key} AS record_key, CAST(start_time AS DATE) AS record_date
            FROM (SELECT *{absent} FROM stored)""")

    def set_timezone(self, timezone: str) -> None:
        """Naive timestamps are local time in `timezone`. A zone DuckDB does not know (the
        submission already replaced those zoneinfo does not know) stops nothing: the records
        are read in the methodologies' city zone and report.completeness names the zone it
        replaced (`timezone_rejected`)."""
        from verifier.submission import CITY_TIMEZONE

        self.timezone_rejected = None
        try:
            self._execute(DIALECT.set_timezone(timezone))
        except duckdb.Error:
            self.timezone_rejected = timezone
            self._execute(DIALECT.set_timezone(CITY_TIMEZONE))

    def _geo_sql(self, boundary, coordinates: bool) -> tuple[tuple[str, str, str], str]:
        """geo bits per point: bit i set when the point, read as CRS_NAMES[i], is inside.

        A grid lookup (`Boundary.crs_grid`, one row joined to every record) settles the points
        whose cell no outline crosses; only the others reach the exact test, a vectorised UDF.
        Returns (cell columns to drop, cell columns to add, the grid join) and the geo columns
        (each after a comma; none for records without points, NULL without a boundary)."""
        if not coordinates:
            return ([], "", ""), ""
        if boundary is None:
            return ([], "", ""), "".join(f", CAST(NULL AS UTINYINT) AS {name}" for name, _, _ in GEO_POINTS)
        grid = boundary.crs_grid(CRS_NAMES)
        self._grid_table("geo_grid", grid.cells, "UTINYINT")
        moved = [boundary.in_crs(crs) for crs in CRS_NAMES]

        def bits(lon: pa.Array, lat: pa.Array) -> pa.Array:
            x = lon.to_numpy(zero_copy_only=False).astype(float)
            y = lat.to_numpy(zero_copy_only=False).astype(float)
            out = np.zeros(len(x), dtype=np.uint8)
            for i, b in enumerate(moved):
                out |= b.contains_exact(x, y).astype(np.uint8) << i
            return pa.array(out, mask=np.isnan(x) | np.isnan(y))

        self._point_udf("geo_bits", bits, "UTINYINT")

        add = "".join(f", {_cell_sql(grid, 'g', f'x.{lon}', f'x.{lat}', 0)} AS {name}_cell" for name, lon, lat in GEO_POINTS)
        drop = [f"{name}_cell" for name, _, _ in GEO_POINTS]
        geo = "".join(f", CASE WHEN t.{lon} IS NULL OR t.{lat} IS NULL OR isnan(t.{lon}) OR isnan(t.{lat}) THEN NULL "
                       f"WHEN t.{name}_cell = {grid.UNDECIDED} THEN geo_bits(t.{lon}, t.{lat}) "
                       f"ELSE t.{name}_cell END AS {name}" for name, lon, lat in GEO_POINTS)
        return (drop, add, " CROSS JOIN geo_grid g"), geo

    def _grid_table(self, name: str, cells: np.ndarray, sql_type: str) -> None:
        """The one-row table `name` holding `cells` as one list: handed over as an Arrow list
        (0.03 s), not a bound Python list (0.6 s for the 262,144 cells of a 512 x 512 grid)."""
        one_row = pa.table({"cells": pa.ListArray.from_arrays(pa.array([0, cells.size], pa.int32()), pa.array(cells))})
        self.con.register("grid_cells", one_row)
        try:
            self._execute(f"CREATE OR REPLACE TABLE {name} AS SELECT cells::{sql_type}[] AS cells FROM grid_cells")
        finally:
            self.con.unregister("grid_cells")

    def _point_udf(self, name: str, fn, returns: str) -> None:
        """Register `fn(lon, lat)` (Arrow arrays -> an Arrow array, NULL where it says) as the SQL
        function `name`; staged again (tests), the new one replaces the old."""
        try:
            self.con.remove_function(name)
        except duckdb.InvalidInputException:
            pass
        self.con.create_function(name, fn, ["DOUBLE", "DOUBLE"], returns,
                                 type="arrow", null_handling="special", side_effects=False)

    def _district_sql(self, districts) -> tuple[tuple[list[str], str, str], str]:
        """The column start_district (SMALLINT: the index of the start point's district,
        NULL in none) when `districts` is given, as `_geo_sql`: a grid lookup
        (`Districts.grid`), the exact `Districts.locate` (a vectorised UDF) only for points in
        cells an outline crosses. Returns (cell columns to drop, to add, the grid join) and the
        column (after a comma; none without districts)."""
        if districts is None:
            return ([], "", ""), ""
        grid = districts.grid()
        self._grid_table("district_grid", grid.cells, "SMALLINT")

        def locate(lon: pa.Array, lat: pa.Array) -> pa.Array:
            found = districts.locate(lon.to_numpy(zero_copy_only=False).astype(float),
                                     lat.to_numpy(zero_copy_only=False).astype(float))
            return pa.array(found, mask=found < 0)

        self._point_udf("district_of", locate, "SMALLINT")
        lon, lat = "start_lon", "start_lat"
        add = f", {_cell_sql(grid, 'dg', f'x.{lon}', f'x.{lat}', grid.OUTSIDE)} AS start_district_cell"
        column = (f", CASE WHEN t.{lon} IS NULL OR t.{lat} IS NULL OR isnan(t.{lon}) OR isnan(t.{lat}) THEN NULL "
                  f"WHEN t.start_district_cell = {grid.UNDECIDED} THEN district_of(t.{lon}, t.{lat}) "
                  f"WHEN t.start_district_cell >= 0 THEN CAST(t.start_district_cell AS SMALLINT) END AS start_district")
        return (["start_district_cell"], add, " CROSS JOIN district_grid dg"), column

    def _load_users(self, users: Path | None, encoding: str) -> bool:
        """The users file as the table `users` (user_id, authorized_at); False without one."""
        if users is None:
            return False
        src = open_source([users], encoding, self, field_name="data.users")
        cols = src.resolve({}, ("user_id", "authorized_at"), ("user_id", "authorized_at"))
        # A user listed twice counts from the latest date: the conservative reading.
        with _reading(src):
            self._execute(f"""
                CREATE OR REPLACE TABLE users AS
                SELECT {_trimmed(cols['user_id'])} AS user_id,
                       max({_local_time(cols['authorized_at'], src.types)}) AS authorized_at
                FROM {src.scan_sql()} GROUP BY 1""")
        return True

    def attach_station_distances(self, path: Path, encoding: str, fill_missing: bool = False) -> None:
        """Add `table_km` (the station-pair distance, either direction) to every record; with
        `fill_missing` (tap data carries no distance) it also becomes the record's distance."""
        src = open_source([path], encoding, self, field_name="data.station_distances")
        cols = src.resolve({}, ("from_station", "to_station", "distance_km"),
                           ("from_station", "to_station", "distance_km"))
        a, b, km = (_trimmed(cols[c]) for c in ("from_station", "to_station", "distance_km"))
        # A pair listed twice with different distances counts with the shorter (conservative).
        with _reading(src):
            self._execute(f"""
                CREATE OR REPLACE TABLE stations AS
                WITH s AS (SELECT {a} AS a, {b} AS b, TRY_CAST({km} AS DOUBLE) AS km FROM {src.scan_sql()})
                SELECT a, b, min(km) AS km FROM (SELECT a, b, km FROM s UNION ALL SELECT b, a, km FROM s)
                WHERE a IS NOT NULL AND b IS NOT NULL GROUP BY a, b""")
        distance = "coalesce(r.distance_km, s.km)" if fill_missing else "r.distance_km"
        self._absent = {}  # stored again from `staged`: every column is there now, row_no too
        self._row_no_from_place = False
        self._store(f"""
            SELECT *{self._derived_sql()} FROM (
                SELECT r.* EXCLUDE ({', '.join(['record_key', 'record_date', *map(sql_ident, self._derived)])})
                       REPLACE ({distance} AS distance_km), s.km AS table_km
                FROM staged r LEFT JOIN stations s ON s.a = r.entry_station AND s.b = r.exit_station)""")
        self._define_staged()

    def parquet_counts(self, files: list[Path]) -> list[int]:
        return [r[0] for r in self.rows(DIALECT.parquet_row_counts(files))]

    # -- the passes after staging: verifier.data.sql_passes, through these hooks --------------
    def _make_table(self, name: str, sql: str) -> None:
        self._execute(f"CREATE OR REPLACE TABLE {name} AS {sql}")

    def _make_view(self, name: str, sql: str) -> None:
        self._execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")

    def _frame_of(self, sql: str) -> pd.DataFrame:
        return self._fetch(sql, lambda result: result.df())

    def write_excluded(self, path: Path, reasons: dict[str, str], fields: list[str], sep: str) -> int:
        """One COPY streaming every excluded record to `path` in record order (bounded memory:
        DuckDB writes as it scans; ORDER BY row_no makes the bytes the same on any thread count).
        `reasons`: every excluding check id, in the order the `checks` column lists them, with its
        reason (SQL text); a record's reasons are joined with `sep`. The rows written."""
        checks, reason = self._excluded_reasons(reasons, sep)
        columns = {"record_key": "record_key", "row_no": "row_no", "checks": checks, "reason": reason,
                   **{f: sql_ident(f) for f in fields if f not in ("record_key", "row_no")}}
        return self.write_csv(columns, f"FROM records WHERE {self._excluded_where()} ORDER BY row_no", path)

    def write_csv(self, columns: dict[str, str], source: str, path: Path) -> int:
        """One COPY (bounded memory: DuckDB writes as it scans; the ORDER BY in `source` makes the
        bytes the same on any thread count)."""
        # UTF-8 with a BOM, like sample.csv: COPY writes no preamble, so the BOM leads the header.
        names = [chr(0xFEFF) + n if i == 0 else n for i, n in enumerate(columns)]
        select = ", ".join(f"{sql} AS {sql_ident(n)}" for n, sql in zip(names, columns.values()))
        return int(self._fetch(DIALECT.write_csv(f"SELECT {select} {source}", path))[0][0])

    def write_query_parquet(self, query: str, path: Path) -> None:
        """One COPY, streamed in the query's order (preserve_insertion_order)."""
        self._execute(DIALECT.write_parquet(f"({query})", path))

    def point_function(self, name: str, fn, returns: str = "text") -> None:
        def arrow(lon: pa.Array, lat: pa.Array) -> pa.Array:
            return fn(lon.to_numpy(zero_copy_only=False).astype(float), lat.to_numpy(zero_copy_only=False).astype(float))

        self._point_udf(name, arrow, DIALECT.types[returns] if returns in DIALECT.types else returns)


# The stored records' Parquet options: the version 2 encodings (delta, byte stream split) and a
# string dictionary only where it stays under 1 KiB: trip and user ids are nearly unique (the
# writer built a dictionary only to drop it), an order source has a handful of values (read in
# 0.02 s instead of 0.16 s without one). At 2x10^7 records, written in 4.6 s against 5.6 s,
# 830 MB against 1,230 MB, read as fast (bench/results.md). Only this engine reads the file.
_STORED_FORMAT = "FORMAT parquet, PARQUET_VERSION v2, STRING_DICTIONARY_PAGE_SIZE_LIMIT 1024"


def _cell_sql(grid, table: str, lon: str, lat: str, outside: int) -> str:
    """The value of `grid` (CrsGrid, DistrictGrid: cells of the one-row table `table`) at the
    point (lon, lat); `outside` where the point lies outside the grid's open box."""
    i = f"CAST(least(floor(({lon} - {grid.x0!r}) * {grid.sx!r}), {grid.n - 1}) AS INTEGER)"
    j = f"CAST(least(floor(({lat} - {grid.y0!r}) * {grid.sy!r}), {grid.n - 1}) AS INTEGER)"
    return (f"CASE WHEN {lon} > {grid.x0!r} AND {lon} < {grid.x1!r} AND {lat} > {grid.y0!r} "
            f"AND {lat} < {grid.y1!r} THEN {table}.cells[1 + {j} * {grid.n} + {i}] ELSE {outside} END")


def _local_time(col: str, types: dict[str, str]) -> str:
    """The file column `col` as a naive local timestamp (the dialect's one time parser)."""
    return DIALECT.local_time(sql_ident(col), types.get(col, "VARCHAR"))


def _trimmed(col: str | None) -> str:
    """The file column `col` as text without surrounding spaces, empty as NULL."""
    return DIALECT.trimmed(sql_ident(col)) if col else "NULL"

@contextmanager
def _reading(source, reads: bool = True):
    """A statement that reads a submission file (`source`: its adapter; None: the staged tap
    records): a full disk or memory is the machine's failure (exit 3), any other engine error the
    file's (exit 2, naming its real line where it can). `reads` False: errors pass as they are."""
    try:
        yield
    except duckdb.Error as exc:
        if not reads:
            raise
        if (failure := environment_failure(exc)) is not None:
            raise failure from None
        if source is None:
            raise InputError("taps", "data.taps", f"cannot be read: {duckdb_reason(exc)}") from None
        raise source.read_error(exc) from None


@contextmanager
def environment_failures():
    """Out of memory or disk after the package was read is the machine's failure, not the
    applicant's (exit 3 with what helps); any other engine error there is an internal error.
    The failure says whether the engine's worker threads were involved (`engine_threads`): after
    a DuckDB out-of-memory they can abort the interpreter's shutdown, so the CLI leaves at once."""
    try:
        yield
    except (duckdb.Error, MemoryError, OSError) as exc:
        if (failure := environment_failure(exc)) is None:
            raise
        failure.engine_threads = isinstance(exc, duckdb.Error)
        raise failure from None


def interrupt_all() -> None:
    """Stop the statement each open engine runs, as Ctrl-C stops it (KeyboardInterrupt through
    `interruptible`): for SIGTERM (verifier.cli), which DuckDB does not watch for; a statement
    it has started runs to its end otherwise (13 s of staging at 2x10^7 records)."""
    for engine in list(_OPEN):
        try:
            if engine.con is not None:  # None: not connected yet, nothing runs there
                engine.con.interrupt()
        except duckdb.Error:  # closed meanwhile: nothing runs there either
            pass


def close_all() -> None:
    """Close every engine not closed yet, its work folder removed: for a process about to leave
    with os._exit (verifier.cli.entry) after a signal came at a moment no `with` held the engine
    (in its constructor, or before `__enter__`). No finaliser would run then: the collector is
    paused while the libraries import, and os._exit runs none."""
    for engine in list(_OPEN):
        try:
            engine.close()
        except (duckdb.Error, OSError):  # leaving anyway: what can be removed is removed
            pass


@contextmanager
def interruptible():
    """Ctrl-C stopping an engine statement raises KeyboardInterrupt (the CLI's exit 130; a batch
    stops), never an engine error that reads as a defect (exit 3) or, while a file is read, as
    that file's fault (exit 2)."""
    try:
        yield
    except (duckdb.Error, RuntimeError) as exc:
        if interrupted(exc):
            raise KeyboardInterrupt from exc
        raise


def interrupted(exc: BaseException) -> bool:
    """Whether an engine error is Ctrl-C stopping a statement: DuckDB 2 raises a RuntimeError
    'Query interrupted' (earlier versions InterruptException); a Python UDF (the boundary test)
    interrupted inside reports the KeyboardInterrupt in its message. Left as they were, these
    read as an internal error (exit 3) or, while a file is read, as that file's fault (exit 2)."""
    return (isinstance(exc, duckdb.InterruptException) or str(exc).strip() == "Query interrupted"
            or (isinstance(exc, duckdb.Error) and "KeyboardInterrupt" in str(exc)))


def environment_failure(exc: BaseException) -> EnvironmentFailure | None:
    """What the machine ran out of, for an engine or system error; None when it is something else
    (bad input during staging, a defect after it). DuckDB reports a full spill folder as an
    out-of-memory error that "failed to offload" a block: the spill files are in the work folder
    (`--temp-dir`), DuckDB's own temp files are named duckdb_temp_*."""
    text = str(exc).lower()
    if isinstance(exc, (duckdb.OutOfMemoryException, MemoryError)) or "out of memory" in text:
        if "offload" in text:
            return EnvironmentFailure("out of memory: the engine's spill folder is full",
                                      "give --temp-dir a folder on a disk with room (or raise --memory-limit)")
        return EnvironmentFailure("out of memory", f"raise --memory-limit (default {DEFAULT_MEMORY_LIMIT}) if the "
                                  "machine has the memory; what does not fit spills to --temp-dir")
    if (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or "no space left" in text:
        return EnvironmentFailure("disk full", "free space, or name a --temp-dir (engine spill files) or an "
                                  "--out on a disk with room")
    if isinstance(exc, duckdb.IOException) and ("duckdb_temp" in text or "temp_directory" in text
                                               or "temporary directory" in text):
        return EnvironmentFailure("the engine cannot write its spill files",
                                  "name a writable --temp-dir on a disk with room")
    return None
