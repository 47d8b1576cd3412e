"""The findings a generated package must produce (``samples/*/expected.yaml``), derived from the
product's own registry and formula rather than re-listed here.

``check_expectations`` and ``emissions`` are the only places the generator learns which checks
apply to a methodology, which count records, and how a reduction is computed.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from verifier.checks import REGISTRY
from verifier.methodology import BIKE, TRANSIT


# RE-POINT after merging issue 11 (H1, verifier/methodologies/): applicability then comes from
# the methodology module (its applicable checks / capabilities) instead of Check.methodologies.
def check_expectations(methodology: str) -> dict[str, dict]:
    """Every contract check id (the registry's order) -> what a package with no defect expects:
    ``not_applicable`` where the check does not apply to the methodology, else ``pass`` plus
    ``affected: 0`` where the contract's ``affected`` counts records (a record-level check's
    excluded or flagged records; a warn check's flagged ones). Report-, sample- and document-level
    checks count none, so their ``affected`` is not asserted."""
    out: dict[str, dict] = {}
    for cid, cls in REGISTRY.checks.items():
        if methodology not in cls.methodologies:
            out[cid] = {"status": "not_applicable"}
            continue
        counts_records = cls.record_level or any(o.status == "warn" for o in cls.catalogue.values())
        out[cid] = {"status": "pass", "affected": 0} if counts_records else {"status": "pass"}
    return out


# RE-POINT after merging issue 11 (H1): the methodology module's emission formula
# (emissions(params, activity)), here in exact decimals.
def emissions(methodology: str, params: dict[str, Decimal], activity: dict[str, Any]) -> dict[str, Decimal]:
    """Exact (unrounded) tCO2: baseline, project, reduction and, for transit, the per-mode
    reductions. Bike: activity ``m_t9`` (pkm); transit: ``n_bus`` (trips) and ``metro_pkm``."""
    if methodology == BIKE:
        baseline = params["Eb"] * activity["m_t9"] / 1000
        return {"baseline": baseline, "project": Decimal(0), "reduction": baseline}
    if methodology == TRANSIT:
        bus_pkm = activity["n_bus"] * params["bus_ride_km"]
        metro_pkm = activity["metro_pkm"]
        baseline = params["EF_baseline"] * (bus_pkm + metro_pkm) / 1000
        project = (params["EF_bus"] * bus_pkm + params["EF_metro"] * metro_pkm) / 1000
        return {"baseline": baseline, "project": project, "reduction": baseline - project,
                "bus_pkm": bus_pkm,
                "reduction_bus": (params["EF_baseline"] - params["EF_bus"]) * bus_pkm / 1000,
                "reduction_metro": (params["EF_baseline"] - params["EF_metro"]) * metro_pkm / 1000}
    raise ValueError(f"unknown methodology {methodology!r}")


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
