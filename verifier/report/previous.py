"""The report's comparison with an earlier verification, from findings.json's `previous` block
(verifier/previous.py makes it): the earlier non-conformities under their earlier numbers and
what became of them, the counts and amounts side by side, and the input files that changed.

Non-conformity numbers are per run: an earlier number is the one that run's own report gave
(its failing checks in report order, `model.nc_numbers`), mapped here to this run's number.
"""

from __future__ import annotations

from verifier.findings import Findings
from verifier.report.checklist import text
from verifier.report.model import fmt_num, nc_numbers, strings, translator

# The kind of each compared figure (issue 12 point 6: tCO2e 4 decimals, pkm 3, counts whole).
# The quantity each compared figure is (verifier.numbers); counts otherwise.
KINDS = {"eligible_pkm": "pkm", "reported_reduction_tco2": "tco2e", "recalculated_reduction_tco2": "tco2e",
         "verified_reduction_tco2": "tco2e"}
DIGITS = {"pkm": 3, "tco2e": 4}  # the decimals those kinds are written with
SHORT_HASH = 12  # characters of a SHA-256 printed; findings.json holds all 64


def previous_view(findings: Findings, checklist: dict, lang: str) -> dict | None:
    """The section's rows, or None when the run was not compared with an earlier one."""
    block = findings.previous
    if block is None:
        return None
    t = translator(lang)
    checks = list(block.get("checks") or ())
    before = nc_numbers({c["id"]: c.get("previous_status") for c in checks}, checklist)
    now = nc_numbers({c.id: c.status for c in findings.checks}, checklist)

    def title(cid):
        return text((checklist["checks"].get(cid) or {}).get("title"), lang) or cid

    ncs = [{"previous_number": before.get(c["id"], "—"), "number": now.get(c["id"], "—"), "id": c["id"],
            "title": title(c["id"]), "state": c["nc"], "state_label": t(f"prev_nc_{c['nc']}"),
            "previous_affected": _num(c.get("previous_affected")), "affected": _num(c.get("affected"))}
           for c in checks if c.get("nc")]
    others = [{"id": c["id"], "title": title(c["id"]), "previous_status": _status(t, c.get("previous_status")),
               "status": _status(t, c.get("status")), "previous_affected": _num(c.get("previous_affected")),
               "affected": _num(c.get("affected"))}
              for c in checks if not c.get("nc")]
    report = block.get("report") or {}
    return {
        "number": report.get("number") or "—", "date": report.get("date") or "—",
        "conclusion": {"pass": t("pass_box"), "fail": t("fail_box")}.get(block.get("conclusion"), "—"),
        "findings_sha256": block.get("findings_sha256") or "",
        "tool_version": block.get("tool_version") or "—",
        "ncs": ncs, "others": others,
        "tally": {s: sum(1 for n in ncs if n["state"] == s) for s in ("closed", "open", "unconfirmed", "new")},
        "notes": {n["id"]: n for n in ncs},  # the NC section names each NC's earlier number
        "figures": [_figure(t, f) for f in [*(block.get("counts") or ()), *(block.get("amounts") or ())]],
        "inputs": [_input(t, i) for i in block.get("inputs") or ()],
    }


def _num(value, kind: str | None = None) -> str:
    return fmt_num(value, kind) if value is not None else "—"


def _status(t, status) -> str:
    return t(f"st_{status}") if status else "—"


def _figure(t, f) -> dict:
    kind = KINDS.get(f["name"])
    digits = DIGITS.get(kind)
    old, new = f.get("previous"), f.get("current")
    change = "—"
    if old is not None and new is not None:
        delta = new - old
        if digits is not None:
            delta = round(delta, digits) + 0.0  # + 0.0: no "-0.0000"
        change = ("+" if delta > 0 else "") + _num(delta, kind)
    return {"label": t(f"prev_fig_{f['name']}"), "tco2": f["name"].endswith("_tco2"),
            "previous": _num(old, kind), "current": _num(new, kind), "change": change}


def _input(t, i) -> dict:
    role = i.get("role") or ""
    key = f"role_{role.split(':')[0]}"
    return {"role": t(key) if key in strings() else role, "path": i.get("path") or "",
            "change": t(f"prev_in_{i['change']}"), "changed": i["change"] != "unchanged",
            "previous_sha256": (i.get("previous_sha256") or "—")[:SHORT_HASH],
            "sha256": (i.get("sha256") or "—")[:SHORT_HASH]}
