"""count.reconciliation: the reported counts equal the number of records."""

from __future__ import annotations

from verifier import numbers
from verifier.checks.base import Check, Outcome, register


@register
class CountReconciliation(Check):
    """The methodology's counted parameters (`Methodology.counted`: bike `n_t9`; transit `n_bus`
    and `n_metro`, per mode) must equal the number of records in the trip data, which is the
    claimed population. A record no counted parameter claims (transit: any other mode) fails it
    too."""

    id = "count.reconciliation"
    order = 15  # row of the contract's check table
    title = {"zh": "次数核对", "en": "Count reconciliation"}
    description = {
        "zh": "核对报告的次数（共享单车 n_t9；公共出行为公交、地铁出行次数）与数据记录数一致。",
        "en": "Confirms the reported count(s) (bike n_t9; transit n_bus, n_metro) equal the number of records."}
    correction = {
        "zh": "更正报告的次数，使其与后台记录一致。",
        "en": "Correct the reported count(s) to match the back-end records."}
    catalogue = {
        "ok": Outcome("pass", "申报数量与数据记录数一致：{summary}。", "Reported counts equal the records: {summary}."),
        "mismatch": Outcome("fail", "申报数量与数据记录数不一致：{summary}。",
                            "Reported counts differ from the records: {summary}."),
        "missing": Outcome("not_evaluated", "无法评估：报告缺少 {what}。", "Not evaluated: the report lacks {what}."),
    }

    def evaluate(self, ctx):
        m = ctx.methodology
        pairs = {name: ctx.stats[stat] for name, stat in m.counted.items()}
        reported = {n: (ctx.param(n).number if ctx.param(n) else None) for n in pairs}
        missing = [n for n, v in reported.items() if v is None]
        if missing:
            names = [ctx.methodology.param_name(n) for n in missing]
            return self.result("missing", what={lang: "、" .join(n[lang] for n in names) if lang == "zh"
                                                else ", ".join(n[lang] for n in names) for lang in ("zh", "en")})
        rows = [{"parameter": n, "reported": reported[n], "observed": pairs[n]} for n in pairs]
        other = ctx.stats[m.unclaimed] if m.unclaimed else 0
        if other:
            rows.append({"parameter": "other modes", "reported": 0, "observed": other})
        bad = [r for r in rows if r["reported"] != r["observed"]]
        summary = {lang: _summary(rows, lang, ctx.methodology) for lang in ("zh", "en")}
        single = len(pairs) == 1
        rep = _n(reported[next(iter(pairs))]) if single else {k: _n(v) for k, v in reported.items()}
        obs = pairs[next(iter(pairs))] if single else {**pairs, **({"other": other} if other else {})}
        affected = sum(abs(int(r["observed"]) - int(r["reported"])) for r in bad)
        return self.result("mismatch" if bad else "ok", affected=affected if bad else 0, reported=rep,
                           observed=obs, examples=bad, summary=summary)


def _summary(rows: list[dict], lang: str, m) -> str:
    """'name reported / observed' per counted parameter, counts written as the report writes them."""
    other = {"zh": "其他方式", "en": "other modes"}
    return ("，" if lang == "zh" else ", ").join(
        f"{other[lang] if r['parameter'] == 'other modes' else m.param_name(r['parameter'])[lang]} "
        f"{numbers.written(_n(r['reported']))} / {numbers.written(_n(r['observed']))}" for r in rows)


def _n(value):
    return int(value) if float(value).is_integer() else value
