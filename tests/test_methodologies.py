"""Each methodology module: its formula, its completeness rules and its applicable checks."""

from __future__ import annotations

import pandas as pd
import pytest

from verifier.checks import REGISTRY as CHECKS
from verifier.methodologies import REGISTRY, UnknownMethodology, get

BIKE, TRANSIT = get("shenzhen-bike-sharing"), get("shenzhen-public-transit")


def test_registry_holds_the_two_contract_methodologies():
    assert set(REGISTRY) == {"shenzhen-bike-sharing", "shenzhen-public-transit"}
    with pytest.raises(UnknownMethodology):
        get("shenzhen-bike-sharing-2021")
    with pytest.raises(UnknownMethodology):
        get(None)


def test_bike_formula():
    e = BIKE.emissions({"Eb": 0.05, "m_t9": 700.305})
    assert e["baseline_emissions_tco2"] == pytest.approx(0.03501525)
    assert e["project_emissions_tco2"] == 0.0
    assert e["reduction_tco2"] == e["baseline_emissions_tco2"]
    assert BIKE.emissions({"Eb": None, "m_t9": 700.0})["reduction_tco2"] is None


def test_transit_formula_per_mode():
    v = {"EF_baseline": 0.1, "EF_bus": 0.04, "EF_metro": 0.02, "bus_ride_km": 5.0, "n_bus": 100, "metro_pkm": 300.0}
    e = TRANSIT.emissions(v)
    assert e["bus_pkm"] == 500.0
    assert e["baseline_emissions_tco2"] == pytest.approx(0.1 * 800 / 1000)
    assert e["project_emissions_tco2"] == pytest.approx((0.04 * 500 + 0.02 * 300) / 1000)
    assert e["reduction_bus_tco2"] == pytest.approx(0.06 * 500 / 1000)
    assert e["reduction_metro_tco2"] == pytest.approx(0.08 * 300 / 1000)
    assert e["reduction_tco2"] == pytest.approx(0.054)
    partial = TRANSIT.emissions({**v, "EF_metro": None})  # the bus part stands alone
    assert partial["reduction_bus_tco2"] == pytest.approx(0.03)
    assert partial["reduction_tco2"] is None and partial["baseline_emissions_tco2"] is None


def test_sampled_record_completeness():
    bike = pd.DataFrame({"start_time": [1, 1], "start_lon": [1, 1], "start_lat": [1, 1], "end_time": [1, 1],
                         "end_lon": [1, None], "end_lat": [1, 1], "distance_km": [1, 1]})
    assert BIKE.sampled_complete(bike).tolist() == [True, False]
    transit = pd.DataFrame({"mode": ["bus", "metro", "metro", "ferry", None],
                            "start_time": [1, 1, 1, 1, 1], "entry_station": [None, "A", "A", "A", "A"],
                            "end_time": [None, 1, 1, 1, 1], "exit_station": [None, "B", None, "B", "B"],
                            "distance_km": [None, 3.0, 3.0, 3.0, 3.0]})
    assert TRANSIT.sampled_complete(transit).tolist() == [True, True, False, False, False]


def test_record_problems_name_the_optional_trip_id_only_when_present():
    with_id = {p.sql: p for p in BIKE.record_problems(lambda c: True)}
    assert list(with_id)[0] == "trip_id IS NULL" and with_id["distance_km IS NULL"].zh == "缺少骑行里程"
    transit = {p.sql: p for p in TRANSIT.record_problems(lambda c: False)}
    assert "trip_id IS NULL" not in transit
    assert transit["mode NOT IN ('bus', 'metro')"].en == "mode neither bus nor metro"


def test_applicable_checks_come_from_the_checklist_and_exist():
    for m in (BIKE, TRANSIT):
        assert m.checks <= set(CHECKS.ids())
        assert {"records.validity", "reduction.recalculation", "sample.completeness"} <= m.checks
    assert CHECKS.ids() and set(CHECKS.ids()) - BIKE.checks == {
        "transit.metro_distance", "transit.daily_cap", "transit.tap_pairing", "transit.fare_band"}
    assert BIKE.coordinates and "map" in BIKE.figures and not TRANSIT.coordinates
    assert TRANSIT.input_forms == ("trips", "taps") and BIKE.input_forms == ("trips",)


def test_every_parameter_the_formula_reads_is_a_parameter_of_the_methodology():
    for m in (BIKE, TRANSIT):
        params = set(m.default_params) | set(m.monitored_params)
        assert set(m.formula_factors) <= set(m.default_params)
        assert set(m.activity) <= set(m.monitored_params)
        assert set(m.counted) <= params and m.measured[0] in params


def test_columns_declare_their_kind_and_the_labels_read_lower_cased():
    """The engine stages what a methodology's columns declare: a kind it does not know fails at
    the declaration, and the labels compared lower-case say so themselves."""
    from verifier.methodologies import Column

    with pytest.raises(ValueError, match="column kind 'date'"):
        Column("date")
    lowered = {name for m in REGISTRY.values() for name, c in m.columns.items() if c.lower}
    assert lowered == {"mode", "order_source"}
