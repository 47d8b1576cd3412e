"""The report's per-district table (findings.json `breakdown.districts`, verifier.geo.districts):
rows as printed, with a total row; the template is templates/sections/districts.html.j2."""

from __future__ import annotations

import math

from verifier.geo.districts import BREAKDOWN, OUTSIDE

def view(findings: dict, t) -> dict:
    """{"districts": the table (rows, total, note) or None when the findings carry no breakdown}."""
    rows = ((findings.get("breakdown") or {}).get(BREAKDOWN)) or []
    if not rows:
        return {"districts": None}
    boundary = findings.get("boundary") or {}
    total = {"records": sum(r["records"] for r in rows), "pkm": math.fsum(r["pkm"] for r in rows),
             "excluded_records": sum(r["excluded_records"] for r in rows),
             "eligible_pkm": math.fsum(r["eligible_pkm"] for r in rows)}
    # one row besides `outside` and it is the boundary itself: the boundary file named no district
    whole = len(rows) == 2 and rows[0]["name"] == boundary.get("name")
    return {"districts": {
        "rows": [_row(t("district_outside") if r["name"] == OUTSIDE else r["name"], r) for r in rows],
        "total": _row(t("total"), total),
        "note": t("district_note").format(source=findings["breakdown"].get("districts_source") or "—"),
        "whole": t("district_whole") if whole else "",
    }}


def _row(label: str, r: dict) -> dict:
    from verifier.report.model import fmt_num

    return {"name": label, "records": fmt_num(int(r["records"])), "pkm": fmt_num(float(r["pkm"]), "pkm"),
            "excluded_records": fmt_num(int(r["excluded_records"])),
            "eligible_pkm": fmt_num(float(r["eligible_pkm"]), "pkm")}
