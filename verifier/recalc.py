"""The recalculated and verified reduction (contract section 4), from the eligible records."""

from __future__ import annotations

from verifier.submission import parse_number

# The check results the recalculation reads (an ineligible applicant verifies nothing): the
# pipeline recalculates once they are known.
REQUIRES = ("applicant.eligibility",)


def recalculate(ctx) -> dict:
    """The methodology's formula (`Methodology.emissions`) with the published factors where on
    file, else the reported ones, and the eligible records' activity (`Methodology.activity`).

    `verified` = min(reported, recalculated), 0 when applicant.eligibility fails; a missing
    reported figure verifies nothing (0)."""
    reported = parse_number(ctx.sub.results.get("reduction_tco2"))
    s = ctx.stats
    m = ctx.methodology
    used = {name: {"value": (f := ctx.factor(name)).value, "origin": f.origin} for name in m.formula_factors}
    values = {name: u["value"] for name, u in used.items()}
    # counts stay integers (a count × a whole factor is written as a whole number)
    values.update({name: s[stat] if isinstance(s[stat], int) else float(s[stat]) for name, stat in m.activity.items()})
    formula = m.emissions(values)
    recalculated = formula["reduction_tco2"]
    per_mode = m.breakdown(s, values, formula)
    eligible = ctx.results.get("applicant.eligibility")
    out = {
        "reported_reduction_tco2": reported,
        "recalculated_reduction_tco2": _r(recalculated),
        "verified_reduction_tco2": None,
        "difference_rate": None,
        "eligible_records": int(s["eligible"]),
        "eligible_pkm": round(float(s["eligible_pkm"]), 6),
        "factors_used": used,
        "excluded": [{"check": cid, "records": int(s[f"n:{cid}"]), "pkm": round(float(s[f"pkm:{cid}"]), 6)}
                     for cid in ctx.engine.flag_columns
                     if cid not in ctx.engine.warn_only and s.get(f"n:{cid}")],
    }
    if per_mode is not None:
        out["per_mode"] = per_mode
    if recalculated is None:
        missing = [n for n, u in used.items() if u["value"] is None]
        out["missing"] = f"no value for {', '.join(missing)} (neither published nor reported)"
        out["verified_reduction_tco2"] = 0.0
        return out
    if reported is not None:
        out["difference_rate"] = (abs(reported - recalculated) / abs(reported) if reported
                                  else (0.0 if recalculated == 0 else None))
        if out["difference_rate"] is not None:
            out["difference_rate"] = round(out["difference_rate"], 9)
    verified = 0.0 if reported is None else min(reported, recalculated)
    if eligible is not None and eligible.status == "fail":
        verified = 0.0
    out["verified_reduction_tco2"] = _r(verified)
    if reported is None:
        out["missing"] = "the report states no reduction_tco2"
    return out


def _r(x):
    return None if x is None else round(float(x), 9)
