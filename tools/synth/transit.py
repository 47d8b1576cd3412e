"""Synthetic bus/metro submission packages (深圳市低碳公共出行碳普惠方法学), clean or with one
planted defect: ``write_transit_package``; ``expected_transit_findings`` turns what it returns into
the findings the package must produce.

The data are realistic and clean unless a defect is planted:
- a fixed, illustrative network: 30 real Shenzhen metro station names over 3 lines (10 each, no
  shared station); each station has a cumulative position (whole metres) along its line, so the
  symmetric ``stations.csv`` (every pair on a line once) is consistent along the line; distances
  are illustrative, not the operator's route plan. Metro trips enter and exit on one line.
- users are about 10x fewer than trips (Shenzhen Tong-style masked card numbers); the trips come
  as *user-days*: each user-day has 0..daily_cap_metro metro and 0..daily_cap_bus bus trips (at
  least one), in random order, one after the other (a bus tap is an instant, and the next trip
  starts after the bus ride and a gap), first start 06:30-10:00, so no user ever exceeds the
  cap, no two records overlap (no bus tap falls inside a metro trip) and all stay on one date;
  each user's user-days fall on distinct days of the period.
- metro: distance = the table distance; duration 3 min + 0.11 s/m + 0-10 min (under 1 h);
  bus: empty end time, stations and distance.
- the report's totals equal the data: n_bus, n_metro, metro_pkm (3 decimals, exact); bus_pkm =
  n_bus x bus_ride_km; baseline, project, reduction and the per-mode reductions per the
  contract's arithmetic, 6 decimals (7 on an exact tie).
- ``taps=True`` writes the same trips as raw Shenzhen Tong taps (``taps.csv``): one 巴士 tap per
  bus trip, a 地铁入站 + 地铁出站 pair per metro trip, the exit carrying ``deal_value`` = the full
  fare of the table distance under ``verifier/transit/fares_shenzhen.yaml`` (``deal_money`` 95 %
  of it), rows in time order, so pairing gives back exactly these trips.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tools.synth import common
from tools.synth.common import (
    DOCUMENTS, ILLUSTRATIVE_SOURCE, authorisation_dates, authorisation_days, check_arguments, claim_period, dec6,
)
from tools.synth.expected import emissions, findings, with_planted
from verifier.methodologies.shenzhen_public_transit import PublicTransit

TRANSIT = PublicTransit.id

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
        self.period_start, self.period_end = claim_period(year)
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
        self.auth_day = authorisation_days(rng, self.period_start, self.n_users)
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
    check_arguments(fmt, defect, TRANSIT_DEFECTS, year)
    if taps and fmt != "csv":
        raise ValueError("tap files are CSV: use fmt='csv' with taps=True")
    if defect == "wrong_metro_distance" and taps:
        raise ValueError("wrong_metro_distance needs a trip file (taps carry no distance)")
    if defect == "unpaired_taps" and not taps:
        raise ValueError("unpaired_taps needs taps=True")
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
    common.write_documents(path)

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
        "documents": dict(DOCUMENTS),
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
        pq.write_table(table, tmp, compression="snappy", row_group_size=common.CHUNK,
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
    days = authorisation_dates(plan.auth_day)
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
    target.write_text(common.factors_yaml(head, entries), encoding="utf-8")


def _transit_report(plan, defect: str | None, n_bus: int, n_metro: int, metro_m: int) -> dict:
    f = {k: Decimal(str(v)) for k, (v, _) in ILLUSTRATIVE_TRANSIT.items()}
    rep_bus = n_bus + (BUS_COUNT_OFFSET if defect == "count_mismatch_bus" else 0)
    rep_metro = n_metro + (METRO_COUNT_OFFSET if defect == "count_mismatch_metro" else 0)
    metro_pkm = Decimal(metro_m) / 1000
    e = emissions(TRANSIT, f, {"n_bus": rep_bus, "metro_pkm": metro_pkm})
    baseline, project = dec6(e["baseline"]), dec6(e["project"])
    return {
        **{k: (int(v) if v == int(v) else float(v)) for k, v in f.items()},
        "n_bus": rep_bus, "n_metro": rep_metro, "metro_pkm": float(metro_pkm),
        "bus_pkm": float(e["bus_pkm"]),
        "baseline_emissions_tco2": float(baseline), "project_emissions_tco2": float(project),
        "reduction_tco2": float(baseline - project),
        "reduction_bus_tco2": float(dec6(e["reduction_bus"])),
        "reduction_metro_tco2": float(dec6(e["reduction_metro"])),
        "uscc": common.uscc(plan.seed + 1000, False),
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
        "documents": dict(DOCUMENTS),
    }
    return common.report_yaml(doc)


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
    from verifier.sampling import plan_sample

    checks = with_planted(TRANSIT, info["planted"] or {})
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
    recalculated = emissions(TRANSIT, f, {"n_bus": info["eligible_bus"],
                                          "metro_pkm": Decimal(info["eligible_metro_pkm_m"]) / 1000})["reduction"]

    plan = plan_sample(confidence, tolerable_rate, expected_rate, population=info["records"])
    size = min(plan.size, info["records"])
    options: dict[str, Any] = {"factors": "factors.yaml", "seed": seed}
    if fares:
        options["fares"] = fares
    return findings(
        info, checks, recalculated, "ineligible_platform",
        # every record carries its fields (no transit defect blanks one): no deviation
        {"population": info["records"], "size": size, "deviations": 0}, confidence, tolerable_rate,
        generated_by={"function": "tools.synth.write_transit_package", "trips": info["requested_trips"],
                      "seed": info["seed"], "format": info["format"], "defect": info["defect"],
                      "year": info["year"], "taps": info["taps"]},
        options=options)
