"""transit.metro_distance: each metro trip's distance is the station-pair distance."""

from __future__ import annotations

from verifier.checks.base import Outcome, register
from verifier.checks.record import FlagCheck, missing_outcome
from verifier.data.dialect import DIALECT
from verifier.tolerance import distance_differs_sql

TOLERANCE_KM = 0.01  # contract: a distance matches when it differs by at most 0.01 km


@register
class TransitMetroDistance(FlagCheck):
    """A metro trip's effective distance is the station-to-station distance of the low-carbon
    route plan between its entry and exit stations. The claimed distance_km must equal the
    station-distance table's (looked up in either direction) within 0.01 km; a pair missing from
    the table is a finding too. Metro records without stations or distance are left to
    records.validity. Without a station-distance table: not evaluated."""

    id = "transit.metro_distance"
    order = 21  # row of the contract's check table
    title = {"zh": "地铁里程", "en": "Metro trip distance"}
    description = {
        "zh": "核对每条地铁行程的里程与进出站站间距离表一致（允许 0.01 km 差异）。",
        "en": "Confirms each metro trip's distance equals the station-pair distance table (0.01 km tolerance)."}
    correction = {
        "zh": "按站间距离表更正地铁行程里程，并据此更正地铁人公里数和减排量。",
        "en": "Correct metro trip distances to the station-pair table and correct metro_pkm and the reduction accordingly."}
    catalogue = {
        "ok": Outcome("pass", "全部地铁行程里程与站间距离表一致。", "Every metro distance equals the station-pair table."),
        "found": Outcome("fail", "{affected} 条地铁行程里程与站间距离表不符或站点对不在表中（{pkm} 人公里），已剔除。",
                         "{affected} metro trip(s) differ from the station-pair table or their pair is not in it ({pkm} pkm), excluded."),
        "missing": missing_outcome("无法评估：未提供地铁站间距离表。",
                                   "Not evaluated: no station-distance table (data.station_distances)."),
    }
    example_extra = ["table_km"]

    def evaluable(self, ctx):
        return None if ctx.station_table else "missing"

    def reason_sql(self, ctx, lang):
        """The claimed and the table's distance, or that the pair is not in the table."""
        km, table = DIALECT.number_text("distance_km", 3), DIALECT.number_text("table_km", 3)
        if lang == "zh":
            return (f"CASE WHEN table_km IS NULL THEN '站点对不在站间距离表中' "
                    f"ELSE '里程 ' || {km} || ' km，站间距离 ' || {table} || ' km' END")
        return (f"CASE WHEN table_km IS NULL THEN 'station pair not in the distance table' "
                f"ELSE 'distance ' || {km} || ' km, station table ' || {table} || ' km' END")

    def predicate(self, ctx):
        if not ctx.station_table:
            return None
        return (f"mode = {DIALECT.text('metro')} AND entry_station IS NOT NULL AND exit_station IS NOT NULL "
                f"AND distance_km IS NOT NULL AND (table_km IS NULL OR {distance_differs_sql('distance_km', 'table_km', TOLERANCE_KM)})")
