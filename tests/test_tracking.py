"""Non-conformity tracking (issue 12 point 8: the NC boxes, the workpaper's 不符合项 sheet,
`--previous`) and the verification body's fields (point 10: `--verifier-info`, the statement)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from verifier.errors import InputError
from verifier.findings import Findings
from verifier.pipeline import verify
from verifier.previous import compare, load_previous, nc_state
from verifier.report.render import render_html
from verifier.report.workpaper import write_workpaper
from verifier.verifier_info import load_verifier_info

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
EXAMPLE_INFO = SAMPLES / "verifier-info.example.yaml"
HAS_POPPLER = shutil.which("pdftotext") is not None


def run(package: str, out: Path, lang: str = "zh", **options) -> Findings:
    pkg = SAMPLES / package
    return verify(pkg, out, factors=pkg / "factors.yaml", seed=7, lang=lang, **options)


def pdftext(pdf: Path, first: int | None = None, last: int | None = None) -> str:
    pages = (["-f", str(first)] if first else []) + (["-l", str(last)] if last else [])
    return subprocess.run(["pdftotext", "-layout", *pages, str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "verifier", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def one_error_line(result) -> str:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and "nanobind" not in line
             and not line.startswith((" - leaked", "See https", " - ..."))]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def earlier(tmp_path_factory) -> Path:
    """The first filing: eight duplicated rides (records.duplicates fails: NC-01)."""
    out = tmp_path_factory.mktemp("runs") / "v1"
    run("bike-duplicates", out)
    return out


@pytest.fixture(scope="module")
def corrected(tmp_path_factory, earlier) -> Path:
    """The corrected re-submission (the same rides without the copies), with the verifier's fields."""
    out = tmp_path_factory.mktemp("runs") / "v2"
    run("bike-clean", out, previous=earlier, verifier_info=EXAMPLE_INFO)
    return out


@pytest.fixture(scope="module")
def unchanged(tmp_path_factory, earlier) -> Path:
    """The same package filed again, unchanged, in English."""
    out = tmp_path_factory.mktemp("runs") / "v1-again"
    run("bike-duplicates", out, lang="en", previous=earlier)
    return out


def findings(out: Path) -> dict:
    return json.loads((out / "findings.json").read_text(encoding="utf-8"))


# -- the workpaper ---------------------------------------------------------------------------
NC_HEADER_ZH = ["编号", "检查项编号", "不符合项", "条款", "不符合描述", "涉及记录", "整改要求",
                "整改期限", "申报单位回复", "纠正措施", "核证机构验证意见", "关闭日期"]


def test_workpaper_has_the_sample_then_one_row_per_nc_with_blank_tracking_columns(earlier):
    wb = openpyxl.load_workbook(earlier / "sample.xlsx")
    assert wb.sheetnames[:2] == ["抽样清单", "不符合项"]
    ws = wb["不符合项"]
    assert [c.value for c in ws[1]] == NC_HEADER_ZH
    assert ws.max_row == 2  # one non-conformity
    row = [c.value for c in ws[2]]
    assert row[:3] == ["NC-01", "records.duplicates", "重复记录"]
    assert row[3] and row[3].startswith("表4")  # the clause of its verification point
    assert row[4].startswith("8 条重复记录")
    assert row[5] == 8 and ws.cell(2, 6).data_type == "n"
    assert row[6] == "剔除重复记录，并据此更正次数、里程和减排量。"
    assert row[7:] == [None] * 5
    sample = wb["抽样清单"]
    header = [c.value for c in sample[1]]
    assert header[:3] == ["序号", "记录键", "订单编号"] and "用户编号" in header and "里程（km）" in header
    col = header.index("重复记录 (records.duplicates)") + 1
    drawn = pd.read_csv(earlier / "sample.csv", dtype=str)["records.duplicates"]
    words = [sample.cell(r, col).value for r in range(2, sample.max_row + 1)]
    assert words == [{"pass": "符合", "fail": "不符合"}[v] for v in drawn]  # never pass/fail in zh
    assert set(words) == {"符合", "不符合"}


def test_workpaper_in_english_and_nc_values_stay_text(tmp_path):
    sample = pd.DataFrame({"record_key": ["k1", "k2"], "user_id": ["u", "u"],
                           "sample.completeness": ["pass", "fail"]})
    ncs = [{"number": "NC-01", "id": "records.duplicates", "title": "Duplicates", "clause": "Table 4",
            "message": '=HYPERLINK("http://x","y")', "affected_records": 3, "correction": "Remove them."}]
    path = tmp_path / "sample.xlsx"
    write_workpaper(path, sample, {"sample.completeness": "Completeness"}, "en", "2025-01-01", "N", ncs)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Sample", "Non-conformities"]
    first = wb["Sample"]
    assert [c.value for c in first[1]][:3] == ["No.", "Record key", "User id"]
    assert [first.cell(r, 4).value for r in (2, 3)] == ["Pass", "Fail"]
    nc = wb["Non-conformities"]
    assert [c.value for c in nc[1]][7:] == ["Deadline", "Applicant's response", "Corrective action",
                                             "Verifier's verification", "Date closed"]
    assert (nc.cell(2, 5).value, nc.cell(2, 5).data_type) == ('=HYPERLINK("http://x","y")', "s")


# -- the NC boxes in the report --------------------------------------------------------------
def test_each_nc_has_its_tracking_boxes(earlier):
    html = (earlier / "report.html").read_text(encoding="utf-8")
    section = html.split('id="sec-nc"')[1].split("</section>")[0]
    for label in ("整改期限", "申报单位回复", "纠正措施", "核证机构验证意见", "关闭日期"):
        assert f"<th>{label}</th><td></td>" in section, label
    assert "sec-previous" not in html  # no --previous: no comparison section


# -- --previous ------------------------------------------------------------------------------
def test_corrected_filing_closes_the_earlier_nc_and_shows_what_changed(corrected, earlier):
    block = findings(corrected)["previous"]
    assert block["report"] == findings(earlier)["report"]
    assert block["conclusion"] == "fail"
    assert block["checks"] == [{"id": "records.duplicates", "previous_status": "fail", "status": "pass",
                                "previous_affected": 8, "affected": 0, "nc": "closed"}]
    counts = {c["name"]: (c["previous"], c["current"]) for c in block["counts"]}
    assert counts["population"] == (408, 400) and counts["eligible_records"] == (400, 400)
    amounts = {a["name"]: (a["previous"], a["current"]) for a in block["amounts"]}
    assert amounts["reported_reduction_tco2"] == (0.035732, 0.035015)
    assert amounts["verified_reduction_tco2"] == (0.03501525, 0.035015)
    changes = {i["path"]: i["change"] for i in block["inputs"]}
    assert changes["report.yaml"] == changes["trips.csv"] == "changed"
    assert changes["users.csv"] == changes["factors.yaml"] == "unchanged"
    assert block["findings_sha256"] == hashlib.sha256((earlier / "findings.json").read_bytes()).hexdigest()


@pytest.mark.skipif(not HAS_POPPLER, reason="pdftotext not installed")
def test_the_report_maps_the_earlier_nc_numbers(corrected):
    text = pdftext(corrected / "report.pdf")
    assert "4A 与前次核证的比较" in text
    text = text.split("4A 与前次核证的比较")[-1]  # the section (the contents list it too)
    row = next(line for line in text.splitlines() if "NC-01" in line and "records.duplicates" in line)
    assert row.split() == ["NC-01", "重复记录", "records.duplicates", "8", "0", "—", "已关闭"]
    assert "已关闭1项、仍未关闭0项、无法确认关闭0项；本次新增0项" in "".join(text.split())
    figures = next(line for line in text.splitlines() if line.strip().startswith("记录总数"))
    assert figures.split() == ["记录总数", "408", "400", "-8"]
    reported = next(line for line in text.splitlines() if line.strip().startswith("申报减排量"))
    assert reported.split() == ["申报减排量（tCO2e）", "0.0357", "0.0350", "-0.0007"]  # tCO2e: 4 decimals


def test_the_same_filing_again_keeps_the_nc_open(unchanged, earlier):
    block = findings(unchanged)["previous"]
    assert [(c["id"], c["nc"]) for c in block["checks"]] == [("records.duplicates", "open")]
    assert {i["change"] for i in block["inputs"]} == {"unchanged"}
    assert all(c["previous"] == c["current"] for c in block["counts"] + block["amounts"])
    html = (unchanged / "report.html").read_text(encoding="utf-8")
    nc = html.split('id="sec-nc"')[1].split("</section>")[0]
    assert "earlier NC-01, still open" in nc
    assert "Still open" in html.split('id="sec-previous"')[1]


def test_nc_states():
    assert [nc_state(a, b) for a, b in [("fail", "pass"), ("fail", "warn"), ("fail", "fail"), ("pass", "fail"),
                                       ("fail", "not_evaluated"), ("fail", "not_applicable"), ("pass", "pass"),
                                       (None, "fail"), ("fail", None)]] == \
        ["closed", "closed", "open", "new", "unconfirmed", "unconfirmed", None, "new", "unconfirmed"]


def test_compare_names_new_ncs_and_removed_inputs(earlier):
    now = Findings.from_dict(findings(earlier))
    before = findings(earlier)
    before["checks"] = [{**c, "status": "pass", "affected": 0} if c["id"] == "records.duplicates" else c
                        for c in before["checks"]]
    before["inputs"] = before["inputs"] + [{"role": "users", "path": "old.csv", "sha256": "ab" * 32}]
    block = compare(before, "0" * 64, now)
    assert [(c["id"], c["nc"]) for c in block["checks"]] == [("records.duplicates", "new")]
    assert block["inputs"][-1] == {"role": "users", "path": "old.csv", "previous_sha256": "ab" * 32,
                                   "sha256": None, "change": "removed"}


def test_previous_must_hold_a_findings_json_of_the_same_methodology(tmp_path, earlier):
    with pytest.raises(InputError, match=r"findings.json'?: --previous: not found"):
        load_previous(tmp_path, "shenzhen-bike-sharing")
    (tmp_path / "findings.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        load_previous(tmp_path, "shenzhen-bike-sharing")
    (tmp_path / "findings.json").write_text(json.dumps({**findings(earlier), "checks": [{"id": 1}]}),
                                            encoding="utf-8")
    with pytest.raises(InputError, match=r"--previous: checks\[0\]"):
        load_previous(tmp_path, "shenzhen-bike-sharing")
    with pytest.raises(InputError, match="do not compare"):
        load_previous(earlier, "shenzhen-public-transit")


def test_previous_errors_on_the_command_line_are_one_line(tmp_path, earlier):
    pkg = SAMPLES / "bike-clean"
    line = one_error_line(run_cli("verify", pkg, "--out", tmp_path / "o", "--previous", tmp_path / "nowhere"))
    assert "--previous" in line and "not found" in line
    # The earlier run's folder is evidence the new report cites: it may not be the output folder.
    before = (earlier / "findings.json").read_bytes()
    line = one_error_line(run_cli("verify", pkg, "--out", earlier, "--previous", earlier))
    assert "--out" in line and "is the --previous" in line
    assert (earlier / "findings.json").read_bytes() == before
    assert not (tmp_path / "o").exists()


# -- --verifier-info -------------------------------------------------------------------------
@pytest.mark.skipif(not HAS_POPPLER, reason="pdftotext not installed")
def test_verifier_info_on_the_cover_and_in_findings(corrected):
    block = findings(corrected)["verification"]
    assert block == {"report_number": "SZCI-HZ-2025-017", "verification_body": "深圳市某某认证有限公司",
                     "accreditation_number": "CNAS C000-M", "team_leader": "王五", "members": ["赵六", "钱七"],
                     "reviewer": "孙八", "site_visit_date": "2025-01-10", "report_version": "initial"}
    assert findings(corrected)["report"]["number"] == "SZCI-HZ-2025-017"
    cover = pdftext(corrected / "report.pdf", 1, 1)
    for words in (["报告编号", "SZCI-HZ-2025-017"], ["核证机构", "深圳市某某认证有限公司"],
                  ["资质（备案）编号", "CNAS", "C000-M"], ["核证组长（签字）", "王五"], ["核证组成员", "赵六、钱七"],
                  ["技术复核人（签字）", "孙八"], ["现场核查日期", "2025-01-10"], ["报告版本", "初版"]):
        assert any(line.split() == words for line in cover.splitlines()), words
    for clause in ("申报单位对所提供数据和材料的真实性、完整性和准确性负责", "予以保密", "不得部分复制本报告"):
        assert clause in cover.replace("\n", "").replace(" ", "")
    # Rendered again from findings.json alone, in English: the fields stay.
    html = render_html(findings(corrected), pd.read_csv(corrected / "sample.csv", dtype=str), {}, "en")
    assert "深圳市某某认证有限公司" in html and "Initial" in html and "may not be reproduced except in full" in html


def test_fields_left_out_are_blank_lines(tmp_path):
    info = tmp_path / "info.yaml"
    info.write_text("verification_body: 某机构\nsite_visit_date: 2025-02-03\n", encoding="utf-8")
    block = load_verifier_info(info)
    assert block["verification_body"] == "某机构" and block["site_visit_date"] == "2025-02-03"
    assert block["members"] is None and block["report_number"] is None and block["report_version"] is None
    from verifier.report.cover import verification_view

    class F:  # the view reads only the verification block
        verification = block
    rows = {r["label"]: r["value"] for r in verification_view(F, "zh")["rows"]}
    assert rows["核证组成员"] == "" and rows["报告版本"] == "□ 初版　□ 终版" and rows["核证机构"] == "某机构"


@pytest.mark.parametrize("text, where", [
    ("verifier: x\n", "--verifier-info: 'verifier'"),
    ("site_visit_date: 2025-02-30\n", "--verifier-info: site_visit_date"),
    ("site_visit_date: 10/01/2025\n", "--verifier-info: site_visit_date"),
    ("report_version: draft\n", "--verifier-info: report_version"),
    ("members: {a: 1}\n", "--verifier-info: members"),
    ("- a\n- b\n", "--verifier-info: expected a mapping"),
    ("a: &x 1\nb: *x\n", "alias"),
])
def test_bad_verifier_info_is_one_line_naming_file_and_key(tmp_path, text, where):
    info = tmp_path / "info.yaml"
    info.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_verifier_info(info)
    assert "info.yaml" in str(err.value) and where in str(err.value)


def test_bad_verifier_info_on_the_command_line_is_exit_2(tmp_path):
    info = tmp_path / "info.yaml"
    info.write_text("team_leader: 王五\nsite_visit: 2025-01-10\n", encoding="utf-8")
    pkg = SAMPLES / "bike-clean"
    line = one_error_line(run_cli("verify", pkg, "--out", tmp_path / "o", "--verifier-info", info))
    assert "info.yaml" in line and "'site_visit'" in line and "unknown key" in line
    assert not (tmp_path / "o").exists()
