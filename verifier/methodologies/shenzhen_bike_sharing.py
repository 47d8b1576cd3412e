"""深圳市共享单车骑行碳普惠方法学（试行）: shared-bike rides, credited by their mileage."""

from __future__ import annotations

from verifier.data.dialect import DIALECT
from verifier.methodologies.base import Column, Methodology, Problem, has_all, missing, product, register

TEXT, TIME = Column("text"), Column("time")
LON, LAT = Column("number", -180, 180), Column("number", -90, 90)

# What every record must have (records.validity) and every sampled record (sample.completeness:
# its start and end, each a time and a place, and its mileage).
RECORD_FIELDS = ("user_id", "start_time", "end_time", "start_lon", "start_lat", "end_lon", "end_lat", "distance_km")
# Each field in words (zh, en): what records.validity says a record lacks.
FIELD_WORDS = {"trip_id": ("订单号", "trip id"), "user_id": ("用户 ID", "user id"),
               "start_time": ("开始时间", "start time"), "end_time": ("结束时间", "end time"),
               "start_lon": ("起点经度", "start longitude"), "start_lat": ("起点纬度", "start latitude"),
               "end_lon": ("终点经度", "end longitude"), "end_lat": ("终点纬度", "end latitude"),
               "distance_km": ("骑行里程", "mileage")}
SAMPLED_FIELDS = ("start_time", "start_lon", "start_lat", "end_time", "end_lon", "end_lat", "distance_km")


@register
class BikeSharing(Methodology):
    id = "shenzhen-bike-sharing"
    name = {"zh": "深圳市共享单车骑行碳普惠方法学（试行）",
            "en": "Shenzhen carbon-inclusion methodology for shared-bike riding (trial)"}
    eligible_business_model = "own_operator"
    business_models = ("own_operator", "aggregator", "third_party_payment")
    default_params = {"Eb": "kgCO2/pkm"}
    monitored_params = {"n_t9": "rides", "m_t9": "pkm"}
    columns = {"trip_id": TEXT, "user_id": TEXT, "order_source": Column("text", lower=True), "start_time": TIME, "end_time": TIME,
               "start_lon": LON, "start_lat": LAT, "end_lon": LON, "end_lat": LAT,
               "distance_km": Column("number", gt=0)}
    # trip_id and order_source are optional. Without distance_km every ride lacks its mileage:
    # a finding on every record, not an unreadable package.
    required_columns = ("user_id", "start_time", "end_time", "start_lon", "start_lat", "end_lon", "end_lat")
    coordinates = True
    breakdowns = ("districts",)
    example_fields = ("user_id", "order_source", "start_time", "end_time", "start_lon", "start_lat",
                      "end_lon", "end_lat", "distance_km")
    counted = {"n_t9": "records"}
    measured = ("m_t9", "pkm")
    formula_factors = ("Eb",)
    activity = {"m_t9": "eligible_pkm"}
    formula_text = {"zh": "复算减排量 = Eb（公布值，未公布时取申报值）× 合格记录里程之和 / 1000",
                    "en": "Recalculated = Eb (published, else reported) × sum of the eligible records' pkm / 1000"}

    def record_problems(self, has):
        fields = (("trip_id",) if has("trip_id") else ()) + RECORD_FIELDS
        ranges = [Problem(f"NOT ({c} BETWEEN {lo} AND {hi})", f"{FIELD_WORDS[c][0]}超出范围（{lo} 至 {hi}）",
                          f"{FIELD_WORDS[c][1]} out of range ({lo} to {hi})")
                  for c, lo, hi in (("start_lon", -180, 180), ("end_lon", -180, 180),
                                    ("start_lat", -90, 90), ("end_lat", -90, 90))]
        return [missing(c, *FIELD_WORDS[c]) for c in fields] + [
            Problem("NOT (end_time > start_time)", "结束时间不晚于开始时间", "end time not after start time"),
            Problem("NOT (distance_km > 0)", "骑行里程不大于 0", "mileage not above 0"),
            # NaN and ±inf are not a distance (SQL's NaN > 0 holds); the exact totals count them as nothing
            Problem(f"NOT {DIALECT.finite('coalesce(distance_km, 0)')}", "骑行里程不是有限数值",
                    "mileage not a finite number"),
            *ranges]

    def sampled_complete(self, sample):
        return has_all(sample, SAMPLED_FIELDS)

    def fingerprint(self, point):
        """Start and end time to the second, start and end point in WGS-84 to 4 decimals."""
        return ({"start": DIALECT.epoch_seconds("start_time"), "end": DIALECT.epoch_seconds("end_time"),
                 "from": point("start_lon", "start_lat"), "to": point("end_lon", "end_lat")}, "true")

    def emissions(self, v):
        """Formula (2): baseline = Eb × m_t9 / 1000; no project emissions."""
        pkm = product(v["Eb"], v["m_t9"])
        baseline = None if pkm is None else v["Eb"] * v["m_t9"] / 1000
        return {"baseline_emissions_tco2": baseline, "project_emissions_tco2": 0.0,
                "reduction_tco2": baseline}  # no project emissions: the reduction is the baseline
