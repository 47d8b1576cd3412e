"""The verification checklists (one YAML per methodology in the ``checklists`` resource folder).

A checklist names the methodology's verification points (核证要点), each answered by contract
checks, and titles every contract check in Chinese and English. The report reads its words here.
"""

from __future__ import annotations

from functools import lru_cache

import yaml

from verifier.resources import resource_dir

# Contract section 5: the ids are part of the contract.
CONTRACT_CHECK_IDS: tuple[str, ...] = (
    "report.completeness", "report.arithmetic", "applicant.eligibility", "orders.own_only",
    "period.crediting_start", "period.natural_year", "period.records_in_period",
    "period.user_authorization", "boundary.geographic", "boundary.crs", "records.validity",
    "records.duplicates", "records.overlap", "records.plausibility", "count.reconciliation",
    "distance.reconciliation", "sample.completeness", "factor.values", "reduction.recalculation",
    "documents.materials", "transit.metro_distance", "transit.daily_cap", "transit.tap_pairing",
    "transit.fare_band",
)


@lru_cache(maxsize=8)
def _load(methodology: str) -> dict:
    path = resource_dir("checklists") / f"{methodology}.yaml"
    if not path.is_file():
        raise KeyError(f"no checklist for methodology {methodology!r}")
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if data.get("methodology") != methodology:
        raise ValueError(f"{path.name}: methodology is {data.get('methodology')!r}")
    return data


def load_checklist(methodology: str) -> dict:
    """The checklist of ``methodology`` as a dict (a fresh copy: callers may modify it)."""
    import copy

    return copy.deepcopy(_load(methodology))


def applicable_checks(checklist: dict) -> list[str]:
    """Contract check ids that apply to the checklist's methodology, in contract order."""
    skip = set(checklist.get("not_applicable") or ())
    return [c for c in CONTRACT_CHECK_IDS if c not in skip]


def text(value, lang: str) -> str:
    """A ``{zh, en}`` entry in ``lang`` (plain strings are language-neutral)."""
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("zh") or "")
    return "" if value is None else str(value)
