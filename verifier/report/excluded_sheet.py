"""The workpaper's sheet of excluded records: excluded.csv read as a stream, at most MAX_ROWS
rows (a bigger sheet no spreadsheet handles well; the file has them all), then a row saying how
many more the file holds. Every value is a text cell, never a formula."""

from __future__ import annotations

import csv
from itertools import islice
from pathlib import Path

from openpyxl.styles import Alignment, Font, PatternFill

from verifier.report.model import translator, visible

MAX_ROWS = 100_000


def add_excluded_sheet(wb, path: Path, lang: str, records: int | None = None) -> None:
    """Add the sheet of excluded records to the workbook `wb` from excluded.csv at `path`
    (nothing when the run wrote none); headers in the report's language. `records`: the rows the
    file holds (findings.json's `excluded.records`), so that the rows beyond MAX_ROWS need not be
    read to be counted (10^7 of them: a 2 GB file)."""
    path = Path(path)
    if not path.is_file():
        return
    t = translator(lang)
    ws = wb.create_sheet(t("ex_sheet"))
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows, [])
        ws.append([_header(name, t) for name in header])
        # Cell by cell: openpyxl's ws[row] and max_row each scan every cell of the
        # sheet, which made 100,000 rows quadratic.
        written = 0
        for written, row in enumerate(islice(rows, MAX_ROWS), start=1):
            for col, (name, v) in enumerate(zip(header, row), start=1):
                cell = ws.cell(row=written + 1, column=col, value=_row_no(v) if name == "row_no" else visible(v))
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # text from the submission, never a formula ("=cmd|...")
        more = (records - written) if records is not None else sum(1 for _ in rows)
    if more:
        ws.append([t("ex_more").format(n=f"{more:,}")])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E8EDF2")
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "B2"


def _header(name: str, t) -> str:
    """A column's heading: its words in the report's language, else its name."""
    try:
        return t(f"ex_col_{name}")
    except KeyError:
        return name


def _row_no(value: str):
    return int(value) if value.isdigit() else visible(value)
