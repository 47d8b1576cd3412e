"""The workpaper's sheet of excluded records: excluded.csv read as a stream, at most MAX_ROWS
rows (a bigger sheet no spreadsheet handles well; the file has them all), then a row saying how
many more the file holds. Every value is a text cell, never a formula.

openpyxl lays out the sheet and its styled header; the rows are written as the sheet's XML
directly, the same bytes openpyxl writes for text and number cells (tests/test_excluded.py
compares the two), into the saved workbook (`ExcludedRows.entries`): through openpyxl's cells,
100,000 rows of 14 columns took 14 s, longer than the rest of a 2x10^7-record run's report."""

from __future__ import annotations

import csv
import re
from itertools import islice
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from verifier.report.model import translator, visible

MAX_ROWS = 100_000


class ExcludedRows:
    """The sheet's rows after the header, as XML, and the sheet they go into once saved."""

    def __init__(self, ws, rows: list[str], last_row: int, last_col: int):
        self.ws, self.rows, self.last_row, self.last_col = ws, rows, last_row, last_col

    def entries(self) -> dict:
        """{the sheet's entry in the saved workbook: a function of the XML openpyxl wrote for it
        (the header row only) giving the whole sheet}; call after saving (the path is set then)."""
        return {self.ws.path.lstrip("/"): self._fill}

    def _fill(self, xml: bytes) -> bytes:
        dimension = f'<dimension ref="A1:{get_column_letter(self.last_col)}{self.last_row}"/>'.encode()
        xml, n = re.subn(rb'<dimension ref="[^"]*"/>', lambda _: dimension, xml, count=1)
        head, sep, tail = xml.partition(b"</sheetData>")
        if n != 1 or not sep:
            raise ValueError("the excluded records' sheet: openpyxl wrote no dimension or sheetData")
        # beyond ASCII as character references, as libxml2 writes openpyxl's sheets
        return head + "".join(self.rows).encode("ascii", "xmlcharrefreplace") + sep + tail


def add_excluded_sheet(wb, path: Path, lang: str, records: int | None = None) -> ExcludedRows | None:
    """Add the sheet of excluded records to the workbook `wb` from excluded.csv at `path`
    (nothing when the run wrote none); headers in the report's language. `records`: the rows the
    file holds (findings.json's `excluded.records`), so that the rows beyond MAX_ROWS need not be
    read to be counted (10^7 of them: a 2 GB file). Returns the rows to put into the saved
    workbook (`ExcludedRows.entries`), None without a sheet."""
    path = Path(path)
    if not path.is_file():
        return None
    t = translator(lang)
    ws = wb.create_sheet(t("ex_sheet"))
    rows: list[str] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        ws.append([_header(name, t) for name in header])
        letters = [get_column_letter(i) for i in range(1, len(header) + 1)]
        row_no = header.index("row_no") if "row_no" in header else -1
        written = 0
        for written, row in enumerate(islice(reader, MAX_ROWS), start=1):
            r = written + 1
            cells = [_number(f"{col}{r}", int(v)) if i == row_no and v.isascii() and v.isdigit()
                     else _text(f"{col}{r}", visible(v)) for i, (col, v) in enumerate(zip(letters, row))]
            rows.append(f'<row r="{r}">{"".join(cells)}</row>')
        more = (records - written) if records is not None else sum(1 for _ in reader)
    last_row = written + 1
    if more:
        last_row += 1
        rows.append(f'<row r="{last_row}">{_text(f"A{last_row}", t("ex_more").format(n=f"{more:,}"))}</row>')
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E8EDF2")
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "B2"
    return ExcludedRows(ws, rows, last_row, len(header) or 1)


def _text(ref: str, value: str) -> str:
    """A text cell as openpyxl writes it (an inline string; never a formula, whatever it starts with)."""
    if value == "":
        return f'<c r="{ref}" t="inlineStr"></c>'
    space = ' xml:space="preserve"' if value != value.strip() else ""
    return f'<c r="{ref}" t="inlineStr"><is><t{space}>{_escape(value)}</t></is></c>'


def _number(ref: str, value: int) -> str:
    return f'<c r="{ref}" t="n"><v>{value}</v></c>'


def _escape(text: str) -> str:
    """XML character data as libxml2 writes it (a carriage return as a reference): visible() has
    already written every character XML cannot carry as an escape (tab and line breaks stay)."""
    return xml_escape(text, {"\r": "&#13;"})


def _header(name: str, t) -> str:
    """A column's heading: its words in the report's language, else its name."""
    try:
        return t(f"ex_col_{name}")
    except KeyError:
        return name
