"""The batch summary as tables: ``summary.csv`` (one row per filing, for programs) and
``summary.xlsx`` (filings, double claims, overlapping periods and totals, for people).

Both are rendered from the ``summary.json`` dict alone. ``summary.csv`` keeps every value exactly
as summary.json holds it (like sample.csv: UTF-8 with a BOM, the contract's field names as
headers, nested fields flattened as ``applicant.name``, lists ``;``-joined), so a program can read
it; ``summary.xlsx`` is the one meant for opening: headers and statuses in the --lang language,
every value from a submission a text cell (never a formula, quote-prefixed), numbers as numbers.
Both are byte-identical for the same summary (no clock anywhere) and each is written to a temporary
name, then renamed into place.

The strings (``translator``) and the filings' columns (``FILING_COLUMNS``) serve the pages too.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import yaml
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from verifier.report import model
from verifier.outdir import write_atomic
from verifier.report.workpaper import fixed_zip
from verifier.resources import resource_dir

LANGS = ("zh", "en")
# The workbook's dates: the summary carries none (it is the same whatever day it is written).
FIXED_DATE = datetime(1980, 1, 1)

# One row per filing: (field, kind). The kind decides how a value is written everywhere:
# text (from a submission or a path), count, tco2, year, list, bool, status.
FILING_COLUMNS = (
    ("name", "text"), ("status", "status"), ("conclusion", "status"), ("methodology", "text"), ("methodology_name", "text"),
    ("applicant.name", "text"), ("applicant.uscc", "text"),
    ("period.start", "text"), ("period.end", "text"), ("year", "year"),
    ("reported_reduction_tco2", "tco2"), ("recalculated_reduction_tco2", "tco2"),
    ("verified_reduction_tco2", "tco2"), ("double_claimed_tco2", "tco2"),
    ("creditable_reduction_tco2", "tco2"), ("double_claims", "count"),
    ("failing_checks", "list"), ("error", "text"),
    ("path", "text"), ("findings", "text"), ("report", "text"),
)
PAIR_COLUMNS = (("filing", "text"), ("earlier", "text"), ("basis", "basis"), ("records", "count"),
                ("pkm", "pkm"), ("tco2", "tco2"))
TOTAL_COLUMNS = (("filings", "count"), ("passed", "count"), ("failed", "count"),
                 ("unreadable", "count"), ("reported_reduction_tco2", "tco2"),
                 ("verified_reduction_tco2", "tco2"), ("double_claimed_tco2", "tco2"),
                 ("creditable_reduction_tco2", "tco2"))
DIMENSIONS = ("by_year", "by_applicant", "by_methodology")
NUMBER_FORMATS = {"count": "#,##0", "year": "0", "tco2": "#,##0.0000", "pkm": "#,##0.000"}


# -- strings ------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def summary_strings() -> dict:
    with (resource_dir("templates") / "summary" / "i18n.yaml").open(encoding="utf-8") as fh:
        table = yaml.safe_load(fh) or {}
    twice = sorted(set(table) & set(model.strings()))
    if twice:  # one meaning per key across the report and the summary
        raise ValueError(f"summary/i18n.yaml: string(s) {', '.join(twice)} already in the report's")
    return table


def translator(lang: str):
    """t(key): the summary's string in ``lang``, else the report's (model.translator)."""
    if lang not in LANGS:
        raise ValueError(f"unknown summary language {lang!r} (zh or en)")
    own, report = summary_strings(), model.translator(lang)

    def t(key: str) -> str:
        entry = own.get(key)
        return report(key) if entry is None else entry.get(lang, entry["zh"])
    return t


def column_label(t, field: str) -> str:
    return t("sm_col_" + field.replace(".", "_"))


# -- values -------------------------------------------------------------------------------------
def value(row: dict, field: str):
    """``row[a][b]`` for the field ``a.b``; None where any part is missing."""
    for part in field.split("."):
        row = row.get(part) if isinstance(row, dict) else None
    return row


def words(t, kind: str, v):
    """A coded value in the reader's language (statuses, bases, yes/no); others as they are."""
    if v is None:
        return None
    if kind == "status":
        return t(f"sm_st_{v}") if f"sm_st_{v}" in summary_strings() else v
    if kind == "basis":
        return t(f"sm_basis_{v}") if f"sm_basis_{v}" in summary_strings() else v
    if kind == "bool":
        return t("sm_yes") if v else t("sm_no")
    if kind == "list":
        return ";".join(str(x) for x in v)
    return v


def _csv_text(v) -> str:
    """A summary.json value as summary.csv writes it: text verbatim, numbers and booleans as
    JSON writes them, lists ';'-joined, null empty."""
    if v is None:
        return ""
    if isinstance(v, list):
        return ";".join(str(x) for x in v)
    return v if isinstance(v, str) else json.dumps(v)


# -- files --------------------------------------------------------------------------------------
def write_tables(folder: Path, summary: dict, lang: str) -> None:
    """Write ``summary.csv`` and ``summary.xlsx`` into ``folder``."""
    folder = Path(folder)
    t = translator(lang)
    write_atomic(folder / "summary.csv", summary_csv(summary))
    write_atomic(folder / "summary.xlsx", summary_xlsx(summary, t))


def summary_csv(summary: dict) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([field for field, _ in FILING_COLUMNS])
    for filing in summary["filings"]:
        writer.writerow([_csv_text(value(filing, field)) for field, _ in FILING_COLUMNS])
    return buf.getvalue().encode("utf-8-sig")


# -- the workbook -------------------------------------------------------------------------------
def summary_xlsx(summary: dict, t) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = t("sm_filings")
    _table(ws, [column_label(t, f) for f, _ in FILING_COLUMNS], [kind for _, kind in FILING_COLUMNS],
           [[words(t, kind, value(f, field)) for field, kind in FILING_COLUMNS] for f in summary["filings"]])
    block = summary.get("double_claims") or {}
    _table(wb.create_sheet(t("sm_double_claims")),
           [column_label(t, f) for f, _ in PAIR_COLUMNS] + [t("sm_col_examples")],
           [kind for _, kind in PAIR_COLUMNS] + ["text"],
           [[words(t, kind, p.get(field)) for field, kind in PAIR_COLUMNS] + [_examples(p)]
            for p in block.get("pairs") or []])
    _table(wb.create_sheet(t("sm_sheet_overlapping")), [t("sm_col_first"), t("sm_col_second")],
           ["text", "text"], [list(pair) for pair in block.get("overlapping_periods") or []])
    _table(wb.create_sheet(t("sm_totals")),
           [t("sm_dimension"), t("sm_key"), t("sm_label")] + [column_label(t, f) for f, _ in TOTAL_COLUMNS],
           ["text", "text", "text"] + [kind for _, kind in TOTAL_COLUMNS], _total_rows(summary, t))
    wb.properties.created = wb.properties.modified = FIXED_DATE
    wb.properties.creator = wb.properties.lastModifiedBy = "verifier"
    wb.properties.title = t("sm_title")
    buf = io.BytesIO()
    wb.save(buf)
    return fixed_zip(buf.getvalue(), FIXED_DATE)


def _examples(pair: dict) -> str | None:
    shown = [f"{e.get('record_key')} ← {e.get('earlier_record_key')}" for e in pair.get("examples") or []]
    return "; ".join(shown) or None


def _total_rows(summary: dict, t) -> list[list]:
    totals = summary.get("totals") or {}
    rows = [[t("sm_dim_all"), None, None] + [totals.get(f) for f, _ in TOTAL_COLUMNS]]
    for dim in DIMENSIONS:
        label = t("sm_dim_" + dim.removeprefix("by_"))
        rows += [[label, None if e.get("key") is None else str(e.get("key")), e.get("label")]
                 + [e.get(f) for f, _ in TOTAL_COLUMNS]
                 for e in totals.get(dim) or []]
    return rows


def _table(ws, header: list[str], kinds: list[str], rows: list[list]) -> None:
    """Header, then the rows: strings as text cells (quote-prefixed: a value such as
    ``=HYPERLINK(...)`` stays text even when the cell is edited), numbers as numbers."""
    ws.append(header)
    for row in rows:
        ws.append([_cell(v) for v in row])
        for cell, kind in zip(ws[ws.max_row], kinds):
            if isinstance(cell.value, str):
                cell.data_type = "s"
                cell.quotePrefix = True
            elif kind in NUMBER_FORMATS and cell.value is not None:
                cell.number_format = NUMBER_FORMATS[kind]
    bold, fill, thin = Font(bold=True), PatternFill("solid", fgColor="E8EDF2"), Side(style="thin", color="9AA5B1")
    for idx, (cell, kind) in enumerate(zip(ws[1], kinds), start=1):
        cell.font, cell.fill, cell.border = bold, fill, Border(bottom=thin)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[get_column_letter(idx)].width = 14 if kind in NUMBER_FORMATS else 24
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = ws.dimensions


def _cell(v):
    if isinstance(v, str):
        return model.visible(v)  # openpyxl refuses control characters: shown as escapes, like the report
    return v
