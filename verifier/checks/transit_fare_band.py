"""transit.fare_band: the fare paid bounds the metro distance (an independent cross-check)."""

from __future__ import annotations

from verifier.checks.base import Outcome, register
from verifier.checks.record import FlagCheck, missing_outcome
from verifier.data.dialect import DIALECT


@register
class TransitFareBand(FlagCheck):
    """Shenzhen metro fares are distance-based, so the full fare of a trip (deal_value, in fen)
    bounds its distance. A metro trip whose claimed distance lies outside the distance band of
    the fare paid is flagged (warn; not excluded). The fare rule is a configurable table
    (--fares). Needs the fare of each trip (tap data) and the table: otherwise not evaluated."""

    id = "transit.fare_band"
    order = 24  # row of the contract's check table
    title = {"zh": "票价与里程区间", "en": "Fare band"}
    description = {
        "zh": "核对地铁行程申报里程落在所付票价对应的里程区间内（提示）。",
        "en": "Checks a metro trip's claimed distance lies within the distance band of the fare paid (warning)."}
    correction = {
        "zh": "对里程与票价不符的行程作出说明。",
        "en": "Explain the trips whose distance does not match the fare paid."}
    excludes = False
    catalogue = {
        "ok": Outcome("pass", "全部地铁行程里程与所付票价的里程区间相符。",
                      "Every metro distance lies in the band of the fare paid."),
        "found": Outcome("warn", "{affected} 条地铁行程的里程不在所付票价对应的里程区间内，请核实。",
                         "{affected} metro trip(s) claim a distance outside the band of the fare paid: follow up."),
        "no_fares": missing_outcome("无法评估：未提供地铁票价表。", "Not evaluated: no fare table (--fares)."),
        "no_fare_column": missing_outcome("无法评估：行程数据不含所付票价（仅原始刷卡数据提供）。",
                                          "Not evaluated: the trip data carries no fare paid (only raw tap data does)."),
    }
    example_extra = ["fare_fen"]

    def evaluable(self, ctx):
        if ctx.fares is None:
            return "no_fares"
        if not ctx.has_fares:
            return "no_fare_column"
        return None

    def reason_sql(self, ctx, lang):
        """The claimed distance and the band of the fare paid (or that no distance has that fare)."""
        lo, hi = ctx.fares.sql_band_case("fare_fen")
        km, fen = DIALECT.number_text("distance_km", 3), DIALECT.number_text("fare_fen", 0)
        band = f"{DIALECT.number_text(lo, 3)} || '–' || {DIALECT.number_text(hi, 3)}"
        if lang == "zh":
            return (f"CASE WHEN ({lo}) IS NULL THEN '票价 ' || {fen} || ' 分不在票价表中' "
                    f"ELSE '里程 ' || {km} || ' km 不在票价 ' || {fen} || ' 分对应的区间（' || {band} || ' km）内' END")
        return (f"CASE WHEN ({lo}) IS NULL THEN 'fare ' || {fen} || ' fen not in the fare table' "
                f"ELSE 'distance ' || {km} || ' km outside the band of fare ' || {fen} || ' fen (' || {band} || ' km)' END")

    def predicate(self, ctx):
        if self.evaluable(ctx):
            return None
        lo, hi = ctx.fares.sql_band_case("fare_fen")
        return (f"mode = {DIALECT.text('metro')} AND fare_fen IS NOT NULL AND fare_fen > 0 AND distance_km IS NOT NULL "
                f"AND NOT (distance_km > coalesce({lo}, -1) AND distance_km <= coalesce({hi}, 1e9))")
