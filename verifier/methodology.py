"""What each methodology names: parameters, canonical trip columns, eligible business model.

Only names and structure live here; every number a regulator publishes is configuration
(`verifier/reference/factors.py`), never a constant in code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

BIKE = "shenzhen-bike-sharing"
TRANSIT = "shenzhen-public-transit"

# 《深圳市碳普惠管理办法》 took effect on this day: no credited activity may be earlier.
SCHEME_START = date(2022, 8, 18)


@dataclass(frozen=True)
class Methodology:
    id: str
    name_zh: str
    name_en: str
    eligible_business_model: str
    business_models: tuple[str, ...]
    default_params: dict[str, str]  # name -> unit
    monitored_params: dict[str, str]  # name -> unit
    columns: tuple[str, ...]  # the canonical trip columns, in the contract's order
    required_columns: tuple[str, ...]  # exit 2 when absent from the trip file


METHODOLOGIES: dict[str, Methodology] = {
    BIKE: Methodology(
        id=BIKE,
        name_zh="深圳市共享单车骑行碳普惠方法学（试行）",
        name_en="Shenzhen carbon-inclusion methodology for shared-bike riding (trial)",
        eligible_business_model="own_operator",
        business_models=("own_operator", "aggregator", "third_party_payment"),
        default_params={"Eb": "kgCO2/pkm"},
        monitored_params={"n_t9": "rides", "m_t9": "pkm"},
        columns=("trip_id", "user_id", "order_source", "start_time", "end_time", "start_lon",
                 "start_lat", "end_lon", "end_lat", "distance_km"),
        # trip_id and order_source are optional. Without distance_km every ride lacks its
        # mileage: a finding on every record, not an unreadable package.
        required_columns=(
            "user_id", "start_time", "end_time", "start_lon", "start_lat", "end_lon", "end_lat",
        ),
    ),
    TRANSIT: Methodology(
        id=TRANSIT,
        name_zh="深圳市低碳公共出行碳普惠方法学",
        name_en="Shenzhen carbon-inclusion methodology for low-carbon public transport",
        eligible_business_model="data_platform",
        business_models=("data_platform", "third_party_payment"),
        default_params={
            "EF_baseline": "kgCO2/pkm", "EF_bus": "kgCO2/pkm", "EF_metro": "kgCO2/pkm",
            "bus_ride_km": "km", "daily_cap_bus": "trips", "daily_cap_metro": "trips",
        },
        monitored_params={"n_bus": "trips", "n_metro": "trips", "metro_pkm": "pkm"},
        columns=("trip_id", "user_id", "mode", "start_time", "end_time", "entry_station",
                 "exit_station", "route", "distance_km"),
        required_columns=("user_id", "mode", "start_time"),
    ),
}

ENTITY_TYPES = ("administrative", "public_institution", "state_owned", "private", "other")
DOMAINS = ("behavior", "project_energy", "project_sink", "other")
CRS_NAMES = ("wgs84", "gcj02", "bd09")
ENCODINGS = ("utf-8", "gbk")


def canonical_columns(methodology: str) -> tuple[str, ...]:
    return METHODOLOGIES[methodology].columns
