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


class SparkDialect(DuckDBDialect):
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

    def micros_between(self, start: str, end: str) -> str:
        return f"({self._epoch_us(end)} - {self._epoch_us(start)})"

    def seconds_between(self, start: str, end: str) -> str:
        # DuckDB: epoch(end) - epoch(start), each a double of seconds (the same roundings).
        return f"({self._epoch_us(end)} / 1000000.0D - {self._epoch_us(start)} / 1000000.0D)"

    def number_text(self, expr: str, digits: int) -> str:
        if digits == 0:
            return f"CAST(CAST(round({expr}) AS BIGINT) AS STRING)"
        return f"CAST(round({expr}, {int(digits)}) AS STRING)"

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


SPARK = SparkDialect()
