"""A regulator's folder of filings (``samples/regulator/``) with planted double claims, and the
batch summary it must produce (``expected-summary.yaml``), for ``verifier batch``.

``write_regulator_folder(root)`` writes six packages, each a complete submission like
``samples/bike-clean`` and clean by its own checks, so the only failures are the planted ones:

- ``opA-2023`` (bike, operator A): its first, partial year 2023-07-01..2023-12-31, filed on its own;
- ``opA-2024`` (bike, operator A, same USCC): 2023-07-01..2024-12-31, the partial year merged in,
  so every ride of opA-2023 is in it under the same trip id: double claims on basis
  ``same_applicant`` and the overlapping periods [opA-2023, opA-2024];
- ``opB-2024`` (bike, operator B, WGS-84 coordinates);
- ``opC-2024`` (bike, operator C, another USCC, GCJ-02): its own rides plus ``SHARED`` rides of
  opB-2024 under its own trip ids and users: equal only by the trip fingerprint (times to the
  second, points in WGS-84 to 4 decimals), so basis ``fingerprint``; opC is the later filing
  (same period end, then by name);
- ``opT-2024`` (bus/metro data platform, 2024): clean, the second methodology in the batch;
- ``broken-2024`` (bike): its report.yaml has no ``data`` section, so it cannot be read.

Plus ``factors.yaml``: the illustrative factor table of every package's claim year, for
``--factors``. The expected summary is derived from what was planted (the rides written, their
trip ids and distances) and from each package's own expected findings (``expected_findings``),
never from running the verifier.
"""

from __future__ import annotations

import math
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from tools.synth import common
from tools.synth.bike import BIKE, EXTRA_COLUMNS, expected_findings, write_bike_package
from tools.synth.expected import emissions
from tools.synth.transit import expected_transit_findings, write_transit_package
from verifier.geo.crs import convert

VERIFY_SEED = 7           # the batch seed of the expected summary
SHARED = 12               # rides of opB-2024 also filed by opC-2024
CHECK = "batch.double_claim"
UNREADABLE = "broken-2024"
# its one-line reason, {path} standing for the filing's path as summary.json gives it
UNREADABLE_ERROR = "'{path}/report.yaml': data: no data section naming the trip data"
FACTORS = "factors.yaml"
EXPECTED = "expected-summary.yaml"

# name -> how it is written (bike: operator seed, rides, span, window, crs, applicant)
_A_SPAN = (date(2023, 7, 1), date(2024, 12, 31))
BIKE_FILINGS = {
    "opA-2023": dict(seed=31, rides=600, span=_A_SPAN, window=(date(2023, 7, 1), date(2023, 12, 31)),
                     applicant="深圳市示例甲骑单车科技有限公司"),
    "opA-2024": dict(seed=31, rides=600, span=_A_SPAN, applicant="深圳市示例甲骑单车科技有限公司"),
    "opB-2024": dict(seed=32, rides=400, crs="wgs84", applicant="深圳市示例乙行单车科技有限公司"),
    "opC-2024": dict(seed=33, rides=300, applicant="深圳市示例丙游骑行平台有限公司"),
    UNREADABLE: dict(seed=35, rides=200, applicant="深圳市示例丁途单车科技有限公司"),
}
TRANSIT_FILING = ("opT-2024", dict(seed=34, trips=300))

FACTORS_HEAD = ("# 示例因子表 / ILLUSTRATIVE factor table: every package's entries, for `verifier batch --factors`.\n"
                "# No value below was published by the regulator: they only make the samples reproducible.\n")
HEAD = ("# What `verifier batch samples/regulator --out OUT --seed 7 --factors samples/regulator/factors.yaml`\n"
        "# must produce (tests/test_batch_golden.py). Written by tools/synth/regulator.py from what it\n"
        "# planted; do not edit by hand. Figures in tCO2 and pkm, compared to 1e-6.\n")


def write_regulator_folder(root: Path) -> dict:
    """Write the packages, factors.yaml and expected-summary.yaml into ``root`` (replaced)."""
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    infos: dict[str, dict] = {}
    for name in ("opA-2023", "opA-2024", "opB-2024"):
        infos[name] = write_bike_package(root / name, **BIKE_FILINGS[name])
    shared = shared_rides(root / "opB-2024" / "trips.csv", infos["opB-2024"]["seed"], SHARED)
    infos["opC-2024"] = write_bike_package(root / "opC-2024", extra_rides=shared["table"], **BIKE_FILINGS["opC-2024"])
    name, opts = TRANSIT_FILING
    infos[name] = write_transit_package(root / name, **opts)
    infos[UNREADABLE] = write_bike_package(root / UNREADABLE, **BIKE_FILINGS[UNREADABLE])
    _drop_data_section(root / UNREADABLE / "report.yaml")
    _write_factor_table(root, [n for n in infos if n != UNREADABLE])
    expected = expected_summary(root, infos, shared)
    (root / EXPECTED).write_text(HEAD + yaml.safe_dump(expected, allow_unicode=True, sort_keys=False, width=150),
                                 encoding="utf-8")
    return expected


# ------------------------------------------------------------------------------------------------
def _fingerprint_safe(v: np.ndarray) -> np.ndarray:
    """Coordinates whose 4-decimal value cannot flip on a GCJ-02 round trip (rounded or floored):
    the digits after the 4th decimal stay 0.1-0.4 or 0.6-0.9 of a unit away from either edge."""
    frac = np.mod(np.rint(v * 1e6), 100) / 100
    return ((frac >= 0.1) & (frac <= 0.4)) | ((frac >= 0.6) & (frac <= 0.9))


def shared_rides(trips: Path, seed: int, count: int) -> dict:
    """``count`` rides of a WGS-84 trip file (CSV or Parquet), drawn from stream [seed, 77] among
    those whose fingerprint survives being written in GCJ-02 and read back (checked here with the
    verifier's own conversion): ``extra_rides`` for another operator's package, and their row
    numbers, trip ids and distances in the file they come from."""
    if trips.suffix == ".parquet":
        table = pq.read_table(trips)
    else:
        table = pacsv.read_csv(trips, convert_options=pacsv.ConvertOptions(
            column_types={"trip_id": pa.string(), "user_id": pa.string(), "start_time": pa.timestamp("s"),
                          "end_time": pa.timestamp("s")}))
    lon = {c: table.column(c).to_numpy() for c in ("start_lon", "start_lat", "end_lon", "end_lat")}
    ok = np.ones(table.num_rows, dtype=bool)
    for pt in ("start", "end"):
        x, y = lon[f"{pt}_lon"], lon[f"{pt}_lat"]
        gx, gy = convert(x, y, "wgs84", "gcj02")
        bx, by = convert(np.round(gx, 6), np.round(gy, 6), "gcj02", "wgs84")
        ok &= _fingerprint_safe(x) & _fingerprint_safe(y)
        ok &= (np.rint(x * 1e4) == np.rint(bx * 1e4)) & (np.rint(y * 1e4) == np.rint(by * 1e4))
    rng = np.random.default_rng([seed, 77])
    rows = np.sort(rng.choice(np.flatnonzero(ok), size=count, replace=False))
    picked = table.take(pa.array(rows)).select(list(EXTRA_COLUMNS))
    return {"table": picked, "rows": [int(r) + 1 for r in rows],
            "trip_ids": table.column("trip_id").take(pa.array(rows)).to_pylist(),
            "distance_km": picked.column("distance_km").to_pylist()}


def _drop_data_section(report: Path) -> None:
    """The planted unreadable package: report.yaml without its required ``data`` section."""
    doc = yaml.safe_load(report.read_text(encoding="utf-8"))
    del doc["data"]
    report.write_text(common.report_yaml(doc), encoding="utf-8")


def _write_factor_table(root: Path, names: list[str]) -> None:
    """Every package's factor entries once, in first-seen order: the batch's ``--factors``."""
    entries: list[dict] = []
    for name in names:
        entries += [e for e in yaml.safe_load((root / name / FACTORS).read_text(encoding="utf-8")) if e not in entries]
    (root / FACTORS).write_text(common.factors_yaml(FACTORS_HEAD, entries), encoding="utf-8")


# ------------------------------------------------------------------------------------------------
def _bike_tco2(km: Decimal, eb: float) -> Decimal:
    return emissions(BIKE, {"Eb": Decimal(str(eb))}, {"m_t9": km})["reduction"]


def _trip_ids(info: dict) -> list[str]:
    """The trip ids a bike package wrote from its plan (file order), e.g. opA-2023's."""
    first, last = info["trip_ids"]
    prefix, a, b = first[:5], int(first[5:]), int(last[5:])
    return [f"{prefix}{i:010d}" for i in range(a, b + 1)]


def _pairs(root: Path, infos: dict, shared: dict) -> tuple[list[dict], list[list]]:
    """The planted pairs (later filing first) and every double_claims.csv row."""
    a23, c24 = infos["opA-2023"], infos["opC-2024"]
    rows: list[list] = []
    # opA-2024 repeats every opA-2023 ride under the same trip id; its distances are opA-2023's
    a_keys = _trip_ids(a23)
    a_km = _distances(root / "opA-2023" / "trips.csv")
    rows += [["opA-2024", k, "opA-2023", k, "same_applicant", a_km[k]] for k in a_keys]
    # opC-2024's extra rides (after its own) are opB's shared rides
    first_extra = c24["rides"] + 1
    c_keys = [f"B2024{first_extra + i:010d}" for i in range(SHARED)]
    rows += [["opC-2024", k, "opB-2024", b, "fingerprint", km]
             for k, b, km in zip(c_keys, shared["trip_ids"], shared["distance_km"])]
    pairs = []
    for filing, earlier, basis in (("opA-2024", "opA-2023", "same_applicant"), ("opC-2024", "opB-2024", "fingerprint")):
        mine = [r for r in rows if r[0] == filing]
        km = sum((Decimal(str(r[5])) for r in mine), Decimal(0))
        pairs.append({"filing": filing, "earlier": earlier, "basis": basis, "records": len(mine),
                      "pkm": float(km), "tco2": float(_bike_tco2(km, infos[filing]["factor_table"]["Eb"])),
                      "examples": [{"record_key": r[1], "earlier_record_key": r[3], "basis": basis} for r in mine[:5]]})
    return pairs, rows


def _distances(trips: Path) -> dict[str, float]:
    t = pacsv.read_csv(trips, convert_options=pacsv.ConvertOptions(column_types={"trip_id": pa.string()}))
    return dict(zip(t.column("trip_id").to_pylist(), t.column("distance_km").to_pylist()))


def _filing_row(root: Path, name: str, info: dict, double: dict | None) -> dict:
    """One filing's expected summary row (a readable one): its own expected findings plus the
    double claims it makes as the later filing."""
    if info["methodology"] == BIKE:
        own = expected_findings(info, seed=VERIFY_SEED)
    else:
        own = expected_transit_findings(info, seed=VERIFY_SEED)
    report = yaml.safe_load((root / name / "report.yaml").read_text(encoding="utf-8"))
    rec = own["recalculation"]
    failing = [c for c, v in own["checks"].items() if v["status"] == "fail"]
    if double:
        failing.append(CHECK)
    claimed = double["tco2"] if double else 0.0
    return {
        "name": name,
        "status": "fail" if failing else "pass",
        "conclusion": own["conclusion"],
        "methodology": info["methodology"],
        "applicant": {"name": report["applicant"]["name"], "uscc": report["applicant"]["uscc"]},
        "period": dict(info["period"]),
        "year": int(info["period"]["end"][:4]),
        "reported_reduction_tco2": rec["reported_reduction_tco2"],
        "recalculated_reduction_tco2": rec["recalculated_reduction_tco2"],
        "verified_reduction_tco2": rec["verified_reduction_tco2"],
        "double_claimed_tco2": claimed,
        "creditable_reduction_tco2": float(Decimal(str(rec["verified_reduction_tco2"])) - Decimal(str(claimed))),
        "failing_checks": failing,
        "double_claims": double["records"] if double else 0,
        "error": None,
    }


def _sum(rows: list[dict], key: str) -> float:
    return round(math.fsum(r[key] for r in rows), 6)


def _group(rows: list[dict], key, label=lambda r: None) -> list[dict]:
    """Per key (in key order): its label (the first filing's), filings, passed and amounts."""
    out: dict = {}
    for r in rows:
        out.setdefault(key(r), []).append(r)
    return [{"key": k, **({"label": label(g[0])} if label(g[0]) else {}),
             "filings": len(g), "passed": sum(r["status"] == "pass" for r in g),
             **{f: _sum(g, f) for f in ("reported_reduction_tco2", "verified_reduction_tco2",
                                        "creditable_reduction_tco2")}}
            for k, g in sorted(out.items())]


def expected_summary(root: Path, infos: dict, shared: dict) -> dict:
    """What the batch must produce: filings in filing order (period end, then name; the
    unreadable one last), the pairs, every double_claims.csv row, totals and the exit code."""
    pairs, csv_rows = _pairs(root, infos, shared)
    by_later = {p["filing"]: p for p in pairs}
    readable = sorted((n for n in infos if n != UNREADABLE), key=lambda n: (infos[n]["period"]["end"], n))
    rows = [_filing_row(root, n, infos[n], by_later.get(n)) for n in readable]
    broken = {"name": UNREADABLE, "status": "unreadable", "conclusion": None,
              "failing_checks": [], "double_claims": None, "error": UNREADABLE_ERROR}
    return {
        "command": {"filings": ["samples/regulator"], "seed": VERIFY_SEED, "factors": f"samples/regulator/{FACTORS}"},
        "exit_code": 1,
        "filings": rows + [broken],
        "double_claims": {
            "pairs": pairs,
            "records": sum(p["records"] for p in pairs),
            "overlapping_periods": [["opA-2023", "opA-2024"]],
        },
        "double_claims_csv": {
            "columns": ["filing", "record_key", "earlier_filing", "earlier_record_key", "basis", "pkm"],
            "rows": csv_rows,
        },
        "totals": {
            "filings": len(rows) + 1,
            "passed": sum(r["status"] == "pass" for r in rows),
            "failed": sum(r["status"] == "fail" for r in rows),
            "unreadable": 1,
            **{f: _sum(rows, f) for f in ("reported_reduction_tco2", "verified_reduction_tco2",
                                          "double_claimed_tco2", "creditable_reduction_tco2")},
            "by_year": _group(rows, lambda r: r["year"]),
            "by_applicant": _group(rows, lambda r: r["applicant"]["uscc"], lambda r: r["applicant"]["name"]),
            "by_methodology": _group(rows, lambda r: r["methodology"]),
        },
    }
