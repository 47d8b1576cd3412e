"""Text I/O shared by every input adapter: encodings, GBK transcoding, and the line-accurate
errors of CSV files the engine cannot read.

GBK files are transcoded to a UTF-8 copy in the work folder (DuckDB reads UTF-8 only without
extensions, which cannot be installed here); the input itself is never touched. When the engine
cannot read a CSV, `csv_read_error` names the real line and the cause, found in Python on the
failure path only (`locate_csv_problem`): the first line that is not UTF-8, longer than the
engine's line limit, holding the wrong number of fields, or opening a quote that never closes.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass
from pathlib import Path

from verifier.errors import InputError

# DuckDB's default max_line_size (read_csv): a longer line is an error (named by the message,
# else this). Lines are measured in bytes, without the line break.
MAX_LINE_BYTES = 2_000_000
DELIMITERS = (",", "\t", ";", "|")
CHUNK = 1 << 22  # transcoding reads this many bytes at a time
_UTF8 = {"utf-8", "utf8", "utf-8-sig", "utf8-sig"}
_GBK = {"gbk", "cp936", "gb2312", "gb18030"}


def encoding_name(encoding: str | None) -> str | None:
    """utf-8 or gbk for the names of either (a BOM is read either way); None for another."""
    enc = (encoding or "utf-8").strip().lower().replace("_", "-")
    return "utf-8" if enc in _UTF8 else "gbk" if enc in _GBK else None


def transcode_gbk(src: Path, dst: Path, field_name: str = "data.encoding", at_byte: bool = False) -> Path:
    """Stream a GBK file (decoded as its superset GB18030) into the UTF-8 copy `dst`, chunk by
    chunk; InputError naming the line (`at_byte`: and the byte offset) of the first bad byte."""
    decoder = codecs.getincrementaldecoder("gb18030")()
    line, offset = 1, 0
    with src.open("rb") as fin, dst.open("w", encoding="utf-8", newline="") as fout:
        while chunk := fin.read(CHUNK):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = line + chunk[: max(exc.start, 0)].count(b"\n")
                where = f"line {bad}, byte {offset + max(exc.start, 0)}" if at_byte else f"line {bad}"
                raise InputError(src, field_name, f"not GBK ({where}); is the file UTF-8?") from None
            line += text.count("\n")
            offset += len(chunk)
            fout.write(text)
        fout.write(decoder.decode(b"", final=True))
    return dst


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


def csv_to_parquet(src: Path | list[Path], dst: Path, *, comma: bool = False, select=None,
                   row_column: str = "row_in_file", reading=None, workdir: Path | None = None) -> int:
    """Write the UTF-8 CSV file `src` (a GBK file is transcoded first; a list: files read as one,
    as DIALECT.scan_csv reads them) as the Parquet file `dst`, in file order: every column as
    text, or the select list `select(header)` builds from the header's column names (DuckDB SQL
    over the CSV's columns), plus `row_column`, the 1-based data row (header excluded; for a list,
    numbered across the files in order). Returns the rows written.

    Read by a throw-away DuckDB connection whatever the engine: the CSV reader, its dialect and
    its errors are the same everywhere (Spark has no row numbers for CSV). `row_number() OVER ()`
    runs on one thread in input order (DuckDB's streaming window), so the row is the file's. A
    file DuckDB cannot read is `reading.read_error(exc)` (the real line and cause), a full disk
    or memory the machine's EnvironmentFailure; `workdir` holds the spill files."""
    import duckdb

    from verifier.data.dialect import DUCKDB
    from verifier.data.duckdb_engine import environment_failure, interruptible

    scan = DUCKDB.scan_csv([src] if isinstance(src, Path) else list(src), comma=comma)
    con = duckdb.connect(config={"memory_limit": "1GB", **({"temp_directory": str(workdir)} if workdir else {})})
    try:
        with interruptible():  # Ctrl-C is KeyboardInterrupt, not the file's fault
            header = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()]
            cols = select(header) if select is not None else ", ".join(DUCKDB.ident(c) for c in header)
            rows = con.execute(f"COPY (SELECT {cols}, row_number() OVER () AS {DUCKDB.ident(row_column)} FROM {scan}) "
                               f"TO {DUCKDB.text(dst)} (FORMAT parquet)").fetchall()
        return int(rows[0][0]) if rows else 0
    except duckdb.Error as exc:
        if (failure := environment_failure(exc)) is not None:
            raise failure from None
        if reading is None:
            raise
        raise reading.read_error(exc) from None
    finally:
        con.close()
