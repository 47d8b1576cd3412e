"""Shenzhen Tong (深圳通) tap records -> bus and metro trips, with pairing counts.

Input: one or more CSV files in the format published by the Shenzhen open-data platform (dataset
深圳通刷卡数据): columns ``card_no, deal_date, deal_type, deal_money, deal_value, equ_no,
company_name, station, car_no, conn_mark, close_date`` in any order (matched by name, case- and
space-insensitive); ``card_no, deal_date, deal_type, station`` are required, the others may be
absent (read as NULL). ``deal_type`` is 地铁入站 (metro entry), 地铁出站 (metro exit) or 巴士 (bus).
A missing value may be written ``-`` or left empty; values are trimmed. Line ends CRLF or LF,
values quoted or not, encoding UTF-8 (BOM allowed) or GBK (transcoded to a temporary UTF-8 copy
first, in a streaming pass, because DuckDB reads only UTF-8 here). ``deal_date`` is read by the
one time parser of every input (the dialect's ``local_time``): naive local time in the session's
zone (data.timezone; import-taps: Asia/Shanghai), an explicit offset honoured (converted to that
zone); also ``YYYY/MM/DD HH:MM:SS``.

This is the tap adapter's derivation step (verifier.data.sources.TapFiles). Each file is first
copied to Parquet in the engine's work folder with its row in the file (the one CSV reader,
verifier.data.sources.text.csv_to_parquet: same reading and errors on every engine); everything
else runs in the engine, through its methods (`materialize`, `rows`) and in the active dialect's
SQL (window functions over the whole population; no per-record Python), so the same code pairs
10^9 taps on DuckDB with a file-backed database or on Spark.

Steps and definitions (the contract's ``transit.tap_pairing``):

1. *Position.* Every tap keeps ``source_file`` (the file's name) and ``source_row`` (1-based data
   row in that file, header excluded). File order is the order of ``files`` as given, then row.
2. *Exact duplicates.* Taps equal in all eleven columns (after trimming and reading ``-`` / empty
   as missing) are one tap: the first in file order is kept, every repeat is counted in
   ``exact_duplicates`` and dropped.
3. *Unknown type.* A ``deal_type`` other than the three above: ``unknown_type``.
4. *Invalid.* A known-type tap without ``card_no`` or with an unparseable ``deal_date``:
   ``invalid`` (it cannot be placed in a card's sequence).
5. *Bus.* Each remaining bus tap is one bus trip (``trips_bus == bus_taps``).
6. *Metro pairing.* Each card's metro taps are ordered by ``deal_date``, ties by file order. An
   entry pairs with the card's next metro tap when that is an exit: within ``max_stay_minutes``
   (inclusive; the network's paid-area time limit is reported as 180 minutes) the two taps form a
   trip; beyond it both taps count as ``overlong``. An exit is only ever claimed by the tap right
   before it, so the pairing is a pure lag/lead computation.
7. *Exit before entry.* After sorting by time an exit can never precede "its" entry, so the
   anomaly is read from the record stream: an exit E that has no open entry before it, whose
   card's next metro tap in time is an entry N that itself pairs with no exit, where N was
   **recorded earlier in the file than E** (file position of N < that of E) although E's
   ``deal_date`` is earlier, and N follows E within ``max_stay_minutes``. The stream shows the
   journey entry-then-exit, the clocks say exit-then-entry (a reversed pair: gate clock error or
   a mis-stamped record). Both taps count in ``exit_before_entry`` (2 per reversed pair). An
   unmatched exit followed in time by an entry that was also recorded later is the ordinary edge
   of an extract (the exit's entry lies before the extract, the entry's exit after it) and counts
   as ``unpaired_exits`` / ``unpaired_entries``.
8. Every other metro entry is an ``unpaired_entries`` tap (followed by another entry, or by
   nothing); every other exit an ``unpaired_exits`` tap.

Accounting identity (``PairingStats.accounted() == taps``)::

    taps = exact_duplicates + unknown_type + invalid + bus_taps + metro_entries + metro_exits
    metro_entries + metro_exits = 2 * trips_metro + unpaired_entries + unpaired_exits
                                  + exit_before_entry + overlong

The trips table has the transit canonical columns of the contract plus provenance and fares:
``trip_id, user_id, mode, start_time, end_time, entry_station, exit_station, route, distance_km,
fare_fen, paid_fen, source_file, source_row``, one row per trip, in file order of its first tap.

- ``trip_id`` = ``<card_no>-<start_time as YYYYMMDDHHMMSS>-<n>``, ``n`` = 1, 2, ... numbering
  the card's trips (bus and metro) that start in the same second, in file order of the first tap:
  deterministic, independent of how the taps are split into files, unique.
- ``user_id`` = ``card_no``; ``mode`` = ``metro`` | ``bus``.
- metro: ``start_time`` / ``entry_station`` / ``route`` (the entry's ``company_name``, the line)
  from the entry tap; ``end_time`` / ``exit_station`` / ``fare_fen`` (``deal_value``, the full
  fare in fen) / ``paid_fen`` (``deal_money``) from the exit tap. ``source_file`` /
  ``source_row`` locate the entry tap.
- bus: ``start_time`` = ``deal_date``, ``end_time`` and stations NULL (a bus record is an instant),
  ``route`` = the bus line (the ``station`` column of a bus tap, e.g. ``M468``), else
  ``company_name``; fares from the tap.
- ``distance_km`` is NULL: taps carry no distance (a later step fills it from the station table).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from verifier.data.dialect import DIALECT, DUCKDB, MICROS
from verifier.data.sources.text import csv_read_error, csv_to_parquet, encoding_name, transcode_gbk
from verifier.errors import InputError, quoted

TAP_FORMATS = ("shenzhen-tong",)

TAP_COLUMNS = (
    "card_no",
    "deal_date",
    "deal_type",
    "deal_money",
    "deal_value",
    "equ_no",
    "company_name",
    "station",
    "car_no",
    "conn_mark",
    "close_date",
)
REQUIRED_COLUMNS = ("card_no", "deal_date", "deal_type", "station")

DEAL_ENTRY = "地铁入站"
DEAL_EXIT = "地铁出站"
DEAL_BUS = "巴士"

TRIP_COLUMNS = (
    "trip_id",
    "user_id",
    "mode",
    "start_time",
    "end_time",
    "entry_station",
    "exit_station",
    "route",
    "distance_km",
    "fare_fen",
    "paid_fen",
    "source_file",
    "source_row",
)

# Categories of taps that do not become trips (keys of PairingStats.examples).
ANOMALY_CATEGORIES = (
    "exact_duplicates",
    "unknown_type",
    "invalid",
    "unpaired_entries",
    "unpaired_exits",
    "exit_before_entry",
    "overlong",
)
EXAMPLES_PER_CATEGORY = 5

TAP_TABLE = "tap_trips"  # the paired trips, staged by verifier.data.sources.TapFiles


@dataclass
class PairingStats:
    """Counts of taps by outcome (all counts are taps, except ``trips_*``)."""

    taps: int  # data rows read, all files
    bus_taps: int  # distinct, valid bus taps
    metro_entries: int  # distinct, valid metro entry taps
    metro_exits: int  # distinct, valid metro exit taps
    trips_metro: int  # each consumes one entry and one exit
    trips_bus: int  # each consumes one bus tap
    unpaired_entries: int
    unpaired_exits: int
    exit_before_entry: int  # taps in reversed pairs (2 per pair)
    overlong: int  # taps in pairs over max_stay_minutes (2 per pair)
    exact_duplicates: int  # repeats dropped (the first is kept)
    unknown_type: int
    examples: dict[str, list[dict]]  # category -> first taps in file order: file, row, fields
    invalid: int = 0  # known type but no card_no or unparseable deal_date

    def total_unpaired(self) -> int:
        """Metro taps that form no trip: unpaired entries and exits, reversed pairs, over-long."""
        return self.unpaired_entries + self.unpaired_exits + self.exit_before_entry + self.overlong

    def accounted(self) -> int:
        """Every tap counted once: equals ``taps`` (the accounting identity)."""
        return (
            2 * self.trips_metro
            + self.trips_bus
            + self.total_unpaired()
            + self.exact_duplicates
            + self.unknown_type
            + self.invalid
        )

    def anomalies(self) -> int:
        """Taps that are not part of a trip (for ``transit.tap_pairing``'s affected count)."""
        return self.total_unpaired() + self.exact_duplicates + self.unknown_type + self.invalid

    def as_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------- helpers


def _q(name: str) -> str:
    return DIALECT.ident(name)


def _lit(value) -> str:
    return DIALECT.text(value)


@dataclass
class _TapFile:
    """One tap file as the engine reads it (`actual`: the UTF-8 copy of a GBK file)."""

    shown: Path
    actual: Path

    def read_error(self, exc: Exception) -> InputError:
        """The line and the cause (`csv_read_error`) of a tap file the engine could not read."""
        return csv_read_error([(self.shown, self.actual)], None, exc, prefix="unreadable CSV: ", utf8_field="encoding",
                              utf8_hint="set data.encoding: gbk? (import-taps: --encoding gbk)")


def _transcoded(src: Path, dst: Path) -> Path:
    try:
        return transcode_gbk(src, dst, "encoding", at_byte=True)
    except OSError as e:
        raise InputError(Path(src), None, f"cannot read file: {e.strerror or e}") from None


# ---------------------------------------------------------------------- staging
def stage_trips(
    engine,
    files: list[Path],
    table: str = TAP_TABLE,
    encoding: str = "utf-8",
    max_stay_minutes: int = 180,
    tap_format: str = "shenzhen-tong",
) -> PairingStats:
    """Read the tap files into the engine, pair them, and create ``table`` (replacing it) holding
    one row per trip (columns ``TRIP_COLUMNS``). Returns the pairing counts. The taps are read as
    Parquet copies in the engine's work folder (`_load_file`; GBK files through a UTF-8 copy),
    removed at the end with the work tables.
    Tap times are read in the engine's session zone (``engine.set_timezone``)."""
    files = [Path(f) for f in (files or [])]
    if not files:
        raise InputError("data.taps", None, "no tap files named")
    if tap_format not in TAP_FORMATS:
        raise InputError(
            str(files[0]), "tap_format", f"unknown tap format {tap_format!r}; known: {', '.join(TAP_FORMATS)}"
        )
    if isinstance(max_stay_minutes, bool) or not isinstance(max_stay_minutes, (int, float)) or max_stay_minutes <= 0:
        raise ValueError(f"max_stay_minutes must be a positive number, got {max_stay_minutes!r}")
    enc = encoding_name(encoding)
    if enc is None:
        raise InputError(str(files[0]), "encoding", f"unsupported encoding {encoding!r}: use utf-8 or gbk")
    for f in files:
        if not f.is_file():  # os.stat: a named pipe is not a file (and is never opened)
            raise InputError(f, None, "tap file not found" if not f.exists() else "not a regular file")

    names = {k: f"_taps_{k}" for k in ("files", "distinct", "metro")}
    created: list[str] = []
    # The taps as Parquet in the work folder (and the UTF-8 copies of GBK files): each file read
    # once, in file order, with its row in the file (verifier.data.sources.text.csv_to_parquet).
    tmp_ctx = tempfile.TemporaryDirectory(prefix="taps-", dir=engine.workdir)
    try:
        tmp = Path(tmp_ctx.name)
        (tmp / "parquet").mkdir()
        parts = [tmp / "parquet" / f"{i}.parquet" for i in range(len(files))]
        offsets: list[int] = []
        n = 0
        for i, f in enumerate(files):
            src = _transcoded(f, tmp / f"{i}.csv") if enc == "gbk" else f
            offsets.append(n)
            n += _load_file(_TapFile(f, src), i, parts[i], tmp)
        rows = [(i, f.name, offsets[i]) for i, f in enumerate(files)]
        engine.materialize(names["files"], f"SELECT * FROM {DIALECT.values(rows, ('fidx', 'source_file', 'row0'))}")
        created.append(names["files"])
        raw = _raw_sql(tmp / "parquet" / "*.parquet", names["files"])
        _distinct(engine, names, raw)
        created.append(names["distinct"])
        _pair_metro(engine, names, round(float(max_stay_minutes) * 60 * MICROS))
        created.append(names["metro"])
        stats = _stats(engine, names, raw, n, files, offsets)
        _build_trips(engine, names, table)
        return stats
    finally:
        engine.drop_tables(reversed(created))
        tmp_ctx.cleanup()


def _load_file(tap_file: _TapFile, i: int, part: Path, workdir: Path) -> int:
    """Write one file's taps to the Parquet file ``part`` in file order: ``fidx`` (= i), the
    eleven columns (trimmed, ``-`` and empty as NULL; an absent optional column NULL) and
    ``source_row``. Returns the number of data rows."""

    def select(columns: list[str]) -> str:
        header: dict[str, str] = {}
        for col in columns:
            header.setdefault(col.strip().lstrip("\ufeff").strip().lower(), col)
        for c in REQUIRED_COLUMNS:
            if c not in header:
                raise InputError(tap_file.shown, c,
                                 "required column absent (header: " + ", ".join(map(repr, header)) + ")")
        return f"{i} AS fidx, " + ", ".join(
            f"NULLIF(NULLIF(trim({DUCKDB.ident(header[c])}), ''), '-') AS {c}" if c in header
            else f"CAST(NULL AS VARCHAR) AS {c}"
            for c in TAP_COLUMNS
        )

    return csv_to_parquet(tap_file.actual, part, comma=True, select=select, row_column="source_row",
                          reading=tap_file, workdir=workdir)


def _raw_sql(parts: Path, files_table: str) -> str:
    """Every tap as read (``parts``: a glob of its Parquet files, one path as Spark SQL scans):
    ``fidx``, ``source_row`` and ``seq``, its position in the global file order (the files in
    the order given, then row: unique, increasing)."""
    cols = ", ".join(f"r.{c}" for c in TAP_COLUMNS)
    return (f"(SELECT r.fidx, r.source_row, r.source_row + f.row0 AS seq, {cols} "
            f"FROM {DIALECT.scan_parquet([parts])} r JOIN {_q(files_table)} f ON r.fidx = f.fidx)")


def _distinct(engine, names: dict, raw: str) -> None:
    """One row per distinct tap (hash aggregate over all eleven columns): ``seq`` = the global
    file order of its first occurrence, ``fidx`` its file (the smallest: ``seq`` grows with the
    file index), ``n`` its occurrences, ``cat`` its category (bus | metro | unknown_type |
    invalid)."""
    cols = ", ".join(TAP_COLUMNS)
    engine.materialize(
        names["distinct"],
        f"""
        SELECT *,
            CASE WHEN kind IS NULL THEN 'unknown_type'
                 WHEN card_no IS NULL OR ts IS NULL THEN 'invalid'
                 WHEN kind = 'bus' THEN 'bus'
                 ELSE 'metro' END AS cat
        FROM (
            SELECT *,
                {DIALECT.local_time('deal_date')} AS ts,
                CASE deal_type WHEN {_lit(DEAL_ENTRY)} THEN 'entry' WHEN {_lit(DEAL_EXIT)} THEN 'exit'
                               WHEN {_lit(DEAL_BUS)} THEN 'bus' END AS kind
            FROM (
                SELECT {cols}, min(seq) AS seq, min(fidx) AS fidx, count(*) AS n
                FROM {raw} t
                GROUP BY {cols}
            ) g
        ) k
        """,
    )


def _pair_metro(engine, names: dict, max_stay_us: int) -> None:
    """Each distinct valid metro tap with its outcome (``status``); an entry that starts a trip
    carries the exit's fields (``x_*``). Durations are compared in integer microseconds."""
    lim = int(max_stay_us)

    def within(start: str, end: str) -> str:
        return f"{DIALECT.micros_between(start, end)} <= {lim}"

    engine.materialize(
        names["metro"],
        f"""
        WITH m AS (
            SELECT seq, fidx, card_no, deal_date, deal_type, station, company_name, kind, ts,
                lag(kind) OVER w AS p1_kind, lag(ts) OVER w AS p1_ts, lag(seq) OVER w AS p1_seq,
                lag(kind, 2) OVER w AS p2_kind,
                lead(kind) OVER w AS n1_kind, lead(ts) OVER w AS n1_ts, lead(seq) OVER w AS n1_seq,
                lead(kind, 2) OVER w AS n2_kind,
                lead(station) OVER w AS n1_station, lead(deal_value) OVER w AS n1_value,
                lead(deal_money) OVER w AS n1_money
            FROM {_q(names['distinct'])} WHERE cat = 'metro'
            WINDOW w AS (PARTITION BY card_no ORDER BY ts, seq)
        ),
        ms AS (
            SELECT *,
                CASE
                  WHEN kind = 'entry' AND n1_kind = 'exit' THEN
                    CASE WHEN {within('ts', 'n1_ts')} THEN 'trip' ELSE 'overlong' END
                  WHEN kind = 'exit' AND p1_kind = 'entry' THEN
                    CASE WHEN {within('p1_ts', 'ts')} THEN 'trip_exit' ELSE 'overlong' END
                  WHEN kind = 'exit' AND n1_kind = 'entry' AND COALESCE(n2_kind, '') <> 'exit'
                       AND n1_seq < seq AND {within('ts', 'n1_ts')} THEN 'exit_before_entry'
                  WHEN kind = 'entry' AND p1_kind = 'exit' AND COALESCE(p2_kind, '') <> 'entry'
                       AND seq < p1_seq AND {within('p1_ts', 'ts')} THEN 'exit_before_entry'
                  WHEN kind = 'entry' THEN 'unpaired_entries'
                  ELSE 'unpaired_exits'
                END AS status
            FROM m
        )
        SELECT seq, fidx, card_no, deal_date, deal_type, station, company_name, kind, ts, status,
               CASE WHEN status = 'trip' THEN n1_ts END AS x_ts,
               CASE WHEN status = 'trip' THEN n1_station END AS x_station,
               CASE WHEN status = 'trip' THEN n1_value END AS x_value,
               CASE WHEN status = 'trip' THEN n1_money END AS x_money
        FROM ms
        """
    )


def _stats(engine, names: dict, raw: str, n_taps: int, files: list[Path], offsets: list[int]) -> PairingStats:
    d, m = _q(names["distinct"]), _q(names["metro"])
    by_cat = dict(engine.rows(f"SELECT cat, count(*) FROM {d} GROUP BY cat"))
    n_distinct = sum(by_cat.values())
    by_status: dict[tuple[str, str], int] = {
        (st, k): int(c) for st, k, c in engine.rows(f"SELECT status, kind, count(*) FROM {m} GROUP BY status, kind")
    }

    def st(s: str) -> int:
        return sum(c for (x, _), c in by_status.items() if x == s)

    def ex(rows) -> list[dict]:
        out = []
        for seq, fidx, card, date, dtype, station in rows:
            out.append(
                {"file": files[fidx].name, "row": int(seq) - offsets[fidx], "card_no": card,
                 "deal_date": date, "deal_type": dtype, "station": station}
            )
        return out

    k = EXAMPLES_PER_CATEGORY
    fields = "card_no, deal_date, deal_type, station"
    examples: dict[str, list[dict]] = {c: [] for c in ANOMALY_CATEGORIES}
    dups = n_taps - n_distinct
    if dups:
        on = " AND ".join(f"r.{c} IS NOT DISTINCT FROM g.{c}" for c in TAP_COLUMNS)
        examples["exact_duplicates"] = ex(engine.rows(
            f"SELECT r.seq, r.fidx, {', '.join('r.' + c for c in fields.split(', '))} "
            f"FROM {raw} r JOIN (SELECT * FROM {d} WHERE n > 1) g ON {on} "
            f"WHERE r.seq <> g.seq ORDER BY r.seq LIMIT {k}"
        ))
    for cat in ("unknown_type", "invalid"):
        if by_cat.get(cat):
            examples[cat] = ex(engine.rows(
                f"SELECT seq, fidx, {fields} FROM {d} WHERE cat = {_lit(cat)} ORDER BY seq LIMIT {k}"))
    for cat in ("unpaired_entries", "unpaired_exits", "exit_before_entry", "overlong"):
        if st(cat):
            examples[cat] = ex(engine.rows(
                f"SELECT seq, fidx, {fields} FROM {m} WHERE status = {_lit(cat)} ORDER BY seq LIMIT {k}"))

    metro_kinds = {"entry": 0, "exit": 0}
    for (_, kind), c in by_status.items():
        metro_kinds[kind] += c
    return PairingStats(
        taps=n_taps,
        bus_taps=int(by_cat.get("bus", 0)),
        metro_entries=metro_kinds["entry"],
        metro_exits=metro_kinds["exit"],
        trips_metro=st("trip"),
        trips_bus=int(by_cat.get("bus", 0)),
        unpaired_entries=st("unpaired_entries"),
        unpaired_exits=st("unpaired_exits"),
        exit_before_entry=st("exit_before_entry"),
        overlong=st("overlong"),
        exact_duplicates=dups,
        unknown_type=int(by_cat.get("unknown_type", 0)),
        examples=examples,
        invalid=int(by_cat.get("invalid", 0)),
    )


def _fen_sql(col: str) -> str:
    """A fare in fen: the number rounded (half away from zero on both engines); not a number,
    NaN, ±inf or beyond BIGINT: NULL (Spark's ANSI casts raise where DuckDB's TRY_CAST is NULL)."""
    return f"TRY_CAST(round({DIALECT.to_number(col)}) AS BIGINT)"


def _build_trips(engine, names: dict, table: str) -> None:
    text, time = DIALECT.types["text"], DIALECT.types["time"]
    engine.materialize(
        table,
        f"""
        SELECT
            user_id || '-' || {DIALECT.time_digits('start_time')} || '-'
                || CAST(row_number() OVER (PARTITION BY user_id, start_time ORDER BY seq) AS {text}) AS trip_id,
            user_id, mode, start_time, end_time, entry_station, exit_station, route,
            CAST(NULL AS DOUBLE) AS distance_km, fare_fen, paid_fen,
            f.source_file, seq - f.row0 AS source_row
        FROM (
            SELECT seq, fidx, card_no AS user_id, 'metro' AS mode, ts AS start_time, x_ts AS end_time,
                   station AS entry_station, x_station AS exit_station, company_name AS route,
                   {_fen_sql('x_value')} AS fare_fen, {_fen_sql('x_money')} AS paid_fen
            FROM {_q(names['metro'])} WHERE status = 'trip'
            UNION ALL
            SELECT seq, fidx, card_no, 'bus', ts, CAST(NULL AS {time}), CAST(NULL AS {text}),
                   CAST(NULL AS {text}), COALESCE(station, company_name),
                   {_fen_sql('deal_value')}, {_fen_sql('deal_money')}
            FROM {_q(names['distinct'])} WHERE cat = 'bus'
        ) t
        JOIN {_q(names['files'])} f ON t.fidx = f.fidx
        ORDER BY seq
        """,
    )


# ---------------------------------------------------------------------- import-taps back end
def _check_out_file(out_path: Path, inputs: list[Path]) -> None:
    """`--out` names the Parquet file to write: not a folder, not one of the tap files (an input
    is never overwritten); checked before any work (exit 2 naming --out)."""
    if out_path.is_dir():
        raise InputError("command line", "--out", f"{quoted(str(out_path))} is a folder; name the Parquet file to write")
    target = out_path.resolve()
    for f in inputs:
        if Path(f).resolve() == target:
            raise InputError("command line", "--out", f"{quoted(str(out_path))} is an input tap file; "
                                                      "inputs are never modified")
    parent = next((p for p in target.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise InputError("command line", "--out", f"{quoted(str(parent))} is not a folder")


def write_trips(
    files: list[Path],
    out_path: Path,
    encoding: str = "utf-8",
    max_stay_minutes: int = 180,
    tap_format: str = "shenzhen-tong",
    timezone: str | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    spark_conf=(),
) -> PairingStats:
    """``verifier import-taps``: stage the taps and write the trips to Parquet at ``out_path``
    atomically (written to a temporary file in the same folder, then renamed). Uses its own
    engine (`engine`: a key of verifier.data.engine.ENGINES) with its work folder in a temporary
    folder next to the output (DuckDB: a file-backed database there, so it scales past memory).
    Tap times are read in `timezone` (default: the methodologies' city zone)."""
    from verifier.data.engine import EngineOptions, open_engine
    from verifier.pipeline import spark_conf_pairs
    from verifier.submission import CITY_TIMEZONE

    out_path = Path(out_path)
    _check_out_file(out_path, files)
    out_dir = out_path.parent if str(out_path.parent) else Path(".")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".import-taps-", dir=out_dir) as tmp:
        tmpd = Path(tmp)
        part = tmpd / "trips.parquet"
        options = EngineOptions(temp_dir=tmpd, engine=engine, spark_master=spark_master,
                                spark_conf=spark_conf_pairs(spark_conf), database=tmpd / "taps.duckdb")
        with open_engine(options) as eng:
            eng.set_timezone(timezone or CITY_TIMEZONE)
            stats = stage_trips(eng, files, TAP_TABLE, encoding, max_stay_minutes, tap_format)
            eng.write_parquet(TAP_TABLE, part)
        os.replace(part, out_path)
    return stats
