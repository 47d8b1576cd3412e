"""records.validity: each record has its required fields, parseable and consistent."""

from __future__ import annotations

from verifier.checks.base import Outcome, register
from verifier.checks.record import FlagCheck

BIKE_REQUIRED = ("user_id", "start_time", "end_time", "start_lon", "start_lat", "end_lon", "end_lat", "distance_km")
METRO_REQUIRED = ("end_time", "entry_station", "exit_station", "distance_km")
# NaN and ±inf (a Parquet double, or CSV text 'nan'/'inf') are not a distance: SQL's NaN > 0 holds,
# so they are named here; the exact totals count them as nothing (verifier.data.exact).
NOT_A_NUMBER = "NOT isfinite(coalesce(distance_km, 0))"


@register
class RecordsValidity(FlagCheck):
    """Required fields present and parseable; end after start; distance > 0; coordinates in
    range (longitude −180..180, latitude −90..90). Bike: user, times, both points and the
    distance. Transit: trip_id (when the column exists), user_id, mode in {bus, metro} and
    start_time; an end time, where given, after the start; metro rows also end_time,
    entry_station, exit_station and distance_km > 0, finite (a metro distance filled from the station
    table, for tap data, counts as given). A value that does not parse is missing; a
    distance of NaN or ±inf is invalid."""

    id = "records.validity"
    catalogue = {
        "ok": Outcome("pass", "全部记录字段齐全、格式有效。", "Every record has its required fields, valid."),
        "found": Outcome("fail", "{affected} 条记录字段缺失或无效（{pkm} pkm），已剔除。",
                         "{affected} record(s) have missing or invalid fields ({pkm} pkm), excluded."),
    }

    def predicate(self, ctx):
        return " OR ".join(f"coalesce({b}, true)" for b in self._problems(ctx))

    def reason_sql(self, ctx):
        parts = ", ".join(f"CASE WHEN coalesce({b}, true) THEN {_quote(b)} END" for b in self._problems(ctx))
        return f"concat_ws('; ', {parts})"

    def _problems(self, ctx) -> list[str]:
        trip_id = ["trip_id IS NULL"] if ctx.has("trip_id") else []
        if ctx.is_bike:
            bad = trip_id + [f"{c} IS NULL" for c in BIKE_REQUIRED] + [
                "NOT (end_time > start_time)", "NOT (distance_km > 0)", NOT_A_NUMBER,
                "NOT (start_lon BETWEEN -180 AND 180)", "NOT (end_lon BETWEEN -180 AND 180)",
                "NOT (start_lat BETWEEN -90 AND 90)", "NOT (end_lat BETWEEN -90 AND 90)"]
        else:
            metro = " OR ".join(f"{c} IS NULL" for c in METRO_REQUIRED) + f" OR NOT (distance_km > 0) OR {NOT_A_NUMBER}"
            bad = trip_id + ["user_id IS NULL", "start_time IS NULL", "mode IS NULL",
                             "mode NOT IN ('bus', 'metro')",
                             "(end_time IS NOT NULL AND NOT (end_time > start_time))",
                             f"(mode = 'metro' AND ({metro}))"]
        return bad


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
