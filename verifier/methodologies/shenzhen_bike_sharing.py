"""深圳市共享单车骑行碳普惠方法学（试行）: shared-bike rides, credited by their mileage."""

from __future__ import annotations

from verifier.data.dialect import DIALECT
from verifier.methodologies.base import Column, Methodology, has_all, product, register

TEXT, TIME = Column("text"), Column("time")
LON, LAT = Column("number", -180, 180), Column("number", -90, 90)

# What every record must have (records.validity) and every sampled record (sample.completeness:
# its start and end, each a time and a place, and its mileage).
RECORD_FIELDS = ("user_id", "start_time", "end_time", "start_lon", "start_lat", "end_lon", "end_lat", "distance_km")
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
        trip_id = ["trip_id IS NULL"] if has("trip_id") else []
        return trip_id + [f"{c} IS NULL" for c in RECORD_FIELDS] + [
            "NOT (end_time > start_time)", "NOT (distance_km > 0)",
            # NaN and ±inf are not a distance (SQL's NaN > 0 holds); the exact totals count them as nothing
            f"NOT {DIALECT.finite('coalesce(distance_km, 0)')}",
            "NOT (start_lon BETWEEN -180 AND 180)", "NOT (end_lon BETWEEN -180 AND 180)",
            "NOT (start_lat BETWEEN -90 AND 90)", "NOT (end_lat BETWEEN -90 AND 90)"]

    def sampled_complete(self, sample):
        return has_all(sample, SAMPLED_FIELDS)

    def emissions(self, v):
        """Formula (2): baseline = Eb × m_t9 / 1000; no project emissions."""
        pkm = product(v["Eb"], v["m_t9"])
        baseline = None if pkm is None else v["Eb"] * v["m_t9"] / 1000
        return {"baseline_emissions_tco2": baseline, "project_emissions_tco2": 0.0,
                "reduction_tco2": baseline}  # no project emissions: the reduction is the baseline
