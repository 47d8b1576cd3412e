"""The sample schemas: ranges warn (a sampled record may be bad data), shape errors raise."""

import pandas as pd
import pandera.errors
import pytest

from verifier.schemas import validate_sample


def test_out_of_range_values_are_reported_not_raised():
    df = pd.DataFrame({"record_key": [1, 2], "start_lon": [500.0, 114.0], "distance_km": [-1.0, 2.0],
                       "sample.completeness": ["pass", "fail"]})
    checked, warnings = validate_sample("shenzhen-bike-sharing", df, ("sample.completeness",))
    assert len(checked) == 2
    assert any("start_lon" in w and "500.0" in w for w in warnings)
    assert any("distance_km" in w for w in warnings)


def test_outcome_columns_hold_pass_or_fail_only():
    df = pd.DataFrame({"record_key": [1], "records.validity": ["maybe"]})
    with pytest.raises(pandera.errors.SchemaErrors):
        validate_sample("shenzhen-bike-sharing", df, ("records.validity",))


def test_unknown_columns_are_refused():
    df = pd.DataFrame({"record_key": ["a"], "mode": ["bus"], "secret": ["x"]})
    with pytest.raises(pandera.errors.SchemaErrors):
        validate_sample("shenzhen-public-transit", df, ())
