"""Trip files as DuckDB scans: which files, in which order, and which file column is which.

A CSV is read with every column as text (the engine casts and judges each value, so one bad
cell is a finding on its record, not a crash); Parquet keeps its types. GBK files are transcoded
to a UTF-8 copy in the work folder (DuckDB reads UTF-8 only without extensions, which cannot be
installed here); the input itself is never touched.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from verifier.errors import InputError


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
                mapped = f" (mapped from '{wanted}')" if name in column_map else ""
                raise InputError(self.declared[0], f"{self.field_name}: column {name}{mapped}",
                                 f"column '{wanted}' not found; the file has: {', '.join(self.columns)}")
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
        raise InputError(source.declared[0], source.field_name, f"cannot be read: {_first_line(exc)}") from None
    finally:
        con.close()
    return {r[0]: r[1] for r in rows if r[0] not in ("filename", "file_row_number")}


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
                raise InputError(path, "data.encoding", "not valid GBK text (file line number)", row=bad) from None
            line += text.count("\n")
            dst.write(text)
        dst.write(decoder.decode(b"", final=True))
    return out


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
