"""records.plausibility: rides a bicycle could have made (a warning, not an exclusion)."""

from __future__ import annotations

from typing import ClassVar

from verifier.checks.base import Histogram, Outcome, register
from verifier.checks.record import REASON_SEP, FlagCheck
from verifier.data.dialect import DIALECT



def great_circle_sql() -> str:
    """The great-circle distance between the start and end point (km), haversine, in the
    dialect of the engine in use."""
    return DIALECT.great_circle_km("start_lat", "start_lon", "end_lat", "end_lon")


def duration_s_sql() -> str:
    """The ride's duration in seconds."""
    return DIALECT.seconds_between("start_time", "end_time")


def straight_km_sql() -> str:
    """The great-circle distance between the start and end point (km): the column the engine
    derives from great_circle_sql() (see RecordsPlausibility.derived)."""
    return "straight_km"


def speed_kmh_sql() -> str:
    """The ride's speed: its mileage (at least the straight line, when mileage is missing or
    shorter) over its duration."""
    return (f"greatest(coalesce(distance_km, 0), coalesce({straight_km_sql()}, 0)) "
            f"/ ({duration_s_sql()} / 3600.0)")


@register
class RecordsPlausibility(FlagCheck):
    """The methodology asks the verifier to judge whether start, end and mileage are reasonable.
    Flags (warn; the records stay eligible, the verifier follows them up) a ride whose speed
    (distance_km over its duration) exceeds 25 km/h, that lasts under 60 s (a false start), or
    whose mileage is below the straight-line distance between its points. Where the mileage is
    missing or shorter than the straight line, the speed is taken over the straight line. The
    thresholds are the contract's."""

    id = "records.plausibility"
    order = 14  # row of the contract's check table
    title = {"zh": "骑行合理性", "en": "Plausibility of rides"}
    description = {
        "zh": "标记平均速度超过 25 km/h、骑行不足 60 秒或里程小于起终点直线距离的骑行（提示，不剔除）。",
        "en": "Flags rides faster than 25 km/h, shorter than 60 s, or with mileage below the straight-line distance (warning, not excluded)."}
    correction = {
        "zh": "对被标记的骑行作出说明并提供后台原始记录。",
        "en": "Explain the flagged rides and provide the back-end source records."}
    excludes = False
    derived = {"straight_km": great_circle_sql}
    MAX_SPEED_KMH: ClassVar[float] = 25.0
    MIN_DURATION_S: ClassVar[float] = 60.0
    catalogue = {
        "ok": Outcome("pass", "未发现不合理的骑行（速度 > 25 km/h、时长 < 60 秒或里程小于直线距离）。",
                      "No implausible ride (speed > 25 km/h, under 60 s, or mileage below the straight line)."),
        "found": Outcome("warn", "{affected} 条骑行不合理（速度 > 25 km/h、时长 < 60 秒或里程小于起终点直线距离），请核实；未剔除。",
                         "{affected} ride(s) look implausible (speed > 25 km/h, under 60 s, or mileage below the straight line); follow up, not excluded."),
    }

    def histograms(self, ctx):
        """The mileage and speed distributions the report shows, the speed axis reaching past
        the speed limit; where the data has no mileage, both over the straight line between
        start and end (the least distance the ride covered), so labelled."""
        marks = {"max_speed_kmh": self.MAX_SPEED_KMH, "min_duration_s": self.MIN_DURATION_S}
        if ctx.has("distance_km"):
            return {"distance": Histogram("distance_km", "distance_km > 0"),
                    "speed": Histogram(speed_kmh_sql(), "end_time > start_time AND distance_km > 0",
                                       floor=self.MAX_SPEED_KMH * 1.2, marks=marks)}
        line = straight_km_sql()
        return {"distance": Histogram(line, f"{line} IS NOT NULL", measure="straight_line"),
                "speed": Histogram(f"{line} / ({duration_s_sql()} / 3600.0)",
                                   f"end_time > start_time AND {line} IS NOT NULL",
                                   floor=self.MAX_SPEED_KMH * 1.2, marks=marks, measure="straight_line")}

    def reason_sql(self, ctx, lang):
        """Each threshold the ride crosses, with its value."""
        seconds, speed = DIALECT.number_text(duration_s_sql(), 0), DIALECT.number_text(speed_kmh_sql(), 1)
        km, straight = DIALECT.number_text("distance_km", 3), DIALECT.number_text(straight_km_sql(), 3)
        zh = lang == "zh"
        short = (f"'骑行时长 ' || {seconds} || ' 秒，不足 {self.MIN_DURATION_S:g} 秒'" if zh
                 else f"'duration ' || {seconds} || ' s, under {self.MIN_DURATION_S:g} s'")
        fast = (f"'平均速度 ' || {speed} || ' km/h，超过 {self.MAX_SPEED_KMH:g} km/h'" if zh
                else f"'speed ' || {speed} || ' km/h, above {self.MAX_SPEED_KMH:g} km/h'")
        below = (f"'里程 ' || {km} || ' km 小于起终点直线距离 ' || {straight} || ' km'" if zh
                 else f"'mileage ' || {km} || ' km below the straight line ' || {straight} || ' km'")
        return DIALECT.joined([f"CASE WHEN {duration_s_sql()} < {self.MIN_DURATION_S} THEN {short} END",
                               f"CASE WHEN {speed_kmh_sql()} > {self.MAX_SPEED_KMH} THEN {fast} END",
                               f"CASE WHEN distance_km < {straight_km_sql()} THEN {below} END"], REASON_SEP[lang])

    def predicate(self, ctx):
        return (f"end_time > start_time AND ({duration_s_sql()} < {self.MIN_DURATION_S} "
                f"OR {speed_kmh_sql()} > {self.MAX_SPEED_KMH} OR distance_km < {straight_km_sql()})")
