"""Trip files as DuckDB scans: which files, in which order, and which file column is which.

A CSV is read with every column as text (the engine casts and judges each value, so one bad
cell is a finding on its record, not a crash); Parquet keeps its types. GBK files are transcoded
to a UTF-8 copy in the work folder (DuckDB reads UTF-8 only without extensions, which cannot be
installed here); the input itself is never touched.

When DuckDB cannot read a CSV, `read_error` (and `csv_read_error`, for the tap reader) names
the real line and the cause, found in Python on the failure path only (`locate_csv_problem`):
the first line that is not UTF-8, longer than DuckDB's line limit, holding the wrong number of
fields, or opening a quote that never closes.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from verifier.errors import InputError, quoted

# DuckDB's default max_line_size (read_csv): a longer line is an error (named by the message,
# else this). Lines are measured in bytes, without the line break.
MAX_LINE_BYTES = 2_000_000
DELIMITERS = (",", "\t", ";", "|")


def sql_str(value: str | Path) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class TripSource:
    kind: str  # "csv" | "parquet"
    files: list[Path]  # in record order (name order for a folder)
    declared: list[Path]  # the paths as named by the report, for messages and hashes
    columns: list[str] = field(default_factory=list)  # the file's column names
    types: dict[str, str] = field(default_factory=dict)  # column -> DuckDB type
    field_name: str = "data.trips"

    def scan_sql(self) -> str:
        files = "[" + ", ".join(sql_str(f) for f in self.files) + "]"
        if self.kind == "csv":
            return f"read_csv({files}, header=true, all_varchar=true, auto_detect=true)"
        return f"read_parquet({files}, filename=true, file_row_number=true)"

    def resolve(self, column_map: dict[str, str], canonical: tuple[str, ...],
                required: tuple[str, ...]) -> dict[str, str | None]:
        """canonical name -> file column (None when absent); InputError for a required or
        explicitly mapped column that the file does not have."""
        by_lower = {c.lower(): c for c in self.columns}
        out: dict[str, str | None] = {}
        for name in canonical:
            wanted = column_map.get(name, name)
            found = wanted if wanted in self.columns else by_lower.get(wanted.lower())
            if found is None and (name in required or name in column_map):
                mapped = f" (mapped from {quoted(wanted, 80)})" if name in column_map else ""
                has = ", ".join(quoted(c, 80) for c in self.columns[:30]) + (", ..." if len(self.columns) > 30 else "")
                raise InputError(self.declared[0], f"{self.field_name}: column {name}{mapped}",
                                 f"column {quoted(wanted, 80)} not found; the file has: {has}")
            out[name] = found
        return out


def open_source(paths: list[Path], encoding: str, workdir: Path, field_name: str = "data.trips") -> TripSource:
    """Classify the named file(s), transcode GBK CSV, and read the column names."""
    files: list[Path] = []
    kinds: set[str] = set()
    for path in paths:
        if path.is_dir():
            parts = sorted(p for p in path.iterdir() if p.suffix.lower() == ".parquet")
            if not parts:
                raise InputError(path, field_name, "folder holds no .parquet files")
            files += parts
            kinds.add("parquet")
        elif path.suffix.lower() == ".parquet":
            files.append(path)
            kinds.add("parquet")
        elif path.suffix.lower() in (".csv", ".txt"):
            files.append(path)
            kinds.add("csv")
        else:
            raise InputError(path, field_name, "unsupported file type; use .csv, .parquet or a folder of .parquet files")
    if len(kinds) > 1:
        raise InputError(paths[0], field_name, "mixes CSV and Parquet files")
    kind = kinds.pop()
    if kind == "csv" and encoding == "gbk":
        files = [_transcode(f, workdir) for f in files]
    source = TripSource(kind=kind, files=files, declared=list(paths), field_name=field_name)
    source.types = _columns(source)
    source.columns = list(source.types)
    return source


def _columns(source: TripSource) -> dict[str, str]:
    con = duckdb.connect()
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {source.scan_sql()}").fetchall()
    except duckdb.Error as exc:
        raise read_error(source, exc) from None
    finally:
        con.close()
    columns = {r[0]: r[1] for r in rows if r[0] not in ("filename", "file_row_number")}
    if source.kind == "csv" and len(columns) == 1 and any(d in next(iter(columns)) for d in DELIMITERS):
        # The sniffer found no consistent dialect and read each line as one column: a line
        # with the wrong number of fields, most likely. Name it when it is there.
        if found := _first_problem(zip(source.declared, source.files)):
            raise _problem_error(found[0], source.field_name, found[1]) from None
    return columns


def _transcode(path: Path, workdir: Path) -> Path:
    """Stream a GBK file into a UTF-8 copy; InputError naming the line of the first bad byte."""
    out = workdir / f"{path.stem}.{abs(hash(str(path)))}.utf8.csv"
    decoder = codecs.getincrementaldecoder("gb18030")()  # GB18030 is the superset of GBK
    line = 1
    with path.open("rb") as src, out.open("w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(1 << 22):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = line + chunk[: max(exc.start, 0)].count(b"\n")
                raise InputError(path, "data.encoding", f"not GBK (line {bad}); is the file UTF-8?") from None
            line += text.count("\n")
            dst.write(text)
        dst.write(decoder.decode(b"", final=True))
    return out


@dataclass
class CsvProblem:
    kind: str  # "utf8" | "long_line" | "fields" | "quote"
    line: int  # 1-based line of the file (the header is line 1)
    message: str  # says the line and the cause


def locate_csv_problem(path: Path, max_line: int = MAX_LINE_BYTES) -> CsvProblem | None:
    """The first line of a CSV file that DuckDB cannot read, and why: not UTF-8, longer than
    `max_line` bytes, another number of fields than the header, or an unterminated quote.
    None when none is found. Reads the whole file in Python: for the failure path only."""
    with open(path, "rb") as fh:  # 1: bytes (line length, UTF-8), memory bounded by max_line
        line = 0
        while True:
            raw = fh.readline(max_line + 3)
            if not raw:
                break
            line += 1
            body = raw.rstrip(b"\r\n")
            if len(body) > max_line:
                return CsvProblem("long_line", line, f"line {line} is longer than {max_line:,} bytes")
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                return CsvProblem("utf8", line, f"not UTF-8 (line {line}); set data.encoding: gbk?")
    with open(path, encoding="utf-8-sig", newline="") as fh:  # 2: records (fields, quotes)
        header = fh.readline()
        delimiter = max(DELIMITERS, key=header.count)
        fh.seek(0)
        if header.startswith("\ufeff"):
            fh.read(1)
        reader = csv.reader(fh, delimiter=delimiter)
        expected, start, spanning = None, 1, None
        try:
            for row in reader:
                end, first = reader.line_num, start
                start = end + 1
                if not row:
                    continue
                if expected is None:
                    expected = len(row)
                    continue
                multiline = end > first and any("\n" in cell or "\r" in cell for cell in row)
                if len(row) != expected:
                    if multiline and next(reader, None) is None:
                        return CsvProblem("quote", first, f"line {first} opens a quote that is never closed")
                    return CsvProblem("fields", first, f"line {first} has {len(row)} fields; the header has {expected}")
                if multiline and spanning is None:
                    spanning = first
        except csv.Error as exc:  # a field beyond csv's size limit: a quote left open, most likely
            return CsvProblem("quote", start, f"line {start}: {exc} (a quote never closed?)")
    if spanning is not None:  # nothing else wrong: the quote opened there closes on a later line
        return CsvProblem("quote", spanning, f"line {spanning} opens a quote that does not close on that line")
    return None


def _problem_error(shown: Path, field_name: str | None, problem: CsvProblem, prefix: str = "cannot be read: ",
                   utf8_field: str | None = None, utf8_hint: str | None = None) -> InputError:
    if problem.kind == "utf8":
        message = problem.message if utf8_hint is None else f"not UTF-8 (line {problem.line}); {utf8_hint}"
        return InputError(shown, utf8_field or field_name, message)
    return InputError(shown, field_name, prefix + problem.message)


def _first_problem(files, max_line: int = MAX_LINE_BYTES) -> tuple[Path, CsvProblem] | None:
    """(the file as named, its problem) for the first of (shown, actual) files whose problem
    Python finds; None when it finds none."""
    for shown, actual in files:
        try:
            problem = locate_csv_problem(actual, max_line)
        except OSError:
            continue
        if problem:
            return shown, problem
    return None


def csv_read_error(files: list[tuple[Path, Path]], field_name: str | None, exc: Exception, *,
                   prefix: str = "cannot be read: ", utf8_field: str | None = None,
                   utf8_hint: str | None = None) -> InputError:
    """The InputError for CSV files DuckDB failed to read, given as (shown, actual) pairs (`actual`
    is the file read, `shown` the one the user named, e.g. the GBK original of a UTF-8 copy): the
    real line and cause when Python finds it, else DuckDB's own words (without the line it quotes)."""
    if found := _first_problem(files, _line_limit(exc)):
        return _problem_error(found[0], field_name, found[1], prefix, utf8_field, utf8_hint)
    shown = files[0][0]
    if _says_not_utf8(exc):  # DuckDB found what Python did not: its words, as an encoding error
        return InputError(shown, utf8_field or field_name,
                          f"not UTF-8; {utf8_hint or 'set data.encoding: gbk?'} ({duckdb_reason(exc)})")
    return InputError(shown, field_name, prefix + duckdb_reason(exc))


def _says_not_utf8(exc: Exception) -> bool:
    text = str(exc).lower()
    return "invalid unicode" in text or "not utf-8 encoded" in text


def read_error(source: TripSource | None, exc: Exception) -> InputError:
    """The InputError for a trip source (data.trips, data.users, data.station_distances) that
    DuckDB failed to read, at DESCRIBE or at staging; `source` None: the staged tap records."""
    if source is None:
        return InputError("taps", "data.taps", f"cannot be read: {duckdb_reason(exc)}")
    if source.kind == "csv":
        return csv_read_error(list(zip(source.declared, source.files)), source.field_name, exc)
    return InputError(source.declared[0], source.field_name, f"cannot be read: {duckdb_reason(exc)}")


def _line_limit(exc: Exception) -> int:
    limit = re.search(r"Maximum line size of (\d+) bytes", str(exc))
    return int(limit.group(1)) if limit else MAX_LINE_BYTES


def duckdb_reason(exc: Exception, limit: int = 300) -> str:
    """DuckDB's message in one line: its first paragraph; for a CSV error the line naming the
    error and the cause, without the file's content it quotes ("Original Line: ...", which may
    run over several lines); at most `limit` characters."""
    paragraph: list[str] = []
    for line in str(exc).strip().splitlines():
        if line.strip():
            paragraph.append(line.strip())
        elif paragraph:
            break
    if len(paragraph) > 2 and paragraph[1].startswith("Original Line"):
        paragraph = [paragraph[0], paragraph[-1]]
    reason = "; ".join(paragraph) or type(exc).__name__
    return reason if len(reason) <= limit else reason[: limit - 3] + "..."
