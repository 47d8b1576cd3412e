"""Parquet trip files (one file or a folder of files, in name order): typed columns as stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from verifier.data.dialect import DIALECT
from verifier.data.sources.base import TripSource
from verifier.data.sources.text import duckdb_reason
from verifier.errors import InputError


class ParquetSource(TripSource):
    kind = "parquet"

    @classmethod
    def prepare(cls, files: list[Path], declared: list[Path], encoding: str, workdir: Path,
                field_name: str) -> ParquetSource:
        return cls(files=files, declared=declared, field_name=field_name)

    def scan_sql(self) -> str:
        return self.relation or DIALECT.scan_parquet(self.files)

    def row_no_sql(self, engine) -> str:
        if self.relation:
            return self.RELATION_ROW_NO
        if len(self.files) == 1:
            return "(file_row_number + 1)"
        # The offset of the file plus the row inside it: file order without a sort.
        counts = engine.parquet_counts(self.files)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int).tolist()
        return f"(list_extract({offsets}, CAST(file_index AS INTEGER) + 1) + file_row_number + 1)"

    def read_error(self, exc: Exception) -> InputError:
        return InputError(self.declared[0], self.field_name, f"cannot be read: {duckdb_reason(exc)}")
