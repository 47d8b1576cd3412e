"""tools.synth: deterministic, internally consistent packages; each defect plants exactly itself.

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

from tools.synth import DEFECTS, PLANTED, write_bike_package
from verifier.geo.crs import convert
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
    from tools.synth import common

    monkeypatch.setattr(common, "CHUNK", 128)
    info = write_bike_package(tmp_path / "p", rides=1000, seed=2, fmt="parquet", defect="duplicates")
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
    """samples/bike-*, transit-* and regulator/ are exactly what `python tools/generate_samples.py
    --all` writes."""
    import importlib.util

    repo = Path(__file__).resolve().parent.parent
    root = repo / "samples"
    spec = importlib.util.spec_from_file_location("generate_samples", repo / "tools" / "generate_samples.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert gen.main(["--all", str(tmp_path)]) == 0
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(root) for pattern in ("bike-*/**/*", "transit-*/**/*", "regulator/**/*")
                       for p in root.glob(pattern) if p.is_file())
    assert made == committed
    for rel in made:
        assert (tmp_path / rel).read_bytes() == (root / rel).read_bytes(), f"{rel} is stale: run tools/generate_samples.py --all"



# ================================================================================================
# Transit (bus and metro): write_transit_package
# ================================================================================================
from tools.synth import (  # noqa: E402
    TRANSIT_DEFECTS, TRANSIT_PLANTED, expected_transit_findings, station_table, write_transit_package,
)

TRIPS = 300


def _transit_load(pkg: Path, info: dict):
    """The trip records as a DuckDB table `t` (from the trip file, or paired from the taps by
    verifier.data.sources.taps with distances from the station table), stations `s`, users `u`."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    if info["taps"]:
        from verifier.data.sources.taps import write_trips

        stats = write_trips([pkg / "taps.csv"], pkg.parent / f"{pkg.name}-taps.parquet")
        con.execute(f"CREATE TABLE tap_trips AS SELECT * FROM read_parquet('{pkg.parent / f'{pkg.name}-taps.parquet'}')")
        con.execute("""CREATE TABLE t AS SELECT row_number() OVER (ORDER BY source_row) AS row_no, trip_id, user_id,
            mode, start_time, end_time, entry_station, exit_station, route, fare_fen, CAST(NULL AS DOUBLE) AS distance_km
            FROM tap_trips""")
    else:
        stats = None
        f = pkg / info["data"]
        scan = f"read_csv('{f}', all_varchar = true)" if f.suffix == ".csv" else f"read_parquet('{f}')"
        con.execute(f"""CREATE TABLE t AS SELECT row_number() OVER () AS row_no, NULLIF(trip_id, '') AS trip_id,
            user_id, mode, CAST(start_time AS TIMESTAMP) AS start_time,
            CAST(NULLIF(CAST(end_time AS VARCHAR), '') AS TIMESTAMP) AS end_time,
            NULLIF(entry_station, '') AS entry_station, NULLIF(exit_station, '') AS exit_station, route,
            CAST(NULL AS BIGINT) AS fare_fen,
            TRY_CAST(NULLIF(CAST(distance_km AS VARCHAR), '') AS DOUBLE) AS distance_km FROM {scan}""")
    con.execute(f"""CREATE TABLE s AS SELECT from_station AS a, to_station AS b, CAST(distance_km AS DOUBLE) AS km
        FROM read_csv('{pkg / 'stations.csv'}', all_varchar = true)""")
    con.execute("CREATE TABLE s2 AS SELECT a, b, km FROM s UNION ALL SELECT b, a, km FROM s")
    if info["taps"]:  # tap data carries no distance: the table's
        con.execute("UPDATE t SET distance_km = (SELECT km FROM s2 WHERE a = entry_station AND b = exit_station) "
                    "WHERE mode = 'metro'")
    con.execute(f"""CREATE TABLE u AS SELECT user_id, CAST(authorized_at AS TIMESTAMP) AS authorized_at
        FROM read_csv('{pkg / 'users.csv'}', all_varchar = true)""")
    return con, stats


def _transit_audit(pkg: Path, info: dict) -> dict:
    """Every rule recomputed independently: record rules -> sorted row numbers; report rules -> bool."""
    con, stats = _transit_load(pkg, info)
    rep = yaml.safe_load((pkg / "report.yaml").read_text(encoding="utf-8"))
    start, end = rep["project"]["period_start"], rep["project"]["period_end"]
    params = {p["name"]: p["value"] for p in rep["default_data"] + rep["monitored_data"]}
    rows = lambda sql: [r[0] for r in con.execute(f"SELECT row_no FROM ({sql}) ORDER BY row_no").fetchall()]
    out: dict = {"_con": con, "_rep": rep, "_stats": stats, "_params": params}
    out["records.validity"] = rows("""SELECT * FROM t WHERE trip_id IS NULL OR user_id IS NULL OR start_time IS NULL
        OR mode NOT IN ('bus', 'metro') OR (end_time IS NOT NULL AND end_time <= start_time)
        OR (mode = 'metro' AND (end_time IS NULL OR entry_station IS NULL OR exit_station IS NULL
                                OR NOT (distance_km > 0)))
        OR (mode = 'bus' AND (end_time IS NOT NULL OR entry_station IS NOT NULL OR distance_km IS NOT NULL))""")
    out["records.duplicates"] = rows("""SELECT row_no FROM (SELECT row_no,
        row_number() OVER (PARTITION BY trip_id ORDER BY row_no) AS a,
        row_number() OVER (PARTITION BY user_id, mode, start_time, end_time ORDER BY row_no) AS b FROM t)
        WHERE a > 1 OR b > 1""")
    # overlap: two metro intervals intersect, or a bus instant lies strictly inside a metro trip
    out["records.overlap"] = rows("""SELECT DISTINCT y.row_no FROM t x JOIN t y ON x.user_id = y.user_id
        AND x.row_no <> y.row_no AND x.mode = 'metro' AND (
            (y.mode = 'metro' AND y.start_time >= x.start_time AND y.start_time < x.end_time AND x.row_no < y.row_no)
            OR (y.mode = 'bus' AND y.start_time > x.start_time AND y.start_time < x.end_time))""")
    out["period.records_in_period"] = rows(
        f"SELECT * FROM t WHERE CAST(start_time AS DATE) NOT BETWEEN DATE '{start}' AND DATE '{end}' "
        f"OR (end_time IS NOT NULL AND CAST(end_time AS DATE) <> CAST(start_time AS DATE))")
    out["period.crediting_start"] = rows("SELECT * FROM t WHERE CAST(start_time AS DATE) < DATE '2022-08-18'")
    out["period.user_authorization"] = rows(
        "SELECT t.* FROM t LEFT JOIN u USING (user_id) WHERE u.authorized_at IS NULL OR t.start_time < u.authorized_at")
    out["transit.metro_distance"] = rows("""SELECT t.* FROM t LEFT JOIN s2 ON s2.a = entry_station
        AND s2.b = exit_station WHERE mode = 'metro' AND (s2.km IS NULL OR abs(distance_km - s2.km) > 0.01)""")
    caps = {"bus": params["daily_cap_bus"], "metro": params["daily_cap_metro"]}
    out["transit.daily_cap"] = rows(f"""SELECT row_no FROM (SELECT row_no, mode, row_number() OVER (
        PARTITION BY user_id, mode, CAST(start_time AS DATE) ORDER BY start_time, trip_id) AS k FROM t)
        WHERE k > CASE mode WHEN 'bus' THEN {caps['bus']} ELSE {caps['metro']} END""")
    n_bus, n_metro, metro_pkm = con.execute("""SELECT count_if(mode = 'bus'), count_if(mode = 'metro'),
        sum(distance_km) FILTER (WHERE mode = 'metro') FROM t""").fetchone()
    out["_n_bus"], out["_n_metro"], out["_metro_pkm"] = n_bus, n_metro, metro_pkm
    out["count.reconciliation"] = (params["n_bus"], params["n_metro"]) != (n_bus, n_metro)
    out["distance.reconciliation"] = abs(params["metro_pkm"] - metro_pkm) > 0.0005
    # report arithmetic, in decimals from the figures as written
    D = lambda x: Decimal(str(x))
    bus_pkm = D(params["n_bus"]) * D(params["bus_ride_km"])
    m = D(params["metro_pkm"])
    res = {k: D(v) for k, v in rep["results"].items()}
    want = {"baseline_emissions_tco2": D(params["EF_baseline"]) * (bus_pkm + m) / 1000,
            "project_emissions_tco2": (D(params["EF_bus"]) * bus_pkm + D(params["EF_metro"]) * m) / 1000,
            "reduction_bus_tco2": (D(params["EF_baseline"]) - D(params["EF_bus"])) * bus_pkm / 1000,
            "reduction_metro_tco2": (D(params["EF_baseline"]) - D(params["EF_metro"])) * m / 1000}
    half = lambda v: Decimal(5) * Decimal(10) ** (v.as_tuple().exponent - 1)
    out["report.arithmetic"] = (any(abs(res[k] - w) > half(res[k]) for k, w in want.items())
                                or res["reduction_tco2"] != res["baseline_emissions_tco2"] - res["project_emissions_tco2"])
    table = yaml.safe_load((pkg / "factors.yaml").read_text(encoding="utf-8"))
    year = int(end.year)
    out["factor.values"] = any(
        f["year"] != year or params[f["parameter"]] != f["value"]
        or (f["parameter"].startswith("EF_") and f.get("data_year") != year - 2) for f in table)
    out["applicant.eligibility"] = rep["applicant"]["business_model"] != "data_platform"
    out["report.completeness"] = not is_valid_uscc(rep["applicant"]["uscc"])
    tap_anomalies = 0
    if stats is not None:
        tap_anomalies = stats.total_unpaired() + stats.exact_duplicates + stats.unknown_type + stats.invalid
    out["transit.tap_pairing"] = tap_anomalies > 0
    return out


TRANSIT_RECORD_RULES = ("records.validity", "records.duplicates", "records.overlap", "period.records_in_period",
                        "period.crediting_start", "period.user_authorization", "transit.metro_distance",
                        "transit.daily_cap")
TRANSIT_REPORT_RULES = ("count.reconciliation", "distance.reconciliation", "report.arithmetic", "factor.values",
                        "applicant.eligibility", "report.completeness", "transit.tap_pairing")


def _transit_leaks(audit: dict, check: str | None) -> list[str]:
    return ([c for c in TRANSIT_RECORD_RULES if c != check and audit[c]]
            + [c for c in TRANSIT_REPORT_RULES if c != check and audit[c]])


@pytest.mark.parametrize("fmt,taps", [("csv", False), ("parquet", False), ("csv", True)])
def test_transit_clean_package_is_consistent(tmp_path: Path, fmt: str, taps: bool) -> None:
    pkg = tmp_path / "p"
    info = write_transit_package(pkg, trips=TRIPS, seed=5, fmt=fmt, taps=taps)
    audit = _transit_audit(pkg, info)
    assert _transit_leaks(audit, None) == []
    con, rep, params = audit["_con"], audit["_rep"], audit["_params"]
    # totals: the data's, exactly (recomputed by DuckDB) and what info says
    assert audit["_n_bus"] + audit["_n_metro"] == TRIPS == info["records"]
    assert (params["n_bus"], params["n_metro"]) == (info["n_bus"], info["n_metro"])
    assert round(audit["_metro_pkm"], 3) == params["metro_pkm"] == info["metro_pkm_m"] / 1000
    assert rep["results"]["reduction_tco2"] == pytest.approx(
        rep["results"]["reduction_bus_tco2"] + rep["results"]["reduction_metro_tco2"], abs=2e-6)
    assert rep["applicant"]["business_model"] == "data_platform"
    assert rep["methodology"] == "shenzhen-public-transit"
    # realistic: both modes, metro within an hour, trips all year, every user at the cap on some day
    assert 0.2 < audit["_n_bus"] / TRIPS < 0.6
    longest = con.execute("SELECT max(epoch(end_time) - epoch(start_time)) FROM t").fetchone()[0]
    assert longest < 3600
    assert con.execute("SELECT count(DISTINCT month(start_time)) FROM t").fetchone()[0] == 12
    at_cap = con.execute("""SELECT count(*) FROM (SELECT user_id, mode, CAST(start_time AS DATE), count(*) AS n
        FROM t GROUP BY ALL) WHERE n = 2""").fetchone()[0]
    assert at_cap > 0
    # symmetric station table: each pair once, distances add up along each line
    pairs = con.execute("SELECT a, b, km FROM s").fetchall()
    assert len(pairs) == len({frozenset((a, b)) for a, b, _ in pairs}) == 3 * 45
    km = {frozenset((a, b)): k for a, b, k in pairs}
    for a, b, m in station_table():
        assert km[frozenset((a, b))] == m / 1000
    stations = sorted({x for a, b, _ in pairs for x in (a, b)})
    assert len(stations) == 30
    factors = yaml.safe_load((pkg / "factors.yaml").read_text(encoding="utf-8"))
    assert {f["parameter"] for f in factors} == {"EF_baseline", "EF_bus", "EF_metro", "bus_ride_km",
                                                 "daily_cap_bus", "daily_cap_metro"}
    for f in factors:
        assert "示例" in f["source"] and "ILLUSTRATIVE" in f["source"]
    for rel in rep["documents"].values():
        assert (pkg / rel).read_bytes().startswith(b"%PDF-")
    if taps:
        assert rep["data"]["taps"] == ["taps.csv"] and rep["data"]["tap_format"] == "shenzhen-tong"
        assert "trips" not in rep["data"]


@pytest.mark.parametrize("defect", TRANSIT_DEFECTS)
def test_transit_defect_plants_exactly_itself(tmp_path: Path, defect: str) -> None:
    taps = defect == "unpaired_taps"
    pkg = tmp_path / defect
    info = write_transit_package(pkg, trips=TRIPS, seed=5, defect=defect, taps=taps)
    check, count = TRANSIT_PLANTED[defect]
    audit = _transit_audit(pkg, info)
    assert info["planted"]["check"] == check
    assert _transit_leaks(audit, check) == [], f"{defect} leaks into other checks"
    assert audit[check] == (info["planted"]["rows"] if count is not None else True)
    params, con = audit["_params"], audit["_con"]
    if count is not None:
        assert len(audit[check]) == count
        ids = [r[0] for r in con.execute(f"SELECT trip_id FROM t WHERE row_no IN "
                                         f"({', '.join(map(str, audit[check]))}) ORDER BY row_no").fetchall()]
        assert ids == info["planted"]["trip_ids"]
    if defect == "count_mismatch_bus":
        assert params["n_bus"] == audit["_n_bus"] + 12 and params["n_metro"] == audit["_n_metro"]
    if defect == "count_mismatch_metro":
        assert params["n_metro"] == audit["_n_metro"] - 8 and params["n_bus"] == audit["_n_bus"]
    if defect == "wrong_metro_distance":
        off = con.execute(f"""SELECT min(abs(distance_km - km)) FROM t JOIN s2 ON a = entry_station
            AND b = exit_station WHERE row_no IN ({', '.join(map(str, audit[check]))})""").fetchone()[0]
        assert off >= 0.4 - 1e-9
    if defect == "above_daily_cap":
        modes = [r[0] for r in con.execute(f"SELECT mode FROM t WHERE row_no IN "
                                           f"({', '.join(map(str, audit[check]))}) ORDER BY row_no").fetchall()]
        assert sorted(modes) == ["bus"] * 3 + ["metro"] * 4 == sorted(info["planted"]["modes"])
        assert info["records"] == TRIPS + 7
    if defect == "wrong_factor_year":
        table = yaml.safe_load((pkg / "factors.yaml").read_text(encoding="utf-8"))
        assert [f["parameter"] for f in table if f.get("data_year") not in (None, 2022)] == ["EF_metro"]
    if defect == "unpaired_taps":
        stats = audit["_stats"]
        assert (stats.unpaired_entries, stats.unpaired_exits, stats.exact_duplicates) == (4, 3, 1)
        assert stats.exit_before_entry == stats.overlong == stats.unknown_type == stats.invalid == 0
        assert (stats.trips_bus, stats.trips_metro) == (info["n_bus"], info["n_metro"])
    if defect == "ineligible_platform":
        assert audit["_rep"]["applicant"]["business_model"] == "third_party_payment"
    # expected findings name exactly the planted check as non-pass (apart from fare_band)
    e = expected_transit_findings(info, fares="fares.yaml" if taps else None)
    nonpass = {c for c, v in e["checks"].items() if v["status"] not in ("pass", "not_applicable", "not_evaluated")}
    assert nonpass == {check}


def test_transit_taps_pair_into_the_intended_trips(tmp_path: Path) -> None:
    """The same seed written as a trip file and as taps: pairing the taps gives exactly the trips
    (user, mode, times, stations, route), each metro exit's fare within the band of its distance."""
    from verifier.transit.fares import FareTable

    for defect in (None, "above_daily_cap", "unpaired_taps"):
        plain = defect if defect != "unpaired_taps" else None
        a = write_transit_package(tmp_path / f"trips-{defect}", trips=TRIPS, seed=9, defect=plain)
        b = write_transit_package(tmp_path / f"taps-{defect}", trips=TRIPS, seed=9, defect=defect, taps=True)
        con_a, _ = _transit_load(tmp_path / f"trips-{defect}", a)
        con_b, stats = _transit_load(tmp_path / f"taps-{defect}", b)
        cols = "user_id, mode, start_time, end_time, entry_station, exit_station, route, distance_km"
        rows_a = con_a.execute(f"SELECT {cols} FROM t ORDER BY row_no").fetchall()
        rows_b = con_b.execute(f"SELECT {cols} FROM t ORDER BY row_no").fetchall()
        assert rows_a == rows_b
        assert stats.trips_metro == a["n_metro"] and stats.trips_bus == a["n_bus"]
        assert stats.accounted() == stats.taps == b["tap_stats"]["taps"]
        for k, v in b["tap_stats"].items():
            assert getattr(stats, k) == v, k
        if defect is None:
            assert stats.anomalies() == 0
            assert stats.taps == a["n_bus"] + 2 * a["n_metro"]
        if defect == "above_daily_cap":
            assert b["planted"]["rows"] == a["planted"]["rows"]
            ids = [r[0] for r in con_b.execute(
                f"SELECT trip_id FROM t WHERE row_no IN ({', '.join(map(str, b['planted']['rows']))}) ORDER BY row_no"
            ).fetchall()]
            assert ids == b["planted"]["trip_ids"]
        fares = FareTable.default()
        for d, fen in con_b.execute("SELECT distance_km, fare_fen FROM t WHERE mode = 'metro'").fetchall():
            assert fen == fares.fare_for_distance(d)
            lo, hi = fares.band_for_fare(fen)
            assert lo < d <= hi
    # the published column set and deal types, the header exactly
    text = (tmp_path / "taps-None" / "taps.csv").read_text(encoding="utf-8").splitlines()
    assert text[0] == "card_no,deal_date,deal_type,deal_money,deal_value,equ_no,company_name,station,car_no,conn_mark,close_date"
    assert {ln.split(",")[2] for ln in text[1:]} == {"地铁入站", "地铁出站", "巴士"}


def test_transit_deterministic(tmp_path: Path) -> None:
    for fmt, taps, defect in (("csv", False, "above_daily_cap"), ("parquet", False, "wrong_metro_distance"),
                              ("csv", True, "unpaired_taps")):
        a = write_transit_package(tmp_path / f"a-{fmt}-{taps}", trips=400, seed=11, fmt=fmt, defect=defect, taps=taps)
        b = write_transit_package(tmp_path / f"b-{fmt}-{taps}", trips=400, seed=11, fmt=fmt, defect=defect, taps=taps)
        root_a, root_b = tmp_path / f"a-{fmt}-{taps}", tmp_path / f"b-{fmt}-{taps}"
        files = sorted(p.relative_to(root_a) for p in root_a.rglob("*") if p.is_file())
        assert len(files) >= 9
        for rel in files:
            assert (root_a / rel).read_bytes() == (root_b / rel).read_bytes(), rel
        assert {k: v for k, v in a.items() if k != "path"} == {k: v for k, v in b.items() if k != "path"}
    write_transit_package(tmp_path / "c", trips=400, seed=12)
    write_transit_package(tmp_path / "d", trips=400, seed=11)
    assert (tmp_path / "c" / "trips.csv").read_bytes() != (tmp_path / "d" / "trips.csv").read_bytes()
    # a defect package is the clean one plus its defect: the same trips apart from the planted ones
    strip = lambda line: line.split(",", 1)[1]   # without trip_id (a row number)
    clean = [strip(x) for x in (tmp_path / "d" / "trips.csv").read_text(encoding="utf-8").splitlines()[1:]]
    capped = (tmp_path / "a-csv-False" / "trips.csv").read_text(encoding="utf-8").splitlines()[1:]
    info = write_transit_package(tmp_path / "e", trips=400, seed=11, defect="above_daily_cap")
    rest = [strip(x) for i, x in enumerate(capped, start=1) if i not in set(info["planted"]["rows"])]
    assert rest == clean


def test_transit_csv_and_parquet_hold_the_same_rows(tmp_path: Path) -> None:
    c = write_transit_package(tmp_path / "c", trips=TRIPS, seed=3, fmt="csv", defect="wrong_metro_distance")
    p = write_transit_package(tmp_path / "p", trips=TRIPS, seed=3, fmt="parquet", defect="wrong_metro_distance")
    a = _transit_load(tmp_path / "c", c)[0].execute("SELECT * FROM t ORDER BY row_no").fetchall()
    b = _transit_load(tmp_path / "p", p)[0].execute("SELECT * FROM t ORDER BY row_no").fetchall()
    assert a == b
    assert c["report"] == p["report"] and c["planted"] == p["planted"]


def test_transit_bad_arguments(tmp_path: Path) -> None:
    for kwargs in ({"defect": "nonsense"}, {"fmt": "xlsx"}, {"defect": "unpaired_taps"},
                   {"defect": "wrong_metro_distance", "taps": True}, {"fmt": "parquet", "taps": True},
                   {"trips": 10}, {"defect": "duplicates"}):
        with pytest.raises(ValueError):
            write_transit_package(tmp_path / "x", **{"trips": 200, **kwargs})


# ================================================================================================
# Expected findings: derived from the product (tools/synth/expected.py)
# ================================================================================================
def test_check_expectations_follow_the_registry() -> None:
    """Which checks apply and which assert `affected` (records) come from the registry."""
    from tools.synth.expected import check_expectations
    from verifier.checks import REGISTRY
    from tools.synth.bike import BIKE
    from tools.synth.transit import TRANSIT

    bike, transit = check_expectations(BIKE), check_expectations(TRANSIT)
    assert list(bike) == list(transit) == REGISTRY.ids() and len(bike) == 24
    na = lambda e: {c for c, v in e.items() if v == {"status": "not_applicable"}}
    counted = lambda e: {c for c, v in e.items() if v == {"status": "pass", "affected": 0}}
    assert na(bike) == {"transit.metro_distance", "transit.daily_cap", "transit.tap_pairing", "transit.fare_band"}
    assert na(transit) == {"orders.own_only", "boundary.geographic", "boundary.crs", "records.plausibility"}
    shared = {"period.crediting_start", "period.records_in_period", "period.user_authorization", "records.validity",
              "records.duplicates", "records.overlap"}
    assert counted(bike) == shared | {"orders.own_only", "boundary.geographic", "boundary.crs", "records.plausibility"}
    assert counted(transit) == shared | {"transit.metro_distance", "transit.daily_cap", "transit.tap_pairing",
                                         "transit.fare_band"}
    assert bike["report.arithmetic"] == transit["sample.completeness"] == {"status": "pass"}


def test_a_registered_check_reaches_the_expectations(monkeypatch) -> None:
    """A check added to the registry shows up without touching the generator."""
    from tools.synth.expected import check_expectations, with_planted
    from verifier.checks import REGISTRY
    from verifier.checks.record import FlagCheck
    from tools.synth.bike import BIKE
    from tools.synth.transit import TRANSIT

    from verifier.methodologies import get

    class Extra(FlagCheck):
        id = "records.extra"

    bike = type(get(BIKE))
    applicable = bike.checks.fget(get(BIKE))
    monkeypatch.setattr(bike, "checks", property(lambda self: applicable | {"records.extra"}))
    monkeypatch.setitem(REGISTRY.checks, Extra.id, Extra)
    assert check_expectations(BIKE)["records.extra"] == {"status": "pass", "affected": 0}
    assert check_expectations(TRANSIT)["records.extra"] == {"status": "not_applicable"}
    assert with_planted(BIKE, {"check": "records.extra", "count": 3})["records.extra"] == {"status": "fail",
                                                                                          "affected": 3}
    assert with_planted(BIKE, {"check": "factor.values", "count": None})["factor.values"] == {"status": "fail"}


def test_emissions_formula_in_exact_decimals() -> None:
    from tools.synth.expected import emissions
    from tools.synth.bike import BIKE
    from tools.synth.transit import TRANSIT

    D = Decimal
    assert emissions(BIKE, {"Eb": D("0.05")}, {"m_t9": D("1234.567")}) == {
        "baseline": D("0.06172835"), "project": 0, "reduction": D("0.06172835")}
    e = emissions(TRANSIT, {"EF_baseline": D("0.1"), "EF_bus": D("0.07"), "EF_metro": D("0.05"), "bus_ride_km": D(5)},
                  {"n_bus": 10, "metro_pkm": D("100")})
    assert e == {"baseline": D("0.015"), "project": D("0.0085"), "reduction": D("0.0065"), "bus_pkm": 50,
                 "reduction_bus": D("0.0015"), "reduction_metro": D("0.005")}
    assert e["reduction"] == e["reduction_bus"] + e["reduction_metro"]
    from verifier.methodologies import UnknownMethodology

    with pytest.raises(UnknownMethodology, match="unknown methodology"):
        emissions("shenzhen-ferry", {}, {})


# ================================================================================================
# The regulator's folder (tools.synth.regulator): windows of one span, WGS-84, extra rides
# ================================================================================================
def test_a_window_files_the_same_rides_under_the_same_ids(tmp_path: Path) -> None:
    """Two windows of one operator's span (same seed) hold identical rows for the shared days."""
    from datetime import date

    span = (date(2023, 7, 1), date(2024, 12, 31))
    part = write_bike_package(tmp_path / "part", rides=300, seed=5, span=span, window=(span[0], date(2023, 12, 31)))
    whole = write_bike_package(tmp_path / "whole", rides=300, seed=5, span=span)
    part_rows = (tmp_path / "part" / "trips.csv").read_text().splitlines()
    whole_rows = (tmp_path / "whole" / "trips.csv").read_text().splitlines()
    assert 50 < part["records"] < 150 and whole["records"] == 300
    assert whole_rows[:len(part_rows)] == part_rows
    assert part_rows[-1].split(",")[3].startswith("2023-12") and whole_rows[len(part_rows)].split(",")[3].startswith("2024-01")
    assert part["report"]["uscc"] == whole["report"]["uscc"]
    assert part["period"] == {"start": "2023-07-01", "end": "2023-12-31"}
    assert "period_end: 2023-12-31" in (tmp_path / "part" / "report.yaml").read_text(encoding="utf-8")
    assert "year: 2023" in (tmp_path / "part" / "factors.yaml").read_text(encoding="utf-8")
    assert part["pkm_m"] == sum(round(float(r.rsplit(",", 1)[1]) * 1000) for r in part_rows[1:])


def test_wgs84_and_extra_rides(tmp_path: Path) -> None:
    """crs='wgs84' writes the unconverted points; extra rides come after the plan's rows under new
    ids and new users, in the package's CRS, and count in the report's totals."""
    import pyarrow as pa

    from verifier.geo.crs import convert

    wgs = write_bike_package(tmp_path / "w", rides=100, seed=5, crs="wgs84")
    gcj = write_bike_package(tmp_path / "g", rides=100, seed=5)
    w_row = (tmp_path / "w" / "trips.csv").read_text().splitlines()[1].split(",")
    g_row = (tmp_path / "g" / "trips.csv").read_text().splitlines()[1].split(",")
    lon, lat = convert(float(w_row[5]), float(w_row[6]), "wgs84", "gcj02")
    assert (round(float(lon), 6), round(float(lat), 6)) == (float(g_row[5]), float(g_row[6]))
    assert "crs: wgs84" in (tmp_path / "w" / "report.yaml").read_text(encoding="utf-8")

    extra = pa.table({"start_time": pa.array([np.datetime64("2024-05-01T08:00:00")], pa.timestamp("s")),
                      "end_time": pa.array([np.datetime64("2024-05-01T08:12:00")], pa.timestamp("s")),
                      "start_lon": [float(w_row[5])], "start_lat": [float(w_row[6])],
                      "end_lon": [float(w_row[7])], "end_lat": [float(w_row[8])], "distance_km": [1.75]})
    info = write_bike_package(tmp_path / "x", rides=100, seed=5, extra_rides=extra)
    last = (tmp_path / "x" / "trips.csv").read_text().splitlines()[-1].split(",")
    assert last[:5] == ["B20240000000101", "U00000010", "own", "2024-05-01 08:00:00", "2024-05-01 08:12:00"]
    assert [float(v) for v in last[5:7]] == [float(g_row[5]), float(g_row[6])]
    assert info["records"] == 101 and info["pkm_m"] == gcj["pkm_m"] + 1750
    assert (tmp_path / "x" / "users.csv").read_text().splitlines()[-1] == "U00000010,2022-08-18"
    with pytest.raises(ValueError, match="defect"):
        write_bike_package(tmp_path / "y", rides=100, defect="duplicates", crs="wgs84", extra_rides=extra)


def test_regulator_folder_plants_what_it_expects(tmp_path: Path) -> None:
    """The expected summary follows the written files: opA-2024 repeats opA-2023's rides (same ids),
    opC-2024's last rides are opB-2024's shared ones in GCJ-02 with equal WGS-84 fingerprints,
    broken-2024 has no data section, and only the planted filings fail."""
    import yaml

    from tools.synth.regulator import SHARED, write_regulator_folder
    from verifier.geo.crs import convert

    e = write_regulator_folder(tmp_path / "reg")
    rows = e["double_claims_csv"]["rows"]
    a23 = (tmp_path / "reg" / "opA-2023" / "trips.csv").read_text().splitlines()[1:]
    a24 = (tmp_path / "reg" / "opA-2024" / "trips.csv").read_text().splitlines()[1:]
    assert a24[:len(a23)] == a23 and len(a24) > len(a23)
    assert [r[1] for r in rows if r[0] == "opA-2024"] == [line.split(",")[0] for line in a23]
    b = {line.split(",")[0]: line.split(",") for line in (tmp_path / "reg" / "opB-2024" / "trips.csv").read_text().splitlines()[1:]}
    c = (tmp_path / "reg" / "opC-2024" / "trips.csv").read_text().splitlines()[-SHARED:]
    shared = [r for r in rows if r[0] == "opC-2024"]
    assert len(shared) == SHARED
    for line, row in zip(c, shared):
        cf, bf = line.split(","), b[row[3]]
        assert cf[0] == row[1] and cf[3:5] == bf[3:5] and cf[9] == bf[9]
        lon, lat = convert(np.array([float(cf[5]), float(cf[7])]), np.array([float(cf[6]), float(cf[8])]), "gcj02", "wgs84")
        assert [round(v * 1e4) for v in (lon[0], lat[0], lon[1], lat[1])] == \
            [round(float(bf[i]) * 1e4) for i in (5, 6, 7, 8)]
    assert "data" not in yaml.safe_load((tmp_path / "reg" / "broken-2024" / "report.yaml").read_text(encoding="utf-8"))
    status = {f["name"]: (f["status"], f["failing_checks"], f["double_claims"]) for f in e["filings"]}
    assert status == {
        "opA-2023": ("pass", [], 0), "opA-2024": ("fail", ["batch.double_claim"], len(a23)),
        "opB-2024": ("pass", [], 0), "opC-2024": ("fail", ["batch.double_claim"], SHARED),
        "opT-2024": ("pass", [], 0), "broken-2024": ("unreadable", [], None)}
    assert e["double_claims"]["records"] == len(a23) + SHARED and e["exit_code"] == 1
    uscc = {f["name"]: f["applicant"]["uscc"] for f in e["filings"][:-1]}
    assert uscc["opA-2023"] == uscc["opA-2024"] and len(set(uscc.values())) == 4
