"""The full-population engine: the only module that speaks SQL to DuckDB.

Checks never query the data themselves. They hand the engine SQL predicates over the canonical
record columns below; the engine stages the trip file once, evaluates every predicate and the
window rules (duplicates, overlaps, daily caps) in one table, aggregates in one scan and draws
the sample. Another engine (Spark) implements the same methods over the same column names.

The table's physical row order carries no meaning: every query that needs an order states it
(row_no, or the md5 rank), so results do not depend on the thread count.

The staged table `staged` is written once. Window rules (duplicates, overlaps, daily caps) run on
a narrow projection and keep only the records they mark (table `marks`, usually tiny); the view
`records` adds one boolean column per record-level check, evaluated on the fly, so the wide
table is never rewritten.

Staged record columns (table `staged`, seen through the view `records`):
  row_no        1-based record order (file order; folder files in name order)
  record_key    trip_id where the file has that column (else '#<row_no>'), or row_no
  trip_id, user_id, mode, order_source, start_time, end_time (local, naive), record_date,
  start_lon, start_lat, end_lon, end_lat, distance_km, entry_station, exit_station, route,
  start_geo, end_geo    bit i set = inside the boundary when read as CRS_NAMES[i]
  authorized_at         the user's authorisation time (users file), NULL when unknown
plus one boolean column per record-level check id, named by the id.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from verifier.data.sources import TripSource, sql_ident, sql_str
from verifier.errors import InputError
from verifier.methodology import CRS_NAMES
from verifier.sampling import selection_key_sql

TEXT_COLUMNS = ("trip_id", "user_id", "mode", "order_source", "entry_station", "exit_station", "route")
TIME_COLUMNS = ("start_time", "end_time")
NUMBER_COLUMNS = ("start_lon", "start_lat", "end_lon", "end_lat", "distance_km")
GEO_POINTS = (("start_geo", "start_lon", "start_lat"), ("end_geo", "end_lon", "end_lat"))


@dataclass
class EngineOptions:
    memory_limit: str | None = None  # DuckDB syntax, e.g. "4GB"; default: DuckDB's (80 % of RAM)
    threads: int | None = None
    temp_dir: Path | None = None


class DuckDBEngine:
    """Stages one submission's records and answers the checks' questions about them."""

    def __init__(self, options: EngineOptions | None = None):
        self.options = options or EngineOptions()
        self._tmp = tempfile.TemporaryDirectory(prefix="verifier-",
                                                dir=self.options.temp_dir or None)
        self.workdir = Path(self._tmp.name)
        # A file-backed database, so tables larger than memory live on disk, not in RAM.
        self.con = duckdb.connect(str(self.workdir / "work.duckdb"))
        self.con.execute(f"SET temp_directory = {sql_str(self.workdir / 'spill')}")
        self.con.execute("SET preserve_insertion_order = true")
        if self.options.memory_limit:
            self.con.execute(f"SET memory_limit = {sql_str(self.options.memory_limit)}")
        if self.options.threads:
            self.con.execute(f"SET threads = {int(self.options.threads)}")
        self.flag_columns: list[str] = []
        self.warn_only: tuple[str, ...] = ()  # flagged, but the records stay eligible
        self.has_trip_id = False

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
              relation: str | None = None, extra_columns: tuple[str, ...] = ()) -> int:
        """Create `staged` from the trip file (or an already staged `relation`) with typed
        canonical columns and, given a `boundary`, each point's inside bits; returns the count."""
        self._set_timezone(timezone)
        self.has_trip_id = columns.get("trip_id") is not None
        raw = self._raw_relation(source) if relation is None else relation
        exprs = [f"{self._row_no_sql(source) if relation is None else 'row_no'} AS row_no"]
        for name in TEXT_COLUMNS:
            col = columns.get(name)
            value = f"NULLIF(TRIM(CAST({sql_ident(col)} AS VARCHAR)), '')" if col else "CAST(NULL AS VARCHAR)"
            if name in ("mode", "order_source"):
                value = f"lower({value})"
            exprs.append(f"{value} AS {name}")
        types = source.types if source else {}
        for name in TIME_COLUMNS:
            col = columns.get(name)
            exprs.append(f"CAST(TRY_CAST({_typed(col, types)} AS TIMESTAMPTZ) AS TIMESTAMP) AS {name}"
                         if col else f"CAST(NULL AS TIMESTAMP) AS {name}")
        for name in NUMBER_COLUMNS:
            col = columns.get(name)
            exprs.append(f"TRY_CAST({_typed(col, types)} AS DOUBLE) AS {name}" if col
                         else f"CAST(NULL AS DOUBLE) AS {name}")
        exprs += [sql_ident(c) for c in extra_columns]
        typed = f"SELECT {', '.join(exprs)} FROM {raw}"
        key = ("coalesce(trip_id, '#' || CAST(row_no AS VARCHAR))" if self.has_trip_id else "row_no")
        geo = self._geo_sql(boundary)
        auth, auth_join = self._users_sql(users, users_encoding)
        try:
            self.con.execute(f"""
                CREATE OR REPLACE TABLE staged AS
                SELECT t.row_no, {key} AS record_key, t.* EXCLUDE (row_no),
                       CAST(t.start_time AS DATE) AS record_date, {geo}, {auth} AS authorized_at
                FROM ({typed}) t {auth_join}""")
        except duckdb.Error as exc:
            raise InputError(source.declared[0] if source else "trips", "data.trips",
                             f"cannot be read: {_first_line(exc)}") from None
        return self.sql("SELECT count(*) FROM staged")[0][0]

    def _set_timezone(self, timezone: str) -> None:
        try:
            self.con.execute(f"SET TimeZone = {sql_str(timezone)}")
        except duckdb.Error:
            raise InputError("report", "data.timezone", f"unknown time zone {timezone!r}") from None

    def _raw_relation(self, source: TripSource) -> str:
        return source.scan_sql()

    def _row_no_sql(self, source: TripSource) -> str:
        if source.kind == "csv":
            return "row_number() OVER ()"
        # Parquet: offset of the file plus the row inside it: file order without a sort.
        files = [str(f) for f in source.files]
        counts = [r[0] for r in self.sql(
            "SELECT num_rows FROM parquet_file_metadata(["
            + ", ".join(sql_str(f) for f in files) + "]) ORDER BY list_position(["
            + ", ".join(sql_str(f) for f in files) + "], file_name)")]
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int).tolist()
        return (f"(list_extract({offsets}, list_position([{', '.join(sql_str(f) for f in files)}], "
                f"filename)) + file_row_number + 1)")

    def _geo_sql(self, boundary) -> str:
        """geo bits per point: bit i set when the point, read as CRS_NAMES[i], is inside. The
        boundary is moved into each system once, so points are never converted one by one."""
        if boundary is None:
            return "CAST(NULL AS UTINYINT) AS start_geo, CAST(NULL AS UTINYINT) AS end_geo"
        tests = [boundary.in_crs(crs).contains for crs in CRS_NAMES]

        def bits(lon: pa.Array, lat: pa.Array) -> pa.Array:
            x = lon.to_numpy(zero_copy_only=False).astype(float)
            y = lat.to_numpy(zero_copy_only=False).astype(float)
            out = np.zeros(len(x), dtype=np.uint8)
            for i, inside in enumerate(tests):
                out |= inside(x, y).astype(np.uint8) << i
            return pa.array(out, mask=np.isnan(x) | np.isnan(y))

        self.con.create_function("geo_bits", bits, ["DOUBLE", "DOUBLE"], "UTINYINT",
                                 type="arrow", null_handling="special", side_effects=False)
        return ", ".join(f"geo_bits(t.{lon}, t.{lat}) AS {name}" for name, lon, lat in GEO_POINTS)

    def _users_sql(self, users: Path | None, encoding: str) -> tuple[str, str]:
        if users is None:
            return "CAST(NULL AS TIMESTAMP)", ""
        from verifier.data.sources import open_source

        src = open_source([users], encoding, self.workdir, field_name="data.users")
        cols = src.resolve({}, ("user_id", "authorized_at"), ("user_id", "authorized_at"))
        # A user listed twice counts from the latest date: the conservative reading.
        self.con.execute(f"""
            CREATE OR REPLACE TABLE users AS
            SELECT NULLIF(TRIM(CAST({sql_ident(cols['user_id'])} AS VARCHAR)), '') AS user_id,
                   max(CAST(TRY_CAST({_trimmed(cols['authorized_at'])} AS TIMESTAMPTZ) AS TIMESTAMP)) AS authorized_at
            FROM {src.scan_sql()} GROUP BY 1""")
        return "u.authorized_at", "LEFT JOIN users u ON u.user_id = t.user_id"

    def attach_station_distances(self, path: Path, encoding: str, fill_missing: bool = False) -> None:
        """Add `table_km` (the station-pair distance, either direction) to every record; with
        `fill_missing` (tap data carries no distance) it also becomes the record's distance."""
        from verifier.data.sources import open_source

        src = open_source([path], encoding, self.workdir, field_name="data.station_distances")
        cols = src.resolve({}, ("from_station", "to_station", "distance_km"),
                           ("from_station", "to_station", "distance_km"))
        a, b, km = (_trimmed(cols[c]) for c in ("from_station", "to_station", "distance_km"))
        # A pair listed twice with different distances counts with the shorter (conservative).
        self.con.execute(f"""
            CREATE OR REPLACE TABLE stations AS
            WITH s AS (SELECT {a} AS a, {b} AS b, TRY_CAST({km} AS DOUBLE) AS km FROM {src.scan_sql()})
            SELECT a, b, min(km) AS km FROM (SELECT a, b, km FROM s UNION ALL SELECT b, a, km FROM s)
            WHERE a IS NOT NULL AND b IS NOT NULL GROUP BY a, b""")
        distance = "coalesce(r.distance_km, s.km)" if fill_missing else "r.distance_km"
        self.con.execute(f"""
            CREATE OR REPLACE TABLE staged AS
            SELECT r.* REPLACE ({distance} AS distance_km), s.km AS table_km
            FROM staged r LEFT JOIN stations s ON s.a = r.entry_station AND s.b = r.exit_station""")

    def parquet_counts(self, files: list[Path]) -> list[int]:
        return [self.sql(f"SELECT num_rows FROM parquet_file_metadata({sql_str(f)})")[0][0] for f in files]

    # -- flags -----------------------------------------------------------------------------
    def flag(self, predicates: dict[str, str], validity: str, daily_cap: dict[str, int] | None = None) -> None:
        """Define the view `records`: `staged` plus one boolean column per record-level check.

        `validity` is the records.validity predicate; duplicates are judged on every record,
        overlaps only among valid non-duplicate records, and the daily cap last, among the
        records no other check flags (contract section 5)."""
        named = {"records.validity": validity, **predicates}
        dup_id = ("(trip_id IS NOT NULL AND row_number() OVER (PARTITION BY trip_id ORDER BY row_no) > 1)"
                  if self.has_trip_id else "false")
        dup_tuple = ("(user_id IS NOT NULL AND start_time IS NOT NULL AND row_number() OVER "
                     "(PARTITION BY user_id, mode, start_time, end_time ORDER BY row_no) > 1)")
        # Sorted by start, an instant (bus tap) before an interval starting at the same moment,
        # a record overlaps when an earlier one of the same user ends after it starts.
        overlap = """CASE WHEN ok THEN coalesce(max(coalesce(end_time, start_time)) OVER (
                        PARTITION BY user_id, ok ORDER BY start_time, coalesce(end_time, start_time) > start_time, row_no
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) > start_time, false) ELSE false END"""
        # The windows see only the columns they need, and only marked records are kept.
        self.con.execute(f"""
            CREATE OR REPLACE TABLE marks AS
            WITH n AS (SELECT row_no, trip_id, user_id, mode, start_time, end_time,
                              coalesce(({validity}), false) AS invalid FROM staged),
                 d AS (SELECT *, {dup_id} OR {dup_tuple} AS dup FROM n),
                 o AS (SELECT *, NOT invalid AND NOT dup AND user_id IS NOT NULL AND start_time IS NOT NULL AS ok FROM d),
                 w AS (SELECT row_no, dup, {overlap} AS overlap FROM o)
            SELECT row_no, dup, overlap, false AS cap FROM w WHERE dup OR overlap""")
        self._flag_sql = [f"coalesce(({sql}), false) AS {sql_ident(cid)}" for cid, sql in named.items()] + [
            'coalesce(m.dup, false) AS "records.duplicates"', 'coalesce(m.overlap, false) AS "records.overlap"']
        self.flag_columns = list(named) + ["records.duplicates", "records.overlap"]
        self._define_view()
        if daily_cap is not None:
            self._daily_cap(daily_cap)

    def _define_view(self) -> None:
        self.con.execute(f"""
            CREATE OR REPLACE VIEW records AS
            SELECT s.*, {', '.join(self._flag_sql)}
            FROM staged s LEFT JOIN marks m ON m.row_no = s.row_no""")

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
    def aggregate(self, extra: dict[str, str] | None = None) -> dict:
        """One scan: counts per flag, pkm per flag, totals, eligible totals and `extra` SQL
        aggregates (name -> expression) in a single row."""
        excluded = self.excluded_sql()
        parts = {
            "records": "count(*)",
            "pkm": "sum(distance_km)",
            "first_date": "min(record_date)",
            "last_date": "max(record_date)",
            "eligible": f"count_if(NOT {excluded})",
            "eligible_pkm": f"coalesce(sum(distance_km) FILTER (WHERE NOT {excluded}), 0)",
        }
        for cid in self.flag_columns:
            parts[f"n:{cid}"] = f"count_if({sql_ident(cid)})"
            parts[f"pkm:{cid}"] = f"coalesce(sum(distance_km) FILTER (WHERE {sql_ident(cid)}), 0)"
        parts.update(extra or {})
        row = self.con.execute("SELECT " + ", ".join(f"{sql} AS {sql_ident(n)}" for n, sql in parts.items())
                               + " FROM records").fetchall()[0]
        return dict(zip(parts, row))

    def examples(self, check_id: str, fields: list[str], limit: int = 5, reason: str | None = None) -> list[dict]:
        """The first flagged records in file order (with `reason`, SQL text, when given)."""
        cols = ", ".join(["record_key", "row_no"] + fields + ([f"{reason} AS reason"] if reason else []))
        df = self.con.execute(f"SELECT {cols} FROM records WHERE {sql_ident(check_id)} "
                              f"ORDER BY row_no LIMIT {int(limit)}").df()
        return [_plain(r) for r in df.to_dict("records")]

    def sample(self, seed: int, size: int, extra: int = 0) -> pd.DataFrame:
        """The first `size + extra` records by md5("<seed>:<record_key>"), in draw order."""
        key = selection_key_sql(str(int(seed)), "record_key")
        return self.con.execute(f"SELECT *, {key} AS draw_key FROM records "
                                f"ORDER BY draw_key, row_no LIMIT {int(size + extra)}").df()

    def histogram(self, expr: str, width: float, where: str = "true", cap: float | None = None) -> pd.DataFrame:
        """Counts of `expr` in bins of `width` (values above `cap` in the last bin)."""
        value = f"least({expr}, {cap})" if cap is not None else expr
        return self.con.execute(f"""
            SELECT floor({value} / {width}) * {width} AS bin_start,
                   floor({value} / {width}) * {width} + {width} AS bin_end, count(*) AS records
            FROM records WHERE {where} AND {expr} IS NOT NULL AND isfinite({expr})
            GROUP BY 1 ORDER BY 1""").df()

    def daily(self, out_of_period: str, by_mode: bool = False) -> pd.DataFrame:
        mode = ", mode" if by_mode else ""
        return self.con.execute(f"""
            SELECT record_date AS date{mode}, count(*) AS records,
                   count_if({out_of_period}) AS out_of_period
            FROM records WHERE record_date IS NOT NULL GROUP BY ALL ORDER BY ALL""").df()


def _typed(col: str, types: dict[str, str]) -> str:
    """A typed column as is (Parquet); text trimmed, empty as NULL (CSV, string columns)."""
    return _trimmed(col) if types.get(col, "VARCHAR") == "VARCHAR" else sql_ident(col)


def _trimmed(col: str | None) -> str:
    return f"NULLIF(TRIM(CAST({sql_ident(col)} AS VARCHAR)), '')" if col else "NULL"


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


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def default_threads() -> int:
    return max(1, os.cpu_count() or 1)
