"""The interface of a trip file adapter: which files, in which order, which column is which, how
the engine scans them and what a failure to read them means."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from verifier.errors import InputError, quoted


@dataclass
class TripSource:
    """Trip records in files of one kind (CSV, Parquet); the subclasses say how to scan them."""

    files: list[Path]  # in record order (name order for a folder)
    declared: list[Path]  # the paths as named by the report, for messages and hashes
    columns: list[str] = field(default_factory=list)  # the file's column names
    types: dict[str, str] = field(default_factory=dict)  # column -> engine type
    field_name: str = "data.trips"
    # The engine's own scan of the files, when it has one (Spark: a view with the record
    # number, registered by `describe`); else the dialect's table function.
    relation: str | None = None
    kind = ""  # "csv" | "parquet"

    def scan_sql(self) -> str:
        """The files as one relation (the dialect's table function)."""
        raise NotImplementedError

    def row_no_sql(self, engine) -> str | None:
        """The 1-based record number over the scan in file order; None: the engine numbers the
        records as it stores them (CSV has no row number column)."""
        raise NotImplementedError

    # The record number column of an engine's own scan (`relation`).
    RELATION_ROW_NO = "__row_no"

    def read_error(self, exc: Exception) -> InputError:
        """The InputError for files the engine failed to read (at DESCRIBE or at staging)."""
        raise NotImplementedError

    def check_columns(self) -> None:
        """InputError when the column names show the file was not read as meant."""

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
