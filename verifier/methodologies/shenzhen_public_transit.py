"""深圳市低碳公共出行碳普惠方法学: bus and metro trips, per mode, from trip files or raw taps."""

from __future__ import annotations

from verifier.data.dialect import DIALECT
from verifier.methodologies.base import Column, Methodology, Problem, has_all, missing, product, register

TEXT, TIME = Column("text"), Column("time")
MODES = ("bus", "metro")

# What a record must have beyond user_id, mode and start_time (records.validity), and what a
# sampled record must have (sample.completeness), per mode.
METRO_RECORD_FIELDS = ("end_time", "entry_station", "exit_station", "distance_km")
# Each field in words (zh, en): what records.validity says a record lacks.
FIELD_WORDS = {"trip_id": ("行程编号", "trip id"), "user_id": ("用户 ID", "user id"), "mode": ("出行方式", "mode"),
               "start_time": ("开始时间", "start time"), "end_time": ("结束时间", "end time"),
               "entry_station": ("进站站点", "entry station"), "exit_station": ("出站站点", "exit station"),
               "distance_km": ("里程", "distance")}
SAMPLED_FIELDS = {"bus": ("start_time",),
                  "metro": ("start_time", "entry_station", "end_time", "exit_station", "distance_km")}


def _mode(m: str) -> str:
    return f"mode = {DIALECT.text(m)}"


@register
class PublicTransit(Methodology):
    id = "shenzhen-public-transit"
    name = {"zh": "深圳市低碳公共出行碳普惠方法学",
            "en": "Shenzhen carbon-inclusion methodology for low-carbon public transport"}
    eligible_business_model = "data_platform"
    business_models = ("data_platform", "third_party_payment")
    default_params = {"EF_baseline": "kgCO2/pkm", "EF_bus": "kgCO2/pkm", "EF_metro": "kgCO2/pkm",
                      "bus_ride_km": "km", "daily_cap_bus": "trips", "daily_cap_metro": "trips"}
    monitored_params = {"n_bus": "trips", "n_metro": "trips", "metro_pkm": "pkm"}
    param_names = {"n_bus": {"zh": "公交出行次数", "en": "n_bus"},
                   "n_metro": {"zh": "地铁出行次数", "en": "n_metro"},
                   "metro_pkm": {"zh": "地铁人公里数", "en": "metro_pkm"}}
    columns = {"trip_id": TEXT, "user_id": TEXT, "mode": Column("text", coerce=False, lower=True), "start_time": TIME,
               "end_time": TIME, "entry_station": TEXT, "exit_station": TEXT, "route": TEXT,
               "distance_km": Column("number", gt=0)}
    required_columns = ("user_id", "mode", "start_time")
    input_forms = ("trips", "taps")
    example_fields = ("user_id", "mode", "start_time", "end_time", "entry_station", "exit_station", "distance_km")
    counted = {"n_bus": "mode:bus", "n_metro": "mode:metro"}
    unclaimed = "mode:other"
    # bus pkm is trips × bus_ride_km and is not reconciled separately
    measured = ("metro_pkm", "pkm:metro")
    formula_factors = ("EF_baseline", "EF_bus", "EF_metro", "bus_ride_km")
    activity = {"n_bus": "eligible:bus", "metro_pkm": "eligible_pkm:metro"}
    formula_text = {
        "zh": "复算减排量 = [Σ合格公交记录 (EF_baseline − EF_bus) × bus_ride_km + Σ合格地铁记录 (EF_baseline − EF_metro) × 里程] / 1000",
        "en": "Recalculated = [Σ eligible bus (EF_baseline − EF_bus) × bus_ride_km + Σ eligible metro (EF_baseline − EF_metro) × distance] / 1000"}
    factor_data_lag = {"EF_baseline": 2, "EF_bus": 2, "EF_metro": 2}  # computed from the data of claim year − 2
    daily_by = "mode"

    def record_problems(self, has):
        fields = (("trip_id",) if has("trip_id") else ()) + ("user_id", "start_time", "mode")
        modes = ", ".join(DIALECT.text(m) for m in MODES)
        metro = _mode("metro")
        return [missing(c, *FIELD_WORDS[c]) for c in fields] + [
            Problem(f"mode NOT IN ({modes})", "出行方式不是公交（bus）或地铁（metro）", "mode neither bus nor metro"),
            Problem("(end_time IS NOT NULL AND NOT (end_time > start_time))", "结束时间不晚于开始时间",
                    "end time not after start time"),
            *(missing(c, f"地铁{FIELD_WORDS[c][0]}", f"metro {FIELD_WORDS[c][1]}", where=metro)
              for c in METRO_RECORD_FIELDS),
            Problem(f"({metro} AND NOT (distance_km > 0))", "地铁里程不大于 0", "metro distance not above 0"),
            Problem(f"({metro} AND NOT {DIALECT.finite('coalesce(distance_km, 0)')})", "地铁里程不是有限数值",
                    "metro distance not a finite number")]

    def sampled_complete(self, sample):
        bus, metro = (has_all(sample, SAMPLED_FIELDS[m]) for m in MODES)
        return bus.where(sample["mode"] == "bus", metro & (sample["mode"] == "metro"))

    def aggregates(self, excluded):
        counts = {f"mode:{m}": DIALECT.count_if(_mode(m)) for m in MODES}
        counts["mode:other"] = DIALECT.count_if(f"mode IS NULL OR mode NOT IN ({', '.join(DIALECT.text(m) for m in MODES)})")
        counts.update({f"eligible:{m}": DIALECT.count_if(f"{_mode(m)} AND NOT {excluded}") for m in MODES})
        pkm = {"pkm:metro": _mode("metro"), "eligible_pkm:metro": f"{_mode('metro')} AND NOT {excluded}"}
        return counts, pkm

    def fingerprint(self, point):
        """Metro: start and end time to the second, entry and exit station; a bus trip has no
        fingerprint (a tap on a bus names neither the stop nor the end)."""
        return ({"start": DIALECT.epoch_seconds("start_time"), "end": DIALECT.epoch_seconds("end_time"),
                 "entry": "entry_station", "exit": "exit_station"}, _mode("metro"))

    def part_sql(self):
        return "mode"

    def emissions(self, v):
        """bus_pkm = n_bus × bus_ride_km; baseline = EF_baseline × (bus_pkm + metro_pkm) / 1000;
        project = (EF_bus × bus_pkm + EF_metro × metro_pkm) / 1000; per mode, reduction =
        (EF_baseline − EF_mode) × pkm / 1000, and the reduction is their sum."""
        base, bus, metro, metro_pkm = v["EF_baseline"], v["EF_bus"], v["EF_metro"], v["metro_pkm"]
        bus_pkm = product(v["n_bus"], v["bus_ride_km"])
        ok = None not in (bus_pkm, metro_pkm, base, bus, metro)
        red_bus = None if None in (base, bus, bus_pkm) else (base - bus) * bus_pkm / 1000
        red_metro = None if None in (base, metro, metro_pkm) else (base - metro) * metro_pkm / 1000
        return {"baseline_emissions_tco2": base * (bus_pkm + metro_pkm) / 1000 if ok else None,
                "project_emissions_tco2": (bus * bus_pkm + metro * metro_pkm) / 1000 if ok else None,
                "reduction_tco2": None if None in (red_bus, red_metro) else red_bus + red_metro,
                "reduction_bus_tco2": red_bus, "reduction_metro_tco2": red_metro, "bus_pkm": bus_pkm}

    def breakdown(self, stats, v, e):
        def r(x):
            return None if x is None else round(float(x), 9)

        return [
            {"mode": "bus", "records": int(stats["mode:bus"]), "eligible": int(stats["eligible:bus"]),
             "pkm": e["bus_pkm"], "reduction_tco2": r(e["reduction_bus_tco2"])},
            {"mode": "metro", "records": int(stats["mode:metro"]), "eligible": int(stats["eligible:metro"]),
             "pkm": round(float(v["metro_pkm"]), 6), "reduction_tco2": r(e["reduction_metro_tco2"])},
        ]
