"""The recalculated and verified reduction (contract section 4), from the eligible records."""

from __future__ import annotations

from verifier.submission import parse_number


def recalculate(ctx) -> dict:
    """Published factors where on file, else the reported ones, times the eligible records' pkm.

    `verified` = min(reported, recalculated), 0 when applicant.eligibility fails; a missing
    reported figure verifies nothing (0)."""
    reported = parse_number(ctx.sub.results.get("reduction_tco2"))
    s = ctx.stats
    used = {}

    def factor(name):
        value, origin = ctx.factor_value(name)
        used[name] = {"value": value, "origin": origin}
        return value

    per_mode = None
    if ctx.is_bike:
        eb = factor("Eb")
        recalculated = None if eb is None else eb * float(s["eligible_pkm"]) / 1000
    else:
        base, bus, metro, ride = (factor(n) for n in ("EF_baseline", "EF_bus", "EF_metro", "bus_ride_km"))
        bus_pkm = None if ride is None else s["eligible:bus"] * ride
        metro_pkm = float(s["eligible_pkm:metro"])
        red_bus = None if None in (base, bus, bus_pkm) else (base - bus) * bus_pkm / 1000
        red_metro = None if None in (base, metro) else (base - metro) * metro_pkm / 1000
        recalculated = None if None in (red_bus, red_metro) else red_bus + red_metro
        per_mode = [
            {"mode": "bus", "records": int(s["mode:bus"]), "eligible": int(s["eligible:bus"]),
             "pkm": bus_pkm, "reduction_tco2": _r(red_bus)},
            {"mode": "metro", "records": int(s["mode:metro"]), "eligible": int(s["eligible:metro"]),
             "pkm": round(metro_pkm, 6), "reduction_tco2": _r(red_metro)},
        ]
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
