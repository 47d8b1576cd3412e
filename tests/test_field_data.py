"""Real public data from the Shenzhen open-data platform verifies through a column map."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import yaml

from conftest import OPEN_DATA_ORDERS, write_open_data_package
from verifier.run import verify

ORDERS = OPEN_DATA_ORDERS


@pytest.fixture(scope="module")
def open_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("open-data")
    pkg = write_open_data_package(root / "pkg")
    findings = verify(pkg, root / "out", seed=2021)
    return findings, root / "out"


def test_open_data_export_verifies_without_a_crash(open_data):
    findings, out = open_data
    d = findings.to_dict()
    assert d["sampling"]["population"] == 2000
    assert findings.check("count.reconciliation")["status"] == "pass"
    # the export carries no mileage: every ride lacks it, nothing can be credited
    assert findings.check("records.validity")["affected"] == 2000
    assert findings.check("sample.completeness")["status"] == "fail"
    assert d["recalculation"]["verified_reduction_tco2"] == 0
    # rides in 2021 predate the scheme (2022-08-18)
    assert findings.check("period.crediting_start")["affected"] == 2000
    assert (out / "report.pdf").stat().st_size > 10_000


def test_open_data_false_starts_are_flagged(open_data):
    findings, _ = open_data
    df = pd.read_csv(ORDERS)
    seconds = (pd.to_datetime(df.END_TIME) - pd.to_datetime(df.START_TIME)).dt.total_seconds()
    short = seconds.between(0, 60, inclusive="neither")
    # straight-line speed over the ride's duration (haversine on the raw points)
    r = 6371.0088
    p1, p2 = df.START_LAT.map(math.radians), df.END_LAT.map(math.radians)
    dlat = p2 - p1
    dlon = (df.END_LNG - df.START_LNG).map(math.radians)
    a = (dlat / 2).map(math.sin) ** 2 + p1.map(math.cos) * p2.map(math.cos) * (dlon / 2).map(math.sin) ** 2
    km = 2 * r * a.map(lambda x: math.asin(math.sqrt(x)))
    fast = (km / (seconds / 3600)) > 25
    expected = int(((short | fast) & (seconds > 0)).sum())
    assert findings.check("records.plausibility")["status"] == "warn"
    assert findings.check("records.plausibility")["affected"] == expected


def test_open_data_coordinates_fit_gcj02_best(open_data):
    findings, _ = open_data
    crs = findings.check("boundary.crs")
    assert crs["status"] == "pass"
    inside = crs["details"]["inside"]
    assert inside["gcj02"] == max(inside.values()) == crs["details"]["points"] == 4000
