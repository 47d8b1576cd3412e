"""report.arithmetic: the report agrees with itself."""

from __future__ import annotations

import math

from verifier.checks.base import Check, Outcome, register
from verifier.submission import half_unit, parse_number


@register
class ReportArithmetic(Check):
    """The report's own figures agree within the rounding of each reported figure (half a unit
    in its last written decimal). Bike: baseline = Eb × m_t9 / 1000, project = 0. Transit:
    bus_pkm = n_bus × bus_ride_km; baseline = EF_baseline × (bus_pkm + metro_pkm) / 1000;
    project = (EF_bus × bus_pkm + EF_metro × metro_pkm) / 1000. Always reduction = baseline −
    project (tCO2)."""

    id = "report.arithmetic"
    catalogue = {
        "ok": Outcome("pass", "核算报告内部计算一致。", "The report's figures agree with each other."),
        "mismatch": Outcome("fail", "核算报告内部计算不一致：{summary}", "The report's figures disagree: {summary}"),
        "missing": Outcome("not_evaluated", "缺少计算所需字段：{summary}",
                           "Fields needed for the arithmetic are missing: {summary}"),
    }

    def evaluate(self, ctx):
        values = {n: (p.number if p else None) for n, p in
                  ((n, ctx.param(n)) for n in ("Eb", "m_t9", "n_bus", "bus_ride_km", "metro_pkm",
                                               "EF_baseline", "EF_bus", "EF_metro"))}
        res = ctx.sub.results
        reported = {k: parse_number(res.get(k)) for k in
                    ("baseline_emissions_tco2", "project_emissions_tco2", "reduction_tco2",
                     "reduction_bus_tco2", "reduction_metro_tco2")}
        expected = self._expected(ctx, values, reported)
        missing = sorted({k for k, v in expected.items() if v is None}
                         | {k for k in ("baseline_emissions_tco2", "project_emissions_tco2", "reduction_tco2")
                            if reported[k] is None})
        if missing:
            return self.result("missing", summary=", ".join(missing))
        rows = []
        for name, want in expected.items():
            if reported.get(name) is None:
                continue  # optional per-mode figures
            tolerance = half_unit(res.get(name)) + 1e-9 * max(1.0, abs(want))
            if abs(reported[name] - want) > tolerance:
                rows.append({"field": f"results.{name}", "reported": reported[name], "expected": round(want, 9)})
        if not rows:
            return self.result("ok", reported=reported["reduction_tco2"], observed=expected["reduction_tco2"])
        summary = "; ".join(f"{r['field']} = {r['reported']}, expected {r['expected']}" for r in rows)
        return self.result("mismatch", affected=len(rows), examples=rows, summary=summary,
                           reported=reported["reduction_tco2"], observed=expected["reduction_tco2"])

    @staticmethod
    def _expected(ctx, v, r):
        def mul(*xs):
            return None if any(x is None for x in xs) else math.prod(xs)

        if ctx.is_bike:
            baseline = None if mul(v["Eb"], v["m_t9"]) is None else v["Eb"] * v["m_t9"] / 1000
            project = 0.0
            out = {"baseline_emissions_tco2": baseline, "project_emissions_tco2": project}
        else:
            bus_pkm = mul(v["n_bus"], v["bus_ride_km"])
            metro = v["metro_pkm"]
            ok = None not in (bus_pkm, metro, v["EF_baseline"], v["EF_bus"], v["EF_metro"])
            out = {
                "baseline_emissions_tco2": v["EF_baseline"] * (bus_pkm + metro) / 1000 if ok else None,
                "project_emissions_tco2": (v["EF_bus"] * bus_pkm + v["EF_metro"] * metro) / 1000 if ok else None,
            }
            if ok:
                out["reduction_bus_tco2"] = (v["EF_baseline"] - v["EF_bus"]) * bus_pkm / 1000
                out["reduction_metro_tco2"] = (v["EF_baseline"] - v["EF_metro"]) * metro / 1000
        # reduction = baseline − project, from the figures as reported (the report's own step)
        b, p = r["baseline_emissions_tco2"], r["project_emissions_tco2"]
        out["reduction_tco2"] = None if b is None or p is None else b - p
        return out
