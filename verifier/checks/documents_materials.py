"""documents.materials: the Appendix B materials listed are there."""

from __future__ import annotations

from verifier.checks.base import Check, Outcome, register
from verifier.errors import field_path, quoted

APPENDIX_B = {
    "application_form": "碳普惠减排量备案申请表",
    "reduction_report": "深圳市碳普惠减排量核算报告",
    "no_double_claim": "不重复申报承诺书",
    "revenue_share_commitment": "减排量收益分配比例承诺书",
    "publicity": "关于深圳市碳普惠项目相关情况的公示",
    "revenue_share_agreement": "减排量收益分配及授权相关协议",
    "business_licence": "营业执照复印件及法人代表身份证复印件",
    "design_monitoring": "项目设计、监测等材料",
}


@register
class DocumentsMaterials(Check):
    """The application materials of Appendix B that the package lists under `documents` (id ->
    file) exist; each file's SHA-256 is recorded in the evidence list. (A listed file that
    resolves outside the package folder, or to anything but a regular file, is not a finding but
    an unreadable package: exit 2.) Their content (revenue
    sharing agreements, commitments, licences) is the verifier's own review: with none listed
    the check is `manual`."""

    id = "documents.materials"
    order = 20  # row of the contract's check table
    title = {"zh": "申报材料", "en": "Application materials"}
    description = {
        "zh": "核对附录B所列申报材料（申请表、承诺书、收益分配协议、营业执照等）是否齐全并记录文件哈希；未列出时由核证人员现场确认。",
        "en": "Confirms the Appendix B materials (application form, undertakings, revenue-sharing agreements, business licence) exist and records their hashes; the verifier confirms them when none are listed."}
    correction = {
        "zh": "补充提交缺失的申报材料。",
        "en": "Submit the missing application materials."}
    catalogue = {
        "ok": Outcome("pass", "所列 {observed} 份申请材料均存在（已记录哈希值）；内容须核证人员审阅。",
                      "All {observed} listed materials exist (hashes recorded); their content is for the verifier to review."),
        "absent": Outcome("fail", "所列申请材料有 {affected} 份不存在：{summary}。",
                          "{affected} listed material(s) are missing: {summary}."),
        "none": Outcome("manual", "提交材料未列出附录B申请材料，须核证人员人工核查。",
                        "No Appendix B material is listed: the verifier checks them by hand."),
    }

    def evaluate(self, ctx):
        docs = ctx.sub.raw.get("documents")
        if not isinstance(docs, dict) or not docs:
            return self.result("none")
        missing = [f"{field_path(k)}: {quoted(v, 120)}" for k, v in docs.items() if k not in ctx.sub.documents]
        if missing:
            return self.result("absent", affected=len(missing), examples=[{"document": m} for m in missing],
                               summary="; ".join(missing), reported=len(docs), observed=len(docs) - len(missing))
        return self.result("ok", reported=len(docs), observed=len(docs))


def listed_documents(sub) -> dict[str, str]:
    """The existing listed documents: id -> path as listed, relative to the package folder (for
    hashing into the evidence list). Only those `load_submission` resolved to a regular file
    inside the package (`Submission.documents`): one outside it, or a named pipe, stopped the
    run there (exit 2), before anything read it."""
    docs = sub.raw.get("documents")
    if not isinstance(docs, dict):
        return {}
    return {k: v for k, v in docs.items() if k in sub.documents}
