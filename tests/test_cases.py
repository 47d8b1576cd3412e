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

import json
from pathlib import Path

import pytest

from case_packages import BASES, build_package, iter_cases, package_key
from verifier.run import verify

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
    for path, case in iter_cases():
        # `xfail: reason` marks a case the tool gets wrong today (strict: fixing it shows)
        marks = [pytest.mark.xfail(strict=True, reason=case["xfail"])] if "xfail" in case else []
        params.append(pytest.param(path, case, id=f"{path.stem}:{case['name']}", marks=marks))
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


_RUNS: dict[str, dict] = {}


def run_case(case: dict, tmp_path: Path) -> dict:
    """findings.json of the case's package."""
    key = package_key(case)
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
