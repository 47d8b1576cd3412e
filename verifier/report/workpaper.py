"""The workpaper ``sample.xlsx``: the drawn sample with empty on-site confirmation columns, the
non-conformities with empty tracking columns (deadline, response, corrective action,
verification, closure date), then the excluded records. Headers and outcomes in the report's
language (符合/不符合); every value from the submission is a text cell, never a formula.

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
from verifier.report.model import report_datetime, strings, translator, visible

TRACKING = ("nc_deadline", "nc_response", "nc_action", "nc_verification", "nc_closed_on")  # left blank
RESULTS = {"pass": "st_pass", "fail": "st_fail"}  # a sampled test's outcome, in words


def write_workpaper(path: Path, sample: pd.DataFrame, titles: dict[str, str], lang: str,
                    date: str, number: str, ncs: list[dict] | tuple = (), excluded_records: int | None = None) -> None:
    """The workbook: sheet 抽样清单 (the sample, confirmation columns empty), sheet 不符合项 (one
    row per non-conformity, `ncs` as the report's view model lists them, tracking columns empty),
    then the excluded records."""
    t = translator(lang)
    wb = Workbook()
    _sample_sheet(wb.active, sample, titles, t)
    _nc_sheet(wb.create_sheet(t("wp_sheet_nc")), ncs, t)
    excluded = add_excluded_sheet(wb, Path(path).parent / "excluded.csv", lang, excluded_records)  # 剔除记录, beside the workbook

    when = report_datetime(date).replace(tzinfo=None)
    wb.properties.created = when
    wb.properties.modified = when
    wb.properties.creator = "verifier"
    wb.properties.lastModifiedBy = "verifier"
    wb.properties.title = f"{number} {t('wp_sheet_sample')}"
    buf = io.BytesIO()
    wb.save(buf)
    Path(path).write_bytes(fixed_zip(buf.getvalue(), when, excluded.entries() if excluded else {}))


def _sample_sheet(ws, sample: pd.DataFrame, titles: dict[str, str], t) -> None:
    """The drawn sample in draw order, each test's outcome in words, then the confirmation
    columns the verifier fills in on site."""
    ws.title = t("wp_sheet_sample")
    tests = [c for c in sample.columns if c in titles]
    labels = strings()
    header = [t("wp_no")]
    for col in sample.columns:
        if col in tests:
            header.append(f"{titles[col]} ({col})")
        else:
            header.append(t(f"wp_col_{col}") if f"wp_col_{col}" in labels else col)
    confirm = t("wp_confirm")
    header += [f"{t('wp_group')}{t('colon')}{c}" for c in confirm]
    ws.append(header)
    for i, rec in enumerate(sample.itertuples(index=False, name=None), start=1):
        cells = [t(RESULTS[v]) if col in tests and v in RESULTS else _cell(v) for col, v in zip(sample.columns, rec)]
        _append_text_row(ws, [i] + cells + [None] * len(confirm))
    _style(ws, len(header) - len(confirm) + 1)
    ws.freeze_panes = "C2"
    ws.auto_filter.ref = ws.dimensions


def _nc_sheet(ws, ncs, t) -> None:
    """One row per non-conformity: what the report states of it, then the tracking columns the
    applicant and the verifier fill in until it is closed."""
    header = [t("wp_nc_number"), t("wp_check_id"), t("wp_nc_title"), t("clause"), t("nc_description"),
              t("affected"), t("nc_correction")]
    tracking = [t(key) for key in TRACKING]
    ws.append(header + tracking)
    for n in ncs:
        _append_text_row(ws, [n["number"], n["id"], n["title"], n["clause"], n["message"], n["affected_records"],
                              n["correction"]] + [None] * len(tracking))
    _style(ws, len(header) + 1)
    for idx, width in enumerate((8, 22, 22, 30, 44, 10, 36), start=1):
        ws.column_dimensions[get_column_letter(idx)].width = width
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "B2"


def _append_text_row(ws, values: list) -> None:
    ws.append([_cell(v) for v in values])
    for cell in ws[ws.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"  # text from the submission, never a formula ("=cmd|...")


def _style(ws, first_blank: int) -> None:
    """Bold shaded headers (the columns to fill in, from `first_blank` on, in amber) and widths."""
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="E8EDF2")
    blank_fill = PatternFill("solid", fgColor="FDF1D8")
    thin = Side(style="thin", color="9AA5B1")
    for idx, cell in enumerate(ws[1], start=1):
        cell.font = bold
        cell.fill = blank_fill if idx >= first_blank else fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        cell.border = Border(bottom=thin)
        width = 14 if idx < first_blank else 16
        ws.column_dimensions[get_column_letter(idx)].width = 6 if idx == 1 else width


def _cell(value):
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, (int, float, bool)):
        return value
    # openpyxl refuses control characters: written as visible escapes, like the report
    return visible(str(value))


def fixed_zip(data: bytes, when, fill: dict | None = None) -> bytes:
    """Rewrite the xlsx zip with a fixed timestamp on every entry (zipfile stamps the clock) and
    the report date as the modification date (openpyxl's save sets it to now); `fill`: entry
    name -> a function giving the entry's final content from what openpyxl wrote."""
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
            if fill and info.filename in fill:
                content = fill[info.filename](content)
            dst.writestr(entry, content)
    return out.getvalue()
