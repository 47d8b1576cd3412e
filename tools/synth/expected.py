"""The findings a generated package must produce (``samples/*/expected.yaml``), derived from the
product's own registry and formula rather than re-listed here.

``check_expectations`` and ``emissions`` are the only places the generator learns which checks
apply to a methodology, which count records, and how a reduction is computed.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from verifier.checks import REGISTRY
from verifier.methodologies import get


def check_expectations(methodology: str) -> dict[str, dict]:
    """Every contract check id (the registry's order) -> what a package with no defect expects:
    ``not_applicable`` where the check does not apply to the methodology, else ``pass`` plus
    ``affected: 0`` where the contract's ``affected`` counts records (a record-level check's
    excluded or flagged records; a warn check's flagged ones). Report-, sample- and document-level
    checks count none, so their ``affected`` is not asserted."""
    out: dict[str, dict] = {}
    applicable = get(methodology).checks
    for cid, cls in REGISTRY.checks.items():
        if cid not in applicable:
            out[cid] = {"status": "not_applicable"}
            continue
        counts_records = cls.record_level or any(o.status == "warn" for o in cls.catalogue.values())
        out[cid] = {"status": "pass", "affected": 0} if counts_records else {"status": "pass"}
    return out


def emissions(methodology: str, params: dict[str, Decimal], activity: dict[str, Any]) -> dict[str, Decimal]:
    """The methodology module's own formula (`Methodology.emissions`) fed exact decimals: tCO2
    baseline, project, reduction and any per-part figures, with the `_emissions_tco2` / `_tco2`
    suffixes dropped (bike: activity ``m_t9``; transit: ``n_bus`` and ``metro_pkm``)."""
    figures = get(methodology).emissions({**params, **activity})
    return {re.sub(r"(_emissions)?_tco2$", "", name): _decimal(value) for name, value in figures.items()}


def _decimal(value):
    """A float the formula wrote as a constant (e.g. no project emissions: 0.0) as a decimal."""
    return Decimal(str(value)) if isinstance(value, float) else value


def with_planted(methodology: str, planted: dict) -> dict[str, dict]:
    """``check_expectations`` with the planted defect's check failing (``affected`` = the records
    it planted, where the check counts records)."""
    checks = check_expectations(methodology)
    failing = planted.get("check")
    if failing in checks:
        checks[failing]["status"] = "fail"
        if "affected" in checks[failing]:
            checks[failing]["affected"] = planted.get("count") or 0
    return checks


def findings(info: dict, checks: dict[str, dict], recalculated: Decimal, ineligible_defect: str,
             sampling: dict, confidence: float, tolerable_rate: float, generated_by: dict, options: dict) -> dict:
    """The expected findings document: ``reduction.recalculation`` fails when |reported −
    recalculated| / reported exceeds the materiality (10 % below 20,000 t); verified =
    min(reported, recalculated), 0 when ``ineligible_defect`` (applicant.eligibility) was planted;
    ``sample.completeness`` fails when the upper deviation rate of ``sampling`` (population,
    size, deviations) exceeds the tolerable rate."""
    from verifier.reference.factors import default_materiality
    from verifier.sampling import upper_deviation_rate

    reported = Decimal(str(info["report"]["reduction_tco2"]))
    rate = abs(reported - recalculated) / reported
    materiality, _ = default_materiality(float(reported))
    if rate > Decimal(str(materiality)):
        checks["reduction.recalculation"]["status"] = "fail"
    verified = Decimal(0) if info["defect"] == ineligible_defect else min(reported, recalculated)
    if upper_deviation_rate(sampling["deviations"], sampling["size"], confidence) > tolerable_rate:
        checks["sample.completeness"]["status"] = "fail"
    exit_code = 1 if any(c["status"] == "fail" for c in checks.values()) else 0
    return {
        "package": Path(info["path"]).name,
        "generated_by": generated_by,
        "planted": _plain_planted(info["planted"]),
        "options": options,
        "exit_code": exit_code,
        "conclusion": "fail" if exit_code else "pass",
        "checks": checks,
        "sampling": sampling,
        "recalculation": {
            "reported_reduction_tco2": float(reported),
            "recalculated_reduction_tco2": float(recalculated),
            "verified_reduction_tco2": float(verified),
            "difference_rate": float(rate),
            "tolerance": {"abs": 1e-6},
        },
    }


def _plain_planted(planted: dict | None) -> dict | None:
    if not planted:
        return None
    return {k: v for k, v in planted.items() if k != "defect"}
