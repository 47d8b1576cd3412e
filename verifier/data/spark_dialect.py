"""Spark SQL: what the Spark engine (verifier.data.spark_engine) spells differently from DuckDB.

Every method of DuckDBDialect the checks, methodologies and adapters call has its Spark form here
when the DuckDB form does not run on Spark or means something else there (measured facts in
/work/shared/domain/stack-facts.md and issue 13): identifiers in backticks, string literals
with backslashes escaped, DECIMAL(38,0) for the exact sums' 128-bit integer, durations in
integer microseconds (epoch() is whole seconds on Spark), try_cast under ANSI mode.

Naive times are TIMESTAMP_NTZ (the session's spark.sql.timestampType, so a plain TIMESTAMP is
naive as on DuckDB). Text is read as DuckDB reads it: where Spark's casts accept more (a number
'1.5d' or '0x1p3', which Java parses) the text is first matched against the forms DuckDB
accepts (tests/test_spark_engine.py compares both engines on odd values).
"""

from __future__ import annotations

from pathlib import Path

from verifier.data import exact
from verifier.data.dialect import DuckDBDialect

# The numbers DuckDB reads from text: decimal and scientific notation with single underscores
# between digits ('1_000.5'), nan and inf(inity) in any case, surrounding white space; Spark's
# cast (Java's parser) also takes '1.5d', '1.5f', '0x1p3' and no underscores.
_DIGITS = "[0-9]+(_[0-9]+)*"
_NUMBER = (rf"^\\s*[+-]?((({_DIGITS})(\\.({_DIGITS})?)?|\\.{_DIGITS})([eE][+-]?{_DIGITS})?|(?i:nan|inf|infinity))\\s*$")
# The timestamps DuckDB reads from text that Spark's casts read the same way once normalised
# (`_normal_time`): an ISO date with 1-2 digit month and day, then optionally [T ]h:mm[:ss[.
# fraction]] and an offset (Z, ±hh, ±hh:mm, ±hhmm) right after it or a region zone after a
# space (' Asia/Tokyo').
_ZONE = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?| [A-Za-z]+/[A-Za-z_]+(/[A-Za-z_]+)?)"
_TIMESTAMP = (r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
              rf"([T ][0-9]{{1,2}}:[0-9]{{2}}(:[0-9]{{2}}(\\.[0-9]*)?)?{_ZONE}?)?$")
_PLAIN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-9]{2}$"  # most values: one cast
_OFFSET = rf"[T ][0-9:.]+{_ZONE}$"
_MIDNIGHT = r"^([0-9-]+[T ])24:00(:00(\\.0*)?)?"  # DuckDB reads 24:00 as the next day's 00:00
_EPOCH = "TIMESTAMP_NTZ '1970-01-01 00:00:00'"


# -- aggregates ---------------------------------------------------------------------------------
# Spark has count_if, FILTER clauses on aggregates, `&` and GROUPING SETS as DuckDB spells them
# (count_if, has_bits stay DuckDB's). What differs: floor() of a double is a BIGINT (it raises
# past 2^63 under ANSI), a double cast to DECIMAL goes through its shortest decimal text (not
# exact past 2^53), and the quantile is `percentile`.
HI_SHIFT = 33  # exact_sum's split: x·2^64 = hi·2^33 + lo
# The mantissa expression of DuckDBDialect.exact_rest (its sums are rewritten as DECIMAL sums)
_MANTISSA = ("CAST(v * pow(2.0, CAST(floor(-s / 2) AS INTEGER)) * pow(2.0, -s - CAST(floor(-s / 2) AS INTEGER)) "
             "AS BIGINT)")


class SparkAggregates:
    """The aggregate forms of SparkDialect (its first base: a method SparkDialect defines itself
    would win, so each name is defined in one of the two only)."""

    def quantile(self, expr: str, q: float, where: str) -> str:
        """The interpolated quantile q of the finite values of expr where `where` holds
        (percentile: exact linear interpolation at (n - 1)·q, as DuckDB's quantile_cont)."""
        return f"percentile({expr}, {float(q)!r}) FILTER (WHERE ({where}) AND {self.finite(expr)})"

    def exact_sum(self, x: str, where: str | None = None) -> str:
        """Aggregate: the window part of the exact sum of x (verifier.data.exact), as text
        '<hi>:<lo>' (NULL with no value), the window sum being hi·2^33 + lo: `exact_window`.

        x·2^64 (below 2^96) cannot pass through DECIMAL exactly (the cast reads the double's
        shortest text), so it is split into two exact BIGINTs: hi = floor(x·2^31) (|hi| < 2^63)
        and lo = frac(x·2^31)·2^33 (0 <= lo < 2^33, an integer in the window), each summed as
        DECIMAL(38,0): no overflow below 10^19 records; hi·2^33 + lo is added in Python (it may
        pass 38 digits)."""
        v = f"({x} * {2.0 ** (exact.SCALE - HI_SHIFT)!r})"
        hi = f"CAST(floor({v}) AS BIGINT)"
        lo = f"CAST(({v} - floor({v})) * {2.0 ** HI_SHIFT!r} AS BIGINT)"
        cond = f"({where}) AND {self._in_window(x)}" if where else self._in_window(x)
        part = f"sum(CAST(CASE WHEN {cond} THEN {{}} END AS {self.int128}))"
        return f"concat(CAST({part.format(hi)} AS STRING), ':', CAST({part.format(lo)} AS STRING))"

    def exact_terms(self, x: str, name: str) -> dict[str, str]:
        """`exact_sum`'s two parts per record (hi and lo; NULL outside the window), for
        `exact_sum_of` (DuckDBDialect.exact_terms)."""
        v = f"({x} * {2.0 ** (exact.SCALE - HI_SHIFT)!r})"
        hi = f"CAST(floor({v}) AS BIGINT)"
        lo = f"CAST(({v} - floor({v})) * {2.0 ** HI_SHIFT!r} AS BIGINT)"
        return {f"{name}_{part}": f"CASE WHEN {self._in_window(x)} THEN {sql} END" for part, sql in (("hi", hi), ("lo", lo))}

    def exact_sum_of(self, name: str, where: str | None = None) -> str:
        """`exact_sum`'s text '<hi>:<lo>' over the columns `exact_terms(x, name)` made."""
        filt = f" FILTER (WHERE {where})" if where else ""
        part = f"sum(CAST({{}} AS {self.int128})){filt}"
        return f"concat(CAST({part.format(name + '_hi')} AS STRING), ':', CAST({part.format(name + '_lo')} AS STRING))"

    @staticmethod
    def exact_window(value) -> int | None:
        """The window sum (an integer, for exact.combine) from `exact_sum`'s text."""
        if value is None:
            return None
        hi, lo = str(value).split(":")
        return (int(hi) << HI_SHIFT) + int(lo)

    def exact_rest(self, x: str, relation: str, sums: dict[str, str | None]) -> str:
        """DuckDB's query (DuckDBDialect.exact_rest) with the mantissas summed as DECIMAL(38,0)
        (a BIGINT sum raises past 2^63 under ANSI; DuckDB's sum of BIGINT is a HUGEINT)."""
        sql = DuckDBDialect.exact_rest(self, x, relation, sums)
        decimal = sql.replace(f"sum({_MANTISSA})", f"sum(CAST({_MANTISSA} AS {self.int128}))")
        if decimal.count(self.int128) != len(sums):
            raise AssertionError("DuckDBDialect.exact_rest changed: update SparkAggregates.exact_rest")
        return decimal

    def _in_window(self, x: str) -> str:
        # floor(x·2^64) is a BIGINT on Spark (raises past 2^63): "an integer" as a zero remainder
        scaled = f"({x} * {2.0 ** exact.SCALE!r})"
        return f"(abs({x}) < {exact.LIMIT!r} AND {scaled} % 1 = 0)"


class SparkDialect(SparkAggregates, DuckDBDialect):
    name = "spark"
    int128 = "DECIMAL(38,0)"
    types = {"text": "STRING", "time": "TIMESTAMP_NTZ", "number": "DOUBLE"}

    # -- names and literals --------------------------------------------------------------------
    def ident(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def text(self, value: str | Path) -> str:
        # Spark reads backslash escapes inside string literals: both quote and backslash escaped.
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"

    def values(self, rows: list[tuple], names: tuple[str, ...]) -> str:
        def lit(v):
            return self.text(v) if isinstance(v, str) else self.number(v)

        body = ", ".join("(" + ", ".join(lit(v) for v in row) + ")" for row in rows)
        return f"(SELECT * FROM VALUES {body} AS v({', '.join(names)}))"

    # -- reading files (the engine registers its scans as views: verifier.data.spark_engine) -----
    def scan_parquet(self, files: list[Path]) -> str:
        """One Parquet file or folder with file_row_number (0-based, as DuckDB's)."""
        if len(files) != 1:
            raise NotImplementedError("Spark SQL scans one path; the engine registers a view for several files")
        return f"(SELECT *, _metadata.row_index AS file_row_number FROM parquet.{self.ident(str(files[0]))})"

    def key_hash(self, exprs: list[str]) -> str:
        return f"xxhash64({', '.join(exprs)})"

    def indexed_parquet(self, paths: list[Path]) -> str:
        return "(" + " UNION ALL ".join(f"SELECT *, {i} AS file_index FROM parquet.{self.ident(str(p))}"
                                        for i, p in enumerate(paths)) + ")"

    def set_timezone(self, zone: str) -> str:
        return f"SET TIME ZONE {self.text(zone)}"

    # -- text and time -------------------------------------------------------------------------
    def trimmed(self, expr: str) -> str:
        text = f"CAST({expr} AS STRING)"
        return (f"CASE WHEN startswith({text}, ' ') OR endswith({text}, ' ') THEN NULLIF(TRIM({text}), '') "
                f"ELSE NULLIF({text}, '') END")

    def to_number(self, text: str) -> str:
        """Trimmed text (or NULL) as a DOUBLE where DuckDB's TRY_CAST reads one, else NULL."""
        return f"CASE WHEN {text} RLIKE '{_NUMBER}' THEN try_cast(replace({text}, '_', '') AS DOUBLE) END"

    def local_time(self, expr: str, kind: str = "VARCHAR", formats: tuple[str, ...] = ()) -> str:
        if kind.startswith("TIMESTAMP") or kind == "DATE":
            return f"CAST({expr} AS TIMESTAMP_NTZ)"
        if formats:
            raise NotImplementedError("strptime formats on Spark")
        raw = f"CAST({expr} AS STRING)"
        text = self._normal_time(raw)
        # Without an offset a naive cast; with one, read as an instant (TIMESTAMP_LTZ) and shown
        # in the session's zone.
        shifted = f"regexp_replace({text}, '{_MIDNIGHT}', '$100:00:00')"
        parsed = (f"CASE WHEN {text} RLIKE '{_OFFSET}' THEN CAST(try_cast({shifted} AS TIMESTAMP_LTZ) AS TIMESTAMP_NTZ) "
                  f"ELSE try_cast({shifted} AS TIMESTAMP_NTZ) END")
        return (f"CASE WHEN {raw} RLIKE '{_PLAIN}' THEN try_cast({raw} AS TIMESTAMP_NTZ) "
                f"WHEN NOT {text} RLIKE '{_TIMESTAMP}' THEN NULL "
                f"WHEN {text} RLIKE '{_MIDNIGHT}' THEN {parsed} + INTERVAL 1 DAY ELSE {parsed} END")

    @staticmethod
    def _normal_time(raw: str) -> str:
        """Time text as Spark's casts read it: without surrounding white space, the date's
        slashes as dashes (DuckDB reads 2024/3/1), white space before the time one space."""
        text = f"regexp_replace({raw}, '^\\\\s+|\\\\s+$', '')"
        text = f"regexp_replace({text}, '^([0-9]{{4}})/([0-9]{{1,2}})/([0-9]{{1,2}})', '$1-$2-$3')"
        return f"regexp_replace({text}, '^([0-9-]+)\\\\s+', '$1 ')"

    def time_digits(self, ts: str) -> str:
        return f"date_format({ts}, 'yyyyMMddHHmmss')"

    def _epoch_us(self, ts: str) -> str:
        """A naive timestamp as microseconds since 1970-01-01 00:00 (DuckDB's epoch_us: no zone)."""
        return f"timestampdiff(MICROSECOND, {_EPOCH}, {ts})"

    def epoch_seconds(self, ts: str) -> str:
        return f"CAST(floor({self._epoch_us(ts)} / 1000000.0D) AS BIGINT)"

    def micros_between(self, start: str, end: str) -> str:
        return f"({self._epoch_us(end)} - {self._epoch_us(start)})"

    def seconds_between(self, start: str, end: str) -> str:
        # DuckDB: epoch(end) - epoch(start), each a double of seconds (the same roundings).
        return f"({self._epoch_us(end)} / 1000000.0D - {self._epoch_us(start)} / 1000000.0D)"

    def date_text(self, expr: str) -> str:
        return f"date_format({expr}, 'yyyy-MM-dd')"

    def time_text(self, expr: str) -> str:
        return f"date_format({expr}, 'yyyy-MM-dd HH:mm:ss')"

    # -- values --------------------------------------------------------------------------------
    def finite(self, expr: str) -> str:
        # NaN compares above every number in Spark: false for NaN and ±inf, NULL for NULL.
        return f"(abs({expr}) < CAST('Infinity' AS DOUBLE))"

    def is_nan(self, expr: str) -> str:
        # Spark's isnan(NULL) is false; DuckDB's is NULL.
        return f"CASE WHEN {expr} IS NOT NULL THEN isnan({expr}) END"

    def selection_key(self, seed: str, key: str) -> str:
        return f"md5(CAST({seed} AS STRING) || ':' || CAST({key} AS STRING))"

    def row_key(self, key: str, row_no: str) -> str:
        return f"coalesce({key}, '#' || CAST({row_no} AS STRING))"

    # -- the passes after staging (verifier.data.sql_passes) -----------------------------------
    def overlap_windows(self, user: str, start: str, ends: str, row: str) -> tuple[str, str]:
        """As DuckDBDialect.overlap_windows. Spark has no EXCLUDE GROUP and no FILTER on window
        aggregates: the earlier records are the frame RANGE BETWEEN UNBOUNDED PRECEDING AND 1
        PRECEDING over the start in integer microseconds (the same set: every record starting
        earlier), the same-start intervals a CASE inside min() over the peers."""
        same_user = f"PARTITION BY {user} ORDER BY {self._epoch_us(start)}"
        return (f"max({ends}) OVER ({same_user} RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)",
                f"min(CASE WHEN {ends} > {start} THEN {row} END) OVER ({same_user} "
                f"RANGE BETWEEN CURRENT ROW AND CURRENT ROW)")

    def histogram_bin(self, value: str, width: float, cap: float | None) -> str:
        """As DuckDBDialect.histogram_bin, floor() as a double (Spark's floor is a BIGINT, which
        raises past 2^63: every double that large is an integer already)."""
        capped = f"least({value}, {self.double(cap)})" if cap is not None else value
        q = f"({capped} / {self.double(width)})"
        return f"CASE WHEN abs({q}) < {2.0 ** 52!r} THEN CAST(floor({q}) AS DOUBLE) ELSE {q} END"

    def nulls_last(self, expr: str) -> str:
        return f"{expr} NULLS LAST"  # Spark's default is NULLS FIRST

    def group_and_order(self, groups: list[str], order: list[str]) -> str:
        # GROUP BY ALL spelled out; NULLS LAST, Spark's default is first
        return f"GROUP BY {', '.join(groups)}\n            ORDER BY {', '.join(self.nulls_last(o) for o in order)}"


SPARK = SparkDialect()
