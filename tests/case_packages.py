"""The per-check cases' packages (tests/cases/*.yaml): reading the case files and building a
case's package and `verify` options. tests/test_cases.py judges each case on findings.json;
tests/test_engine_conformance.py runs the same packages through every engine. The case format is
documented in tests/test_cases.py and tests/cases/README.md.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import yaml

CASES = Path(__file__).resolve().parent / "cases"
SAMPLES = Path(__file__).resolve().parents[1] / "samples"
BASES = {"bike": SAMPLES / "bike-clean", "transit": SAMPLES / "transit-clean"}
SHIPPED_FARES = Path(__file__).resolve().parents[1] / "verifier" / "transit" / "fares_shenzhen.yaml"
# A box around Shenzhen (WGS-84), wide enough that no coordinate system moves a point out of it.
SHENZHEN_BOX = {"type": "FeatureCollection", "features": [{
    "type": "Feature", "properties": {"name": "深圳市（测试矩形）"},
    "geometry": {"type": "Polygon", "coordinates": [[[113.7, 22.4], [114.7, 22.4], [114.7, 22.9],
                                                     [113.7, 22.9], [113.7, 22.4]]]}}]}
# The parts of a case that make its package; cases alike in all of them share one run (a run is
# deterministic: same package, options and seed, same findings.json).
INPUTS = ("methodology", "records", "report", "users", "stations", "taps", "options")


def iter_cases() -> Iterator[tuple[Path, dict]]:
    """(case file, case) for every case of tests/cases/*.yaml, files in name order."""
    for path in sorted(CASES.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert doc["check"] == path.stem, f"{path.name}: `check: {doc['check']}` is not the file's name"
        for case in doc["cases"]:
            yield path, case


def package_key(case: dict) -> str:
    """What makes the case's run: cases with the same key give the same findings.json."""
    return json.dumps({k: case.get(k) for k in INPUTS}, sort_keys=True, default=str)


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
