"""CSV trip files: read with every column as text (the engine casts and judges each value, so
one bad cell is a finding on its record, not a crash); GBK transcoded to a UTF-8 copy first."""

from __future__ import annotations

from pathlib import Path

from verifier.data.dialect import DIALECT
from verifier.data.sources.base import TripSource
from verifier.data.sources.text import DELIMITERS, _first_problem, _problem_error, csv_read_error, transcode_gbk
from verifier.errors import InputError


class CsvSource(TripSource):
    kind = "csv"

    @classmethod
    def prepare(cls, files: list[Path], declared: list[Path], encoding: str, workdir: Path,
                field_name: str) -> CsvSource:
        if encoding == "gbk":
            files = [transcode_gbk(f, workdir / f"{f.stem}.{abs(hash(str(f)))}.utf8.csv") for f in files]
        return cls(files=files, declared=declared, field_name=field_name)

    def scan_sql(self) -> str:
        return self.relation or DIALECT.scan_csv(self.files)

    def row_no_sql(self, engine) -> str | None:
        return self.RELATION_ROW_NO if self.relation else None

    def read_error(self, exc: Exception) -> InputError:
        return csv_read_error(list(zip(self.declared, self.files)), self.field_name, exc)

    def check_columns(self) -> None:
        if len(self.columns) == 1 and any(d in self.columns[0] for d in DELIMITERS):
            # The sniffer found no consistent dialect and read each line as one column: a line
            # with the wrong number of fields, most likely. Name it when it is there.
            if found := _first_problem(zip(self.declared, self.files)):
                raise _problem_error(found[0], self.field_name, found[1]) from None
