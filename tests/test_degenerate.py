"""Degenerate data: an empty population verifies; hidden characters are kept exactly in the
evidence (findings.json, sample.csv) and shown escaped in the report and the workpaper."""

from __future__ import annotations

import json
import re
import subprocess

import duckdb
import openpyxl
import pandas as pd
import pytest

from conftest import ride, write_bike_package
from verifier.report.model import visible
from verifier.run import verify


def claiming(folder, records=400, km=700.305):
    """An empty package whose report claims `records` rides of `km` pkm in all."""
    baseline = round(0.05 * km / 1000, 9)
    return write_bike_package(folder, [], consistent=False, monitored_data=[
        {"name": "n_t9", "unit": "rides", "value": records, "frequency": "real-time"},
        {"name": "m_t9", "unit": "pkm", "value": km, "frequency": "real-time"}],
        results={"baseline_emissions_tco2": baseline, "project_emissions_tco2": 0, "reduction_tco2": baseline})


def checks(findings) -> dict:
    return {c["id"]: c for c in findings.to_dict()["checks"]}


def assert_empty_population(findings, claimed: int):
    d = findings.to_dict()
    c = checks(findings)
    assert d["sampling"]["population"] == 0 and d["sampling"]["size"] == 0
    assert d["sampling"]["upper_deviation_rate"] == 1.0  # nothing examined bounds nothing
    assert c["sample.completeness"]["status"] == "not_evaluated"
    assert c["count.reconciliation"]["observed"] == 0
    assert c["count.reconciliation"]["status"] == ("fail" if claimed else "pass")
    rec = d["recalculation"]
    assert rec["eligible_records"] == 0 and rec["eligible_pkm"] == 0.0
    assert rec["recalculated_reduction_tco2"] == 0.0 and rec["verified_reduction_tco2"] == 0.0
    assert rec["difference_rate"] == (1.0 if claimed else 0.0)
    assert [i["records"] for i in d["inputs"] if i["role"] == "trips"] == [0]


def test_header_only_csv_verifies_and_fails_the_claim(tmp_path):
    findings = verify(claiming(tmp_path / "pkg"), tmp_path / "out", seed=3, lang="en")
    assert_empty_population(findings, claimed=400)
    assert findings.to_dict()["conclusion"] == "fail" and findings.exit_code == 1
    sample = (tmp_path / "out" / "sample.csv").read_text(encoding="utf-8-sig")
    assert sample.splitlines()[0].startswith("record_key,") and len(sample.splitlines()) == 1
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "The trip data holds no records (0)" in html
    assert "The data holds no records: there is nothing to sample" in html
    # every figure the points ask for is drawn, empty
    assert sorted(re.findall(r'src="data:image/png;base64,[A-Za-z0-9+/=]+" alt="[^"]*" class="fig-(\w+)"', html)) == [
        "daily", "distance", "map", "speed"]
    assert (tmp_path / "out" / "report.pdf").stat().st_size > 0


def test_empty_parquet_file_verifies(tmp_path):
    pkg = claiming(tmp_path / "pkg")
    duckdb.sql(f"COPY (SELECT * FROM read_csv('{pkg / 'trips.csv'}', all_varchar=true) LIMIT 0) "
               f"TO '{pkg / 'trips.parquet'}'")
    (pkg / "trips.csv").unlink()
    report = (pkg / "report.yaml").read_text(encoding="utf-8").replace("trips.csv", "trips.parquet")
    (pkg / "report.yaml").write_text(report, encoding="utf-8")
    findings = verify(pkg, tmp_path / "out", seed=3, write_pdf=False)
    assert_empty_population(findings, claimed=400)


def test_a_report_claiming_nothing_with_no_records_passes_with_nothing_verified(tmp_path):
    findings = verify(claiming(tmp_path / "pkg", records=0, km=0), tmp_path / "out", seed=3, write_pdf=False)
    assert_empty_population(findings, claimed=0)
    c = checks(findings)
    assert c["distance.reconciliation"]["status"] == "pass"
    assert c["reduction.recalculation"]["status"] == "pass"
    assert findings.to_dict()["conclusion"] == "pass"


def test_empty_transit_trip_file_verifies(tmp_path):
    import shutil

    from conftest import REPO

    pkg = tmp_path / "pkg"
    shutil.copytree(REPO / "samples" / "transit-clean", pkg)
    header = (pkg / "trips.csv").read_text(encoding="utf-8").splitlines()[0]
    (pkg / "trips.csv").write_text(header + "\n", encoding="utf-8")
    findings = verify(pkg, tmp_path / "out", factors=pkg / "factors.yaml", seed=3, write_pdf=False)
    d = findings.to_dict()
    assert d["sampling"]["size"] == 0 and d["recalculation"]["eligible_records"] == 0
    assert [m["records"] for m in d["recalculation"]["per_mode"]] == [0, 0]
    assert checks(findings)["count.reconciliation"]["status"] == "fail"


# -- hidden characters --------------------------------------------------------------------------
HIDDEN_IDS = ["a\x00b", "esc\x1b[0m", "bell\x07", "rtl\u202eabc", "\ufeffbom"]


def test_visible_escapes_hidden_characters_only():
    assert visible("a\x00b\x1b\x07\u202ec\ufeffd") == "a\\x00b\\x1b\\x07\\u202ec\\ufeffd"
    assert visible("深圳 站\u3000A\tB\nC") == "深圳 站\u3000A\tB\nC"  # spaces and line breaks stay


@pytest.fixture(scope="module")
def hidden_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hidden")

    def quoted(text):
        return '"' + text.replace('"', '""') + '"'

    rows = [ride(quoted(t), quoted(f"user{t}"), f"2024-03-0{i + 1} 08:00:00", f"2024-03-0{i + 1} 08:10:00")
            for i, t in enumerate(HIDDEN_IDS)]
    rows.append(ride(quoted(HIDDEN_IDS[0]), quoted("u9"), "2024-03-09 08:00:00", "2024-03-09 08:10:00"))
    pkg = write_bike_package(root / "pkg", rows)
    verify(pkg, root / "out", seed=5)
    return root / "out"


def test_hidden_characters_are_kept_exactly_in_the_evidence(hidden_run):
    findings = json.loads((hidden_run / "findings.json").read_text(encoding="utf-8"))
    dup = next(c for c in findings["checks"] if c["id"] == "records.duplicates")
    assert [e["trip_id"] for e in dup["examples"]] == ["a\x00b"]
    assert "\\u0000" in (hidden_run / "findings.json").read_text(encoding="utf-8")  # JSON escape
    sample = pd.read_csv(hidden_run / "sample.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert sorted(set(sample["trip_id"])) == sorted(HIDDEN_IDS)
    assert set(sample["user_id"]) >= {f"user{t}" for t in HIDDEN_IDS}


def test_hidden_characters_are_shown_escaped_in_report_and_workpaper(hidden_run):
    html = (hidden_run / "report.html").read_text(encoding="utf-8")
    for raw in ("\x00", "\x1b", "\x07", "\u202e", "\ufeff"):
        assert raw not in html
    for shown in ("a\\x00b", "esc\\x1b[0m", "bell\\x07", "rtl\\u202eabc", "\\ufeffbom"):
        assert shown in html
    text = subprocess.run(["pdftotext", str(hidden_run / "report.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "a\\x00b" in text and "rtl\\u202eabc" in text
    ws = openpyxl.load_workbook(hidden_run / "sample.xlsx").active
    keys = {ws.cell(r, 2).value for r in range(2, ws.max_row + 1)}
    assert keys == {visible(t) for t in HIDDEN_IDS}
