"""What the report's figures draw, as plain data: the engine's side of the figures.

Apart from the drawing (verifier.report.figures, matplotlib): the pipeline builds it without
importing matplotlib, and it crosses to the report helper process (verifier.report.helper)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class FigureData:
    methodology: str
    boundary: Any = None  # shapely (Multi)Polygon, WGS-84, or None
    districts: tuple = ()  # the boundary's district (Multi)Polygons, WGS-84 (outlines on the map)
    district_names: tuple = ()  # their names, in the same order
    points: pd.DataFrame | None = None  # start_lon, start_lat, end_lon, end_lat, start_inside, end_inside
    distance_hist: pd.DataFrame | None = None  # bin_start, bin_end, records (km)
    speed_hist: pd.DataFrame | None = None  # bin_start, bin_end, records (km/h)
    daily: pd.DataFrame | None = None  # date (None: undated), records, excluded
    thresholds: dict = field(default_factory=dict)  # max_speed_kmh, min_duration_s
    per_mode_daily: pd.DataFrame | None = None  # date, mode, records, excluded (drawn when given)
    measures: dict = field(default_factory=dict)  # histogram name -> its measure when not the usual
