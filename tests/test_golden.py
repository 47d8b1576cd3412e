"""Golden packages: every `samples/*/expected.yaml` states what `verify` must produce for its package."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
CASES = sorted(SAMPLES.glob("*/expected.yaml"))


@pytest.mark.parametrize("expected_file", CASES, ids=[p.parent.name for p in CASES])
def test_golden(expected_file: Path, tmp_path: Path) -> None:
    from verifier.run import verify

    package = expected_file.parent
    expected = yaml.safe_load(expected_file.read_text(encoding="utf-8"))
    options = dict(expected.get("options") or {})
    for name in ("factors", "boundary", "fares"):  # paths in options are relative to the package
        if options.get(name):
            options[name] = package / options[name]
    out = tmp_path / "out"

    findings = verify(package, out, **options)
    result = findings.to_dict()

    assert findings.exit_code == expected["exit_code"]
    assert result["conclusion"] == expected["conclusion"]
    got = {c["id"]: c for c in result["checks"]}
    mismatches = []
    for cid, want in expected["checks"].items():
        have = got.get(cid)
        if have is None:
            mismatches.append(f"{cid}: missing from findings")
            continue
        if have["status"] != want["status"]:
            mismatches.append(f"{cid}: status {have['status']!r}, expected {want['status']!r} ({have.get('message', '')})")
        if "affected" in want and have.get("affected") != want["affected"]:
            mismatches.append(f"{cid}: affected {have.get('affected')!r}, expected {want['affected']!r}")
        for key, value in (want.get("details") or {}).items():  # optional exact figures (e.g. tap counts)
            if (have.get("details") or {}).get(key) != value:
                mismatches.append(f"{cid}: details.{key} {(have.get('details') or {}).get(key)!r}, expected {value!r}")
    assert not mismatches, "\n".join(mismatches)

    tol = expected["recalculation"].get("tolerance", {}).get("abs", 1e-6)
    for key, want in expected["recalculation"].items():
        if key == "tolerance":
            continue
        assert result["recalculation"][key] == pytest.approx(want, abs=tol), key
    for key, want in (expected.get("sampling") or {}).items():
        assert result["sampling"][key] == want, f"sampling.{key}"
    assert result["parameters"]["seed"] == options.get("seed", result["parameters"]["seed"])

    for name in ("findings.json", "sample.csv", "report.pdf"):
        assert (out / name).is_file(), name
