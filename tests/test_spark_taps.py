"""Tap pairing (verifier.data.sources.taps) on the Spark engine: the same PairingStats (counts and
examples) and the same trips, row for row, as on DuckDB, for the sample package, an adversarial
tap set, a randomised one with many ties, and `import-taps --engine spark`. One Spark session for
the module (10-30 s to start); no skips: without Java or pyspark these tests fail."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_taps import BUS, COLS, ENTRY, EXIT, assert_identity, counts, expect, tap, write_taps

from verifier.data.engine import EngineOptions, open_engine
from verifier.data.sources import _tap_records
from verifier.data.sources.taps import TRIP_COLUMNS, stage_trips, write_trips
from verifier.data.spark_engine import SparkEngine, stop_session
from verifier.errors import InputError

REPO = Path(__file__).resolve().parents[1]
SAMPLE_TAPS = REPO / "samples" / "transit-taps-clean" / "taps.csv"
SPARK_CONF = (("spark.sql.shuffle.partitions", "2"), ("spark.driver.memory", "2g"))
OPTIONS = {"duckdb": EngineOptions(),
           "spark": EngineOptions(engine="spark", spark_master="local[2]", spark_conf=SPARK_CONF)}


@pytest.fixture(scope="module", autouse=True)
def shared_session():
    SparkEngine.reuse_session = True
    yield
    SparkEngine.reuse_session = False
    stop_session()


def pair(engine: str, files, **kw):
    """(PairingStats, trips in file order) of the tap files on `engine`; the trips as the tap
    adapter stages them, numbered (row_no) in the order of (source_file, source_row)."""
    with open_engine(OPTIONS[engine]) as eng:
        eng.set_timezone("Asia/Shanghai")
        stats = stage_trips(eng, [Path(f) for f in files], **kw)
        trips = eng.rows(f"SELECT {', '.join(TRIP_COLUMNS)}, row_no FROM {_tap_records('tap_trips')} t ORDER BY row_no")
    assert [t[-1] for t in trips] == list(range(1, len(trips) + 1))
    assert [t[11:13] for t in trips] == sorted(t[11:13] for t in trips)
    return stats, [t[:-1] for t in trips]


def both(files, **kw):
    """Pair on both engines; assert the same counts, examples and trips; DuckDB's result."""
    duck, duck_trips = pair("duckdb", files, **kw)
    spark, spark_trips = pair("spark", files, **kw)
    assert counts(spark) == counts(duck)
    assert spark.examples == duck.examples
    assert spark_trips == duck_trips
    assert_identity(duck)
    return duck, duck_trips


# ---------------------------------------------------------------------- the sample package
def test_sample_package_pairs_the_same():
    stats, trips = both([SAMPLE_TAPS])
    rows = SAMPLE_TAPS.read_text(encoding="utf-8").count("\n") - 1
    assert stats.taps == rows
    assert counts(stats) == expect(taps=rows, bus_taps=stats.bus_taps, metro_entries=stats.trips_metro,
                                   metro_exits=stats.trips_metro, trips_metro=stats.trips_metro,
                                   trips_bus=stats.bus_taps)  # clean: every metro tap pairs
    assert stats.trips_metro > 0 and stats.bus_taps > 0
    assert len(trips) == stats.trips_metro + stats.trips_bus


# ---------------------------------------------------------------------- an adversarial set
ADVERSARIAL_A = [
    tap("A", "2018-09-01 08:00:00", ENTRY, "罗湖站"),  # a trip; its entry repeated in file b
    tap("A", "2018-09-01 08:20:00", EXIT, "科学馆站", value=300, money=285),
    tap("B", "2018-09-01 08:00:00", ENTRY, "老街"),  # unpaired: another entry follows
    tap("B", "2018-09-01 08:10:00", ENTRY, "大剧院"),
    tap("B", "2018-09-01 08:30:00", EXIT, "华强北", value="250.5", money="-2.5"),
    tap("C", "2018-09-01 07:00:00", EXIT, "福田"),  # unpaired exit
    tap("D", "2018-09-01 06:00:00", ENTRY, "岗厦"),  # overlong: 181 minutes
    tap("D", "2018-09-01 09:01:00", EXIT, "岗厦"),
    tap("E", "2018-09-01 06:00:00", ENTRY, "岗厦"),  # exactly the limit: a trip
    tap("E", "2018-09-01 09:00:00", EXIT, "购物公园", value="1.5d", money="nan"),
    tap("F", "2018-09-01 10:05:00", ENTRY, "车公庙"),  # recorded first, stamped later: reversed pair
    tap("F", "2018-09-01 10:00:00", EXIT, "竹子林"),
    tap("G", "2018-09-01 11:00:00", ENTRY, "世界之窗"),  # same second, file order: a trip
    tap("G", "2018-09-01 11:00:00", EXIT, "白石洲"),
    tap("H", "2018-09-01 12:00:00", EXIT, "后海"),  # same second, exit first: both unpaired
    tap("H", "2018-09-01 12:00:00", ENTRY, "后海"),
    tap("T", "2018-09-01 09:00:00", BUS, "M468", value=200, money=160),  # two trips, same second
    tap("T", "2018-09-01 09:00:00", ENTRY, "深大"),
    tap("T", "2018-09-01 09:10:00", EXIT, "高新园"),
    tap("T", "2018-09-01 09:00:00", BUS, "M468", value=200, money=160),  # duplicate in the file
    tap("U", "2018-09-01 13:00:00", "充值"),  # unknown type
    tap(None, "2018-09-01 13:00:00", ENTRY, "老街"),  # invalid: no card
    tap("V", "not a time", BUS, "M1"),  # invalid: no time
    tap("W", "2018/09/01 13:00:00", BUS, "B1", value="1e400"),
    tap("W", "2018-09-01T13:30:00+08:00", BUS, "B2", value="0.5"),
    tap("K", "2018-09-01 14:00:00", ENTRY, "福田口岸"),  # its exit is in file b
]
ADVERSARIAL_B = [
    tap("A", "2018-09-01 08:00:00", ENTRY, "罗湖站"),  # duplicate across files
    tap("K", "2018-09-01 14:30:00", EXIT, "皇岗口岸", value=400, money=380),
    tap("C", "2018-09-01 07:00:00", EXIT, "福田", equ="2"),  # not a duplicate: another device
]


def test_adversarial_taps_pair_the_same(tmp_path):
    a = write_taps(tmp_path / "a.csv", ADVERSARIAL_A, encoding="gbk")
    b = write_taps(tmp_path / "b.csv", ADVERSARIAL_B, columns=COLS[::-1], encoding="gbk", newline="\n", quote=True)
    stats, trips = both([a, b], encoding="gbk")
    assert counts(stats) == expect(
        taps=29, exact_duplicates=2, unknown_type=1, invalid=2, bus_taps=3, trips_bus=3,
        metro_entries=10, metro_exits=11, trips_metro=6, unpaired_entries=2, unpaired_exits=3,
        exit_before_entry=2, overlong=2)
    assert [e["row"] for e in stats.examples["exact_duplicates"]] == [20, 1]
    assert [e["file"] for e in stats.examples["exact_duplicates"]] == ["a.csv", "b.csv"]
    by_id = {t[0]: t for t in trips}
    assert by_id["T-20180901090000-1"][2] == "bus" and by_id["T-20180901090000-2"][2] == "metro"
    assert by_id["B-20180901081000-1"][9:11] == (251, -3)  # fares rounded half away from zero
    assert by_id["E-20180901060000-1"][9:11] == (None, None)  # '1.5d', 'nan': no number
    assert by_id["K-20180901140000-1"][6] == "皇岗口岸"  # paired across files
    assert by_id["W-20180901133000-1"][7] == "B2"  # an offset in the local zone's time


# ---------------------------------------------------------------------- randomised, many ties
def random_taps(seed: int, n: int) -> list[dict]:
    rnd = random.Random(seed)
    kinds = [ENTRY] * 9 + [EXIT] * 9 + [BUS] * 4 + ["充值"]
    rows = []
    for _ in range(n):
        minute = rnd.choice([0, 0, 1, 30, 179, 180, 181, 240])  # ties and the limit's edges
        rows.append(tap(f"C{rnd.randrange(600)}", f"2018-09-01 {8 + minute // 60:02d}:{minute % 60:02d}:00",
                        rnd.choice(kinds), rnd.choice(["罗湖", "老街", "M1"]), value=rnd.choice([0, 200, 300])))
        if rnd.random() < 0.05:
            rows.append(dict(rows[-1]))  # exact duplicate
    return rows


def test_random_taps_pair_the_same(tmp_path):
    taps = random_taps(13, 3000)
    files = [write_taps(tmp_path / f"{i}.csv", taps[i::3]) for i in range(3)]
    stats, trips = both(files, max_stay_minutes=180)
    for name in ("exact_duplicates", "unknown_type", "trips_metro", "unpaired_entries", "unpaired_exits",
                 "exit_before_entry", "overlong"):
        assert getattr(stats, name) > 0, name  # every outcome occurs, so the comparison covers it
    assert len({t[0] for t in trips}) == len(trips)


# ---------------------------------------------------------------------- import-taps, errors
def test_import_taps_writes_the_same_trips(tmp_path):
    duck = write_trips([SAMPLE_TAPS], tmp_path / "duckdb" / "trips.parquet")
    spark = write_trips([SAMPLE_TAPS], tmp_path / "spark" / "trips.parquet", engine="spark",
                        spark_master="local[2]", spark_conf=[f"{k}={v}" for k, v in SPARK_CONF])
    assert counts(spark) == counts(duck)
    d, s = pq.read_table(tmp_path / "duckdb" / "trips.parquet"), pq.read_table(tmp_path / "spark" / "trips.parquet")
    assert s.column_names == d.column_names == list(TRIP_COLUMNS)
    assert [str(t) for t in s.schema.types] == [str(t) for t in d.schema.types]
    assert s.to_pylist() == d.to_pylist()
    assert d.num_rows == duck.trips_metro + duck.trips_bus


def test_unreadable_tap_file_same_error(tmp_path):
    f = write_taps(tmp_path / "t.csv", ADVERSARIAL_A[:4])
    f.write_bytes(f.read_bytes() + "A,2018-09-01 09:00:00,巴士\r\n".encode())
    errors = []
    for engine in ("duckdb", "spark"):
        with pytest.raises(InputError) as e:
            pair(engine, [f])
        errors.append(str(e.value))
    assert errors[0] == errors[1]
    assert "line 6" in errors[0] and "t.csv" in errors[0]
