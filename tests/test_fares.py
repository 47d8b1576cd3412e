"""Metro fare table (verifier.transit.fares)."""

from __future__ import annotations

import math

import duckdb
import pytest

from verifier.errors import InputError
from verifier.transit.fares import DEFAULT_PATH, FareTable


@pytest.fixture(scope="module")
def sz():
    return FareTable.default()


@pytest.mark.parametrize(
    "km, fen",
    [
        (0, 200), (0.5, 200), (4, 200), (4.01, 300), (8, 300), (8.01, 400), (12, 400),
        (12.01, 500), (18, 500), (18.01, 600), (24, 600), (24.01, 700), (32, 700),
        (32.01, 800), (40, 800), (40.5, 900), (72, 1200), (80, 1300),
    ],
)
def test_default_fare_for_distance(sz, km, fen):
    assert sz.fare_for_distance(km) == fen


@pytest.mark.parametrize(
    "fen, band",
    [
        (200, (0, 4)), (300, (4, 8)), (400, (8, 12)), (500, (12, 18)), (600, (18, 24)),
        (700, (24, 32)), (800, (32, 40)), (1300, (72, 80)),
        (0, None), (100, None), (250, None), (650, None), (None, None),
    ],
)
def test_default_band_for_fare(sz, fen, band):
    assert sz.band_for_fare(fen) == band


def test_default_has_source_and_is_the_reported_rule(sz):
    assert DEFAULT_PATH.name == "fares_shenzhen.yaml" and DEFAULT_PATH.is_file()
    assert "szdaily.sznews.com" in sz.source and "Reported rule" in sz.source
    assert sz.tail is not None and (sz.tail.every_km, sz.tail.add_fen) == (8, 100)


def test_band_and_fare_agree(sz):
    for i in range(1, 1201):
        km = i / 10
        lo, hi = sz.band_for_fare(sz.fare_for_distance(km))
        assert lo < km <= hi, km


def test_negative_distance_rejected(sz):
    with pytest.raises(ValueError):
        sz.fare_for_distance(-1)
    with pytest.raises(ValueError):
        sz.fare_for_distance(math.nan)


def test_sql_band_case_matches_python(sz):
    lo_sql, hi_sql = sz.sql_band_case("fare")
    fares = [0, 100, 150, 200, 300, 350, 400, 500, 600, 650, 700, 800, 1300, None]
    con = duckdb.connect()
    for typ in ("BIGINT", "DOUBLE", "INTEGER"):
        rows = con.execute(
            f"SELECT fare, {lo_sql}, {hi_sql} FROM (SELECT CAST(unnest(?) AS {typ}) AS fare)", [fares]
        ).fetchall()
        for fare, lo, hi in rows:
            band = sz.band_for_fare(fare)
            assert (lo, hi) == (band if band else (None, None)), (typ, fare)


def test_sql_full_population_check(sz):
    """The shape transit.fare_band uses: distance outside the band of the fare paid."""
    lo, hi = sz.sql_band_case("fare_fen")
    con = duckdb.connect()
    con.execute("CREATE TABLE t(distance_km DOUBLE, fare_fen BIGINT)")
    con.execute("INSERT INTO t VALUES (3.5, 200), (4.5, 200), (9, 400), (30, 700), (30, 600), (10, 450)")
    flagged = con.execute(
        f"SELECT distance_km, fare_fen FROM t WHERE NOT coalesce(distance_km > {lo} AND distance_km <= {hi}, false) "
        "ORDER BY 1, 2"
    ).fetchall()
    assert flagged == [(4.5, 200), (10.0, 450), (30.0, 600)]


def test_load_yaml_rule_equals_default(tmp_path, sz):
    f = tmp_path / "f.yaml"
    f.write_text(DEFAULT_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    t = FareTable.load(f)
    assert t.merged_bands == sz.merged_bands and t.tail == sz.tail


def test_load_csv_bands_with_flat_top(tmp_path):
    f = tmp_path / "f.csv"
    f.write_text("\ufeffmin_km,max_km,fare_fen\n0,6,300\n6,12,400\n12,22,500\n22,32,600\n32,,700\n", encoding="utf-8")
    t = FareTable.load(f)
    assert t.fare_for_distance(6) == 300 and t.fare_for_distance(6.1) == 400
    assert t.fare_for_distance(500) == 700
    assert t.band_for_fare(700) == (32, math.inf)
    assert t.band_for_fare(800) is None
    lo, hi = t.sql_band_case("f")
    assert duckdb.sql(f"SELECT {lo}, {hi} FROM (SELECT 700 AS f)").fetchall() == [(32.0, math.inf)]


def test_load_yaml_bands_finite_and_merged(tmp_path):
    f = tmp_path / "f.yml"
    f.write_text(
        "source: test\nbands:\n"
        "  - {min_km: 0, max_km: 4, fare_fen: 200}\n"
        "  - {min_km: 4, max_km: 6, fare_fen: 200}\n"
        "  - {min_km: 6, max_km: 10, fare_fen: 300}\n",
        encoding="utf-8",
    )
    t = FareTable.load(f)
    assert t.band_for_fare(200) == (0, 6)
    assert t.fare_for_distance(10) == 300 and t.fare_for_distance(10.5) is None


@pytest.mark.parametrize(
    "text, field",
    [
        ("[1, 2]", None),
        ("bands: [{min_km: 0, max_km: 4, fare_fen: 200}]", "source"),
        ("source: x\nbands: []", "bands"),
        ("source: x\nbands: [{min_km: 1, max_km: 4, fare_fen: 200}]", "bands"),  # not from 0
        ("source: x\nbands: [{min_km: 0, max_km: 4, fare_fen: 300}, {min_km: 4, max_km: 8, fare_fen: 200}]", "bands"),
        ("source: x\nbands: [{min_km: 0, max_km: 4, fare_fen: 2.5}]", "bands[0].fare_fen"),
        ("source: x\nbands: [{min_km: 0, max_km: four, fare_fen: 200}]", "bands[0].max_km"),
        ("source: x\nbase: {max_km: 4, fare_fen: 200}\nsteps: [{up_to_km: 10, every_km: 4, add_fen: 100}]", "steps[0].every_km"),
        ("source: x\nbase: {max_km: 4, fare_fen: 200}\nsteps: [{up_to_km: null, every_km: 4, add_fen: 100}, {up_to_km: 20, every_km: 4, add_fen: 100}]", "steps[0].up_to_km"),
        ("source: x\nbase: {max_km: 4}", "base.fare_fen"),
        ("source: x\nbase: {max_km: 4, fare_fen: 200}\nbands: []", "bands"),
        ("source: x\nbands: [oops", None),
    ],
)
def test_bad_yaml_raises_input_error(tmp_path, text, field):
    f = tmp_path / "f.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as e:
        FareTable.load(f)
    assert e.value.file == str(f)
    assert e.value.field == field


def test_bad_csv_and_missing_file_raise(tmp_path):
    with pytest.raises(InputError) as e:
        FareTable.load(tmp_path / "none.yaml")
    assert "not found" in str(e.value)
    f = tmp_path / "f.csv"
    f.write_text("from,to,fare\n0,4,200\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        FareTable.load(f)
    assert e.value.field == "min_km"
    f.write_text("min_km,max_km,fare_fen\n0,4,200\n4,x,300\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        FareTable.load(f)
    assert e.value.row == 2
    f.write_bytes("min_km,max_km,fare_fen\n0,4,200\n# 票价\n".encode("gbk"))
    with pytest.raises(InputError):
        FareTable.load(f)
