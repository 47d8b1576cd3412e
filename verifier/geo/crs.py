"""Coordinate systems used by Chinese map data: WGS-84, GCJ-02 ("Mars" coordinates) and BD-09.

``convert(lon, lat, src, dst)`` works on numpy arrays (any broadcastable shapes), returns float64
arrays and lets NaN through as NaN.

- WGS-84 -> GCJ-02: the published obfuscation formula on the Krasovsky ellipsoid
  (a = 6378245.0, ee = 0.00669342162296594323), identity outside the usual China rectangle.
- GCJ-02 -> WGS-84: the exact inverse, by fixed-point iteration w <- w - (gcj(w) - g), until the
  residual is < 1e-9 degrees. The shift's slope is below about 1e-2, so each step gains two digits
  or more: about 5 forward evaluations, leaving an error near 1e-13 degrees. (The common one-step
  inverse, w = g - shift(g), is off by up to a few metres.)
- GCJ-02 <-> BD-09: Baidu's standard pair of formulas; bd09 -> gcj02 is the usual approximate
  inverse (round trip within about 2e-6 degrees, 0.2 m), as every public implementation uses.
Conversions between bd09 and wgs84 go through gcj02.
"""

from __future__ import annotations

import numpy as np

SYSTEMS = ("wgs84", "gcj02", "bd09")

_A = 6378245.0                   # Krasovsky 1940 semi-major axis, as fixed by the GCJ-02 formula
_EE = 0.00669342162296594323     # Krasovsky first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0   # BD-09 constant
_INV_TOL = 1e-9                  # degrees
_INV_MAX_ITER = 30
_CHUNK = 1 << 17                 # points per chunk


def _out_of_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    # The rectangle every reference implementation uses; NaN compares False, so NaN stays "in"
    # China and is carried through the arithmetic as NaN.
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 minus WGS-84 at WGS-84 point (lon, lat), in degrees (zero outside China)."""
    x = lon - 105.0
    y = lat - 35.0
    sx6 = 20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)
    sqx = np.sqrt(np.abs(x))
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqx
            + sx6 * 2.0 / 3.0
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqx
            + sx6 * 2.0 / 3.0
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    out = _out_of_china(lon, lat)
    return np.where(out, 0.0, dlon), np.where(out, 0.0, dlat)


def _wgs_to_gcj(lon, lat):
    dlon, dlat = _delta(lon, lat)
    return lon + dlon, lat + dlat


def _gcj_to_wgs(lon, lat):
    out = _out_of_china(lon, lat)
    wlon, wlat = lon.copy(), lat.copy()
    for _ in range(_INV_MAX_ITER):
        glon, glat = _wgs_to_gcj(wlon, wlat)
        rlon, rlat = glon - lon, glat - lat
        wlon = wlon - rlon
        wlat = wlat - rlat
        step = np.maximum(np.abs(rlon), np.abs(rlat))
        if not np.any(step >= _INV_TOL):  # NaN compares False: NaN points do not hold the loop
            break
    # Points outside the rectangle in GCJ-02 are not shifted (as in every reference implementation).
    return np.where(out, lon, wlon), np.where(out, lat, wlat)


def _gcj_to_bd(lon, lat):
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd_to_gcj(lon, lat):
    x = lon - 0.0065
    y = lat - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def convert(lon, lat, src: str, dst: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert longitude/latitude arrays (degrees) from system ``src`` to ``dst``."""
    for name in (src, dst):
        if name not in SYSTEMS:
            raise ValueError(f"unknown coordinate system {name!r}; expected one of {', '.join(SYSTEMS)}")
    lon, lat = np.broadcast_arrays(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    shape = lon.shape
    lon, lat = lon.ravel(), lat.ravel()
    out_lon, out_lat = np.empty(lon.size), np.empty(lon.size)
    # Chunks that stay in cache run about twice as fast as whole 10^7-point arrays.
    for s in range(0, lon.size, _CHUNK):
        out_lon[s:s + _CHUNK], out_lat[s:s + _CHUNK] = _convert(lon[s:s + _CHUNK], lat[s:s + _CHUNK], src, dst)
    return out_lon.reshape(shape), out_lat.reshape(shape)


def _convert(lon: np.ndarray, lat: np.ndarray, src: str, dst: str) -> tuple[np.ndarray, np.ndarray]:
    if src == dst:
        return lon, lat
    if src == "bd09":
        lon, lat = _bd_to_gcj(lon, lat)
    elif src == "wgs84":
        lon, lat = _wgs_to_gcj(lon, lat)
    # now in gcj02
    if dst == "bd09":
        return _gcj_to_bd(lon, lat)
    if dst == "wgs84":
        return _gcj_to_wgs(lon, lat)
    return lon, lat
