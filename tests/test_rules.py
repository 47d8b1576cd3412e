"""Exact semantics of the record-level rules on tiny hand-written packages (contract section 5)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import CIVIC, EAST, ride
from verifier.geo.crs import convert
from verifier.run import verify


def run(pkg, tmp_path, **kw):
    kw.setdefault("seed", 11)
    return verify(pkg, tmp_path / "out", write_pdf=False, **kw)


def status(findings, cid):
    c = findings.check(cid)
    return c["status"], c["affected"]


def test_overlap_excludes_the_later_trip_and_touching_trips_do_not_overlap(bike_package, tmp_path):
    rows = [
        ride("a", "u1", "2024-03-01 08:00:00", "2024-03-01 08:10:00"),
        ride("b", "u1", "2024-03-01 08:05:00", "2024-03-01 08:20:00", km=2.0),  # overlaps a
        ride("c", "u1", "2024-03-01 08:20:00", "2024-03-01 08:30:00"),  # touches b: fine
        ride("d", "u2", "2024-03-01 08:05:00", "2024-03-01 08:20:00"),  # other user
    ]
    f = run(bike_package(rows), tmp_path)
    assert status(f, "records.overlap") == ("fail", 1)
    assert [e["record_key"] for e in f.check("records.overlap")["examples"]] == ["b"]
    assert f.to_dict()["recalculation"]["eligible_pkm"] == pytest.approx(1.6 * 3)


def test_exact_copy_is_a_duplicate_not_an_overlap(bike_package, tmp_path):
    rows = [ride("a", "u1", "2024-03-01 08:00:00", "2024-03-01 08:10:00"),
            ride("b", "u1", "2024-03-02 08:00:00", "2024-03-02 08:10:00")]
    rows.append(list(rows[0]))
    f = run(bike_package(rows), tmp_path)
    assert status(f, "records.duplicates") == ("fail", 1)
    assert status(f, "records.overlap") == ("pass", 0)
    assert f.check("records.duplicates")["examples"][0]["row_no"] == 3  # the first is kept


def test_same_user_and_times_under_other_ids_is_a_duplicate(bike_package, tmp_path):
    rows = [ride("a", "u1", "2024-03-01 08:00:00", "2024-03-01 08:10:00"),
            ride("z", "u1", "2024-03-01 08:00:00", "2024-03-01 08:10:00")]
    f = run(bike_package(rows), tmp_path)
    assert status(f, "records.duplicates") == ("fail", 1)
    assert status(f, "records.overlap") == ("pass", 0)


def test_without_trip_id_the_record_key_is_the_row_number(bike_package, tmp_path):
    rows = [ride("", f"u{i}", f"2024-03-0{i + 1} 08:00:00", f"2024-03-0{i + 1} 08:10:00") for i in range(3)]
    pkg = bike_package(rows)
    text = (pkg / "trips.csv").read_text().splitlines()
    (pkg / "trips.csv").write_text("\n".join(line.split(",", 1)[1] for line in text) + "\n")
    f = run(pkg, tmp_path, seed=4)
    import pandas as pd
    sample = pd.read_csv(tmp_path / "out" / "sample.csv", encoding="utf-8-sig")
    from verifier.sampling import selection_key
    assert sample["record_key"].tolist() == sorted([1, 2, 3], key=lambda k: selection_key(4, k))
    assert status(f, "records.duplicates") == ("pass", 0)


def test_records_before_scheme_start_never_eligible(bike_package, tmp_path):
    rows = [ride("a", "u1", "2022-08-17 23:50:00", "2022-08-18 00:05:00"),
            ride("b", "u1", "2022-08-18 08:00:00", "2022-08-18 08:10:00")]
    f = run(bike_package(rows, project__period_start="2022-08-18", project__period_end="2022-12-31"), tmp_path)
    assert status(f, "period.crediting_start") == ("fail", 1)
    # a ride starting on the 17th is dated the 17th, even when it ends on the 18th
    assert f.check("period.crediting_start")["examples"][0]["record_key"] == "a"
    assert status(f, "period.records_in_period") == ("fail", 1)
    assert f.to_dict()["recalculation"]["eligible_records"] == 1


def test_timezone_decides_the_record_date(bike_package, tmp_path):
    rows = [ride("a", "u1", "2024-12-31T16:30:00Z", "2024-12-31T16:40:00Z")]  # 00:30 on 1 Jan in Shenzhen
    f = run(bike_package(rows), tmp_path)
    assert status(f, "period.records_in_period") == ("fail", 1)


def test_users_file_authorisation(bike_package, tmp_path):
    rows = [ride("a", "u1", "2024-03-01 08:00:00", "2024-03-01 08:10:00"),
            ride("b", "u2", "2024-03-01 08:00:00", "2024-03-01 08:10:00"),
            ride("c", "u3", "2024-03-01 08:00:00", "2024-03-01 08:10:00")]
    pkg = bike_package(rows, data={"trips": "trips.csv", "users": "users.csv", "crs": "wgs84"})
    (pkg / "users.csv").write_text("user_id,authorized_at\nu1,2024-01-01\nu2,2024-03-01 09:00:00\n", encoding="utf-8")
    f = run(pkg, tmp_path)
    assert status(f, "period.user_authorization") == ("fail", 2)  # u2 too late, u3 missing
    assert {e["record_key"] for e in f.check("period.user_authorization")["examples"]} == {"b", "c"}


def test_no_users_file_is_not_evaluated(bike_package, tmp_path):
    f = run(bike_package([ride("a", "u1", "2024-03-01 08:00:00", "2024-03-01 08:10:00")]), tmp_path)
    assert status(f, "period.user_authorization") == ("not_evaluated", 0)


def test_missing_order_source_column_is_not_evaluated(bike_package, tmp_path):
    pkg = bike_package([ride("a", "u1", "2024-03-01 08:00:00", "2024-03-01 08:10:00")])
    lines = [line.split(",") for line in (pkg / "trips.csv").read_text().splitlines()]
    (pkg / "trips.csv").write_text("\n".join(",".join(c[:2] + c[3:]) for c in lines) + "\n")
    assert status(run(pkg, tmp_path), "orders.own_only") == ("not_evaluated", 0)


def test_distance_reconciliation_within_the_rounding_of_the_reported_figure(bike_package, tmp_path):
    rows = [ride("a", "u1", "2024-03-01 08:00:00", "2024-03-01 08:10:00", km=1.04),
            ride("b", "u1", "2024-03-02 08:00:00", "2024-03-02 08:10:00", km=1.0)]
    ok = bike_package(rows, name="ok", consistent=False,
                      monitored_data=[{"name": "n_t9", "unit": "rides", "value": 2},
                                      {"name": "m_t9", "unit": "pkm", "value": 2.0}])
    assert status(run(ok, tmp_path), "distance.reconciliation")[0] == "pass"  # 2.04 rounds to 2.0
    bad = bike_package(rows, name="bad", consistent=False,
                       monitored_data=[{"name": "n_t9", "unit": "rides", "value": 2},
                                       {"name": "m_t9", "unit": "pkm", "value": 2.00}])
    (bad / "report.yaml").write_text((bad / "report.yaml").read_text().replace("value: 2.0\n", "value: 2.01\n"))
    assert status(run(bad, tmp_path), "distance.reconciliation")[0] == "fail"  # 2.04 is not 2.01 ± 0.005


@pytest.mark.parametrize("start,end,expected", [
    ("2024-01-01", "2024-12-31", "pass"),
    ("2024-03-15", "2024-12-31", "pass"),   # first partial year
    ("2023-09-01", "2024-12-31", "pass"),   # a first partial year merged into the next
    ("2023-01-01", "2024-12-31", "fail"),   # two whole years
    ("2024-01-01", "2024-06-30", "fail"),   # not ending on 31 December
])
def test_natural_year(bike_package, tmp_path, start, end, expected):
    pkg = bike_package([ride("a", "u1", "2024-03-20 08:00:00", "2024-03-20 08:10:00")],
                       project__period_start=start, project__period_end=end)
    assert status(run(pkg, tmp_path), "period.natural_year")[0] == expected


def test_declared_crs_that_does_not_fit_warns(bike_package, tmp_path):
    # Box boundary; true (WGS-84) points 300 m inside its east edge, written in GCJ-02
    # (shifted ~500 m east) but declared WGS-84: read as declared they fall outside.
    box = {"type": "Polygon", "coordinates": [[[114.0, 22.5], [114.1, 22.5], [114.1, 22.6], [114.0, 22.6], [114.0, 22.5]]]}
    (tmp_path / "box.geojson").write_text(json.dumps(box))
    lon = np.full(20, 114.097)
    lat = np.linspace(22.52, 22.58, 20)
    glon, glat = convert(lon, lat, "wgs84", "gcj02")
    rows = [ride(f"t{i}", f"u{i}", "2024-03-01 08:00:00", "2024-03-01 08:10:00", km=0.5,
                 a=(glon[i], glat[i]), b=(glon[i], glat[i] + 0.001)) for i in range(20)]
    f = run(bike_package(rows), tmp_path, boundary=tmp_path / "box.geojson")
    assert status(f, "boundary.geographic") == ("fail", 20)
    crs = f.check("boundary.crs")
    assert crs["status"] == "warn" and crs["observed"] == "gcj02" and crs["affected"] == 20
    assert crs["details"]["inside"]["wgs84"] == 0 and crs["details"]["inside"]["gcj02"] == 40


def test_no_boundary_point_test_outside(bike_package, tmp_path):
    rows = [ride("a", "u1", "2024-03-01 08:00:00", "2024-03-01 08:10:00"),
            ride("b", "u2", "2024-03-01 08:00:00", "2024-03-01 08:10:00", a=(114.158, 22.282))]  # Hong Kong
    f = run(bike_package(rows), tmp_path)
    assert status(f, "boundary.geographic") == ("fail", 1)


def test_same_seed_same_sample_any_thread_count(bike_package, tmp_path):
    rows = [ride(f"t{i}", f"u{i % 7}", f"2024-03-{1 + i % 28:02d} {8 + i // 28:02d}:00:00",
                 f"2024-03-{1 + i % 28:02d} {8 + i // 28:02d}:10:00") for i in range(200)]
    pkg = bike_package(rows)
    a = verify(pkg, tmp_path / "a", seed=99, threads=1, write_pdf=False)
    b = verify(pkg, tmp_path / "b", seed=99, threads=2, write_pdf=False)
    assert (tmp_path / "a" / "sample.csv").read_bytes() == (tmp_path / "b" / "sample.csv").read_bytes()
    assert a.to_json() == b.to_json()
    c = verify(pkg, tmp_path / "c", seed=100, write_pdf=False)
    assert (tmp_path / "c" / "sample.csv").read_bytes() != (tmp_path / "a" / "sample.csv").read_bytes()


def test_gbk_csv(bike_package, tmp_path):
    rows = [ride("行程1", "用户甲", "2024-03-01 08:00:00", "2024-03-01 08:10:00")]
    pkg = bike_package(rows, data={"trips": "trips.csv", "crs": "wgs84", "encoding": "gbk"})
    text = (pkg / "trips.csv").read_text(encoding="utf-8")
    (pkg / "trips.csv").write_bytes(text.encode("gbk"))
    f = run(pkg, tmp_path)
    assert status(f, "records.validity") == ("pass", 0)
    import pandas as pd
    assert pd.read_csv(tmp_path / "out" / "sample.csv", encoding="utf-8-sig")["user_id"].tolist() == ["用户甲"]
