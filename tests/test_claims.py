"""claims.parquet (verifier.claims) and the double claims across filings
(verifier.batch.double_claims), on small packages built from samples/bike-clean and
samples/transit-clean with planted overlaps, on DuckDB and on Spark (the same csv bytes and
block).

The bike filings, in filing order (period end, then name):
  opA-h1    USCC A, 2024-01-01..2024-06-30, GCJ-02: the first half-year's rides, one of them (X)
            without its mileage (excluded by records.validity: not credited, so no double claim)
  opA-2024  USCC A, the whole year: the second half-year's rides, 5 rides copied from opA-h1
            (same trip ids: same_applicant) and X with its mileage
  opC-2024  USCC C: 3 of opA-2024's own rides and 2 of the rides opA-2024 copied from opA-h1,
            under new trip ids (fingerprint; the 2 match opA-h1 and opA-2024 and count once,
            against opA-h1)
  opD-2024  USCC D, WGS-84: one more opA-h1 ride with its points converted from GCJ-02 to WGS-84
            (a fingerprint match only after both are converted)
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from spark_support import SPARK_TESTS, engine_options, share_session, spark_options
from verifier.batch.double_claims import ClaimsInput, find_double_claims, overlapping_periods
from verifier.claims import CLAIMS_FILE, wgs84_e4
from verifier.data.engine import EngineOptions
from verifier.geo.crs import convert
from verifier.pipeline import verify
from verifier.uscc import uscc_check_char

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
HEADER = "\ufefffiling,record_key,earlier_filing,earlier_record_key,basis,pkm\n"


def uscc(tag: str) -> str:
    first = f"91440300MA5{tag}00000"[:17]
    return first + uscc_check_char(first)


def package(root: Path, sample: str, name: str, trips: pd.DataFrame, *, uscc_tag: str,
            start: str = "2024-01-01", end: str = "2024-12-31", crs: str | None = None) -> Path:
    """A copy of `sample` with its applicant's USCC, period, coordinate system and trips replaced."""
    folder = root / name
    shutil.copytree(SAMPLES / sample, folder)
    report = yaml.safe_load((folder / "report.yaml").read_text(encoding="utf-8"))
    report["applicant"]["uscc"] = uscc(uscc_tag)
    report["project"]["period_start"], report["project"]["period_end"] = start, end
    if crs:
        report["data"]["crs"] = crs
    (folder / "report.yaml").write_text(yaml.safe_dump(report, allow_unicode=True, sort_keys=False), encoding="utf-8")
    trips.to_csv(folder / "trips.csv", index=False, float_format=lambda v: repr(float(v)))
    return folder


def claims_input(name: str, out: Path) -> ClaimsInput:
    f = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    return ClaimsInput(name=name, claims=out / CLAIMS_FILE, uscc=f["applicant"]["uscc"], methodology=f["methodology"],
                       period_start=f["period"]["start"], period_end=f["period"]["end"],
                       factors=f["recalculation"]["factors_used"])


def run(packages: dict[str, Path], outs: Path, **options) -> list[ClaimsInput]:
    inputs = []
    for name, folder in packages.items():
        verify(folder, outs / name, seed=7, write_pdf=False, claims=True, factors=folder / "factors.yaml", **options)
        inputs.append(claims_input(name, outs / name))
    return inputs


def bike_trips() -> pd.DataFrame:
    return pd.read_csv(SAMPLES / "bike-clean" / "trips.csv", dtype={"trip_id": str, "user_id": str, "order_source": str})


@pytest.fixture(scope="module")
def bike(tmp_path_factory):
    """The four bike filings verified on DuckDB with claims, and the planted rows."""
    root = tmp_path_factory.mktemp("bike")
    trips = bike_trips()
    h1 = trips[trips.start_time < "2024-07-01"].reset_index(drop=True)
    h2 = trips[trips.start_time >= "2024-07-01"].reset_index(drop=True)
    x = h1.iloc[[0]].copy()
    a = h1.copy()
    a.loc[0, "distance_km"] = np.nan  # X: excluded in opA-h1
    copied = h1.iloc[1:6]  # 5 rides opA-2024 files again
    b = pd.concat([h2, copied, x], ignore_index=True)
    c_own = h2.iloc[:3].copy()
    c_shared = copied.iloc[:2].copy()
    c = pd.concat([c_own, c_shared], ignore_index=True)
    c["trip_id"] = [f"C{i:014d}" for i in range(len(c))]
    d = h1.iloc[[10]].copy()
    for end in ("start", "end"):
        d[f"{end}_lon"], d[f"{end}_lat"] = convert(d[f"{end}_lon"].to_numpy(), d[f"{end}_lat"].to_numpy(), "gcj02", "wgs84")
    d["trip_id"] = ["D00000000000001"]
    packages = {"opA-h1": package(root, "bike-clean", "opA-h1", a, uscc_tag="A", end="2024-06-30"),
                "opA-2024": package(root, "bike-clean", "opA-2024", b, uscc_tag="A"),
                "opC-2024": package(root, "bike-clean", "opC-2024", c, uscc_tag="C"),
                "opD-2024": package(root, "bike-clean", "opD-2024", d, uscc_tag="D", crs="wgs84")}
    inputs = run(packages, root / "out")
    found = find_double_claims(inputs, root / "double_claims.csv", EngineOptions())
    return {"root": root, "packages": packages, "inputs": inputs, "found": found, "x": x, "copied": copied,
            "c_own": c_own, "c_shared": c_shared, "d": d, "h1": h1}


def test_claims_parquet_holds_the_eligible_records(bike):
    """One row per eligible record in row_no order; X (no mileage) is not in opA-h1's claims;
    start_s is the local time's epoch seconds; the bike points are WGS-84 integers."""
    claims = pq.read_table(bike["root"] / "out" / "opA-h1" / CLAIMS_FILE).to_pandas()
    assert list(claims.columns) == ["record_key", "row_no", "keyed", "user_id", "start_s", "fingerprint", "part",
                                    "distance_km"]
    h1 = bike["h1"]
    assert list(claims.record_key) == list(h1.trip_id[1:])
    assert list(claims.row_no) == list(range(2, len(h1) + 1))
    first = h1.iloc[1]
    start = pd.Timestamp(first.start_time)
    assert claims.start_s[0] == (start - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    x, y = convert(first.start_lon, first.start_lat, "gcj02", "wgs84")
    point = f"{int(np.rint(x * 1e4))},{int(np.rint(y * 1e4))}"
    assert claims.fingerprint[0].split("|")[2] == f"{len(point)}:{point}"
    assert claims.keyed.all() and claims.part.isna().all()


def test_claims_parquet_is_the_same_bytes_on_every_run(bike, tmp_path):
    verify(bike["packages"]["opA-h1"], tmp_path / "again", seed=7, write_pdf=False, claims=True, threads=1,
           factors=bike["packages"]["opA-h1"] / "factors.yaml")
    assert ((tmp_path / "again" / CLAIMS_FILE).read_bytes()
            == (bike["root"] / "out" / "opA-h1" / CLAIMS_FILE).read_bytes())


def test_wgs84_e4_rounds_half_to_even_and_nulls_what_is_no_point():
    out = wgs84_e4(np.array([114.00005, 113.5, np.nan, 200.0]), np.array([22.00015, 22.00145, 22.5, 22.5]), "wgs84")
    # x·10^4 as a double: 1140000.5 and 220001.5 (halves: to even), 220014.49999999997 (below a half)
    assert out.to_pylist() == ["1140000,220002", "1135000,220014", None, None]


def test_bike_double_claims(bike):
    """The planted pairs with their records, exact pkm and tCO2 (Eb x pkm / 1000 at the later
    filing's factor), examples and the csv rows in filing order."""
    found, copied, c_own, c_shared, d = bike["found"], bike["copied"], bike["c_own"], bike["c_shared"], bike["d"]
    eb = {i.name: i.factors["Eb"]["value"] for i in bike["inputs"]}
    pairs = found.block["pairs"]
    assert [(p["filing"], p["earlier"], p["basis"], p["records"]) for p in pairs] == [
        ("opA-2024", "opA-h1", "same_applicant", 5),
        ("opC-2024", "opA-h1", "fingerprint", 2),
        ("opC-2024", "opA-2024", "fingerprint", 3),
        ("opD-2024", "opA-h1", "fingerprint", 1)]
    pkm = [math.fsum(copied.distance_km), math.fsum(c_shared.distance_km), math.fsum(c_own.distance_km),
           float(d.distance_km.iloc[0])]
    assert [p["pkm"] for p in pairs] == [round(x, 6) for x in pkm]
    assert [p["tco2"] for p in pairs] == [round(eb[p["filing"]] * x / 1000, 9) for p, x in zip(pairs, pkm)]
    assert pairs[0]["examples"] == [{"record_key": k, "earlier_record_key": k, "basis": "same_applicant"}
                                    for k in copied.trip_id]
    assert pairs[1]["examples"] == [{"record_key": "C00000000000003", "earlier_record_key": copied.trip_id.iloc[0],
                                     "basis": "fingerprint"},
                                    {"record_key": "C00000000000004", "earlier_record_key": copied.trip_id.iloc[1],
                                     "basis": "fingerprint"}]
    assert found.block["records"] == 11
    assert found.block["overlapping_periods"] == [["opA-h1", "opA-2024"]]
    assert found.per_filing["opA-h1"] == {"records": 0, "pkm": 0.0, "tco2": 0.0}
    assert found.per_filing["opC-2024"]["records"] == 5
    assert found.per_filing["opC-2024"]["pkm"] == round(math.fsum([*c_shared.distance_km, *c_own.distance_km]), 6)
    rows = (bike["root"] / "double_claims.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    assert rows[0] == HEADER
    assert len(rows) == 12
    # the ride X (excluded in opA-h1) is nowhere; opA-2024's rows come first, in row_no order
    assert not any(bike["x"].trip_id.iloc[0] in r for r in rows[1:])
    assert rows[1:6] == [f"opA-2024,{k},opA-h1,{k},same_applicant,{float(km)!r}\n"
                         for k, km in zip(copied.trip_id, copied.distance_km)]
    assert rows[-1] == f"opD-2024,D00000000000001,opA-h1,{bike['h1'].trip_id.iloc[10]},fingerprint,{float(d.distance_km.iloc[0])!r}\n"


def test_the_wgs84_copy_matches_only_after_conversion(bike):
    """opD-2024's ride, as GCJ-02 numbers, would not match: its points differ by hundreds of metres."""
    d, h1 = bike["d"], bike["h1"]
    assert abs(d.start_lon.iloc[0] - h1.start_lon.iloc[10]) > 1e-3
    assert [p["filing"] for p in bike["found"].block["pairs"]][-1] == "opD-2024"


def test_no_filings_writes_the_header_only(tmp_path):
    found = find_double_claims([], tmp_path / "double_claims.csv", EngineOptions())
    assert found.block == {"pairs": [], "records": 0, "overlapping_periods": []}
    assert (tmp_path / "double_claims.csv").read_text(encoding="utf-8") == HEADER


def test_overlapping_periods_need_one_applicant_and_methodology():
    def f(name, tag, start, end, methodology="shenzhen-bike-sharing"):
        return ClaimsInput(name, Path("x"), uscc(tag), methodology, start, end, {})

    filings = [f("b", "A", "2024-01-01", "2024-12-31"), f("a", "A", "2024-06-01", "2024-06-30"),
               f("c", "A", "2025-01-01", "2025-12-31"), f("d", "B", "2024-01-01", "2024-12-31"),
               f("e", "A", "2024-01-01", "2024-12-31", "shenzhen-public-transit")]
    assert overlapping_periods(filings) == [["a", "b"]]


@pytest.fixture(scope="module")
def transit(tmp_path_factory):
    """Two transit filings of different applicants sharing 4 metro and 3 bus trips."""
    root = tmp_path_factory.mktemp("transit")
    trips = pd.read_csv(SAMPLES / "transit-clean" / "trips.csv", dtype=str)
    metro = trips[trips["mode"] == "metro"].head(4)
    bus = trips[trips["mode"] == "bus"].head(3)
    shared = pd.concat([metro, bus], ignore_index=True)
    shared["trip_id"] = [f"S{i:013d}" for i in range(len(shared))]
    packages = {"p1": package(root, "transit-clean", "p1", trips, uscc_tag="P"),
                "p2": package(root, "transit-clean", "p2", shared, uscc_tag="Q")}
    inputs = run(packages, root / "out")
    found = find_double_claims(inputs, root / "double_claims.csv", EngineOptions())
    return {"root": root, "inputs": inputs, "found": found, "metro": metro}


def test_transit_metro_fingerprints_match_bus_trips_do_not(transit):
    found, metro = transit["found"], transit["metro"]
    f = transit["inputs"][1].factors
    pkm = math.fsum(metro.distance_km.astype(float))
    tco2 = (f["EF_baseline"]["value"] - f["EF_metro"]["value"]) * pkm / 1000
    assert found.block["pairs"] == [{
        "filing": "p2", "earlier": "p1", "basis": "fingerprint", "records": 4, "pkm": round(pkm, 6),
        "tco2": round(tco2, 9),
        "examples": [{"record_key": f"S{i:013d}", "earlier_record_key": k, "basis": "fingerprint"}
                     for i, k in enumerate(metro.trip_id)]}]
    assert found.block["overlapping_periods"] == []


# -- Spark: the same claims and the same double claims ------------------------------------------
def on_spark(test):
    for mark in SPARK_TESTS:
        test = mark(test)
    return test


@on_spark
def test_spark_writes_the_same_claims(bike, tmp_path):
    """claims.parquet from the Spark engine holds DuckDB's rows (the WGS-84 points by the same
    numpy code in a pandas UDF), for a GCJ-02 and a WGS-84 package."""
    share_session()
    for name in ("opA-h1", "opD-2024"):
        folder = bike["packages"][name]
        verify(folder, tmp_path / name, seed=7, write_pdf=False, claims=True, factors=folder / "factors.yaml",
               **spark_options())
        spark = pq.read_table(tmp_path / name / CLAIMS_FILE).to_pandas()
        duck = pq.read_table(bike["root"] / "out" / name / CLAIMS_FILE).to_pandas()
        pd.testing.assert_frame_equal(spark, duck)


@on_spark
def test_spark_finds_the_same_double_claims(bike, transit, tmp_path):
    """The Spark pass gives DuckDB's block and per-filing figures and double_claims.csv byte for byte."""
    share_session()
    for case in (bike, transit):
        found = find_double_claims(case["inputs"], tmp_path / "double_claims.csv", engine_options())
        assert found == case["found"]
        assert (tmp_path / "double_claims.csv").read_bytes() == (case["root"] / "double_claims.csv").read_bytes()
