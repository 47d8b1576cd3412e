"""Shared test helpers: a tiny hand-written package builder (for rules that need exact rows)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from verifier.uscc import uscc_check_char

SHARED = Path(__file__).resolve().parents[2] / "shared"
REPO = Path(__file__).resolve().parents[1]

BIKE_COLUMNS = ["trip_id", "user_id", "order_source", "start_time", "end_time", "start_lon", "start_lat",
                "end_lon", "end_lat", "distance_km"]
# Civic Center (WGS-84) and a point 1.2 km east: inside Shenzhen under any reading.
CIVIC = (114.0596, 22.5431)
EAST = (114.0712, 22.5440)


def uscc() -> str:
    body = "91440300MA5FABCD1"
    return body + uscc_check_char(body)


BIKE_REPORT = {
    "schema_version": 1,
    "methodology": "shenzhen-bike-sharing",
    "applicant": {"name": "深圳市测试单车有限公司", "legal_representative": "张三", "uscc": uscc(),
                  "registered_address": "深圳市南山区", "entity_type": "private", "contact_name": "李四",
                  "contact_phone": "0755-12345678", "business_model": "own_operator"},
    "project": {"name": "测试项目", "domain": "behavior", "methodology_name": "深圳市共享单车骑行碳普惠方法学（试行）",
                "period_start": "2024-01-01", "period_end": "2024-12-31", "boundary": "深圳市行政区域"},
    "default_data": [{"name": "Eb", "unit": "kgCO2/pkm", "value": 0.05}],
    "monitored_data": [{"name": "n_t9", "unit": "rides", "value": 0, "frequency": "real-time"},
                       {"name": "m_t9", "unit": "pkm", "value": 0, "frequency": "real-time"}],
    "results": {"baseline_emissions_tco2": 0, "project_emissions_tco2": 0, "reduction_tco2": 0},
    "data": {"trips": "trips.csv", "crs": "wgs84", "encoding": "utf-8", "timezone": "Asia/Shanghai"},
}


def ride(trip_id, user, start, end, km=1.6, src="own", a=CIVIC, b=EAST):
    return [trip_id, user, src, start, end, a[0], a[1], b[0], b[1], km]


def write_bike_package(folder: Path, rows: list[list], consistent: bool = True, **overrides) -> Path:
    """A bike package with these rows; report totals made consistent with the data unless told."""
    folder.mkdir(parents=True, exist_ok=True)
    report = copy.deepcopy(BIKE_REPORT)
    if consistent:
        km = round(sum(float(r[9]) for r in rows if r[9] not in ("", None)), 3)
        report["monitored_data"][0]["value"] = len(rows)
        report["monitored_data"][1]["value"] = km
        baseline = round(0.05 * km / 1000, 9)
        report["results"] = {"baseline_emissions_tco2": baseline, "project_emissions_tco2": 0,
                             "reduction_tco2": baseline}
    for dotted, value in overrides.items():
        section, _, key = dotted.partition("__")
        if key:
            report[section][key] = value
        else:
            report[section] = value
    lines = [",".join(BIKE_COLUMNS)] + [",".join("" if v is None else str(v) for v in r) for r in rows]
    (folder / "trips.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "report.yaml").write_text(yaml.safe_dump(report, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return folder


@pytest.fixture
def bike_package(tmp_path):
    def make(rows, name="pkg", **kw):
        return write_bike_package(tmp_path / name, rows, **kw)
    return make


# The city's open-data export (shared/data/field), mapped onto the canonical columns.
OPEN_DATA_ORDERS = SHARED / "data" / "field" / "sz_bike_orders_2021-08-01_sample.csv"
OPEN_DATA_COLUMNS = {"trip_id": "_id", "user_id": "USER_ID", "start_time": "START_TIME", "end_time": "END_TIME",
                     "start_lon": "START_LNG", "start_lat": "START_LAT", "end_lon": "END_LNG", "end_lat": "END_LAT"}


def write_open_data_package(folder: Path, rides: int | None = None, period_start: str = "2021-08-01") -> Path:
    """A bike package of the open-data export (its first `rides` rides, all 2,000 by default;
    GCJ-02, no mileage column), claimed as 2021 from `period_start`: a test copy in a temporary
    folder, never in the repository."""
    lines = OPEN_DATA_ORDERS.read_text(encoding="utf-8").splitlines()
    lines = lines if rides is None else lines[:rides + 1]
    pkg = write_bike_package(folder, [], consistent=False,
                             project__period_start=period_start, project__period_end="2021-12-31",
                             data={"trips": "orders.csv", "crs": "gcj02", "columns": OPEN_DATA_COLUMNS},
                             monitored_data=[{"name": "n_t9", "unit": "rides", "value": len(lines) - 1},
                                             {"name": "m_t9", "unit": "pkm", "value": 0}])
    (pkg / "trips.csv").unlink()
    if rides is None:
        (pkg / "orders.csv").write_bytes(OPEN_DATA_ORDERS.read_bytes())  # the file as published
    else:
        (pkg / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return pkg


# -- Spark: one session per test process (tests/spark_support.py) ----------------------------------
def pytest_configure(config):
    import spark_support

    config.addinivalue_line("markers", "spark: runs the Spark engine (the shared session of spark_support)")
    spark_support.share_session()


def pytest_sessionfinish(session, exitstatus):
    import spark_support

    spark_support.stop_session()
