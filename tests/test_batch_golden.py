"""Golden batch: `verifier batch samples/regulator` must produce the summary and the double claims
that tools/synth/regulator.py planted (samples/regulator/expected-summary.yaml): opA's partial
year filed on its own and merged into its next filing (same_applicant + overlapping periods),
opB's rides also filed by opC (fingerprint, WGS-84 against GCJ-02), a clean transit filing and
an unreadable package; every other figure consistent, so only the planted filings fail."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml


REPO = Path(__file__).resolve().parent.parent
FOLDER = REPO / "samples" / "regulator"
EXPECTED = yaml.safe_load((FOLDER / "expected-summary.yaml").read_text(encoding="utf-8"))
TOL = 1e-6


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """One run of the command line, as a regulator would type it (two jobs)."""
    out = tmp_path_factory.mktemp("batch") / "out"
    cmd = EXPECTED["command"]
    args = [sys.executable, "-m", "verifier", "batch", *cmd["filings"], "--out", str(out),
            "--seed", str(cmd["seed"]), "--factors", cmd["factors"], "--jobs", "2"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    return done, out


@pytest.fixture(scope="module")
def summary(batch) -> dict:
    done, out = batch
    assert (out / "summary.json").is_file(), done.stderr[-2000:]
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def _same(actual, expected, where: str) -> None:
    """Equal, floats to TOL (the expectations are exact decimals, the tool's are floats)."""
    if isinstance(expected, float) and not isinstance(actual, bool) and isinstance(actual, (int, float)):
        assert abs(actual - expected) <= TOL, f"{where}: {actual} != {expected}"
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not a mapping"
        for key, value in expected.items():
            assert key in actual, f"{where}: no {key!r}"
            _same(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r} != {expected!r}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            _same(a, e, f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def test_exit_code(batch) -> None:
    done, _ = batch
    assert done.returncode == EXPECTED["exit_code"], done.stderr[-2000:]


def test_filings_in_order_with_status_checks_and_figures(summary) -> None:
    rows = summary["filings"]
    assert [r["name"] for r in rows] == [f["name"] for f in EXPECTED["filings"]]
    for row, want in zip(rows, EXPECTED["filings"]):
        want = dict(want)
        if want["error"] is not None:  # the reason names the report by the filing's path as given
            want["error"] = want["error"].format(path=row["path"])
        _same(row, want, row["name"])
        assert "reused" not in row  # summary.json is the same whether a filing was reused or not


def test_unreadable_filing_is_one_line(summary) -> None:
    (broken,) = [r for r in summary["filings"] if r["status"] == "unreadable"]
    assert broken["error"].endswith(": data: no data section naming the trip data")
    assert "\n" not in broken["error"] and broken["creditable_reduction_tco2"] is None


def test_double_claim_pairs_and_overlapping_periods(summary) -> None:
    block = summary["double_claims"]
    _same({k: block[k] for k in ("pairs", "records", "overlapping_periods")}, EXPECTED["double_claims"], "double_claims")
    assert set(block["pairs"][0]) == {"filing", "earlier", "basis", "records", "pkm", "tco2", "examples"}


def test_double_claims_csv_lists_every_one(batch) -> None:
    _, out = batch
    raw = (out / "double_claims.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")   # UTF-8 with BOM, like sample.csv
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    want = EXPECTED["double_claims_csv"]
    assert rows[0] == want["columns"]
    assert len(rows) - 1 == len(want["rows"]) == EXPECTED["double_claims"]["records"]
    for i, (got, exp) in enumerate(zip(rows[1:], want["rows"])):
        assert got[:5] == exp[:5], f"row {i + 1}"
        assert abs(float(got[5]) - exp[5]) <= TOL, f"row {i + 1}: pkm {got[5]} != {exp[5]}"


def test_totals(summary) -> None:
    _same(summary["totals"], EXPECTED["totals"], "totals")
    assert summary["seed"] == EXPECTED["command"]["seed"] == summary["parameters"]["seed"]
