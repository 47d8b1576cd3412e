"""The cover's sign block, from findings.json's `verification` block (`--verifier-info`).

Every field has its line whether given or not: a field left out is a blank line the verifier
fills in by hand (the version: two boxes to tick). The statement of liability and
confidentiality follows it.
"""

from __future__ import annotations

from verifier.findings import Findings
from verifier.report.model import translator

# (field of the verification block, report string of its label, signed by hand beside the name)
SIGN_ROWS = (("verification_body", "vi_body", False), ("accreditation_number", "vi_accreditation", False),
             ("team_leader", "vi_team_leader", True), ("members", "vi_members", False),
             ("reviewer", "vi_reviewer", True), ("site_visit_date", "vi_site_visit", False),
             ("report_version", "vi_version", False))


def verification_view(findings: Findings, lang: str) -> dict:
    """The sign block's rows (label, value or "", whether a signature goes beside it)."""
    t = translator(lang)
    info = findings.verification or {}
    rows = []
    for name, label, signed in SIGN_ROWS:
        value = info.get(name)
        if name == "members" and value:
            value = t("vi_list_sep").join(value)
        elif name == "report_version":  # left out: both boxes, one to tick by hand
            value = t(f"vi_version_{value}") if value else t("vi_version_blank")
        rows.append({"label": t(label), "value": value or "", "signed": signed})
    return {"rows": rows, "given": findings.verification is not None}
