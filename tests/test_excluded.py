"""excluded.csv (contract section 4): one row per excluded record, in record order, with the
checks that exclude it and the reason in words; recorded in findings.json, attached to the PDF,
a sheet of the workpaper. The invariants are checked on several golden packages."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import re
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
import yaml

from verifier.checks import REGISTRY
from verifier.report import excluded_sheet, excluded_view
from verifier.report.model import translator
from verifier.run import verify

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
HEADER = ["record_key", "row_no", "checks", "reason"]
# What a reason in words never holds: SQL, Python's None, a bare column name.
NOT_WORDS = re.compile(r"IS NULL|NOT \(|coalesce|CASE|None|distance_km|start_time|end_time|_geo")


def run(name: str, out: Path, **extra) -> dict:
    """Verify the golden package `name` with its expected.yaml's options (no PDF) into `out`."""
    package = SAMPLES / name
    options = dict(yaml.safe_load((package / "expected.yaml").read_text(encoding="utf-8")).get("options") or {})
    for key in ("factors", "boundary", "fares"):
        if options.get(key):
            options[key] = package / options[key]
    verify(package, out, **{"write_pdf": False, **options, **extra})
    return json.loads((out / "findings.json").read_text(encoding="utf-8"))


def read_excluded(out: Path) -> tuple[bytes, list[dict]]:
    raw = (out / "excluded.csv").read_bytes()
    return raw, list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def assert_excluded_invariants(out: Path, findings: dict) -> list[dict]:
    """excluded.csv holds population - eligible records, in row order, once each; the rows naming
    an excluding check number its `affected`; checks in contract order; findings.json records
    the file's rows and SHA-256; its fields are sample.csv's."""
    raw, rows = read_excluded(out)
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, like sample.csv
    population = findings["sampling"]["population"]
    assert len(rows) == population - findings["recalculation"]["eligible_records"]
    row_nos = [int(r["row_no"]) for r in rows]
    assert row_nos == sorted(set(row_nos))
    order = REGISTRY.ids()
    excluding = {c["id"]: c for c in findings["checks"]
                 if REGISTRY.checks[c["id"]].record_level and getattr(REGISTRY.checks[c["id"]], "excludes", False)}
    for r in rows:
        ids = r["checks"].split(";")
        assert ids and set(ids) <= set(excluding), r
        assert ids == sorted(ids, key=order.index)
        assert r["reason"] and not NOT_WORDS.search(r["reason"]), r["reason"]
    for cid, c in excluding.items():
        assert sum(cid in r["checks"].split(";") for r in rows) == c["affected"], cid
    sample_header = (out / "sample.csv").read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    fields = [f for f in sample_header[1:] if f not in REGISTRY.checks]
    header = (out / "excluded.csv").read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert header == HEADER + fields
    assert findings["excluded"] == {"file": "excluded.csv", "records": len(rows),
                                    "sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw)}
    return rows


@pytest.mark.parametrize("name", ["bike-duplicates", "bike-overlapping-rides", "bike-outside-shenzhen",
                                  "bike-missing-mileage", "bike-before-authorization",
                                  "transit-above-daily-cap", "transit-wrong-metro-distance"])
def test_excluded_csv_lists_exactly_the_excluded_records(name, tmp_path):
    findings = run(name, tmp_path / "out")
    rows = assert_excluded_invariants(tmp_path / "out", findings)
    assert rows, "each of these packages has a planted excluding defect"


def test_clean_package_writes_the_header_only(tmp_path):
    findings = run("bike-clean", tmp_path / "out")
    assert assert_excluded_invariants(tmp_path / "out", findings) == []
    assert findings["excluded"]["records"] == 0


def test_duplicates_name_the_row_they_repeat(tmp_path):
    run("bike-duplicates", tmp_path / "zh")
    _, rows = read_excluded(tmp_path / "zh")
    with (SAMPLES / "bike-duplicates" / "trips.csv").open(encoding="utf-8-sig", newline="") as fh:
        trips = list(csv.DictReader(fh))
    for r in rows:
        first = int(re.fullmatch(r"与第 (\d+) 行重复", r["reason"]).group(1))
        assert first < int(r["row_no"]) and trips[first - 1]["trip_id"] == r["trip_id"]
        # the first row with that id: the one kept
        assert first == 1 + next(i for i, t in enumerate(trips) if t["trip_id"] == r["trip_id"])
    run("bike-duplicates", tmp_path / "en", lang="en")
    _, en = read_excluded(tmp_path / "en")
    assert [r["reason"] for r in en] == [r["reason"].replace("与第 ", "repeats row ").replace(" 行重复", "") for r in rows]


def test_reasons_in_words_per_check(tmp_path):
    run("bike-outside-shenzhen", tmp_path / "b")
    _, rows = read_excluded(tmp_path / "b")
    assert {r["reason"] for r in rows} <= {"起点位于边界外", "终点位于边界外", "起点位于边界外；终点位于边界外"}
    run("transit-above-daily-cap", tmp_path / "c")
    _, rows = read_excluded(tmp_path / "c")
    caps = {m["parameter"]: m["published"] or m["reported"] for m in json.loads(
        (tmp_path / "c" / "findings.json").read_text(encoding="utf-8"))["factors"]}
    words = {"bus": f"超过公交当日上限 {caps['daily_cap_bus']:g} 次", "metro": f"超过地铁当日上限 {caps['daily_cap_metro']:g} 次"}
    assert rows and all(r["reason"] == words[r["mode"]] for r in rows)
    run("transit-wrong-metro-distance", tmp_path / "m")
    _, rows = read_excluded(tmp_path / "m")
    for r in rows:
        m = re.fullmatch(r"里程 ([\d.]+) km，站间距离 ([\d.]+) km", r["reason"])
        assert m and float(m.group(1)) == pytest.approx(float(r["distance_km"]), abs=5e-4), r["reason"]


def test_validity_names_each_problem_in_words(tmp_path):
    from tests.test_cases import build_package

    records = ("trip_id,user_id,order_source,start_time,end_time,start_lon,start_lat,end_lon,end_lat,distance_km\n"
               "B1,U1,own,2024-03-01 08:00:00,2024-03-01 08:10:00,114.05,22.54,114.07,22.55,1.2\n"
               "B2,U1,own,2024-03-02 08:00:00,2024-03-02 08:10:00,114.05,22.54,114.07,22.55,\n"
               "B3,U2,own,2024-03-02 08:00:00,2024-03-02 07:50:00,114.05,22.54,114.07,22.55,1.0\n"
               "B4,U3,own,2024-03-02 09:00:00,,114.05,222.54,114.07,22.55,-1\n")
    package, options = build_package({"methodology": "bike", "records": records}, tmp_path)
    options.pop("write_pdf", None)
    verify(package, tmp_path / "out", write_pdf=False, **options)
    _, rows = read_excluded(tmp_path / "out")
    reasons = {r["record_key"]: r["reason"] for r in rows if "records.validity" in r["checks"]}
    validity = "缺少结束时间；骑行里程不大于 0；起点纬度超出范围（-90 至 90）"
    # B4's start (latitude 222.54) is outside the boundary too: both checks, in contract order
    assert reasons == {"B2": "缺少骑行里程", "B3": "结束时间不晚于开始时间", "B4": "起点位于边界外；" + validity}
    assert [r["checks"] for r in rows if r["record_key"] == "B4"] == ["boundary.geographic;records.validity"]
    findings = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))
    examples = next(c for c in findings["checks"] if c["id"] == "records.validity")["examples"]
    assert [e["reason"] for e in examples] == ["缺少骑行里程", "结束时间不晚于开始时间", validity]


def test_bytes_do_not_depend_on_the_thread_count(tmp_path):
    for name in ("transit-above-daily-cap", "bike-overlapping-rides"):
        run(name, tmp_path / "t1", threads=1)
        run(name, tmp_path / "t2", threads=2)
        assert (tmp_path / "t1" / "excluded.csv").read_bytes() == (tmp_path / "t2" / "excluded.csv").read_bytes()


def test_every_excluding_check_gives_a_reason():
    """A check that excludes records must say why, in both languages (excluded.csv's reason)."""
    from verifier.checks.record import FlagCheck

    for cls in REGISTRY.checks.values():
        if issubclass(cls, FlagCheck) and cls.excludes:
            overridden = cls.reason_sql is not FlagCheck.reason_sql
            assert overridden or (cls.reason.get("zh") and cls.reason.get("en")), cls.id


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)


def saved(wb, rows, when=datetime(2025, 1, 1)) -> bytes:
    """The workbook `wb` as write_workpaper saves it, with the excluded records' `rows`."""
    from verifier.report.workpaper import fixed_zip

    wb.properties.created = when  # else the clock's second at Workbook()
    buf = io.BytesIO()
    wb.save(buf)
    return fixed_zip(buf.getvalue(), when, rows.entries() if rows else {})


def reopened(wb, rows):
    return openpyxl.load_workbook(io.BytesIO(saved(wb, rows)))


def test_sheet_is_capped_text_and_in_the_report_language(tmp_path, monkeypatch):
    path = tmp_path / "excluded.csv"
    write_csv(path, [["record_key", "row_no", "checks", "reason", "user_id"],
                     *[[f"=cmd|' /C calc'!A{i}", str(i), "records.duplicates", f"与第 {i} 行重复", "U1"]
                       for i in range(1, 6)]])
    monkeypatch.setattr(excluded_sheet, "MAX_ROWS", 2)
    wb = openpyxl.Workbook()
    ws = reopened(wb, excluded_sheet.add_excluded_sheet(wb, path, "zh"))["剔除记录"]
    assert [c.value for c in ws[1]] == ["记录键", "行号", "剔除依据（检查项）", "剔除原因", "用户 ID"]
    assert ws.max_row == 4  # header, 2 rows, the note
    assert ws["A2"].value == "=cmd|' /C calc'!A1" and ws["A2"].data_type == "s"
    assert ws["B2"].value == 1
    assert ws["A4"].value == "另有 3 条记录未列入本表，见 excluded.csv。"
    assert ws.freeze_panes == "B2" and ws["A1"].font.bold and ws.dimensions == "A1:E4"
    wb2 = openpyxl.Workbook()
    assert excluded_sheet.add_excluded_sheet(wb2, tmp_path / "absent.csv", "en") is None
    assert wb2.sheetnames == ["Sheet"]


def _cell_by_cell(wb, path: Path, lang: str, records=None) -> None:
    """The sheet as openpyxl's own cells wrote it (the code before its rows were written as XML):
    the reference the fast path must equal byte for byte."""
    from openpyxl.styles import Alignment, Font, PatternFill

    from verifier.report.model import visible

    t = translator(lang)
    ws = wb.create_sheet(t("ex_sheet"))
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows, [])
        ws.append([excluded_sheet._header(name, t) for name in header])
        written = 0
        for written, row in enumerate(itertools.islice(rows, excluded_sheet.MAX_ROWS), start=1):
            for col, (name, v) in enumerate(zip(header, row), start=1):
                value = int(v) if name == "row_no" and v.isdigit() else visible(v)
                cell = ws.cell(row=written + 1, column=col, value=value)
                if isinstance(cell.value, str):
                    cell.data_type = "s"
        more = (records - written) if records is not None else sum(1 for _ in rows)
    if more:
        ws.append([t("ex_more").format(n=f"{more:,}")])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E8EDF2")
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "B2"


@pytest.mark.parametrize("cap", [3, 100])
def test_rows_written_as_xml_equal_openpyxls_cells_byte_for_byte(tmp_path, monkeypatch, cap):
    """Hostile and awkward values (formulas, markup, ampersands, carriage returns, surrounding
    and ideographic spaces, control and bidi characters, empty fields, CJK, a row number that is
    not one): the workbook with the rows written as XML is the same bytes as with openpyxl's
    cells, capped (the note row) or not."""
    values = ["=cmd|' /C calc'!A1", "<b>x</b> & <img src=x>", "a\r\nb", " lead", "trail ", "\u3000全角",
              "nul\x00esc\x1b", "rtl\u202eabc", "", "深圳市南山区", "+1", "@SUM(A1)", "tab\tin", "'quoted'",
              '"dq"', "\ufeffbom", "x" * 300, "emoji \U0001f600 \U00020000"]
    rows = [["record_key", "row_no", "checks", "reason", "user_id", "distance_km"]]
    for i, v in enumerate(values, start=1):
        rows.append([v, str(i) if i % 5 else "12a", "records.duplicates", f"与第 {i} 行重复", v[::-1], ""])
    path = tmp_path / "excluded.csv"
    write_csv(path, rows)
    monkeypatch.setattr(excluded_sheet, "MAX_ROWS", cap)
    for lang in ("zh", "en"):
        fast, slow = openpyxl.Workbook(), openpyxl.Workbook()
        got = saved(fast, excluded_sheet.add_excluded_sheet(fast, path, lang))
        _cell_by_cell(slow, path, lang)
        assert got == saved(slow, None)
    ws = openpyxl.load_workbook(io.BytesIO(got)).worksheets[-1]
    if cap == 100:
        assert [ws.cell(row=r + 2, column=1).value for r in range(len(values))][:3] == [
            "=cmd|' /C calc'!A1", "<b>x</b> & <img src=x>", "a\r\nb"]
        assert ws["A2"].data_type == "s" and ws["B2"].value == 1 and ws["B6"].value == "12a"


def test_sheet_counts_the_rest_from_the_findings_without_reading_it(tmp_path, monkeypatch):
    """At 10^7 excluded records the file is ~2 GB: the rows past the cap are counted from
    findings.json's `excluded.records`, not read (a malformed tail proves it is not read)."""
    path = tmp_path / "excluded.csv"
    write_csv(path, [["record_key", "row_no"], ["K1", "1"], ["K2", "2"]])
    with path.open("a", encoding="utf-8") as fh:
        fh.write('"never closed quote\n')
    monkeypatch.setattr(excluded_sheet, "MAX_ROWS", 2)
    wb = openpyxl.Workbook()
    ws = reopened(wb, excluded_sheet.add_excluded_sheet(wb, path, "en", records=10_000_000)).worksheets[-1]
    assert [c.value for c in ws["A"]][1:3] == ["K1", "K2"]
    assert "9,999,998" in ws["A4"].value


def test_attached_up_to_the_limit_else_named_by_hash(tmp_path, monkeypatch):
    from verifier.findings import Findings

    findings = run("bike-duplicates", tmp_path / "out")
    typed = Findings.from_dict(findings)
    assert set(excluded_view.excluded_attachment(tmp_path / "out", typed)) == {"excluded.csv"}
    t = translator("zh")
    assert excluded_view.nc_line(typed, "records.duplicates", "8", t) == "受影响记录 8 条，逐条列于 excluded.csv（本报告附件）"
    assert excluded_view.nc_line(typed, "records.plausibility", "3", t) is None  # warns, excludes nothing
    monkeypatch.setattr(excluded_view, "ATTACH_LIMIT_BYTES", 100)
    assert excluded_view.excluded_attachment(tmp_path / "out", typed) == {}
    assert "未附于 PDF" in excluded_view.nc_line(typed, "records.duplicates", "8", t)
    note = excluded_view.evidence_note(typed, translator("en"), str)
    assert findings["excluded"]["sha256"] in note and "8 rows" in note and "not embedded" in note


def test_the_pdf_carries_it_and_the_workpaper_lists_it(tmp_path):
    from pypdf import PdfReader

    findings = run("bike-duplicates", tmp_path / "out", write_pdf=True)
    out = tmp_path / "out"
    attached = {name: data[0] for name, data in PdfReader(out / "report.pdf").attachments.items()}
    assert attached["excluded.csv"] == (out / "excluded.csv").read_bytes()
    ws = openpyxl.load_workbook(out / "sample.xlsx")["剔除记录"]
    assert ws.max_row == 1 + findings["excluded"]["records"]
    assert ws["D2"].value == "与第 1 行重复"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "受影响记录 8 条，逐条列于 excluded.csv（本报告附件）" in html


def test_overlaps_name_the_earlier_trip(tmp_path):
    from tests.test_cases import build_package

    head = "trip_id,user_id,order_source,start_time,end_time,start_lon,start_lat,end_lon,end_lat,distance_km\n"
    ride = ",own,{},{},114.05,22.54,114.07,22.55,1.2\n"
    records = head + "".join(f"{k},U1" + ride.format(a, b) for k, a, b in [
        ("B1", "2024-03-01 08:10:00", "2024-03-01 08:20:00"),  # inside B2, which starts earlier
        ("B2", "2024-03-01 08:00:00", "2024-03-01 08:30:00"),
        ("B3", "2024-03-01 09:00:00", "2024-03-01 09:10:00"),
        ("B4", "2024-03-01 09:00:00", "2024-03-01 09:05:00"),  # same start as B3, later in the file
        ("B5", "2024-03-01 09:06:00", "2024-03-01 09:20:00"),  # B3 (ends last of the earlier) overlaps it
    ])
    package, options = build_package({"methodology": "bike", "records": records}, tmp_path)
    verify(package, tmp_path / "out", write_pdf=False, **options)
    _, rows = read_excluded(tmp_path / "out")
    assert {r["record_key"]: r["reason"] for r in rows} == {
        "B1": "与第 2 行时间重叠", "B4": "与第 3 行时间重叠", "B5": "与第 3 行时间重叠"}
