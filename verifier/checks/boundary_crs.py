"""boundary.crs: the declared coordinate system is the one that fits the data."""

from __future__ import annotations

from verifier.checks.base import Check, Outcome, register
from verifier.constants import CRS_NAMES
from verifier.data.dialect import DIALECT

MIN_SHARE_POINTS = 0.01  # contract: at least 1 percentage point more of the points inside ...
MIN_POINTS = 10  # ... and at least 10 more points
CRS_TITLES = {"wgs84": "WGS-84", "gcj02": "GCJ-02", "bd09": "BD-09"}  # as a message writes them


def crs_aggregates() -> dict[str, str]:
    """Points read as each system that fall inside, and points with a reading."""
    def inside(point, i):
        return DIALECT.has_bits(point, 1 << i)

    def both(i):
        return f"({inside('start_geo', i)} AND {inside('end_geo', i)})"

    out = {"geo:points": "count(start_geo) + count(end_geo)"}
    for i, name in enumerate(CRS_NAMES):
        out[f"geo:{name}"] = f"{DIALECT.count_if(inside('start_geo', i))} + {DIALECT.count_if(inside('end_geo', i))}"
        for j, other in enumerate(CRS_NAMES):
            if i != j:  # records inside only when read as `other`, not as `name`
                out[f"geo:{name}->{other}"] = DIALECT.count_if(f"NOT {both(i)} AND {both(j)}")
    return out


@register
class BoundaryCrs(Check):
    """Shenzhen data comes in WGS-84, GCJ-02 or BD-09 and the label is often wrong; the shift
    (about 600 m) moves border points across the boundary. Every start and end point is read in
    each system; the check warns when another system puts at least 1 percentage point and at
    least 10 points more of them inside the boundary than the declared one. `affected` counts the
    records that are inside when read in that system but not as declared."""

    id = "boundary.crs"
    order = 10  # row of the contract's check table
    title = {"zh": "坐标系声明", "en": "Declared coordinate system"}
    description = {
        "zh": "比较不同坐标系（WGS-84、GCJ-02、BD-09）下落在边界内的点位比例，判断申报坐标系是否可信。",
        "en": "Compares the share of points inside the boundary under each coordinate system (WGS-84, GCJ-02, BD-09) to judge whether the declared one is credible."}
    correction = {
        "zh": "说明并确认数据实际使用的坐标系，必要时更正声明并重新提交。",
        "en": "Explain and confirm the coordinate system the data actually uses; correct the declaration if needed."}
    catalogue = {
        "ok": Outcome("pass", "申报坐标系 {declared} 与数据相符（边界内点比例 {share}）。",
                      "The declared system {declared} fits the data ({share} of points inside)."),
        "better": Outcome("warn", "按 {best} 解读时边界内点多 {more} 个（{share_other} 对 {share}），申报的坐标系 {declared} 可能有误。",
                          "Read as {best}, {more} more points fall inside ({share_other} vs {share}): the declared {declared} may be wrong."),
        "no_boundary": Outcome("not_evaluated", "无法评估：没有地理边界。", "Not evaluated: no boundary."),
        "no_crs": Outcome("not_evaluated", "无法评估：核算报告未声明有效的坐标系。",
                          "Not evaluated: the report declares no valid coordinate system (data.crs)."),
    }

    def aggregates(self, ctx):
        return crs_aggregates()

    def evaluate(self, ctx):
        if ctx.boundary is None or ctx.sub.crs not in CRS_NAMES:
            return self.result("no_boundary" if ctx.boundary is None else "no_crs")
        points = ctx.stats.get("geo:points") or 0
        inside = {name: ctx.stats.get(f"geo:{name}") or 0 for name in CRS_NAMES}
        declared = ctx.sub.crs
        share = {k: (v / points if points else 0.0) for k, v in inside.items()}
        best = max((n for n in CRS_NAMES if n != declared), key=lambda n: inside[n])
        details = {"points": points, "inside": inside}
        more = inside[best] - inside[declared]
        if more >= MIN_POINTS and share[best] - share[declared] >= MIN_SHARE_POINTS:
            flagged = int(ctx.stats.get(f"geo:{declared}->{best}") or 0)  # records the other system brings inside
            return self.result("better", affected=flagged, reported=declared, observed=best, more=more,
                               declared=CRS_TITLES.get(declared, declared), best=CRS_TITLES.get(best, best),
                               share=share[declared], share_other=share[best], details=details)
        return self.result("ok", reported=declared, observed=declared, share=share[declared], details=details,
                           declared=CRS_TITLES.get(declared, declared))
