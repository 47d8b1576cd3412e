"""The methodology seam: a third methodology, defined here and nowhere in the package, with a
column no other methodology has (`vessel`), verifies a package end to end; the engine runs only
the window rules its checklist names; an unknown methodology id is a one-line input error (exit 2)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from verifier.methodologies import REGISTRY, Column, Methodology, get
from verifier.methodologies.base import has_all, product

FERRY = "test-harbour-ferry"
FACTOR = 0.08  # kgCO2 per pkm avoided, fixed by this (made-up) methodology

CHECKLIST = {
    "methodology": FERRY,
    "clauses_source": {"zh": "测试方法学", "en": "Test methodology"},
    "points": [
        {"id": "applicability", "clause": {"zh": "适用条件", "en": "Applicability"},
         "title": {"zh": "适用条件", "en": "Applicability"}, "description": {"zh": "申报主体。", "en": "Applicant."},
         "checks": ["report.completeness", "applicant.eligibility", "documents.materials"]},
        {"id": "period", "clause": {"zh": "计入期", "en": "Period"}, "title": {"zh": "计入期", "en": "Period"},
         "description": {"zh": "计入期。", "en": "Period."}, "figures": ["daily"],
         "checks": ["period.crediting_start", "period.natural_year", "period.records_in_period"]},
        {"id": "m_ferry", "clause": {"zh": "里程", "en": "Mileage"}, "title": {"zh": "航行里程", "en": "Mileage"},
         "description": {"zh": "里程。", "en": "Mileage."},
         "checks": ["records.validity", "records.duplicates", "records.overlap", "distance.reconciliation",
                    "sample.completeness"]},
        {"id": "recalculation", "clause": {"zh": "减排量", "en": "Reduction"},
         "title": {"zh": "减排量", "en": "Reduction"}, "description": {"zh": "复算。", "en": "Recalculation."},
         "checks": ["report.arithmetic", "reduction.recalculation"]},
    ],
}


def ferry_methodology(checklist_path):
    class HarbourFerry(Methodology):
        id = FERRY
        name = {"zh": "测试用港口渡轮碳普惠方法学", "en": "Test methodology for harbour ferries"}
        eligible_business_model = "ferry_operator"
        business_models = ("ferry_operator", "ticket_agent")
        default_params = {}
        monitored_params = {"m_ferry": "pkm"}
        # `vessel` is this methodology's own column (read lower-cased): every trip names its boat
        columns = {"trip_id": Column("text"), "user_id": Column("text"), "route": Column("text"),
                   "vessel": Column("text", lower=True), "start_time": Column("time"), "end_time": Column("time"),
                   "distance_km": Column("number", gt=0)}
        required_columns = ("user_id", "vessel", "start_time", "distance_km")
        example_fields = ("user_id", "vessel", "route", "start_time", "distance_km")
        measured = ("m_ferry", "pkm")
        activity = {"m_ferry": "eligible_pkm"}
        formula_text = {"zh": "复算减排量 = 0.08 × 合格记录里程之和 / 1000",
                        "en": "Recalculated = 0.08 × the eligible records' pkm / 1000"}

        def record_problems(self, has):
            return ["user_id IS NULL", "vessel IS NULL", "start_time IS NULL", "distance_km IS NULL",
                    "NOT (distance_km > 0)"]

        def sampled_complete(self, sample):
            return has_all(sample, ("start_time", "end_time", "distance_km"))

        def emissions(self, v):
            baseline = product(FACTOR, v["m_ferry"])
            baseline = None if baseline is None else baseline / 1000
            return {"baseline_emissions_tco2": baseline, "project_emissions_tco2": 0.0,
                    "reduction_tco2": baseline}

    HarbourFerry.checklist_path = checklist_path
    return HarbourFerry()


@pytest.fixture
def ferry(tmp_path, monkeypatch):
    path = tmp_path / "checklist.yaml"
    path.write_text(yaml.safe_dump(CHECKLIST, allow_unicode=True), encoding="utf-8")
    m = ferry_methodology(path)
    monkeypatch.setitem(REGISTRY, FERRY, m)  # registered for this test only
    return m


TRIPS = [
    # trip_id, user_id, route, vessel, start, end, distance
    ("F1", "u1", "蛇口-机场", "PX-01", "2024-03-01 08:00:00", "2024-03-01 08:40:00", "10"),
    ("F2", "u2", "蛇口-机场", "px-02", "2024-03-01 09:00:00", "2024-03-01 09:50:00", "12.5"),
    ("F3", "u1", "福永-前海", "", "2024-04-02 10:00:00", "2024-04-02 10:30:00", "8"),  # no vessel
    ("F4", "u3", "福永-前海", "Px-03", "2024-05-03 11:00:00", "2024-05-03 12:00:00", "20"),
    ("F1", "u1", "蛇口-机场", "PX-01", "2024-03-01 08:00:00", "2024-03-01 08:40:00", "10"),  # repeated trip_id
    ("F6", "u4", "蛇口-机场", "PX-02", "2024-06-04 12:00:00", "2024-06-04 12:30:00", ""),  # no distance
]


def ferry_package(root, methodology=FERRY):
    root.mkdir()
    (root / "docs").mkdir()
    (root / "docs" / "application.pdf").write_bytes(b"%PDF-1.4 test\n")
    (root / "trips.csv").write_text(
        "trip_id,user_id,route,vessel,start_time,end_time,distance_km\n" + "".join(",".join(t) + "\n" for t in TRIPS),
        encoding="utf-8")
    report = {
        "schema_version": 1, "methodology": methodology,
        "applicant": {"name": "测试渡轮公司", "legal_representative": "张三", "uscc": "91440300D0R4NEUW49",
                      "registered_address": "深圳市南山区", "entity_type": "private", "contact_name": "李四",
                      "contact_phone": "0755-12345678", "business_model": "ferry_operator"},
        "project": {"name": "测试渡轮项目", "domain": "behavior", "methodology_name": "测试用港口渡轮碳普惠方法学",
                    "period_start": "2024-01-01", "period_end": "2024-12-31", "boundary": "深圳市行政区域"},
        "monitored_data": [{"name": "m_ferry", "unit": "pkm", "value": 60.5, "frequency": "real-time"}],
        "results": {"baseline_emissions_tco2": 0.00484, "project_emissions_tco2": 0.0, "reduction_tco2": 0.00484},
        "data": {"trips": "trips.csv", "encoding": "utf-8", "timezone": "Asia/Shanghai"},
        "documents": {"application_form": "docs/application.pdf"},
    }
    (root / "report.yaml").write_text(yaml.safe_dump(report, allow_unicode=True), encoding="utf-8")
    return root


def test_a_third_methodology_verifies_a_package_end_to_end(ferry, tmp_path):
    from verifier.run import verify

    out = tmp_path / "out"
    findings = verify(ferry_package(tmp_path / "pkg"), out, seed=7, write_pdf=True)
    result = findings.to_dict()
    status = {c["id"]: c["status"] for c in result["checks"]}
    affected = {c["id"]: c["affected"] for c in result["checks"]}

    assert result["methodology"] == FERRY
    assert len(status) == 24  # every contract check is reported ...
    applicable = {c for p in CHECKLIST["points"] for c in p["checks"]}
    assert {c for c, s in status.items() if s == "not_applicable"} == set(status) - applicable  # ... by its checklist
    assert status["report.completeness"] == "pass"
    assert status["applicant.eligibility"] == "pass"
    assert status["documents.materials"] == "pass"
    validity = next(c for c in result["checks"] if c["id"] == "records.validity")
    assert (validity["status"], validity["affected"]) == ("fail", 2)  # F3 names no vessel, F6 no distance
    assert [(e["record_key"], e["vessel"]) for e in validity["examples"]] == [("F3", None), ("F6", "px-02")]
    assert (status["records.duplicates"], affected["records.duplicates"]) == ("fail", 1)
    assert status["records.overlap"] == "pass"
    assert status["distance.reconciliation"] == "pass"  # 60.5 pkm reported, 10 + 12.5 + 8 + 20 + 10 on file
    assert status["report.arithmetic"] == "pass"  # 0.08 × 60.5 / 1000 = 0.00484
    assert status["count.reconciliation"] == "not_applicable"  # it counts nothing

    rec = result["recalculation"]
    assert rec["eligible_records"] == 3  # F1, F2, F4
    assert rec["eligible_pkm"] == pytest.approx(42.5)
    assert rec["recalculated_reduction_tco2"] == pytest.approx(FACTOR * 42.5 / 1000)
    assert rec["verified_reduction_tco2"] == pytest.approx(FACTOR * 42.5 / 1000)
    assert rec["difference_rate"] == pytest.approx((0.00484 - 0.0034) / 0.00484)
    assert status["reduction.recalculation"] == "fail"  # 30 % off the claim: beyond the materiality
    assert "per_mode" not in rec and rec["factors_used"] == {}
    assert result["sampling"]["size"] == 6 and result["sampling"]["deviations"] == 1  # F6 lacks its distance
    assert result["conclusion"] == "fail"

    sample = (out / "sample.csv").read_text(encoding="utf-8-sig").splitlines()
    assert sample[0] == ("record_key,trip_id,user_id,route,vessel,start_time,end_time,distance_km,sample.completeness,"
                         "period.crediting_start,period.records_in_period,records.validity,records.duplicates,"
                         "records.overlap")
    assert sum(line.endswith(",fail,pass,pass,fail,pass,pass") for line in sample[1:]) == 1  # F6: incomplete, invalid
    assert sum(line.startswith("F3,") and line.endswith(",pass,pass,pass,fail,pass,pass") for line in sample[1:]) == 1
    assert sum(line.startswith("F1,F1,u1,蛇口-机场,px-01,") for line in sample[1:]) == 2  # read lower-cased
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "测试用港口渡轮碳普惠方法学" in html and "0.08 × 合格记录里程之和" in html
    assert (out / "report.pdf").stat().st_size > 10_000


def test_a_rule_its_checklist_omits_costs_no_pass_and_has_no_column(tmp_path, monkeypatch):
    """Without records.overlap in the checklist the engine runs no overlap window and `records`
    has no overlap column; the rules it names still run (duplicates among them)."""
    from verifier.data.engine import Engine
    from verifier.run import verify

    checklist = {**CHECKLIST, "points": [
        {**p, "checks": [c for c in p["checks"] if c != "records.overlap"]} for p in CHECKLIST["points"]]}
    path = tmp_path / "checklist.yaml"
    path.write_text(yaml.safe_dump(checklist, allow_unicode=True), encoding="utf-8")
    monkeypatch.setitem(REGISTRY, FERRY, ferry_methodology(path))
    log: list[str] = []
    monkeypatch.setattr(Engine, "statement_log", log)

    out = tmp_path / "out"
    result = verify(ferry_package(tmp_path / "pkg"), out, seed=7, write_pdf=False).to_dict()
    status = {c["id"]: (c["status"], c["affected"]) for c in result["checks"]}
    assert status["records.overlap"] == ("not_applicable", 0)
    assert status["records.duplicates"] == ("fail", 1)
    assert not [sql for sql in log if "overlapping" in sql or "records.overlap" in sql]
    assert any("TABLE dups" in sql for sql in log)
    assert "records.overlap" not in (out / "sample.csv").read_text(encoding="utf-8-sig").splitlines()[0]


def test_an_unknown_methodology_is_an_input_error_naming_the_field(tmp_path):
    package = ferry_package(tmp_path / "pkg", methodology="shenzhen-harbour-ferry")
    r = subprocess.run([sys.executable, "-m", "verifier", "verify", str(package), "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    line = next(x for x in r.stderr.splitlines() if "methodology" in x)
    assert "unknown methodology" in line and "shenzhen-harbour-ferry" in line
    assert "shenzhen-bike-sharing" in line and "shenzhen-public-transit" in line  # the registered ones
    assert not (tmp_path / "out").exists()


def test_get_refuses_an_unknown_id():
    with pytest.raises(KeyError, match="unknown methodology 'nope'"):
        get("nope")
    assert get("shenzhen-bike-sharing").coordinates
    assert not get("shenzhen-public-transit").coordinates
