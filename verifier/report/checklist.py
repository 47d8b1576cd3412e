"""The verification checklist of a methodology, as the report reads it.

A methodology's checklist (``checklists/<id>.yaml``, `Methodology.checklist`) names its
verification points (核证要点), each answered by check ids. The words about each check (title,
description, correction, zh and en) are the check's own (`verifier/checks`), and the
methodology's name is the methodology's: `load_checklist` puts them together for the report.
"""

from __future__ import annotations

import copy

from verifier.checks import REGISTRY
from verifier.methodologies import get

# Contract section 5: the ids are part of the contract (the registry holds them in its order).
CONTRACT_CHECK_IDS: tuple[str, ...] = tuple(REGISTRY.ids())


def check_texts() -> dict[str, dict]:
    """Check id -> its title, description and correction, each ``{zh, en}``."""
    return {cid: {"title": cls.title, "description": cls.description, "correction": cls.correction}
            for cid, cls in REGISTRY.checks.items()}


def load_checklist(methodology: str) -> dict:
    """The checklist of ``methodology`` with its name and every check's words (a fresh copy:
    callers may modify it)."""
    m = get(methodology)
    return {**copy.deepcopy(m.checklist), "name": dict(m.name), "checks": check_texts()}


def applicable_checks(checklist: dict) -> list[str]:
    """Contract check ids that apply to the checklist's methodology, in contract order."""
    answered = {c for p in checklist["points"] for c in p["checks"]}
    return [c for c in CONTRACT_CHECK_IDS if c in answered]


def text(value, lang: str) -> str:
    """A ``{zh, en}`` entry in ``lang`` (plain strings are language-neutral)."""
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("zh") or "")
    return "" if value is None else str(value)
