"""Everything engine-specific in the SQL the verifier issues.

Checks and methodologies never hold a connection. They write their predicates and aggregates
over the canonical record columns (verifier/data/engine.py) with these helpers, and so do the
engine and the input adapters (verifier/data/sources/), so that another engine supplies its own
dialect instead of new branches. `DuckDBDialect` is the default; the Spark engine's dialect
(verifier.data.spark_dialect) overrides what Spark spells differently.

`DIALECT` is the dialect of the engine in use: an engine entered as a context manager
(`with engine:`) makes its dialect the active one for the code it calls (checks, methodologies,
input adapters), and the DuckDB dialect is active otherwise. The fragments are built when the
run asks for them, never at import, so no module holds another engine's SQL. tests/test_sql_portability.py lists the constructs
only this module (and the DuckDB engine class) may spell.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from pathlib import Path

from verifier.data import exact

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius
MICROS = 1_000_000  # durations are integer microseconds (a timestamp's resolution)


class DuckDBDialect:
    name = "duckdb"
    int128 = "HUGEINT"  # the exact sums' 128-bit integer (Spark: DECIMAL(38,0))
    # The SQL type of each kind of canonical column (methodologies.Column.kind; Spark: STRING ...)
    types = {"text": "VARCHAR", "time": "TIMESTAMP", "number": "DOUBLE"}

    # -- names and literals --------------------------------------------------------------------
    def ident(self, name: str) -> str:
        """A quoted identifier (column or table)."""
        return '"' + name.replace('"', '""') + '"'

    def text(self, value: str | Path) -> str:
        """A string literal."""
        return "'" + str(value).replace("'", "''") + "'"

    def date(self, value: date) -> str:
        """A date literal."""
        return f"DATE '{value.isoformat()}'"

    def number(self, value: float | int) -> str:
        """A numeric literal that reads back as the same value."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"not a number: {value!r}")
        return repr(value) if isinstance(value, int) else repr(float(value))

    def double(self, value: float) -> str:
        """A DOUBLE literal, ±infinity included."""
        if value in (float("inf"), float("-inf")):
            return f"CAST('{'-' if value < 0 else ''}Infinity' AS DOUBLE)"
        return f"CAST({float(value)!r} AS DOUBLE)"

    def values(self, rows: list[tuple], names: tuple[str, ...]) -> str:
        """A relation of literal rows (str, int, float values) with the columns `names`."""
        def lit(v):
            return self.text(v) if isinstance(v, str) else self.number(v)

        body = ", ".join("(" + ", ".join(lit(v) for v in row) + ")" for row in rows)
        return f"(SELECT * FROM (VALUES {body}) v({', '.join(names)}))"

    # -- reading files -------------------------------------------------------------------------
    def scan_csv(self, files: list[Path], comma: bool = False) -> str:
        """The CSV files as one relation, every column text (the engine casts and judges each
        value). `comma`: the delimiter is a comma and quotes double as their escape (tap files);
        else the dialect is sniffed."""
        fixed = ", delim=',', quote='\"', escape='\"'" if comma else ""
        return f"read_csv({self._list(files)}, header=true, all_varchar=true{fixed}, auto_detect=true)"

    def scan_parquet(self, files: list[Path]) -> str:
        """The Parquet files as one relation with file_index and file_row_number (row order)."""
        return f"read_parquet({self._list(files)}, filename=true, file_row_number=true)"

    def parquet_row_counts(self, files: list[Path]) -> str:
        """A query: the row count of each file, in the order of `files`."""
        names = self._list(files)
        return (f"SELECT num_rows FROM parquet_file_metadata({names}) "
                f"ORDER BY list_position({names}, file_name)")

    def write_parquet(self, relation: str, path: Path) -> str:
        return f"COPY {relation} TO {self.text(path)} (FORMAT parquet)"

    def key_hash(self, exprs: list[str]) -> str:
        """A 64-bit hash of the values `exprs` (not NULL), for narrowing a grouping to candidates
        before the exact one; its values differ between engines (never written anywhere)."""
        return f"hash({', '.join(exprs)})"

    def indexed_parquet(self, paths: list[Path]) -> str:
        """A relation of every row of the Parquet `paths` (each a file or a folder of part
        files, Spark's) with `file_index`, the 0-based position in `paths` of its path. One
        read_parquet over every file (a UNION ALL of scans under preserve_insertion_order
        buffered its inputs and ran out of memory at 10^7 rows under 300 MB; one scan did not)."""
        files, index = [], []
        for i, path in enumerate(map(Path, paths)):
            parts = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
            files += [str(p) for p in parts]
            index += [i] * len(parts)
        return (f"(SELECT *, list_extract({index!r}, list_position({self._list(files)}, filename)) AS file_index "
                f"FROM read_parquet({self._list(files)}, filename=true))")

    def write_csv(self, query: str, path: Path) -> str:
        """A statement streaming the rows of `query` to a comma-separated file with a header
        (quotes only where a value needs them, NULL as an empty field), in the query's order."""
        return f"COPY ({query}) TO {self.text(path)} (FORMAT csv, HEADER true, DELIMITER ',')"

    def _list(self, files: list[Path]) -> str:
        return "[" + ", ".join(self.text(str(f)) for f in files) + "]"

    # -- text and time -------------------------------------------------------------------------
    def trimmed(self, expr: str) -> str:
        """Text without surrounding spaces, empty as NULL. Trimmed only where a space is there to
        trim: TRIM copies every value, and most need nothing (about 1 s per 2x10^7 records)."""
        text = f"CAST({expr} AS VARCHAR)"
        return (f"CASE WHEN starts_with({text}, ' ') OR ends_with({text}, ' ') THEN NULLIF(TRIM({text}), '') "
                f"ELSE NULLIF({text}, '') END")

    def local_time(self, expr: str, kind: str = "VARCHAR", formats: tuple[str, ...] = ()) -> str:
        """The one time parser: `expr` as a naive local timestamp in the session's zone
        (data.timezone). A typed timestamp stays as it is (with a zone: in the session's zone);
        text is parsed with or without an offset: without one it is local time, with one it is
        converted to local time. `formats` (strptime) are further naive forms to accept."""
        if kind.startswith("TIMESTAMP") or kind == "DATE":
            return f"CAST({expr} AS TIMESTAMP)"
        # 'YYYY-MM-DD HH:MM:SS' has no room for an offset: a plain cast gives the same local time
        # and skips the time-zone round trip (a third of CSV staging). Anything else may carry an
        # offset (a plain cast would drop it): parsed with the zone. The casts ignore spaces.
        text = f"CAST({expr} AS VARCHAR)"
        parsed = (f"CASE WHEN length({text}) = 19 AND {text}[14] = ':' AND {text}[17] = ':' "
                  f"THEN TRY_CAST({text} AS TIMESTAMP) ELSE CAST(TRY_CAST({text} AS TIMESTAMPTZ) AS TIMESTAMP) END")
        if not formats:
            return parsed
        return f"COALESCE({parsed}, {', '.join(f'try_strptime({text}, {self.text(f)})' for f in formats)})"

    def set_timezone(self, zone: str) -> str:
        """The statement making `zone` the session's: naive timestamps are local time there."""
        return f"SET TimeZone = {self.text(zone)}"

    def time_digits(self, ts: str) -> str:
        """A timestamp as YYYYMMDDHHMMSS text."""
        return f"strftime({ts}, '%Y%m%d%H%M%S')"

    def epoch_seconds(self, ts: str) -> str:
        """A naive timestamp as whole seconds since 1970-01-01 00:00 (a BIGINT, the floor: 08:00:00.9
        is 08:00:00), read as it stands, no zone."""
        return f"CAST(floor(epoch_us({ts}) / 1000000.0) AS BIGINT)"

    def micros_between(self, start: str, end: str) -> str:
        """The duration from `start` to `end` (timestamps) in integer microseconds: exact."""
        return f"(epoch_us({end}) - epoch_us({start}))"

    def seconds_between(self, start: str, end: str) -> str:
        """The duration from `start` to `end` (timestamps) in seconds, a double."""
        return f"(epoch({end}) - epoch({start}))"

    # -- words (the reasons a record is flagged, verifier.checks.record) ------------------------
    def joined(self, parts: list[str], sep: str) -> str:
        """The text parts (SQL) that are not NULL, joined by the literal `sep` ('' when none)."""
        return f"concat_ws({self.text(sep)}, {', '.join(parts)})" if parts else "''"

    def number_text(self, expr: str, digits: int) -> str:
        """A number as text, rounded (half away from zero) to `digits` decimals with trailing
        zeros dropped but one kept (1.5, 2.0, 1.235; 0 digits: an integer, no point), as
        DuckDB's VARCHAR cast writes the rounded value; 'nan', 'inf', '-inf'; beyond 10^15 in
        magnitude '>1e15' or '<-1e15' (a mileage no record can mean). The rounding is of x·10^d
        as a double (IEEE, the same on every engine), so a value a hair below a half may round
        up (1.2345 -> 1.235). Integer arithmetic only: the engines' own double-to-text casts
        differ (1000000000.0 against 1.0E9), this text does not, so a reason reads the same on
        every engine."""
        x = f"CAST({expr} AS DOUBLE)"
        scale = 10 ** int(digits)
        n = f"CAST(round({x} * {scale}) AS BIGINT)"
        a = f"abs({n})"
        whole = f"CAST(CAST(({a} - {a} % {scale}) / {scale} AS BIGINT) AS {self.types['text']})"
        body = whole if not digits else f"{whole} || '.' || {self._decimals(f'({a} % {scale})', int(digits))}"
        return (f"CASE WHEN {x} IS NULL THEN NULL WHEN {self.is_nan(x)} THEN 'nan' "
                f"WHEN NOT {self.finite(x)} THEN CASE WHEN {x} > 0 THEN 'inf' ELSE '-inf' END "
                f"WHEN {x} >= 1e15 THEN '>1e15' WHEN {x} <= -1e15 THEN '<-1e15' "
                f"ELSE (CASE WHEN {n} < 0 THEN '-' ELSE '' END) || {body} END")

    def _decimals(self, f: str, digits: int) -> str:
        """The decimals of the integer f (0 <= f < 10^digits) as text, trailing zeros dropped but
        one digit kept."""
        parts = []
        for kept in range(1, digits):  # the fewest digits that hold f exactly, first
            p = 10 ** (digits - kept)
            parts.append(f"WHEN {f} % {p} = 0 THEN lpad(CAST(CAST({f} / {p} AS BIGINT) AS {self.types['text']}), {kept}, '0')")
        last = f"lpad(CAST({f} AS {self.types['text']}), {digits}, '0')"
        return f"(CASE {' '.join(parts)} ELSE {last} END)" if parts else last

    def date_text(self, expr: str) -> str:
        """A date (or the date of a timestamp) as YYYY-MM-DD."""
        return f"strftime({expr}, '%Y-%m-%d')"

    def time_text(self, expr: str) -> str:
        """A timestamp as YYYY-MM-DD HH:MM:SS."""
        return f"strftime({expr}, '%Y-%m-%d %H:%M:%S')"

    # -- values --------------------------------------------------------------------------------
    def finite(self, expr: str) -> str:
        """True when the double `expr` is neither NaN nor ±inf (NULL stays NULL)."""
        return f"isfinite({expr})"

    def is_nan(self, expr: str) -> str:
        return f"isnan({expr})"

    def great_circle_km(self, lat1: str, lon1: str, lat2: str, lon2: str) -> str:
        """The haversine distance between two points in degrees (km), rounded to the millimetre
        (1e-6 km): sin, cos and asin are not correctly rounded in any maths library, and Java's
        (Spark) and C's (DuckDB) differ in the last bit on some points; rounded on a grid with
        IEEE operations only, both engines give the same double except where a value falls
        within one bit of a grid midpoint (about 1e-9 of 2 km lines, 4e-6 of 10,000 km ones)."""
        km = (f"2 * {EARTH_RADIUS_KM} * asin(sqrt(pow(sin(radians({lat2} - {lat1}) / 2), 2) + "
              f"cos(radians({lat1})) * cos(radians({lat2})) * pow(sin(radians({lon2} - {lon1}) / 2), 2)))")
        return f"(round({km} * 1e6) / 1e6)"

    def selection_key(self, seed: str, key: str) -> str:
        """The md5-rank key of a record: lower-case hex md5 of "<seed>:<key>" (contract section 3;
        verifier.sampling.selection_key is the Python reference)."""
        return f"md5(CAST({seed} AS VARCHAR) || ':' || CAST({key} AS VARCHAR))"

    def row_key(self, key: str, row_no: str) -> str:
        """The record key: `key`, else '#<row_no>'."""
        return f"coalesce({key}, '#' || CAST({row_no} AS VARCHAR))"

    # -- the passes after staging (verifier.data.sql_passes) -----------------------------------
    def overlap_windows(self, user: str, start: str, ends: str, row: str) -> tuple[str, str]:
        """The overlap rule's two window expressions, per `user` ordered by `start`: the latest
        `ends` among the records starting earlier (earlier_end: the frame without the current
        peer group), and the lowest `row` among the same-start records that are intervals
        (first_interval)."""
        return (f"max({ends}) OVER (PARTITION BY {user} ORDER BY {start} "
                f"RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE GROUP)",
                f"min({row}) FILTER (WHERE {ends} > {start}) OVER (PARTITION BY {user} ORDER BY {start} "
                f"RANGE BETWEEN CURRENT ROW AND CURRENT ROW)")

    def histogram_bin(self, value: str, width: float, cap: float | None) -> str:
        """The bin (floor(value / width)) of a finite double `value`; above `cap`, cap's bin."""
        capped = f"least({value}, {cap})" if cap is not None else value
        return f"floor({capped} / {width})"

    def nulls_last(self, expr: str) -> str:
        """An ORDER BY key with NULL after every value (DuckDB's default)."""
        return expr

    def group_and_order(self, groups: list[str], order: list[str]) -> str:
        """GROUP BY the `groups`, ordered by the output columns `order`, NULL last."""
        return "GROUP BY ALL ORDER BY ALL NULLS LAST"

    # -- aggregates ----------------------------------------------------------------------------
    def count_if(self, cond: str) -> str:
        return f"count_if({cond})"

    @staticmethod
    def exact_window(value):
        """The window sum (an integer, for exact.combine) from `exact_sum`'s value: itself."""
        return value

    def quantile(self, expr: str, q: float, where: str) -> str:
        """The interpolated quantile q of the finite values of expr where `where` holds."""
        return f"quantile_cont({expr}, {float(q)!r}) FILTER (WHERE ({where}) AND {self.finite(expr)})"

    def exact_sum(self, x: str, where: str | None = None) -> str:
        """Aggregate: the window part of the exact, order-independent sum of the double `x`
        (where `where` holds): the sum of x·2^64 over the window values, a 128-bit integer
        (verifier.data.exact). The values outside the window: `exact_rest_count`, `exact_rest`."""
        (term,) = self.exact_terms(x, "t").values()
        return self.exact_sum_of(f"({term})", where)

    def exact_terms(self, x: str, name: str) -> dict[str, str]:
        """Per-record columns (column name -> SQL) from which `exact_sum_of(name, where)` gives
        `exact_sum(x, where)`: for a pass with many totals of the same `x`, computed once in an
        inner projection (written inside each sum, the window test ran once per total)."""
        scaled = f"({x} * {2.0 ** exact.SCALE!r})"
        return {name: f"CASE WHEN {self._in_window(x)} THEN CAST({scaled} AS {self.int128}) END"}

    def exact_sum_of(self, name: str, where: str | None = None) -> str:
        """Aggregate: `exact_sum` over the columns `exact_terms(x, name)` made. The condition
        inside the sum: 30 totals with FILTER clauses took a third longer (a filtered copy of
        the input per aggregate)."""
        return f"sum(CASE WHEN {where} THEN {name} END)" if where else f"sum({name})"

    def exact_rest_count(self, x: str) -> str:
        """Aggregate: how many values of x are finite but outside the window (0 on clean data)."""
        return self.count_if(f"{self._finite_number(x)} AND NOT {self._in_window(x)}")

    def exact_rest(self, x: str, relation: str, sums: dict[str, str | None]) -> str:
        """A query: rows (s, one integer per name in `sums`), per binary scale s the exact sum of
        the mantissas m = x·2^-s of the finite values outside the window where the name's
        condition holds. x·2^-s is an integer: s = floor(log2|x|) - 60 is at most the exponent
        of x's lowest bit (log2 may be off by one near a power of two), and never below 2^-1074.
        The power of two is applied in two halves: 2^1074 alone is not a double."""
        e = "CAST(floor(log2(abs(v))) AS INTEGER)"
        half = "CAST(floor(-s / 2) AS INTEGER)"
        m = f"CAST(v * pow(2.0, {half}) * pow(2.0, -s - {half}) AS BIGINT)"
        conds = "".join(f", {cond or 'true'} AS w{i}" for i, cond in enumerate(sums.values()))
        parts = ", ".join(f"sum({m}) FILTER (WHERE w{i}) AS w{i}" for i in range(len(sums)))
        return (f"SELECT s, {parts} FROM ("
                f"SELECT v, greatest({e} - {exact.MANTISSA_BITS}, {exact.MIN_EXPONENT}) AS s{conds} FROM ("
                f"SELECT *, {x} AS v FROM {relation} WHERE {self._finite_number(x)} AND NOT {self._in_window(x)})) "
                f"GROUP BY s")

    def _finite_number(self, x: str) -> str:
        """x is a number: not NULL, NaN or ±inf (NaN compares above every number in DuckDB and
        Spark)."""
        return f"(abs({x}) <= {exact.MAX_FINITE})"

    def _in_window(self, x: str) -> str:
        scaled = f"({x} * {2.0 ** exact.SCALE!r})"
        return f"(abs({x}) < {exact.LIMIT!r} AND floor({scaled}) = {scaled})"

    def has_bits(self, expr: str, mask: int) -> str:
        """True when the integer `expr` has any bit of `mask` set (the boundary's inside bits)."""
        return f"(({expr} & {int(mask)}) > 0)"

    # -- tap pairing (taps) --------------------------------------------------------------------
    def read_as(self, col: str, column, kind: str = "VARCHAR") -> str:
        """The file column `col` (of the engine type `kind`; text: VARCHAR) read as the canonical
        `column` (methodologies.Column): a naive local time (`local_time`), a number (NULL where
        the text does not read as one; a typed column cast), or trimmed text (empty as NULL),
        lower-cased where declared. The one reading both engines stage with."""
        ident = self.ident(col)
        if column.kind == "time":
            return self.local_time(ident, kind)
        if column.kind == "number":
            return self.to_number(self.trimmed(ident)) if kind == "VARCHAR" else f"TRY_CAST({ident} AS DOUBLE)"
        return f"lower({self.trimmed(ident)})" if column.lower else self.trimmed(ident)

    def to_number(self, text: str) -> str:
        """Text (trimmed, or NULL) as a DOUBLE where it reads as one, else NULL (SparkDialect
        accepts exactly what DuckDB reads)."""
        return f"TRY_CAST({text} AS DOUBLE)"


DUCKDB = DuckDBDialect()
_ACTIVE: ContextVar = ContextVar("verifier_dialect", default=None)


class ActiveDialect:
    """The dialect of the engine in use (`using`), else DuckDB's: every attribute is read from it."""

    def __getattr__(self, name: str):
        return getattr(_ACTIVE.get() or DUCKDB, name)

    def current(self):
        return _ACTIVE.get() or DUCKDB


@contextmanager
def using(dialect):
    """Make `dialect` the active one (DIALECT) for the code run inside."""
    token = _ACTIVE.set(dialect)
    try:
        yield dialect
    finally:
        _ACTIVE.reset(token)


DIALECT = ActiveDialect()
