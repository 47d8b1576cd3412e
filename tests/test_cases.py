"""Checks tested as data: every case in tests/cases/<check_id>.yaml, one generic test (the way
sqlfluff tests its rules with YAML fixtures). tests/cases/README.md says the same, for authors.

A case file holds one check's cases::

    check: records.duplicates          # the contract id; the file is named <check>.yaml
    cases:
    - name: repeat_of_trip_id_keeps_the_first
      methodology: bike                # bike | transit (base: samples/bike-clean, samples/transit-clean)
      records: |                       # the trip file: a CSV block, or a YAML list of rows (mappings;
        trip_id,user_id,...            #   the header is every key in first-seen order)
        B1,U1,...
      report: {project.period_start: 2024-03-01}   # optional dotted overrides of report.yaml;
                                       #   a list of named items is indexed by name
                                       #   (monitored_data.n_t9.value), null deletes the key
      users: |                         # optional users.csv (user_id, authorized_at); without it the
        ...                            #   report names no users file
      stations: ...                    # optional station distances (transit); without it none
      taps: ...                        # optional raw taps (shenzhen-tong): data.taps replaces data.trips
      options: {seed: 7, fares: shenzhen, boundary: {...GeoJSON...}, boundary_crs: wgs84,
                factors: null, materiality: 0.05, ...}
      xfail: why                       # optional: a known disagreement with the rule (strict xfail)
      expect:
        status: fail
        affected: 1                    # optional: findings.json `affected`
        examples: [B2]                 # optional: the examples' keys (record keys), in order
        code: found                    # optional: the catalogue entry of the message

The package is the base sample's report.yaml, factors.yaml and docs/ (read, never modified),
with the overrides applied and the case's files written. It is verified in process through the
public entry point `verifier.run.verify(..., write_pdf=False)` and judged on findings.json alone.
Defaults: seed 7, the base's factors.yaml, and for bike a rectangle around Shenzhen as boundary
(WGS-84), so that no case depends on the exact outline (the golden packages exercise it).
An example's key is its `record_key`; a tap example (transit.tap_pairing, no record) is keyed
`<category>:<row>` (row in the tap file, header excluded); a report-level example (a figure) by
its `parameter` or `field`.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
import yaml

from verifier.run import verify

CASES = Path(__file__).resolve().parent / "cases"
SAMPLES = Path(__file__).resolve().parents[1] / "samples"
BASES = {"bike": SAMPLES / "bike-clean", "transit": SAMPLES / "transit-clean"}
SHIPPED_FARES = Path(__file__).resolve().parents[1] / "verifier" / "transit" / "fares_shenzhen.yaml"
# A box around Shenzhen (WGS-84), wide enough that no coordinate system moves a point out of it.
SHENZHEN_BOX = {"type": "FeatureCollection", "features": [{
    "type": "Feature", "properties": {"name": "深圳市（测试矩形）"},
    "geometry": {"type": "Polygon", "coordinates": [[[113.7, 22.4], [114.7, 22.4], [114.7, 22.9],
                                                     [113.7, 22.9], [113.7, 22.4]]]}}]}
# The contract's record-level checks and the methodologies each applies to (section 5): every one
# needs a passing, a failing and a not_applicable case (test_every_record_check_is_covered).
RECORD_CHECKS = {
    "records.validity": {"bike", "transit"}, "records.duplicates": {"bike", "transit"},
    "records.overlap": {"bike", "transit"}, "records.plausibility": {"bike"},
    "period.crediting_start": {"bike", "transit"}, "period.records_in_period": {"bike", "transit"},
    "period.user_authorization": {"bike", "transit"}, "boundary.geographic": {"bike"},
    "orders.own_only": {"bike"}, "transit.metro_distance": {"transit"}, "transit.daily_cap": {"transit"},
    "transit.fare_band": {"transit"}, "transit.tap_pairing": {"transit"},
}


def _load_cases() -> list:
    params = []
    for path in sorted(CASES.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert doc["check"] == path.stem, f"{path.name}: `check: {doc['check']}` is not the file's name"
        for case in doc["cases"]:
            # `xfail: reason` marks a case the tool gets wrong today (strict: fixing it shows)
            marks = [pytest.mark.xfail(strict=True, reason=case["xfail"])] if "xfail" in case else []
            params.append(pytest.param(path, case, id=f"{doc['check']}:{case['name']}", marks=marks))
    return params


ALL_CASES = _load_cases()


@pytest.mark.parametrize(("path", "case"), ALL_CASES)
def test_case(path: Path, case: dict, tmp_path: Path) -> None:
    check_id = path.stem
    found = next(c for c in run_case(case, tmp_path)["checks"] if c["id"] == check_id)
    got = {"status": found["status"], "affected": found["affected"], "code": found["code"],
           "examples": [example_key(e) for e in found["examples"]]}
    want = case["expect"]
    assert {k: got[k] for k in want} == want, (
        f"{path.name}, case {case['name']!r}: findings.json says {got} ({found['messages'].get('en')})")


# The parts of a case that make its package; cases alike in all of them share one run (a run is
# deterministic: same package, options and seed, same findings.json).
INPUTS = ("methodology", "records", "report", "users", "stations", "taps", "options")
_RUNS: dict[str, dict] = {}


def run_case(case: dict, tmp_path: Path) -> dict:
    """findings.json of the case's package."""
    key = json.dumps({k: case.get(k) for k in INPUTS}, sort_keys=True, default=str)
    if key not in _RUNS:
        package, kwargs = build_package(case, tmp_path)
        verify(package, tmp_path / "out", write_pdf=False, **kwargs)
        _RUNS[key] = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))
    return _RUNS[key]


def test_every_record_check_is_covered() -> None:
    """Each record-level check has, per methodology it applies to, a case it passes and one it
    flags, and a not_applicable case for a methodology it does not apply to (xfail cases do not
    count)."""
    seen: dict[str, set] = {}
    for param in ALL_CASES:
        path, case = param.values
        if "xfail" not in case:
            seen.setdefault(path.stem, set()).add((case["methodology"], case["expect"]["status"]))
    for check_id, methodologies in RECORD_CHECKS.items():
        got = seen.get(check_id, set())
        for m in methodologies:
            assert (m, "pass") in got, f"{check_id}.yaml: no passing {m} case"
            assert {(m, "fail"), (m, "warn")} & got, f"{check_id}.yaml: no failing {m} case"
        for m in set(BASES) - methodologies:
            assert (m, "not_applicable") in got, f"{check_id}.yaml: no not_applicable {m} case"


def example_key(example: dict) -> str:
    """A record's key; a tap's `<category>:<row>`; a report figure's parameter or field name."""
    if "record_key" in example:
        return str(example["record_key"])
    if "category" in example:
        return f"{example['category']}:{example['row']}"
    return str(example.get("parameter", example.get("field")))


# -- building the package ---------------------------------------------------------------------
def build_package(case: dict, tmp_path: Path) -> tuple[Path, dict]:
    """The case's package in tmp_path/pkg, and the keyword options for verify."""
    base = BASES[case["methodology"]]
    package = tmp_path / "pkg"
    shutil.copytree(base / "docs", package / "docs")
    shutil.copy(base / "factors.yaml", package / "factors.yaml")
    report = yaml.safe_load((base / "report.yaml").read_text(encoding="utf-8"))
    data = report["data"]
    for role in ("users", "station_distances"):
        data.pop(role, None)
    if "taps" in case:
        data.pop("trips")
        data.update(taps=["taps.csv"], tap_format="shenzhen-tong")
        write_table(package / "taps.csv", case["taps"])
    else:
        write_table(package / "trips.csv", case["records"])
    if "users" in case:
        data["users"] = "users.csv"
        write_table(package / "users.csv", case["users"])
    if "stations" in case:
        data["station_distances"] = "stations.csv"
        write_table(package / "stations.csv", case["stations"])
    for dotted, value in (case.get("report") or {}).items():
        set_dotted(report, dotted, value)
    (package / "report.yaml").write_text(yaml.safe_dump(report, allow_unicode=True, sort_keys=False),
                                         encoding="utf-8")
    return package, verify_options(case, package, tmp_path)


def verify_options(case: dict, package: Path, tmp_path: Path) -> dict:
    opts = dict(case.get("options") or {})
    kwargs = {"seed": opts.pop("seed", 7), "factors": package / "factors.yaml"}
    if "factors" in opts:  # null: no factor table; a list: that table
        table = opts.pop("factors")
        kwargs["factors"] = write_yaml(tmp_path / "factors.yaml", table) if table is not None else None
    boundary = opts.pop("boundary", SHENZHEN_BOX if case["methodology"] == "bike" else None)
    if boundary is not None:
        kwargs["boundary"] = write_json(tmp_path / "boundary.geojson", boundary)
    if "fares" in opts:  # `shenzhen`: the shipped table; a mapping: that table
        fares = opts.pop("fares")
        kwargs["fares"] = SHIPPED_FARES if fares == "shenzhen" else write_yaml(tmp_path / "fares.yaml", fares)
    return {**kwargs, **opts}


def set_dotted(doc: dict, dotted: str, value) -> None:
    """Set (or, for None, delete) the value at a dotted path; in a list of named items
    (default_data, monitored_data) a part is an item's name."""
    *parents, last = dotted.split(".")
    node = doc
    for part in parents:
        node = _named(node, part, dotted) if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        index = node.index(_named(node, last, dotted))
        node[index:index + 1] = [] if value is None else [value]
    elif value is None:
        node.pop(last, None)
    else:
        node[last] = value


def _named(items: list, name: str, dotted: str) -> dict:
    match = [item for item in items if item.get("name") == name]
    assert match, f"{dotted}: no item named {name!r}"
    return match[0]


def write_table(path: Path, table) -> None:
    """A CSV block as written, or a list of row mappings as CSV (header in first-seen key order)."""
    if isinstance(table, str):
        path.write_text(table, encoding="utf-8")
        return
    header = list(dict.fromkeys(k for row in table for k in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, header, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in table)
    path.write_text(out.getvalue(), encoding="utf-8")


def write_yaml(path: Path, doc) -> Path:
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_json(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path
