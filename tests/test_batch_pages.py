"""The batch summary's tables and pages (verifier.batch.outputs, verifier.batch.pages), rendered
from tests/fixtures/batch_summary.json: six filings (one unreadable), two years, three applicants,
both methodologies, two double-claim pairs, one overlapping period, hostile text in a filing name
(``"><img ...>``, ``=SUM(...)``), an applicant (``<script>``, ``=HYPERLINK(...)``) and a record key
(``=cmd|...``), and a very long Chinese company name. The page in a real browser:
tests/test_batch_browser.py."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
import subprocess
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from openpyxl import load_workbook
from urllib.parse import unquote, urlsplit

from verifier.batch import outputs, pages
from verifier.batch.outputs import summary_strings, write_tables
from verifier.batch.pages import link, render_page, write_pages
from verifier.report.fonts import font_paths

FIXTURE = Path(__file__).parent / "fixtures" / "batch_summary.json"
HOSTILE_NAME = 'opB-2024"><img src=x onerror=alert(1)>'
LONG_NAME = "深圳市南山区超长名称绿色低碳共享出行科技发展有限公司第一分公司（碳普惠平台运营及数据服务中心）"


def load() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("summary")
    write_tables(out, load(), "zh")
    write_pages(out, load(), "zh")
    return out


# -- summary.csv --------------------------------------------------------------------------------
def test_csv_is_one_row_per_filing_with_the_values_verbatim(written):
    data = (written / "summary.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM, like sample.csv: a spreadsheet reads UTF-8
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert list(rows[0]) == [field for field, _ in outputs.FILING_COLUMNS]
    assert [r["name"] for r in rows] == [f["name"] for f in load()["filings"]]
    by_name = {r["name"]: r for r in rows}
    b = by_name[HOSTILE_NAME]
    assert b["applicant.name"] == "<script>alert(1)</script>"  # verbatim: the json's value
    assert b["failing_checks"] == "records.duplicates;records.plausibility;batch.double_claim"
    assert (b["status"], b["verified_reduction_tco2"], b["double_claims"]) == ("fail", "7.9", "37")
    assert by_name["=SUM(1+1)opC-2024"]["applicant.name"] == '=HYPERLINK("http://x")'
    assert by_name["opA-2023"]["applicant.name"] == LONG_NAME
    broken = by_name["opD-broken"]
    assert (broken["status"], broken["verified_reduction_tco2"], broken["report"]) == ("unreadable", "", "")
    assert broken["error"].startswith("opD-broken/report.json: row 1, field 'period.end'")


# -- summary.xlsx -------------------------------------------------------------------------------
def test_xlsx_sheets_headers_and_numbers(written):
    wb = load_workbook(written / "summary.xlsx")
    assert wb.sheetnames == ["申报清单", "重复申报", "核算期重叠", "汇总"]
    filings = wb["申报清单"]
    header = [c.value for c in filings[1]]
    assert header[:3] == ["申报名称", "状态", "核证结论"]
    assert "核证减排量（tCO2e）" in header and "不符合的检查项" in header
    rows = {r[0]: dict(zip(header, r)) for r in filings.iter_rows(min_row=2, values_only=True)}
    assert len(rows) == 6
    b = rows[HOSTILE_NAME]
    assert (b["状态"], b["核证减排量（tCO2e）"], b["重复申报记录数"], b["年度"]) == ("不通过", 7.9, 37, 2024)
    assert b["不符合的检查项"] == "records.duplicates;records.plausibility;batch.double_claim"
    assert rows["opD-broken"]["状态"] == "无法读取" and rows["opD-broken"]["核证减排量（tCO2e）"] is None
    pairs = list(wb["重复申报"].iter_rows(min_row=2, values_only=True))
    assert [p[:6] for p in pairs] == [
        ("opA-2024", "opA-2023", "同一申报单位（记录键或用户+开始时间相同）", 1520, 15234.567, 3.1234),
        (HOSTILE_NAME, "opA-2024", "出行特征相同", 37, 222.25, 0.0456)]
    assert pairs[1][6].startswith("=cmd|' /C calc'!A0 ← A24-000901")
    assert list(wb["核算期重叠"].iter_rows(min_row=2, values_only=True)) == [("opA-2023", "opA-2024")]
    totals = list(wb["汇总"].iter_rows(min_row=2, values_only=True))
    assert totals[0] == ("全部", None, None, 6, 3, 2, 1, 142.5, 140.9277, 3.169, 137.7587)
    assert [t[:5] for t in totals[1:3]] == [("年度", "2023", None, 2, 2), ("年度", "2024", None, 3, 1)]
    assert totals[4][:4] == ("申报单位", "91440300MA5GYYYY2B", "<script>alert(1)</script>", 1)
    assert [t[1] for t in totals[6:]] == ["shenzhen-bike-sharing", "shenzhen-public-transit"]


def test_xlsx_submission_text_is_never_a_formula(written):
    with zipfile.ZipFile(written / "summary.xlsx") as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in z.read(name) and b"<f " not in z.read(name), name
    wb = load_workbook(written / "summary.xlsx")
    formula_like = [c for ws in wb.worksheets for row in ws.iter_rows(min_row=2) for c in row
                    if isinstance(c.value, str) and c.value[:1] in "=+-@"]
    assert {c.value for c in formula_like} >= {"=SUM(1+1)opC-2024", '=HYPERLINK("http://x")'}
    for cell in formula_like:
        assert cell.data_type == "s" and cell.quotePrefix, (cell.coordinate, cell.value)


def test_tables_in_english_and_byte_identical(tmp_path, written):
    write_tables(tmp_path, load(), "en")
    wb = load_workbook(tmp_path / "summary.xlsx")
    assert wb.sheetnames == ["Filings", "Double claims", "Overlapping periods", "Totals"]
    assert [c.value for c in wb["Filings"][1]][:3] == ["Filing", "Status", "Conclusion"]
    assert wb["Filings"]["B2"].value == "Pass"
    again = tmp_path / "again"
    again.mkdir()
    write_tables(again, load(), "zh")
    for name in ("summary.csv", "summary.xlsx"):
        assert (again / name).read_bytes() == (written / name).read_bytes(), name


def test_a_failed_write_leaves_the_earlier_file_and_no_temporary(tmp_path, monkeypatch):
    (tmp_path / "summary.xlsx").write_bytes(b"earlier run")

    def broken(*args):
        raise OSError("disk full")
    monkeypatch.setattr(outputs, "summary_xlsx", broken)
    with pytest.raises(OSError):
        write_tables(tmp_path, load(), "zh")
    assert (tmp_path / "summary.xlsx").read_bytes() == b"earlier run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.csv", "summary.xlsx"]


def test_strings_exist_in_both_languages_and_never_redefine_the_reports():
    table = summary_strings()  # raises when a key is also one of the report's
    assert all(set(entry) == {"zh", "en"} for entry in table.values())
    with pytest.raises(ValueError, match="zh or en"):
        write_tables(Path("."), load(), "fr")


# -- summary.html -------------------------------------------------------------------------------
def test_html_is_self_contained_with_a_strict_policy(written):
    html = (written / "summary.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>\n<html lang=\"zh-CN\">")
    assert "<title>碳普惠减排量批量核证汇总</title>" in html
    tags = _tags(html)
    assert {name for name, _ in tags} <= {"html", "head", "meta", "title", "style", "body", "h1", "h2",
                                          "h3", "p", "div", "b", "label", "input", "select", "option",
                                          "span", "table", "thead", "tbody", "tr", "th", "td", "a",
                                          "wbr", "ul", "li", "script"}
    assert not [attrs for _, attrs in tags if "src" in attrs or "srcset" in attrs or "style" in attrs]
    hrefs = [attrs["href"] for name, attrs in tags if "href" in attrs]
    assert len(hrefs) == 10 and all(h.startswith("filings/") for h in hrefs)  # 5 readable filings x 2
    (policy,) = [a["content"] for name, a in _tags(html)
                 if name == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    script = re.search(r"<script>(.*?)</script>", html, re.S).group(1)

    def sha(text):
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    assert policy == (f"default-src 'none'; script-src 'sha256-{sha(script)}'; "
                      f"style-src 'sha256-{sha(style)}'; img-src data:; base-uri 'none'; form-action 'none'")
    assert html.count("<style>") == 1 and html.count("<script") == 1
    assert "Noto Sans CJK SC" in style and "Microsoft YaHei" in style  # system CJK stacks only
    for outside in ("@font-face", "url(", "@import"):
        assert outside not in style and outside not in script, outside


def _tags(html: str) -> list[tuple[str, dict]]:
    """Every start tag of the page as a browser's tokenizer reads it, with its attributes."""
    found = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, dict(attrs)))
    Parser().feed(html)
    return found


def test_html_escapes_submission_text_and_encodes_links(written):
    html = (written / "summary.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'data-name="opB-2024&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"' in html
    assert ('href="filings/opB-2024%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E/report.pdf"'
            in html)
    assert 'href="filings/opC-2023%20metro/findings.json"' in html
    assert LONG_NAME in html


def test_link_refuses_paths_that_could_leave_the_folder():
    assert link("filings/a b#?%/report.pdf") == "filings/a%20b%23%3F%25/report.pdf"
    for bad in (None, "", "/etc/passwd", "filings/../../x", "filings/./x", "filings//x"):
        assert link(bad) is None, bad


def test_html_in_english():
    html = render_page(load(), "en")
    assert '<html lang="en">' in html and "<title>Carbon-inclusion reductions: batch verification summary</title>" in html
    assert ">Verified (tCO2e)</th>" in html and ">Same trip fingerprint<" in html
    assert "6 of 6" not in html  # the count line is the script's, filled in by the browser


# -- summary.pdf --------------------------------------------------------------------------------
def test_pdf_embeds_the_shipped_fonts_and_renders(written, tmp_path):
    pdf = written / "summary.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    lines = [line for line in fonts.splitlines()[2:] if line.strip()]
    assert lines and all("Noto-Sans-CJK-SC-Verifier" in line for line in lines), fonts
    assert all(line.split()[-5] == "yes" for line in lines), fonts  # emb
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "碳普惠减排量批量核证汇总" in text and "<script>alert(1)</script>" in text
    pages_text = text.split("\f")
    assert len(pages_text) >= 2 and all("由 verifier 0.1.0 生成；批次随机种子 20240917" in p
                                         for p in pages_text if p.strip())  # the running header
    assert "第2页共2页" in pages_text[1].replace(" ", "")
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(tmp_path / "page")], check=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) >= 2 and all(p.stat().st_size > 10_000 for p in pngs)


def test_pdf_fetches_only_the_shipped_fonts_and_is_byte_identical(written, monkeypatch):
    fetchers = []
    real = pages.SafeFetcher

    def recording(*args):
        fetchers.append(real(*args))
        return fetchers[-1]
    monkeypatch.setattr(pages, "SafeFetcher", recording)
    again = pages.render_pdf(load(), "zh")
    assert again == (written / "summary.pdf").read_bytes()
    (fetcher,) = fetchers
    assert fetcher.refused == []
    shipped = {path.resolve() for path in font_paths()}
    assert fetcher.requested and {Path(unquote(urlsplit(u).path)).resolve() for u in fetcher.requested} <= shipped


def test_a_batch_without_double_claims_and_hidden_characters(tmp_path):
    """One passing filing, no pair, no overlap: the pages say so; a bidi override in the applicant
    (it would show a reader another name) is written as its escape in the page and the workbook."""
    summary = load()
    (one,) = [f for f in summary["filings"] if f["name"] == "opA-2023"]
    one["applicant"]["name"] = "甲公司\u202e司公乙"
    summary.update(filings=[one], double_claims={"pairs": [], "records": 0, "overlapping_periods": []})
    summary["totals"] = {"filings": 1, "passed": 1, "failed": 0, "unreadable": 0,
                         "reported_reduction_tco2": 12.5, "verified_reduction_tco2": 12.4012,
                         "double_claimed_tco2": 0.0, "creditable_reduction_tco2": 12.4012,
                         "by_year": [], "by_applicant": [], "by_methodology": []}
    write_tables(tmp_path, summary, "zh")
    write_pages(tmp_path, summary, "zh")
    html = (tmp_path / "summary.html").read_text(encoding="utf-8")
    assert "未发现重复申报。" in html and "无核算期重叠。" in html and 'id="pairs"' not in html
    assert "\u202e" not in html and "甲公司\\u202e司公乙" in html
    wb = load_workbook(tmp_path / "summary.xlsx")
    assert wb["申报清单"]["F2"].value == "甲公司\\u202e司公乙"
    assert wb["重复申报"].max_row == 1 and wb["核算期重叠"].max_row == 1
    assert "甲公司\u202e司公乙" in (tmp_path / "summary.csv").read_text(encoding="utf-8-sig")  # verbatim
    text = subprocess.run(["pdftotext", str(tmp_path / "summary.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "未发现重复申报。" in text
