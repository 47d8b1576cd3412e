"""verifier.synth: deterministic, internally consistent packages; each defect plants exactly itself.

The audit below recomputes every record-level rule and the report's arithmetic independently
(DuckDB over the files, numpy for geometry), so a package whose planted defect leaks into another
check fails here, before the golden tests."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pytest
import yaml

from verifier.geo.crs import convert
from verifier.synth import DEFECTS, PLANTED, write_bike_package
from verifier.uscc import is_valid_uscc

RIDES = 300


def _trips_sql(pkg: Path, info: dict) -> str:
    f = pkg / info["trips"]
    if f.suffix == ".csv":
        return f"read_csv('{f}', all_varchar = true)"
    return f"read_parquet('{f}')"


def _load(pkg: Path, info: dict):
    con = duckdb.connect()
    con.execute(f"""CREATE TABLE t AS SELECT row_number() OVER () AS row_no,
        NULLIF(trip_id, '') AS trip_id, user_id, order_source,
        CAST(start_time AS TIMESTAMP) AS start_time, CAST(end_time AS TIMESTAMP) AS end_time,
        CAST(start_lon AS DOUBLE) AS start_lon, CAST(start_lat AS DOUBLE) AS start_lat,
        CAST(end_lon AS DOUBLE) AS end_lon, CAST(end_lat AS DOUBLE) AS end_lat,
        TRY_CAST(NULLIF(CAST(distance_km AS VARCHAR), '') AS DOUBLE) AS distance_km
        FROM {_trips_sql(pkg, info)}""")
    con.execute(f"""CREATE TABLE u AS SELECT user_id, CAST(authorized_at AS TIMESTAMP) AS authorized_at
        FROM read_csv('{pkg / 'users.csv'}', all_varchar = true)""")
    return con


@pytest.fixture(scope="module")
def boundary():
    from verifier.geo.boundary import Boundary

    return Boundary.default()


def _audit(pkg: Path, info: dict, boundary) -> dict:
    """Record-level rules -> sorted row numbers they catch; report-level rules -> bool (violated)."""
    con = _load(pkg, info)
    rep = yaml.safe_load((pkg / "report.yaml").read_text(encoding="utf-8"))
    start, end = rep["project"]["period_start"], rep["project"]["period_end"]
    rows = lambda sql: [r[0] for r in con.execute(f"SELECT row_no FROM ({sql}) ORDER BY row_no").fetchall()]
    out: dict = {}
    out["records.validity"] = rows("SELECT * FROM t WHERE distance_km IS NULL OR distance_km <= 0 "
                                   "OR end_time <= start_time OR user_id IS NULL OR start_lon IS NULL")
    out["records.duplicates"] = rows("""SELECT row_no FROM (SELECT row_no,
        row_number() OVER (PARTITION BY trip_id ORDER BY row_no) AS a,
        row_number() OVER (PARTITION BY user_id, start_time, end_time ORDER BY row_no) AS b FROM t)
        WHERE a > 1 OR b > 1""")
    bad = set(out["records.validity"]) | set(out["records.duplicates"])
    ok = "true" if not bad else f"row_no NOT IN ({', '.join(map(str, bad))})"
    out["records.overlap"] = rows(f"""SELECT row_no FROM (SELECT row_no, start_time,
        max(end_time) OVER (PARTITION BY user_id ORDER BY start_time, row_no
                            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
        FROM t WHERE {ok}) WHERE prev_end > start_time""")
    out["orders.own_only"] = rows("SELECT * FROM t WHERE order_source = 'aggregated'")
    out["period.records_in_period"] = rows(
        f"SELECT * FROM t WHERE CAST(start_time AS DATE) NOT BETWEEN DATE '{start}' AND DATE '{end}'")
    out["period.crediting_start"] = rows("SELECT * FROM t WHERE CAST(start_time AS DATE) < DATE '2022-08-18'")
    out["period.user_authorization"] = rows(
        "SELECT t.* FROM t LEFT JOIN u USING (user_id) WHERE u.authorized_at IS NULL OR t.start_time < u.authorized_at")
    df = con.execute("SELECT * FROM t ORDER BY row_no").df()
    inside = {}
    for crs in ("wgs84", "gcj02", "bd09"):
        s = boundary.contains(*convert(df.start_lon.to_numpy(), df.start_lat.to_numpy(), crs, "wgs84"))
        e = boundary.contains(*convert(df.end_lon.to_numpy(), df.end_lat.to_numpy(), crs, "wgs84"))
        inside[crs] = s & e
    out["boundary.geographic"] = df.row_no[~inside["gcj02"]].tolist()
    out["boundary.crs.readings_differ"] = bool((inside["wgs84"] != inside["gcj02"]).any()
                                               or (inside["bd09"] != inside["gcj02"]).any())
    # plausibility (warn): speed > 25 km/h, under 60 s, mileage below the straight line (WGS-84)
    dur = (df.end_time - df.start_time).dt.total_seconds().to_numpy()
    slon, slat = convert(df.start_lon.to_numpy(), df.start_lat.to_numpy(), "gcj02", "wgs84")
    elon, elat = convert(df.end_lon.to_numpy(), df.end_lat.to_numpy(), "gcj02", "wgs84")
    p1, p2 = np.radians(slat), np.radians(elat)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(elon - slon) / 2) ** 2
    straight = 2 * 6371.0088 * np.arcsin(np.sqrt(a))
    dist = df.distance_km.to_numpy(dtype=float)
    implausible = (dist / (dur / 3600) > 25) | (dur < 60) | (dist < straight)
    out["records.plausibility"] = df.row_no[np.nan_to_num(implausible, nan=False).astype(bool)].tolist()
    out["_realistic"] = bool(np.all(np.isnan(dist) | ((dist >= 1.5) & (dist <= 2.0)))
                             and np.all((dur >= 600) & (dur <= 1200))
                             and np.all(np.isnan(dist) | (dist / (dur / 3600) < 20))
                             and np.all(np.isnan(dist) | (straight < dist)))

    # report level
    params = {p["name"]: p["value"] for p in rep["default_data"] + rep["monitored_data"]}
    n, total = con.execute("SELECT count(*), sum(distance_km) FROM t").fetchone()
    res = rep["results"]
    table = yaml.safe_load((pkg / "factors.yaml").read_text(encoding="utf-8"))
    eb_table = next(f["value"] for f in table if f["parameter"] == "Eb" and f["year"] == int(end.year))
    out["count.reconciliation"] = params["n_t9"] != n
    out["distance.reconciliation"] = abs(params["m_t9"] - total) > 0.0005
    out["factor.values"] = params["Eb"] != eb_table
    out["report.arithmetic"] = (abs(res["baseline_emissions_tco2"] - params["Eb"] * params["m_t9"] / 1000) > 5e-7
                                or abs(res["reduction_tco2"] - (res["baseline_emissions_tco2"] - res["project_emissions_tco2"])) > 5e-7)
    out["report.completeness"] = not is_valid_uscc(rep["applicant"]["uscc"])
    out["applicant.eligibility"] = rep["applicant"]["business_model"] != "own_operator"
    out["_n"], out["_total"], out["_rep"], out["_con"] = n, total, rep, con
    return out


REPORT_LEVEL = ("count.reconciliation", "distance.reconciliation", "factor.values", "report.arithmetic",
                "report.completeness", "applicant.eligibility")
RECORD_LEVEL = ("records.validity", "records.duplicates", "records.overlap", "orders.own_only",
                "period.records_in_period", "period.crediting_start", "period.user_authorization",
                "boundary.geographic", "records.plausibility")


def _only(audit: dict, check: str | None) -> list[str]:
    """Rules other than `check` that the audit finds violated."""
    leaks = [c for c in RECORD_LEVEL if c != check and audit[c]]
    leaks += [c for c in REPORT_LEVEL if c != check and audit[c]]
    if audit["boundary.crs.readings_differ"]:
        leaks.append("boundary.crs")
    return leaks


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_clean_package_is_consistent(tmp_path: Path, fmt: str, boundary) -> None:
    pkg = tmp_path / "p"
    info = write_bike_package(pkg, rides=RIDES, seed=5, fmt=fmt)
    audit = _audit(pkg, info, boundary)
    assert _only(audit, None) == []
    assert audit["_realistic"]
    con, rep = audit["_con"], audit["_rep"]
    assert audit["_n"] == RIDES == info["records"]
    assert Decimal(str(rep["monitored_data"][1]["value"])) == Decimal(info["pkm_m"]) / 1000
    assert round(audit["_total"], 3) == rep["monitored_data"][1]["value"]
    assert rep["results"]["reduction_tco2"] == rep["results"]["baseline_emissions_tco2"]
    assert rep["results"]["project_emissions_tco2"] == 0
    assert rep["data"]["crs"] == "gcj02" and rep["methodology"] == "shenzhen-bike-sharing"
    users, distinct = con.execute("SELECT count(*), count(DISTINCT user_id) FROM u").fetchone()
    assert users == distinct == RIDES // 10
    assert con.execute("SELECT count(DISTINCT trip_id) FROM t").fetchone()[0] == RIDES
    # starts spread over the year
    months = con.execute("SELECT count(DISTINCT month(start_time)) FROM t").fetchone()[0]
    assert months == 12
    for rel in rep["documents"].values():
        assert (pkg / rel).read_bytes().startswith(b"%PDF-")
    factors = yaml.safe_load((pkg / "factors.yaml").read_text(encoding="utf-8"))
    assert "示例" in factors[0]["source"] and "ILLUSTRATIVE" in factors[0]["source"]


@pytest.mark.parametrize("defect", DEFECTS)
def test_defect_plants_exactly_itself(tmp_path: Path, defect: str, boundary) -> None:
    pkg = tmp_path / defect
    info = write_bike_package(pkg, rides=RIDES, seed=5, fmt="csv", defect=defect)
    check, count = PLANTED[defect]
    audit = _audit(pkg, info, boundary)
    assert info["planted"]["check"] == check
    assert _only(audit, check) == [], f"{defect} leaks into other checks"
    assert audit["_realistic"]
    rep, con = audit["_rep"], audit["_con"]
    if count is not None:
        assert audit[check] == info["planted"]["rows"]
        assert len(audit[check]) == count
        found = [r[0] for r in con.execute(
            f"SELECT trip_id FROM t WHERE row_no IN ({', '.join(map(str, audit[check]))}) ORDER BY row_no").fetchall()]
        assert found == info["planted"]["trip_ids"]
        # the report stays consistent with the data
        assert rep["monitored_data"][0]["value"] == audit["_n"] == info["records"]
        assert round(audit["_total"], 3) == rep["monitored_data"][1]["value"]
        excluded = con.execute(f"SELECT coalesce(sum(distance_km), 0) FROM t WHERE row_no IN "
                               f"({', '.join(map(str, audit[check]))})").fetchone()[0]
        assert round(excluded * 1000) == info["planted"]["excluded_pkm_m"]
    else:
        assert audit[check] is True
    n = info["records"]
    if defect == "count_mismatch":
        assert rep["monitored_data"][0]["value"] == n + 37
    if defect == "inflated_mileage":
        assert rep["monitored_data"][1]["value"] == pytest.approx(round(audit["_total"] * 1.2, 3), abs=1e-9)
    if defect == "duplicates":
        assert n == RIDES + 8
        copies = con.execute(f"""SELECT count(*) FROM t a JOIN t b ON a.trip_id = b.trip_id AND a.row_no < b.row_no
            AND a.user_id = b.user_id AND a.start_time = b.start_time AND a.end_time = b.end_time
            AND a.start_lon = b.start_lon AND a.end_lat = b.end_lat AND a.distance_km = b.distance_km
            WHERE b.row_no > {RIDES}""").fetchone()[0]
        assert copies == 8
    if defect == "overlapping_rides":
        users = con.execute(f"SELECT DISTINCT user_id FROM t WHERE row_no IN "
                            f"({', '.join(map(str, audit[check]))})").fetchall()
        assert users == [(info["planted"]["user_id"],)]
    if defect == "out_of_period":
        years = con.execute(f"SELECT DISTINCT year(start_time) FROM t WHERE row_no IN "
                            f"({', '.join(map(str, audit[check]))})").fetchall()
        assert years == [(info["year"] + 1,)]
    if defect == "outside_shenzhen":
        lat = con.execute(f"SELECT min(start_lat), max(start_lat) FROM t WHERE row_no IN "
                          f"({', '.join(map(str, audit[check]))})").fetchone()
        assert lat[0] < 22.4 and lat[1] > 22.9  # Hong Kong and Dongguan
    if defect == "inconsistent_arithmetic":
        res = rep["results"]
        gap = abs(res["reduction_tco2"] - (res["baseline_emissions_tco2"] - res["project_emissions_tco2"]))
        assert gap > 0.1 * res["reduction_tco2"]
    if defect == "wrong_eb":
        assert info["report"]["Eb"] != info["factor_table"]["Eb"]


def test_deterministic(tmp_path: Path) -> None:
    for fmt in ("csv", "parquet"):
        a = write_bike_package(tmp_path / f"a-{fmt}", rides=500, seed=11, fmt=fmt, defect="duplicates")
        b = write_bike_package(tmp_path / f"b-{fmt}", rides=500, seed=11, fmt=fmt, defect="duplicates")
        files = sorted(p.relative_to(tmp_path / f"a-{fmt}") for p in (tmp_path / f"a-{fmt}").rglob("*") if p.is_file())
        assert len(files) >= 8
        for rel in files:
            assert (tmp_path / f"a-{fmt}" / rel).read_bytes() == (tmp_path / f"b-{fmt}" / rel).read_bytes(), rel
        assert {k: v for k, v in a.items() if k != "path"} == {k: v for k, v in b.items() if k != "path"}
    write_bike_package(tmp_path / "c", rides=500, seed=12)
    assert (tmp_path / "c" / "trips.csv").read_bytes() != (tmp_path / "a-csv" / "trips.csv").read_bytes()


def test_parquet_and_csv_hold_the_same_rows(tmp_path: Path) -> None:
    for defect in (None, "missing_mileage"):
        c = write_bike_package(tmp_path / f"csv-{defect}", rides=RIDES, seed=3, fmt="csv", defect=defect)
        p = write_bike_package(tmp_path / f"pq-{defect}", rides=RIDES, seed=3, fmt="parquet", defect=defect)
        a = _load(tmp_path / f"csv-{defect}", c).execute("SELECT * FROM t ORDER BY row_no").fetchall()
        b = _load(tmp_path / f"pq-{defect}", p).execute("SELECT * FROM t ORDER BY row_no").fetchall()
        assert a == b
        assert c["report"] == p["report"] and c["planted"] == p["planted"]


def test_chunks_join_seamlessly(tmp_path: Path, monkeypatch) -> None:
    """A small CHUNK exercises the chunked writer: rows stay unique, sorted and consistent."""
    import verifier.synth as synth

    monkeypatch.setattr(synth, "CHUNK", 128)
    info = synth.write_bike_package(tmp_path / "p", rides=1000, seed=2, fmt="parquet", defect="duplicates")
    con = _load(tmp_path / "p", info)
    n, ids, total = con.execute("SELECT count(*), count(DISTINCT trip_id), sum(distance_km) FROM t").fetchone()
    assert (n, ids) == (1008, 1000)
    assert round(total, 3) == info["report"]["m_t9"]


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_bike_package(tmp_path / "x", rides=100, defect="nonsense")
    with pytest.raises(ValueError):
        write_bike_package(tmp_path / "x", rides=100, fmt="xlsx")


def test_committed_samples_are_up_to_date(tmp_path: Path) -> None:
    """samples/bike-* are exactly what `python samples/generate.py --all` writes."""
    import importlib.util

    root = Path(__file__).resolve().parent.parent / "samples"
    spec = importlib.util.spec_from_file_location("samples_generate", root / "generate.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert gen.main(["--all", str(tmp_path)]) == 0
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(root) for p in root.glob("bike-*/**/*") if p.is_file())
    assert made == committed
    for rel in made:
        assert (tmp_path / rel).read_bytes() == (root / rel).read_bytes(), f"{rel} is stale: run samples/generate.py --all"
