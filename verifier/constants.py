"""Names the contract fixes for every filing, whatever its methodology."""

from __future__ import annotations

from datetime import date

# 《深圳市碳普惠管理办法》 took effect on this day: no credited activity may be earlier.
SCHEME_START = date(2022, 8, 18)

ENTITY_TYPES = ("administrative", "public_institution", "state_owned", "private", "other")
DOMAINS = ("behavior", "project_energy", "project_sink", "other")
CRS_NAMES = ("wgs84", "gcj02", "bd09")
ENCODINGS = ("utf-8", "gbk")
