"""The on-site workpaper ``sample.xlsx``: the drawn sample plus empty confirmation columns.

Deterministic: the workbook properties carry the report date, not the clock, and the zip
entries get a fixed timestamp.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from verifier.report.excluded_sheet import add_excluded_sheet
from verifier.report.model import visible
from verifier.report.pdf import report_datetime

CONFIRM_COLUMNS = {
    "zh": ["核对结果", "核对人", "核对日期", "备注"],
    "en": ["Result of the check", "Checked by", "Date checked", "Remarks"],
}
_LABELS = {
    "zh": {"no": "序号", "record_key": "记录键", "group": "现场核对", "sheet": "抽样清单"},
    "en": {"no": "No.", "record_key": "Record key", "group": "On-site confirmation", "sheet": "Sample"},
}


def write_workpaper(path: Path, sample: pd.DataFrame, titles: dict[str, str], lang: str,
                    date: str, number: str) -> None:
    labels = _LABELS.get(lang, _LABELS["zh"])
    wb = Workbook()
    ws = wb.active
    ws.title = labels["sheet"]
    tests = [c for c in sample.columns if c in titles]
    header = [labels["no"]]
    for col in sample.columns:
        if col == "record_key":
            header.append(labels["record_key"])
        elif col in tests:
            header.append(f"{titles[col]} ({col})")
        else:
            header.append(col)
    confirm = CONFIRM_COLUMNS.get(lang, CONFIRM_COLUMNS["zh"])
    header += [f"{labels['group']}: {c}" for c in confirm]
    ws.append(header)
    for i, rec in enumerate(sample.itertuples(index=False, name=None), start=1):
        ws.append([i] + [_cell(v) for v in rec] + [None] * len(confirm))
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text from the submission, never a formula ("=cmd|...")

    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="E8EDF2")
    confirm_fill = PatternFill("solid", fgColor="FDF1D8")
    thin = Side(style="thin", color="9AA5B1")
    first_confirm = len(header) - len(confirm) + 1
    for idx, cell in enumerate(ws[1], start=1):
        cell.font = bold
        cell.fill = confirm_fill if idx >= first_confirm else fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        cell.border = Border(bottom=thin)
    for idx in range(1, len(header) + 1):
        width = 14 if idx < first_confirm else 16
        ws.column_dimensions[get_column_letter(idx)].width = 6 if idx == 1 else width
    ws.freeze_panes = "C2"
    ws.auto_filter.ref = ws.dimensions

    add_excluded_sheet(wb, Path(path).parent / "excluded.csv", lang)

    when = report_datetime(date).replace(tzinfo=None)
    wb.properties.created = when
    wb.properties.modified = when
    wb.properties.creator = "verifier"
    wb.properties.lastModifiedBy = "verifier"
    wb.properties.title = f"{number} {labels['sheet']}"
    buf = io.BytesIO()
    wb.save(buf)
    Path(path).write_bytes(_fixed_zip(buf.getvalue(), when))


def _cell(value):
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, (int, float, bool)):
        return value
    # openpyxl refuses control characters: written as visible escapes, like the report
    return visible(str(value))


def _fixed_zip(data: bytes, when) -> bytes:
    """Rewrite the xlsx zip with a fixed timestamp on every entry (zipfile stamps the clock) and
    the report date as the modification date (openpyxl's save sets it to now)."""
    stamp = max(when.timetuple()[:6], (1980, 1, 1, 0, 0, 0))  # a zip entry cannot be dated before 1980
    iso = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(<)", rb"\g<1>" + iso + rb"\g<2>",
                                 content)
            dst.writestr(entry, content)
    return out.getvalue()
