"""Synthetic submission packages, clean or with one planted defect, for the tests, the samples and
the benchmark: shared bikes (``bike.py``) and bus/metro (``transit.py``). Kept out of the wheel:
the installed verifier never generates data.

``expected.py`` derives the findings each package must produce (``samples/*/expected.yaml``) from
the product's check registry and emission formula; ``common.py`` holds what both generators share.
``regulator.py`` writes a regulator's folder of filings with planted double claims and the batch
summary it must produce (``samples/regulator/``).
"""

from tools.synth.bike import DEFECTS, PLANTED, expected_findings, write_bike_package
from tools.synth.transit import (
    TRANSIT_DEFECTS, TRANSIT_PLANTED, expected_transit_findings, station_table, write_transit_package,
)

__all__ = [
    "DEFECTS", "PLANTED", "TRANSIT_DEFECTS", "TRANSIT_PLANTED", "expected_findings",
    "expected_transit_findings", "station_table", "write_bike_package", "write_transit_package",
]
