"""The full-population engine: the only module that speaks SQL to DuckDB.

Checks never query the data themselves. They hand the engine SQL predicates over the canonical
record columns below; the engine stages the trip file once, evaluates the window rules
(duplicates, overlaps, daily caps) and every predicate, aggregates in one scan and draws the
sample. Another engine (Spark) would implement the same methods over the same column names.

Memory stays bounded: the database lives in memory under a memory limit (default
DEFAULT_MEMORY_LIMIT); what does not fit spills to a temporary folder. (Its tables are compressed
only at a checkpoint, which cost more than it saved: 12 s at 2x10^7 records.) No pass pulls
records into Python except the drawn sample and the examples.

Every query that needs an order states it (row_no, or the md5 rank), so results do not depend
on the thread count. The stored table's physical order matters in one place only: a CSV file has
no row numbers, so it is stored in file order and row_no is its rowid + 1.

Passes over the records (bench/results.md measures them):
  stage      one read of the file into the table `stored`: typed columns and the boundary bits
             (a grid lookup in SQL; the exact test only for points in cells an outline crosses);
             the view `staged` adds record_key, record_date and the checks' derived columns on
             read (for CSV also row_no: the table keeps the file's order);
  flag       duplicates by hash aggregate (file order only inside repeated groups), overlaps by
             one window over (user, start); both keep only the records they mark (table
             `marks`, usually tiny); the view `records` adds one boolean column per record-level
             check, evaluated on the fly, so the wide table is never rewritten;
  aggregate  one scan of `records` (which joins the users file) for every count and total
             (totals exact, verifier.data.exact; a second pass only where a distance lies
             outside its window: tiny or huge values, none on real data);
             sample: md5 rank over `staged`, then only the drawn records through `records`
             (table `drawn`); figures: the axes from `drawn`, both histograms in one scan of
             `staged`, daily counts.

Staged record columns (view `staged`, seen through the view `records`):
  row_no        1-based record order (file order; folder files in name order)
  record_key    trip_id where the file has that column (else '#<row_no>'), or row_no
  trip_id, user_id, mode, order_source, start_time, end_time (local, naive), record_date,
  start_lon, start_lat, end_lon, end_lat, distance_km, entry_station, exit_station, route,
  start_geo, end_geo    bit i set = inside the boundary when read as CRS_NAMES[i]
  plus the columns the record checks derive (RecordCheck.derived);
and in `records` also
  authorized_at         the user's authorisation time (users file), NULL when unknown
and one boolean column per record-level check id, named by the id.
"""

from __future__ import annotations

import errno
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from verifier.data import exact
from verifier.data.sources import TripSource, read_error, sql_ident, sql_str
from verifier.errors import EnvironmentFailure, InputError
from verifier.constants import CRS_NAMES
from verifier.sampling import selection_key_sql

TEXT_COLUMNS = ("trip_id", "user_id", "mode", "order_source", "entry_station", "exit_station", "route")
TIME_COLUMNS = ("start_time", "end_time")
NUMBER_COLUMNS = ("start_lon", "start_lat", "end_lon", "end_lat", "distance_km")
GEO_POINTS = (("start_geo", "start_lon", "start_lat"), ("end_geo", "end_lon", "end_lat"))


# DuckDB's own default is 80 % of RAM; a fixed budget keeps a 10^8-record run flat in memory
# (what does not fit spills to the temporary folder). Measured in bench/results.md.
DEFAULT_MEMORY_LIMIT = "1GB"


@dataclass
class EngineOptions:
    memory_limit: str | None = None  # DuckDB syntax, e.g. "4GB"; default DEFAULT_MEMORY_LIMIT
    threads: int | None = None
    temp_dir: Path | None = None


class DuckDBEngine:
    """Stages one submission's records and answers the checks' questions about them."""

    def __init__(self, options: EngineOptions | None = None):
        self.options = options or EngineOptions()
        try:
            self._tmp = tempfile.TemporaryDirectory(prefix="verifier-", dir=self.options.temp_dir or None)
        except OSError as exc:
            raise (environment_failure(exc) or InputError(
                "command line", "--temp-dir", f"cannot create a work folder: {exc}")) from None
        self.workdir = Path(self._tmp.name)
        # An in-memory database bounded by the memory limit: what does not fit spills to the
        # temporary folder. (A file-backed database compresses what it writes, but took 9-11 s
        # to stage 2x10^7 records against 3 s; in memory, DuckDB compresses only at a CHECKPOINT,
        # which cost more than it saved: bench/results.md.)
        self.con = duckdb.connect(":memory:")
        self.con.execute(f"SET temp_directory = {sql_str(self.workdir / 'spill')}")
        try:
            self.con.execute(f"SET memory_limit = {sql_str(self.options.memory_limit or DEFAULT_MEMORY_LIMIT)}")
        except duckdb.Error:
            self.close()
            raise InputError("command line", "--memory-limit",
                             f"{self.options.memory_limit!r} is not a size (e.g. 1GB, 4GB, 500MB)") from None
        self.con.execute("SET preserve_insertion_order = true")
        if self.options.threads:
            self.con.execute(f"SET threads = {int(self.options.threads)}")
        self.flag_columns: list[str] = []
        self.warn_only: tuple[str, ...] = ()  # flagged, but the records stay eligible
        self.has_trip_id = False
        self.population = 0  # records staged
        self._absent: dict[str, str] = {}  # canonical columns the file lacks: name -> SQL type
        self._derived: dict[str, str] = {}  # columns derived on read: name -> SQL
        self._row_no_from_rowid = False  # CSV: row_no is the stored table's rowid + 1
        self._has_users = False

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            self._tmp.cleanup()

    def __enter__(self) -> DuckDBEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def sql(self, query: str) -> list[tuple]:
        return self.con.execute(query).fetchall()

    # -- staging ---------------------------------------------------------------------------
    def stage(self, source: TripSource, columns: dict[str, str | None], timezone: str,
              boundary=None,
              users: Path | None = None, users_encoding: str = "utf-8",
              relation: str | None = None, extra_columns: tuple[str, ...] = (),
              derived: dict[str, str] | None = None) -> int:
        """Create `staged` from the trip file (or an already staged `relation`) with typed
        canonical columns, given a `boundary` each point's inside bits, and the `derived` columns
        (name -> SQL over the others, evaluated on read); returns the count."""
        self._set_timezone(timezone)
        self._derived = dict(derived or {})
        self.has_trip_id = columns.get("trip_id") is not None
        raw = self._raw_relation(source) if relation is None else relation
        # CSV has no row number column: the table is written in file order (preserve_insertion_
        # order; nothing in the statement below reorders rows, which is why the users join is
        # in `records`) and `staged` numbers its rows. row_number() OVER () ran the whole
        # statement on one thread: CSV staging took twice as long.
        self._row_no_from_rowid = relation is None and source.kind == "csv"
        exprs = [] if self._row_no_from_rowid else [
            f"{self._row_no_sql(source) if relation is None else 'row_no'} AS row_no"]
        types = source.types if source else {}
        # A column the file does not have is NULL for every record: NULL here (the boundary test
        # may read it), named in the view `staged`, not stored (stored, a NULL column costs 5-10
        # bytes a record in every pass).
        self._absent = {}
        for names, kind in ((TEXT_COLUMNS, "VARCHAR"), (TIME_COLUMNS, "TIMESTAMP"), (NUMBER_COLUMNS, "DOUBLE")):
            for name in names:
                col = columns.get(name)
                if not col:
                    self._absent[name] = kind
                exprs.append(f"{_canonical(name, col, kind, types) if col else f'CAST(NULL AS {kind})'} AS {name}")
        exprs += [sql_ident(c) for c in extra_columns]
        typed = f"SELECT {', '.join(exprs)} FROM {raw}"
        (cells, add, grid_join), geo = self._geo_sql(boundary)
        drop = ", ".join(cells + list(self._absent))
        self._has_users = self._load_users(users, users_encoding)
        # Stored once (in memory; beyond the memory limit it spills to the work folder): later
        # passes read native columns instead of parsing the file again.
        with _reading(source):
            self.con.execute(f"""
                CREATE OR REPLACE TABLE stored AS
                SELECT t.*{f' EXCLUDE ({drop})' if drop else ''}, {geo}
                FROM (SELECT x.*{add} FROM ({typed}) x{grid_join}) t""")
        self._define_staged()
        self.population = self.sql("SELECT count(*) FROM stored")[0][0]
        return self.population

    def _define_staged(self) -> None:
        # The record key and date are derived on read: stored, they widened every pass by a
        # quarter (a second copy of trip_id), and every pass here is a scan of `stored`.
        key = "coalesce(trip_id, '#' || CAST(row_no AS VARCHAR))" if self.has_trip_id else "row_no"
        absent = "".join(f", CAST(NULL AS {kind}) AS {name}" for name, kind in self._absent.items())
        derived = "".join(f", {sql} AS {sql_ident(name)}" for name, sql in self._derived.items())
        row_no = "rowid + 1 AS row_no, " if self._row_no_from_rowid else ""
        self.con.execute(f"""
            CREATE OR REPLACE VIEW staged AS
            SELECT *, {key} AS record_key, CAST(start_time AS DATE) AS record_date{derived}
            FROM (SELECT {row_no}*{absent} FROM stored)""")

    def _set_timezone(self, timezone: str) -> None:
        """Naive timestamps are local time in `timezone`. A zone DuckDB does not know (the
        submission already replaced those zoneinfo does not know) stops nothing: the records
        are read in the methodologies' city zone and report.completeness names the zone it
        replaced (`timezone_rejected`)."""
        from verifier.submission import CITY_TIMEZONE

        self.timezone_rejected = None
        try:
            self.con.execute(f"SET TimeZone = {sql_str(timezone)}")
        except duckdb.Error:
            self.timezone_rejected = timezone
            self.con.execute(f"SET TimeZone = {sql_str(CITY_TIMEZONE)}")

    def _raw_relation(self, source: TripSource) -> str:
        return source.scan_sql()

    def _row_no_sql(self, source: TripSource) -> str:
        if len(source.files) == 1:
            return "(file_row_number + 1)"
        # Parquet: offset of the file plus the row inside it: file order without a sort.
        files = [str(f) for f in source.files]
        counts = [r[0] for r in self.sql(
            "SELECT num_rows FROM parquet_file_metadata(["
            + ", ".join(sql_str(f) for f in files) + "]) ORDER BY list_position(["
            + ", ".join(sql_str(f) for f in files) + "], file_name)")]
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int).tolist()
        return f"(list_extract({offsets}, CAST(file_index AS INTEGER) + 1) + file_row_number + 1)"

    def _geo_sql(self, boundary) -> tuple[tuple[str, str, str], str]:
        """geo bits per point: bit i set when the point, read as CRS_NAMES[i], is inside.

        A grid lookup (`Boundary.crs_grid`, one row joined to every record) settles the points
        whose cell no outline crosses; only the others reach the exact test, a vectorised UDF.
        Returns (cell columns to drop, cell columns to add, the grid join) and the geo columns."""
        if boundary is None:
            return ([], "", ""), "CAST(NULL AS UTINYINT) AS start_geo, CAST(NULL AS UTINYINT) AS end_geo"
        grid = boundary.crs_grid(CRS_NAMES)
        self.con.execute("CREATE OR REPLACE TABLE geo_grid AS SELECT $cells::UTINYINT[] AS cells",
                         {"cells": grid.cells.tolist()})
        moved = [boundary.in_crs(crs) for crs in CRS_NAMES]

        def bits(lon: pa.Array, lat: pa.Array) -> pa.Array:
            x = lon.to_numpy(zero_copy_only=False).astype(float)
            y = lat.to_numpy(zero_copy_only=False).astype(float)
            out = np.zeros(len(x), dtype=np.uint8)
            for i, b in enumerate(moved):
                out |= b.contains_exact(x, y).astype(np.uint8) << i
            return pa.array(out, mask=np.isnan(x) | np.isnan(y))

        try:  # staged again (tests): the new boundary replaces the old one
            self.con.remove_function("geo_bits")
        except duckdb.InvalidInputException:
            pass
        self.con.create_function("geo_bits", bits, ["DOUBLE", "DOUBLE"], "UTINYINT",
                                 type="arrow", null_handling="special", side_effects=False)

        def cell(lon: str, lat: str) -> str:
            i = f"CAST(least(floor(({lon} - {grid.x0!r}) * {grid.sx!r}), {grid.n - 1}) AS INTEGER)"
            j = f"CAST(least(floor(({lat} - {grid.y0!r}) * {grid.sy!r}), {grid.n - 1}) AS INTEGER)"
            return (f"CASE WHEN {lon} > {grid.x0!r} AND {lon} < {grid.x1!r} AND {lat} > {grid.y0!r} "
                    f"AND {lat} < {grid.y1!r} THEN g.cells[1 + {j} * {grid.n} + {i}] ELSE 0 END")

        add = "".join(f", {cell(f'x.{lon}', f'x.{lat}')} AS {name}_cell" for name, lon, lat in GEO_POINTS)
        drop = [f"{name}_cell" for name, _, _ in GEO_POINTS]
        geo = ", ".join(f"CASE WHEN t.{lon} IS NULL OR t.{lat} IS NULL OR isnan(t.{lon}) OR isnan(t.{lat}) THEN NULL "
                        f"WHEN t.{name}_cell = {grid.UNDECIDED} THEN geo_bits(t.{lon}, t.{lat}) "
                        f"ELSE t.{name}_cell END AS {name}" for name, lon, lat in GEO_POINTS)
        return (drop, add, " CROSS JOIN geo_grid g"), geo

    def _load_users(self, users: Path | None, encoding: str) -> bool:
        """The users file as the table `users` (user_id, authorized_at); False without one."""
        if users is None:
            return False
        from verifier.data.sources import open_source

        src = open_source([users], encoding, self.workdir, field_name="data.users")
        cols = src.resolve({}, ("user_id", "authorized_at"), ("user_id", "authorized_at"))
        # A user listed twice counts from the latest date: the conservative reading.
        with _reading(src):
            self.con.execute(f"""
                CREATE OR REPLACE TABLE users AS
                SELECT {_trimmed(cols['user_id'])} AS user_id,
                       max({_local_time(cols['authorized_at'], src.types)}) AS authorized_at
                FROM {src.scan_sql()} GROUP BY 1""")
        return True

    def attach_station_distances(self, path: Path, encoding: str, fill_missing: bool = False) -> None:
        """Add `table_km` (the station-pair distance, either direction) to every record; with
        `fill_missing` (tap data carries no distance) it also becomes the record's distance."""
        from verifier.data.sources import open_source

        src = open_source([path], encoding, self.workdir, field_name="data.station_distances")
        cols = src.resolve({}, ("from_station", "to_station", "distance_km"),
                           ("from_station", "to_station", "distance_km"))
        a, b, km = (_trimmed(cols[c]) for c in ("from_station", "to_station", "distance_km"))
        # A pair listed twice with different distances counts with the shorter (conservative).
        with _reading(src):
            self.con.execute(f"""
                CREATE OR REPLACE TABLE stations AS
                WITH s AS (SELECT {a} AS a, {b} AS b, TRY_CAST({km} AS DOUBLE) AS km FROM {src.scan_sql()})
                SELECT a, b, min(km) AS km FROM (SELECT a, b, km FROM s UNION ALL SELECT b, a, km FROM s)
                WHERE a IS NOT NULL AND b IS NOT NULL GROUP BY a, b""")
        distance = "coalesce(r.distance_km, s.km)" if fill_missing else "r.distance_km"
        self.con.execute(f"""
            CREATE OR REPLACE TABLE stored AS
            SELECT r.* EXCLUDE ({', '.join(['record_key', 'record_date', *map(sql_ident, self._derived)])})
                   REPLACE ({distance} AS distance_km), s.km AS table_km
            FROM staged r LEFT JOIN stations s ON s.a = r.entry_station AND s.b = r.exit_station""")
        self._absent = {}  # stored again from `staged`: every column is there now, row_no too
        self._row_no_from_rowid = False
        self._define_staged()

    def parquet_counts(self, files: list[Path]) -> list[int]:
        return [self.sql(f"SELECT num_rows FROM parquet_file_metadata({sql_str(f)})")[0][0] for f in files]

    # -- flags -----------------------------------------------------------------------------
    def flag(self, predicates: dict[str, str], validity: str, daily_cap: dict[str, int] | None = None) -> None:
        """Define the view `records`: `staged` plus one boolean column per record-level check.

        `validity` is the records.validity predicate; duplicates are judged on every record,
        overlaps only among valid non-duplicate records, and the daily cap last, among the
        records no other check flags (contract section 5)."""
        named = {"records.validity": validity, **predicates}
        # Each rule reads only the columns it needs and keeps only the records it marks, so
        # `marks` stays small. Duplicates: the repeated keys first (a hash aggregate), then the
        # file order only inside those groups (a sort of every record costs twice as much).
        rules = [(("trip_id",), "trip_id IS NOT NULL")] if self.has_trip_id else []
        rules.append((("user_id", "mode", "start_time", "end_time"), "user_id IS NOT NULL AND start_time IS NOT NULL"))
        self.con.execute("CREATE OR REPLACE TABLE dups AS " + " UNION ".join(_repeats_sql(*r) for r in rules))
        # Sorted by start, an instant (bus tap) before an interval starting at the same moment and
        # file order between intervals, a record overlaps when an earlier one of the same user
        # ends after it starts. Sorting by start alone (a row_no tie-break made the sort a third
        # dearer): records that start earlier are one frame; among those starting at the same
        # moment, an interval overlaps when an interval earlier in the file shares its start.
        # Duplicates leave by an outer join (NOT EXISTS cost as much as the window).
        self.con.execute(f"""
            CREATE OR REPLACE TABLE overlapping AS
            SELECT row_no FROM (
                SELECT row_no, start_time, ends > start_time AS interval,
                       max(ends) OVER (same_user ORDER BY start_time
                           RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE GROUP) AS earlier_end,
                       min(row_no) FILTER (WHERE ends > start_time) OVER (same_user ORDER BY start_time
                           RANGE BETWEEN CURRENT ROW AND CURRENT ROW) AS first_interval
                FROM (SELECT s.row_no, s.user_id, s.start_time, coalesce(s.end_time, s.start_time) AS ends
                      FROM staged s LEFT JOIN dups d ON d.row_no = s.row_no
                      WHERE d.row_no IS NULL AND s.user_id IS NOT NULL AND s.start_time IS NOT NULL
                        AND NOT coalesce(({validity}), false))
                WINDOW same_user AS (PARTITION BY user_id))
            WHERE earlier_end > start_time OR (interval AND row_no > first_interval)""")
        self.con.execute("""
            CREATE OR REPLACE TABLE marks AS
            SELECT row_no, true AS dup, false AS overlap, false AS cap FROM dups
            UNION ALL SELECT row_no, false, true, false FROM overlapping""")
        self._flag_sql = [f"coalesce(({sql}), false) AS {sql_ident(cid)}" for cid, sql in named.items()] + [
            'coalesce(m.dup, false) AS "records.duplicates"', 'coalesce(m.overlap, false) AS "records.overlap"']
        self.flag_columns = list(named) + ["records.duplicates", "records.overlap"]
        self._define_view()
        if daily_cap is not None:
            self._daily_cap(daily_cap)

    def _define_view(self) -> None:
        self.con.execute(f"CREATE OR REPLACE VIEW records AS {self._records_sql('staged')}")

    def _records_sql(self, relation: str) -> str:
        """`relation` (staged records) with the user's authorisation time and one boolean column
        per record-level check. (The users join is here, not in staging, so that staging keeps
        the file's row order: see `stage`; only the passes over `records` pay for it.)"""
        users = (f"(SELECT r.*, u.authorized_at FROM {relation} r LEFT JOIN users u ON u.user_id = r.user_id)"
                 if self._has_users else f"(SELECT r.*, CAST(NULL AS TIMESTAMP) AS authorized_at FROM {relation} r)")
        return f"SELECT s.*, {', '.join(self._flag_sql)} FROM {users} s LEFT JOIN marks m ON m.row_no = s.row_no"

    def _daily_cap(self, caps: dict[str, int]) -> None:
        excluded = self.excluded_sql()
        cap = "CASE mode " + " ".join(f"WHEN {sql_str(m)} THEN {int(c)}" for m, c in caps.items()) + " END"
        self.con.execute(f"""
            CREATE OR REPLACE TABLE capped AS
            SELECT row_no FROM (
                SELECT row_no, {cap} AS cap, row_number() OVER (
                    PARTITION BY user_id, mode, record_date ORDER BY start_time, record_key) AS k
                FROM records WHERE NOT {excluded})
            WHERE cap IS NOT NULL AND k > cap""")
        self.con.execute("""
            CREATE OR REPLACE TABLE marks AS
            SELECT row_no, bool_or(dup) AS dup, bool_or(overlap) AS overlap, bool_or(cap) AS cap FROM (
                SELECT * FROM marks UNION ALL SELECT row_no, false, false, true FROM capped) GROUP BY row_no""")
        self._flag_sql.append('coalesce(m.cap, false) AS "transit.daily_cap"')
        self.flag_columns.append("transit.daily_cap")
        self._define_view()

    def excluded_sql(self) -> str:
        cols = [sql_ident(c) for c in self.flag_columns if c not in self.warn_only]
        return "(" + " OR ".join(cols) + ")" if cols else "false"

    # -- aggregates ------------------------------------------------------------------------
    def aggregate(self, extra: dict[str, str] | None = None, pkm: dict[str, str | None] | None = None) -> dict:
        """One scan: counts per flag, pkm per flag, totals, eligible totals, `extra` SQL
        aggregates (name -> expression) and `pkm` totals (name -> condition) in a single row.

        Every pkm total is the exact sum of distance_km (verifier.data.exact), the same on any
        thread count; NaN and ±inf add nothing (records.validity excludes them)."""
        excluded = self.excluded_sql()
        sums = {"pkm": None, "eligible_pkm": f"NOT {excluded}",
                **{f"pkm:{cid}": sql_ident(cid) for cid in self.flag_columns}, **(pkm or {})}
        parts = {
            "records": "count(*)",
            "first_date": "min(record_date)",
            "last_date": "max(record_date)",
            "eligible": f"count_if(NOT {excluded})",
            **{f"n:{cid}": f"count_if({sql_ident(cid)})" for cid in self.flag_columns},
            **{f"sum:{name}": exact.window_sum_sql("distance_km", where) for name, where in sums.items()},
            "sum:rest": exact.rest_count_sql("distance_km"),
        }
        parts.update(extra or {})
        row = self.con.execute("SELECT " + ", ".join(f"{sql} AS {sql_ident(n)}" for n, sql in parts.items())
                               + " FROM records").fetchall()[0]
        out = dict(zip(parts, row))
        if not out["records"]:  # no record: SQL's count_if and sum give NULL; every count is 0
            out = {k: 0 if v is None and k not in ("first_date", "last_date") else v for k, v in out.items()}
        rest = self._rest_sums(sums) if out.pop("sum:rest") else {}
        out.update({name: exact.combine(out.pop(f"sum:{name}"), rest.get(name, ())) for name in sums})
        return out

    def _rest_sums(self, sums: dict[str, str | None]) -> dict[str, list[tuple[int, int]]]:
        """The distances outside the exact sum's window (tiny or huge; none on clean data), per
        total: a second pass, grouped by binary scale."""
        rows = self.sql(exact.rest_query("distance_km", "records", sums))
        return {name: [(r[0], r[i + 1]) for r in rows] for i, name in enumerate(sums)}

    def examples(self, check_id: str, fields: list[str], limit: int = 5, reason: str | None = None) -> list[dict]:
        """The first flagged records in file order (with `reason`, SQL text, when given)."""
        cols = ", ".join(["record_key", "row_no"] + fields + ([f"{reason} AS reason"] if reason else []))
        df = self.con.execute(f"SELECT {cols} FROM records WHERE {sql_ident(check_id)} "
                              f"ORDER BY row_no LIMIT {int(limit)}").df()
        return [_plain(r) for r in df.to_dict("records")]

    def sample(self, seed: int, size: int, extra: int = 0) -> pd.DataFrame:
        """The first `size + extra` records by md5("<seed>:<record_key>"), in draw order; kept
        as the table `drawn` (the figures' axes are read from it)."""
        key = selection_key_sql(str(int(seed)), "record_key")
        # Ranked on the key alone; the drawn records are then fetched by a join with the small
        # ranked table (faster than an IN list, or than a top-N carrying every column) and only
        # they get their flags.
        self.con.execute(f"CREATE OR REPLACE TABLE drawn_keys AS SELECT row_no, {key} AS draw_key FROM staged "
                         f"ORDER BY draw_key, row_no LIMIT {int(size + extra)}")
        fetched = "(SELECT s.*, d.draw_key FROM staged s JOIN drawn_keys d ON d.row_no = s.row_no)"
        self.con.execute(f"CREATE OR REPLACE TABLE drawn AS {self._records_sql(fetched)}")
        return self.con.execute("SELECT * FROM drawn ORDER BY draw_key, row_no").df()

    # Figures describe the records as submitted: they read `staged` (or the drawn records), not
    # the flags. Each method answers all its figures in one query.
    def quantiles(self, specs: dict[str, tuple[str, float, str]]) -> dict:
        """name -> the quantile q of finite expr where `where` holds (None if nowhere), for specs
        name -> (expr, q, where): an axis, so read from the drawn records (a random sample, no
        pass over the population); where none of them qualifies (or nothing was drawn), from
        every k-th record (k = records / 200,000, at least 1). Deterministic either way."""
        def over(relation: str, where: str = "true") -> dict:
            parts = [f"quantile_cont({expr}, {float(q)}) FILTER (WHERE ({cond}) AND isfinite({expr}))"
                     for expr, q, cond in specs.values()]
            return dict(zip(specs, self.sql(f"SELECT {', '.join(parts)} FROM {relation} WHERE {where}")[0]))

        has_drawn = self.sql("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'drawn'")[0][0]
        out = over("drawn") if has_drawn else dict.fromkeys(specs)
        if None in out.values():
            rest = over("staged", f"row_no % {max(1, self.population // 200_000)} = 0")
            out = {k: rest[k] if v is None else v for k, v in out.items()}
        return out

    def histograms(self, specs: dict[str, tuple[str, float, str, float | None]]) -> dict[str, pd.DataFrame]:
        """name -> counts of expr in bins of width (values above cap in the last bin), for specs
        name -> (expr, width, where, cap): one scan, one grouping set per figure."""
        # Each value and condition is computed once, in an inner projection: written out inside
        # the CASE, DuckDB evaluated the expression at every mention (a speed: three haversines).
        inner, bins = [], []
        for i, (expr, width, where, cap) in enumerate(specs.values()):
            inner += [f"{expr} AS v{i}", f"coalesce(({where}), false) AS w{i}"]
            value = f"least(v{i}, {cap})" if cap is not None else f"v{i}"
            bins.append(f"CASE WHEN w{i} AND v{i} IS NOT NULL AND isfinite(v{i}) THEN floor({value} / {width}) END AS b{i}")
        sets = ", ".join(f"(b{i})" for i in range(len(bins)))
        df = self.con.execute(f"SELECT {', '.join(f'grouping(b{i}) = 0 AS g{i}' for i in range(len(bins)))}, "
                              f"{', '.join(f'b{i}' for i in range(len(bins)))}, count(*) AS records "
                              f"FROM (SELECT {', '.join(bins)} FROM (SELECT {', '.join(inner)} FROM staged)) "
                              f"GROUP BY GROUPING SETS ({sets})").df()
        out = {}
        for i, (name, (_, width, _, _)) in enumerate(specs.items()):
            part = df[df[f"g{i}"] & df[f"b{i}"].notna()].sort_values(f"b{i}")
            start = part[f"b{i}"].to_numpy(float) * width
            out[name] = pd.DataFrame({"bin_start": start, "bin_end": start + width,
                                      "records": part["records"].to_numpy("int64")})
        return out

    def daily(self, out_of_period: str, by_mode: bool = False) -> pd.DataFrame:
        mode = ", mode" if by_mode else ""
        return self.con.execute(f"""
            SELECT record_date AS date{mode}, count(*) AS records,
                   count_if({out_of_period}) AS out_of_period
            FROM staged WHERE record_date IS NOT NULL GROUP BY ALL ORDER BY ALL""").df()


def _repeats_sql(key: tuple[str, ...], present: str) -> str:
    """row_no of every record (where `present` holds) whose `key` an earlier record in file
    order already had; NULL equals NULL inside a key (an empty end time counts as a value)."""
    cols = ", ".join(key)
    same = " AND ".join(f"s.{c} IS NOT DISTINCT FROM r.{c}" for c in key)
    return f"""(SELECT row_no FROM (
        SELECT s.row_no, row_number() OVER (PARTITION BY {', '.join(f's.{c}' for c in key)} ORDER BY s.row_no) AS k
        FROM staged s JOIN (SELECT {cols} FROM staged WHERE {present} GROUP BY ALL HAVING count(*) > 1) r ON {same})
      WHERE k > 1)"""


def _canonical(name: str, col: str, kind: str, types: dict[str, str]) -> str:
    """The file column `col` as the canonical column `name` of SQL type `kind`."""
    if kind == "TIMESTAMP":
        return _local_time(col, types)
    if kind == "DOUBLE":
        return f"TRY_CAST({_typed(col, types)} AS DOUBLE)"
    return f"lower({_trimmed(col)})" if name in ("mode", "order_source") else _trimmed(col)


def _local_time(col: str, types: dict[str, str]) -> str:
    """A naive local timestamp: a typed one as it is (with a zone: in the session's zone), text
    parsed with or without an offset (without: local in the session's zone)."""
    kind = types.get(col, "VARCHAR")
    if kind.startswith("TIMESTAMP") or kind == "DATE":
        return f"CAST({sql_ident(col)} AS TIMESTAMP)"
    # 'YYYY-MM-DD HH:MM:SS' has no room for an offset: a plain cast gives the same local time
    # and skips the time-zone round trip (a third of CSV staging). Anything else may carry an
    # offset (a plain cast would drop it): parsed with the zone. The casts ignore spaces.
    text = f"CAST({sql_ident(col)} AS VARCHAR)"
    return (f"CASE WHEN length({text}) = 19 AND {text}[14] = ':' AND {text}[17] = ':' "
            f"THEN TRY_CAST({text} AS TIMESTAMP) ELSE CAST(TRY_CAST({text} AS TIMESTAMPTZ) AS TIMESTAMP) END")


def _typed(col: str, types: dict[str, str]) -> str:
    """A typed column as is (Parquet); text trimmed, empty as NULL (CSV, string columns)."""
    return _trimmed(col) if types.get(col, "VARCHAR") == "VARCHAR" else sql_ident(col)


def _trimmed(col: str | None) -> str:
    """Text without surrounding spaces, empty as NULL. Trimmed only where a space is there to
    trim: TRIM copies every value, and most need nothing (about 1 s per 2x10^7 records)."""
    if not col:
        return "NULL"
    text = f"CAST({sql_ident(col)} AS VARCHAR)"
    return (f"CASE WHEN starts_with({text}, ' ') OR ends_with({text}, ' ') THEN NULLIF(TRIM({text}), '') "
            f"ELSE NULLIF({text}, '') END")


def _plain(record: dict) -> dict:
    out = {}
    for k, v in record.items():
        if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
            out[k] = None
        elif hasattr(v, "isoformat"):
            out[k] = v.isoformat(sep=" ") if hasattr(v, "hour") else v.isoformat()
        elif hasattr(v, "item"):
            out[k] = v.item()
        else:
            out[k] = v
    return out


@contextmanager
def _reading(source: TripSource | None):
    """A statement that reads a submission file: a full disk or memory is the machine's failure
    (exit 3), any other engine error the file's (exit 2, naming its real line where it can)."""
    try:
        yield
    except duckdb.Error as exc:
        if (failure := environment_failure(exc)) is not None:
            raise failure from None
        raise read_error(source, exc) from None


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


def default_threads() -> int:
    return max(1, os.cpu_count() or 1)
