"""boundary.geographic: rides start and end inside Shenzhen."""

from __future__ import annotations

from verifier.checks.base import Outcome, register
from verifier.checks.record import REASON_SEP, FlagCheck, missing_outcome
from verifier.constants import CRS_NAMES
from verifier.data.dialect import DIALECT


@register
class BoundaryGeographic(FlagCheck):
    """Mileage outside Shenzhen's administrative area is not credited. Each record's start and
    end point, converted from the declared `data.crs` to the boundary's system, must lie inside
    the boundary; a record with either point outside is excluded. A point exactly on the
    outline counts as outside (the conservative reading, shapely's `contains`). Records without
    coordinates are left to records.validity. With no boundary at all the check is not
    evaluated, never passed."""

    id = "boundary.geographic"
    order = 9  # row of the contract's check table
    title = {"zh": "地理边界", "en": "Geographic boundary"}
    description = {
        "zh": "将起终点坐标按申报坐标系转换为 WGS-84 后，核对起点和终点均位于项目边界（深圳市行政区域）内。",
        "en": "Converts start and end points from the declared coordinate system to WGS-84 and confirms both lie inside the project boundary (Shenzhen administrative area)."}
    correction = {
        "zh": "剔除起点或终点位于边界外的骑行记录，并据此更正次数、里程和减排量。",
        "en": "Remove rides starting or ending outside the boundary and correct counts, mileage and reduction accordingly."}
    catalogue = {
        "ok": Outcome("pass", "全部记录起终点均位于边界（{boundary}）内。",
                      "Every start and end point lies inside the boundary ({boundary})."),
        "found": Outcome("fail", "{affected} 条记录起点或终点位于边界（{boundary}）外（{pkm} 人公里），已剔除。",
                         "{affected} record(s) start or end outside the boundary ({boundary}) ({pkm} pkm), excluded."),
        "no_boundary": missing_outcome("无法评估：未提供项目地理边界，也无默认边界。",
                                       "Not evaluated: no boundary (--boundary) and no default one."),
        "no_crs": missing_outcome("无法评估：核算报告未声明有效的坐标系。",
                                  "Not evaluated: the report declares no valid coordinate system (data.crs)."),
    }

    def evaluable(self, ctx):
        if ctx.boundary is None:
            return "no_boundary"
        if ctx.sub.crs not in CRS_NAMES:
            return "no_crs"
        return None

    def predicate(self, ctx):
        if self.evaluable(ctx):
            return None
        bit = 1 << CRS_NAMES.index(ctx.sub.crs)
        inside = f"{DIALECT.has_bits('start_geo', bit)} AND {DIALECT.has_bits('end_geo', bit)}"
        return f"start_geo IS NOT NULL AND end_geo IS NOT NULL AND NOT ({inside})"

    WORDS = {"start_geo": {"zh": "起点位于边界外", "en": "starts outside the boundary"},
             "end_geo": {"zh": "终点位于边界外", "en": "ends outside the boundary"}}

    def reason_sql(self, ctx, lang):
        """Which of its points lies outside."""
        bit = 1 << CRS_NAMES.index(ctx.sub.crs)
        return DIALECT.joined([f"CASE WHEN NOT {DIALECT.has_bits(point, bit)} THEN {DIALECT.text(words[lang])} END"
                               for point, words in self.WORDS.items()], REASON_SEP[lang])

    def values(self, ctx):
        return {"boundary": ctx.boundary.name if ctx.boundary else "—"}
