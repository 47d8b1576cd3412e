"""The DuckDB engine against a plain in-memory pandas reading of the same rules.

One small generated package (3,000 rides from `tools.synth`) with many defects planted at once
by editing rows here: exact copies, a (user, start, end) repeat under a new id, overlapping rides,
rides out of the period and before the scheme's start, invalid rows (no mileage, end before
start, latitude out of range, unparseable time, empty trip id), points outside Shenzhen,
aggregated orders, rides before their user's authorisation and a user missing from the users
file, implausible rides. The reference below computes every figure straight from the check
docstrings and the contract (sections 4-6) with pandas, and must equal findings.json and the
sample.csv keys (in draw order) exactly.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tools.synth import write_bike_package
from verifier.run import verify
from verifier.sampling import plan_sample, upper_deviation_rate

SEED = 11
RIDES = 3000
PERIOD = (date(2024, 1, 1), date(2024, 12, 31))
SCHEME_START = date(2022, 8, 18)
EB = Decimal("0.05")
# Hong Kong Central and Dongguan, far outside Shenzhen (GCJ-02 as the package declares)
OUTSIDE = [(114.1629, 22.2796), (113.7556, 23.0172)]
REQUIRED = ["user_id", "start_time", "end_time", "start_lon", "start_lat", "end_lon", "end_lat", "distance_km"]
EXCLUDING = ["records.validity", "records.duplicates", "records.overlap", "period.records_in_period",
             "period.crediting_start", "period.user_authorization", "boundary.geographic", "orders.own_only"]


# ------------------------------------------------------------------------------------------------
def _plant(pkg: Path) -> set[str]:
    """Edit the generated trips and users; return the trip ids planted outside the boundary."""
    trips = pd.read_csv(pkg / "trips.csv", dtype=str, keep_default_na=False)
    users = pd.read_csv(pkg / "users.csv", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(3)
    rows = rng.choice(len(trips), size=40, replace=False).tolist()
    take = iter(rows)
    t = trips

    def ts(x):
        return pd.Timestamp(x).strftime("%Y-%m-%d %H:%M:%S")

    # invalid rows
    t.loc[next(take), "distance_km"] = ""
    r = next(take)
    t.loc[r, "end_time"] = ts(pd.Timestamp(t.loc[r, "start_time"]) - pd.Timedelta(minutes=5))
    t.loc[next(take), "end_lat"] = "95.0"
    t.loc[next(take), "start_time"] = "not a time"
    t.loc[next(take), "trip_id"] = ""
    t.loc[next(take), "distance_km"] = "0"
    # out of the period (and one before the scheme started)
    for r, day in ((next(take), "2025-01-03"), (next(take), "2023-12-31"), (next(take), "2022-05-01")):
        t.loc[r, "start_time"] = f"{day} 09:00:00"
        t.loc[r, "end_time"] = f"{day} 09:15:00"
    # outside Shenzhen
    outside = []
    for i in range(3):
        r = next(take)
        lon, lat = OUTSIDE[i % 2]
        t.loc[r, ["start_lon", "start_lat"]] = [f"{lon:.6f}", f"{lat:.6f}"]
        t.loc[r, ["end_lon", "end_lat"]] = [f"{lon + 0.005:.6f}", f"{lat + 0.004:.6f}"]
        outside.append(t.loc[r, "trip_id"])
    # aggregated orders
    for _ in range(2):
        t.loc[next(take), "order_source"] = "aggregated"
    # implausible (warn only): 30 s ride; 20 km in 15 min
    r = next(take)
    t.loc[r, "end_time"] = ts(pd.Timestamp(t.loc[r, "start_time"]) + pd.Timedelta(seconds=30))
    t.loc[next(take), "distance_km"] = "20.0"
    # before authorisation: a user authorised after one of their rides; a user missing from users
    r = next(take)
    u = t.loc[r, "user_id"]
    users.loc[users.user_id == u, "authorized_at"] = (pd.Timestamp(t.loc[r, "start_time"]) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    gone = t.loc[next(take), "user_id"]
    users = users[users.user_id != gone]
    # a user listed twice: the later date counts
    r = next(take)
    u = t.loc[r, "user_id"]
    later = (pd.Timestamp(t.loc[r, "start_time"]) + pd.Timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")
    users = pd.concat([users, pd.DataFrame({"user_id": [u], "authorized_at": [later]})])

    extra = []
    # exact copies (repeated trip_id and tuple), one of them copied twice
    for r in (next(take), next(take)):
        extra.append(t.loc[r].copy())
    extra.append(extra[0].copy())
    # a repeated (user, start, end) under a new trip id
    c = t.loc[next(take)].copy()
    c["trip_id"] = "X-DUP-TUPLE"
    extra.append(c)
    # overlapping rides: a new ride starting inside an earlier ride of the same user; a second
    # one starting exactly when a ride ends (touching: no overlap); a third wholly inside
    for name, shift_start, length in (("X-OVER-1", 5, 20), ("X-TOUCH", None, 10), ("X-OVER-2", 2, 3)):
        base = t.loc[next(take)].copy()
        s, e = pd.Timestamp(base["start_time"]), pd.Timestamp(base["end_time"])
        ns = e if shift_start is None else s + pd.Timedelta(minutes=shift_start)
        base["trip_id"] = name
        base["start_time"], base["end_time"] = ts(ns), ts(ns + pd.Timedelta(minutes=length))
        extra.append(base)
    # an overlap between two otherwise invalid/duplicate records does not count: an invalid ride
    # (no mileage) overlapping a valid one, flagged only by validity
    base = t.loc[next(take)].copy()
    base["trip_id"], base["distance_km"] = "X-INVALID-OVER", ""
    base["start_time"] = ts(pd.Timestamp(base["start_time"]) + pd.Timedelta(minutes=1))
    extra.append(base)
    trips = pd.concat([t, pd.DataFrame(extra)], ignore_index=True)
    trips.to_csv(pkg / "trips.csv", index=False)
    users.to_csv(pkg / "users.csv", index=False)
    return set(outside)


# ------------------------------------------------------------------------------------------------
def _reference(pkg: Path, outside: set[str], seed: int) -> dict:
    """Every figure from the rules as written, with pandas, in memory."""
    raw = pd.read_csv(pkg / "trips.csv", dtype=str, keep_default_na=False)
    df = raw.apply(lambda c: c.str.strip()).replace("", np.nan)
    df["row_no"] = np.arange(1, len(df) + 1)
    df["record_key"] = df["trip_id"].where(df["trip_id"].notna(), "#" + df["row_no"].astype(str))
    for c in ("start_time", "end_time"):
        df[c] = pd.to_datetime(df[c], errors="coerce", format="%Y-%m-%d %H:%M:%S")
    for c in ("start_lon", "start_lat", "end_lon", "end_lat", "distance_km"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    # whole metres, for exact pkm sums
    df["m"] = (df["distance_km"] * 1000).round().astype("Int64")
    date_ = df["start_time"].dt.date

    users = pd.read_csv(pkg / "users.csv", dtype=str)
    users["authorized_at"] = pd.to_datetime(users["authorized_at"], errors="coerce", format="mixed")
    auth = users.groupby("user_id")["authorized_at"].max()
    df["authorized_at"] = df["user_id"].map(auth)

    f = pd.DataFrame(index=df.index)
    # records.validity (bike): trip_id (the column exists), the required fields, end after start,
    # distance > 0, coordinates in range
    bad = df["trip_id"].isna() | df[REQUIRED].isna().any(axis=1)
    bad |= ~(df["end_time"] > df["start_time"]) | ~(df["distance_km"] > 0)
    for c, lim in (("start_lon", 180), ("end_lon", 180), ("start_lat", 90), ("end_lat", 90)):
        bad |= ~df[c].between(-lim, lim)
    f["records.validity"] = bad
    # records.duplicates: a repeated trip_id, or a repeated (user, mode, start, end); first kept
    dup_id = df["trip_id"].notna() & df.duplicated("trip_id", keep="first")
    dup_tuple = (df["user_id"].notna() & df["start_time"].notna()
                 & df.duplicated(["user_id", "start_time", "end_time"], keep="first"))
    f["records.duplicates"] = dup_id | dup_tuple
    # records.overlap: among valid non-duplicate records, a trip starting before an earlier trip
    # of the same user has ended (touching is no overlap); the later is excluded
    ok = ~f["records.validity"] & ~f["records.duplicates"]
    over = pd.Series(False, index=df.index)
    for _, g in df[ok].sort_values(["user_id", "start_time", "row_no"]).groupby("user_id"):
        latest_end = None
        for i, row in g.iterrows():
            if latest_end is not None and latest_end > row["start_time"]:
                over[i] = True
            latest_end = row["end_time"] if latest_end is None else max(latest_end, row["end_time"])
    f["records.overlap"] = over
    f["period.records_in_period"] = date_.notna() & ((date_ < PERIOD[0]) | (date_ > PERIOD[1]))
    f["period.crediting_start"] = date_.notna() & (date_ < SCHEME_START)
    f["period.user_authorization"] = df["start_time"].notna() & (
        df["authorized_at"].isna() | (df["start_time"] < df["authorized_at"]))
    # boundary.geographic: both points given, not both inside. By construction the generated
    # points lie >= 5 km inside Shenzhen; the planted ones and any point off the city's bounding
    # box (e.g. latitude 95, which records.validity also flags) lie outside.
    def off(lon, lat):
        return ~(df[lon].between(113.7, 114.7) & df[lat].between(22.4, 22.9))

    coords = df[["start_lon", "start_lat", "end_lon", "end_lat"]].notna().all(axis=1)
    f["boundary.geographic"] = coords & (df["trip_id"].isin(outside) | off("start_lon", "start_lat")
                                         | off("end_lon", "end_lat"))
    f["orders.own_only"] = df["order_source"] == "aggregated"
    # records.plausibility (warn): under 60 s, over 25 km/h (over the straight line when longer),
    # mileage below the straight line
    dur = (df["end_time"] - df["start_time"]).dt.total_seconds()
    lat1, lat2 = np.radians(df["start_lat"]), np.radians(df["end_lat"])
    dlat, dlon = lat2 - lat1, np.radians(df["end_lon"] - df["start_lon"])
    a = np.sin(dlat / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(dlon / 2) ** 2
    straight = 2 * 6371.0088 * np.arcsin(np.sqrt(a))
    speed = np.maximum(df["distance_km"].fillna(0), straight.fillna(0)) / (dur / 3600)
    f["records.plausibility"] = (df["end_time"] > df["start_time"]) & (
        (dur < 60) | (speed > 25) | (df["distance_km"] < straight))
    f = f.fillna(False).astype(bool)

    excluded = f[EXCLUDING].any(axis=1)
    m = df["m"].fillna(0).astype(int)
    eligible_m = int(m[~excluded].sum())
    recalculated = EB * Decimal(eligible_m) / 1000 / 1000

    keys = df.assign(draw=[hashlib.md5(f"{seed}:{k}".encode()).hexdigest() for k in df["record_key"]])
    order = keys.sort_values(["draw", "row_no"])
    size = min(plan_sample(0.95, 0.05, 0.0).size, len(df))
    sample = order.head(size)
    complete = sample[["start_time", "start_lon", "start_lat", "end_time", "end_lon", "end_lat",
                       "distance_km"]].notna().all(axis=1)
    return {
        "records": len(df), "pkm_m": int(m.sum()),
        "flags": {c: int(f[c].sum()) for c in f.columns},
        "flag_m": {c: int(m[f[c]].sum()) for c in f.columns},
        "flag_frame": f.assign(record_key=df["record_key"]),
        "eligible": int((~excluded).sum()), "eligible_m": eligible_m, "recalculated": recalculated,
        "sample_keys": sample["record_key"].tolist(), "deviations": int((~complete).sum()),
        "complete": complete.tolist(), "size": size,
        "sample_flags": f.loc[sample.index],
    }


# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("equivalence")
    pkg = base / "pkg"
    write_bike_package(pkg, rides=RIDES, seed=SEED, fmt="csv")
    outside = _plant(pkg)
    out = base / "out"
    verify(pkg, out, factors=pkg / "factors.yaml", seed=SEED, write_pdf=False)
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    sample = pd.read_csv(out / "sample.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return findings, sample, _reference(pkg, outside, SEED)


def _check(findings, cid):
    return next(c for c in findings["checks"] if c["id"] == cid)


def test_planted_defects_are_all_present(run):
    _, _, ref = run
    flags = ref["flags"]
    # the reference itself sees what was planted (so the comparisons below are not vacuous)
    assert flags["records.validity"] == 7
    assert flags["records.duplicates"] == 4
    assert flags["records.overlap"] == 2
    assert flags["period.records_in_period"] == 3
    assert flags["period.crediting_start"] == 1
    assert flags["period.user_authorization"] >= 2
    assert flags["boundary.geographic"] == 4  # 3 planted outside, 1 with latitude 95
    assert flags["orders.own_only"] == 2
    assert flags["records.plausibility"] >= 2


def test_counts_and_pkm(run):
    findings, _, ref = run
    assert _check(findings, "count.reconciliation")["observed"] == ref["records"]
    assert _check(findings, "distance.reconciliation")["observed"] == round(ref["pkm_m"] / 1000, 6)
    assert findings["sampling"]["population"] == ref["records"]
    assert [i["records"] for i in findings["inputs"] if i["role"] == "trips"] == [ref["records"]]


@pytest.mark.parametrize("cid", EXCLUDING + ["records.plausibility"])
def test_record_level_check(run, cid):
    findings, _, ref = run
    c = _check(findings, cid)
    n = ref["flags"][cid]
    assert c["affected"] == n, cid
    if cid == "records.plausibility":
        assert c["status"] == ("warn" if n else "pass")
    else:
        assert c["status"] == ("fail" if n else "pass")


def test_examples_are_the_first_flagged_in_file_order(run):
    findings, _, ref = run
    f = ref["flag_frame"]
    for cid in EXCLUDING:
        want = f.loc[f[cid], "record_key"].head(5).tolist()
        assert [e["record_key"] for e in _check(findings, cid)["examples"]] == want, cid


def test_exclusions_and_recalculation(run):
    findings, _, ref = run
    rec = findings["recalculation"]
    excluded = {e["check"]: (e["records"], e["pkm"]) for e in rec["excluded"]}
    want = {cid: (ref["flags"][cid], round(ref["flag_m"][cid] / 1000, 6))
            for cid in EXCLUDING if ref["flags"][cid]}
    assert excluded == want
    assert rec["eligible_records"] == ref["eligible"]
    assert rec["eligible_pkm"] == round(ref["eligible_m"] / 1000, 6)
    assert rec["recalculated_reduction_tco2"] == round(float(ref["recalculated"]), 9)
    reported = Decimal(str(rec["reported_reduction_tco2"]))
    assert rec["difference_rate"] == round(float(abs(reported - ref["recalculated"]) / reported), 9)
    assert rec["verified_reduction_tco2"] == round(float(min(reported, ref["recalculated"])), 9)


def test_sample_in_md5_rank_order(run):
    findings, sample, ref = run
    assert sample["record_key"].tolist() == ref["sample_keys"]
    assert findings["sampling"]["size"] == ref["size"]
    assert findings["sampling"]["deviations"] == ref["deviations"]
    assert findings["sampling"]["upper_deviation_rate"] == round(
        float(upper_deviation_rate(ref["deviations"], ref["size"], 0.95)), 6)
    assert sample["sample.completeness"].tolist() == ["pass" if c else "fail" for c in ref["complete"]]
    flags = ref["sample_flags"]  # row by row: a repeated key appears once per record
    for cid in EXCLUDING + ["records.plausibility"]:
        assert cid in sample.columns, cid
        assert sample[cid].tolist() == ["fail" if v else "pass" for v in flags[cid]], cid
