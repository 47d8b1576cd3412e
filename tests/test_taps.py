"""Shenzhen Tong taps -> trips (verifier.data.sources.taps, the tap adapter's derivation step)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from verifier.errors import InputError
from verifier.data.engine import DuckDBEngine
from verifier.data.sources.taps import (
    ANOMALY_CATEGORIES,
    TAP_COLUMNS,
    TAP_FORMATS,
    TRIP_COLUMNS,
    PairingStats,
    stage_trips,
    write_trips,
)

FIELD = Path(__file__).parents[2] / "shared" / "data" / "field"
PAGE14 = FIELD / "szt_card_records_2018-09-01_page14.csv"
F10000 = FIELD / "szt_card_records_2018-08-31_10000.csv"

ENTRY, EXIT, BUS = "地铁入站", "地铁出站", "巴士"
COLS = list(TAP_COLUMNS)


# ---------------------------------------------------------------------- helpers
def tap(card, date, kind, station="-", value=0, money=0, company=None, equ="1", car="-"):
    if company is None:
        company = "巴士集团" if kind == BUS else "地铁一号线"
    return {
        "card_no": card,
        "deal_date": date,
        "deal_type": kind,
        "deal_money": str(money),
        "deal_value": str(value),
        "equ_no": equ,
        "company_name": company,
        "station": station,
        "car_no": car,
        "conn_mark": "0",
        "close_date": "2018-09-01 00:00:00",
    }


def write_taps(path: Path, rows, columns=None, encoding="utf-8", newline="\r\n", quote=False, missing=""):
    columns = columns or COLS
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline, quoting=csv.QUOTE_ALL if quote else csv.QUOTE_MINIMAL)
    w.writerow(columns)
    for r in rows:
        w.writerow([missing if r.get(c) in (None, "-", "") else r[c] for c in columns])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def stage(files, timezone="Asia/Shanghai", **kw):
    with DuckDBEngine() as engine:
        engine.set_timezone(timezone)
        stats = stage_trips(engine, [Path(f) for f in files], **kw)
        trips = engine.rows("SELECT * FROM tap_trips ORDER BY source_file, source_row")
        names = [r[0] for r in engine.rows("DESCRIBE tap_trips")]
    return stats, [dict(zip(names, t)) for t in trips]


def counts(s: PairingStats) -> dict:
    d = s.as_dict()
    d.pop("examples")
    return d


def assert_identity(s: PairingStats):
    assert s.accounted() == s.taps
    assert s.taps == (
        s.exact_duplicates + s.unknown_type + s.invalid + s.bus_taps + s.metro_entries + s.metro_exits
    )
    assert s.metro_entries + s.metro_exits == 2 * s.trips_metro + s.total_unpaired()
    assert s.trips_bus == s.bus_taps
    assert set(s.examples) == set(ANOMALY_CATEGORIES)
    for cat, ex in s.examples.items():
        assert len(ex) == min(getattr(s, cat), 5)


ZERO = dict(
    taps=0, bus_taps=0, metro_entries=0, metro_exits=0, trips_metro=0, trips_bus=0,
    unpaired_entries=0, unpaired_exits=0, exit_before_entry=0, overlong=0,
    exact_duplicates=0, unknown_type=0, invalid=0,
)


def expect(**kw):
    d = dict(ZERO)
    d.update(kw)
    return d


# Clean base: two metro trips (cards A, B) and one bus tap (card C).
BASE = [
    tap("A", "2018-09-01 08:00:00", ENTRY, "罗湖站"),
    tap("B", "2018-09-01 08:05:00", ENTRY, "老街"),
    tap("A", "2018-09-01 08:20:00", EXIT, "科学馆站", value=300, money=285),
    tap("C", "2018-09-01 08:30:00", BUS, "M468", value=200, money=160),
    tap("B", "2018-09-01 08:15:00", EXIT, "华强北", value=200, money=190),
]
BASE_COUNTS = expect(taps=5, bus_taps=1, metro_entries=2, metro_exits=2, trips_metro=2, trips_bus=1)


# ---------------------------------------------------------------------- hand-made files
def test_api_constants():
    assert TAP_FORMATS == ("shenzhen-tong",)
    assert TRIP_COLUMNS[:9] == (
        "trip_id", "user_id", "mode", "start_time", "end_time",
        "entry_station", "exit_station", "route", "distance_km",
    )


def test_clean_file_trips_and_columns(tmp_path):
    f = write_taps(tmp_path / "taps.csv", BASE)
    s, trips = stage([f])
    assert counts(s) == BASE_COUNTS
    assert_identity(s)
    assert all(not v for v in s.examples.values())
    assert [t["trip_id"] for t in trips] == ["A-20180901080000-1", "B-20180901080500-1", "C-20180901083000-1"]
    a, b, c = trips
    assert list(a) == list(TRIP_COLUMNS)
    assert a["user_id"] == "A" and a["mode"] == "metro"
    assert str(a["start_time"]) == "2018-09-01 08:00:00" and str(a["end_time"]) == "2018-09-01 08:20:00"
    assert (a["entry_station"], a["exit_station"], a["route"]) == ("罗湖站", "科学馆站", "地铁一号线")
    assert (a["fare_fen"], a["paid_fen"], a["distance_km"]) == (300, 285, None)
    assert (a["source_file"], a["source_row"]) == ("taps.csv", 1)
    assert (b["source_row"], b["fare_fen"]) == (2, 200)
    assert c["mode"] == "bus" and c["end_time"] is None and c["entry_station"] is None
    assert (c["route"], c["fare_fen"], c["paid_fen"], c["source_row"]) == ("M468", 200, 160, 4)


def test_planted_unpaired_entry(tmp_path):
    rows = BASE + [tap("D", "2018-09-01 09:00:00", ENTRY, "福田"), tap("D", "2018-09-01 09:10:00", ENTRY, "福田")]
    s, trips = stage([write_taps(tmp_path / "t.csv", rows)])
    assert counts(s) == {**BASE_COUNTS, "taps": 7, "metro_entries": 4, "unpaired_entries": 2}
    assert_identity(s)
    assert [(e["file"], e["row"]) for e in s.examples["unpaired_entries"]] == [("t.csv", 6), ("t.csv", 7)]
    assert len(trips) == 3


def test_planted_entry_then_entry_then_exit(tmp_path):
    # the first entry is unpaired; the second pairs with the exit
    rows = BASE + [
        tap("D", "2018-09-01 09:00:00", ENTRY, "福田"),
        tap("D", "2018-09-01 09:10:00", ENTRY, "岗厦"),
        tap("D", "2018-09-01 09:20:00", EXIT, "会展中心", value=200, money=190),
    ]
    s, trips = stage([write_taps(tmp_path / "t.csv", rows)])
    assert counts(s) == {**BASE_COUNTS, "taps": 8, "metro_entries": 4, "metro_exits": 3,
                         "trips_metro": 3, "unpaired_entries": 1}
    assert_identity(s)
    d = [t for t in trips if t["user_id"] == "D"]
    assert len(d) == 1 and d[0]["entry_station"] == "岗厦" and d[0]["source_row"] == 7


def test_planted_unpaired_exit(tmp_path):
    rows = BASE + [tap("E", "2018-09-01 09:00:00", EXIT, "大剧院站", value=200, money=190)]
    s, _ = stage([write_taps(tmp_path / "t.csv", rows)])
    assert counts(s) == {**BASE_COUNTS, "taps": 6, "metro_exits": 3, "unpaired_exits": 1}
    assert_identity(s)
    assert s.examples["unpaired_exits"][0]["row"] == 6
    assert s.total_unpaired() == 1


def test_planted_overlong_and_limit_inclusive(tmp_path):
    rows = BASE + [
        tap("F", "2018-09-01 06:00:00", ENTRY, "机场站"),
        tap("F", "2018-09-01 09:00:01", EXIT, "罗湖站", value=1000, money=950),  # 180 min 1 s
        tap("G", "2018-09-01 06:00:00", ENTRY, "机场站"),
        tap("G", "2018-09-01 09:00:00", EXIT, "罗湖站", value=1000, money=950),  # exactly 180 min
    ]
    s, trips = stage([write_taps(tmp_path / "t.csv", rows)])
    assert counts(s) == {**BASE_COUNTS, "taps": 9, "metro_entries": 4, "metro_exits": 4,
                         "trips_metro": 3, "overlong": 2}
    assert_identity(s)
    assert [e["row"] for e in s.examples["overlong"]] == [6, 7]
    assert "G" in {t["user_id"] for t in trips} and "F" not in {t["user_id"] for t in trips}
    # a longer limit turns the over-long pair into a trip
    s2, _ = stage([write_taps(tmp_path / "t.csv", rows)], max_stay_minutes=181)
    assert s2.overlong == 0 and s2.trips_metro == 4


def test_planted_exit_before_entry(tmp_path):
    # Card H: the entry is recorded first (row 6) but its exit (row 7) is stamped 10 minutes earlier.
    rows = BASE + [
        tap("H", "2018-09-01 09:10:00", ENTRY, "老街"),
        tap("H", "2018-09-01 09:00:00", EXIT, "老街", value=200, money=190),
    ]
    s, trips = stage([write_taps(tmp_path / "t.csv", rows)])
    assert counts(s) == {**BASE_COUNTS, "taps": 7, "metro_entries": 3, "metro_exits": 3, "exit_before_entry": 2}
    assert_identity(s)
    assert [(e["row"], e["deal_type"]) for e in s.examples["exit_before_entry"]] == [(6, ENTRY), (7, EXIT)]
    assert "H" not in {t["user_id"] for t in trips}


def test_exit_then_later_recorded_entry_is_extract_edge_not_reversal(tmp_path):
    # Same times, but the exit is also recorded first: the exit's entry precedes the extract and
    # the entry's exit follows it -> one unpaired exit, one unpaired entry.
    rows = BASE + [
        tap("H", "2018-09-01 09:00:00", EXIT, "老街", value=200, money=190),
        tap("H", "2018-09-01 09:10:00", ENTRY, "老街"),
    ]
    s, _ = stage([write_taps(tmp_path / "t.csv", rows)])
    assert counts(s) == {**BASE_COUNTS, "taps": 7, "metro_entries": 3, "metro_exits": 3,
                         "unpaired_entries": 1, "unpaired_exits": 1}
    assert_identity(s)


def test_reversal_needs_unpaired_entry_and_limit(tmp_path):
    rows = BASE + [
        # entry recorded first, exit stamped earlier, but the entry has its own exit later: a trip
        tap("J", "2018-09-01 09:10:00", ENTRY, "老街"),
        tap("J", "2018-09-01 09:00:00", EXIT, "老街", value=200, money=190),
        tap("J", "2018-09-01 09:30:00", EXIT, "国贸站", value=200, money=190),
        # reversed order in the file, but 4 hours apart: not one journey
        tap("K", "2018-09-01 13:00:00", ENTRY, "老街"),
        tap("K", "2018-09-01 09:00:00", EXIT, "老街", value=200, money=190),
    ]
    s, _ = stage([write_taps(tmp_path / "t.csv", rows)])
    assert counts(s) == {**BASE_COUNTS, "taps": 10, "metro_entries": 4, "metro_exits": 5,
                         "trips_metro": 3, "unpaired_entries": 1, "unpaired_exits": 2}
    assert_identity(s)


def test_planted_exact_duplicate(tmp_path):
    rows = BASE + [dict(BASE[3])]  # the bus tap, repeated
    s, trips = stage([write_taps(tmp_path / "t.csv", rows)])
    assert counts(s) == {**BASE_COUNTS, "taps": 6, "exact_duplicates": 1}
    assert_identity(s)
    assert s.examples["exact_duplicates"][0]["row"] == 6  # the repeat, the first is kept
    assert [t["source_row"] for t in trips if t["mode"] == "bus"] == [4]


def test_near_duplicate_is_not_exact(tmp_path):
    rows = BASE + [dict(BASE[3], equ_no="2")]  # same card and second, another reader
    s, trips = stage([write_taps(tmp_path / "t.csv", rows)])
    assert s.exact_duplicates == 0 and s.trips_bus == 2
    bus_ids = sorted(t["trip_id"] for t in trips if t["mode"] == "bus")
    assert bus_ids == ["C-20180901083000-1", "C-20180901083000-2"]


def test_planted_unknown_type_and_invalid(tmp_path):
    rows = BASE + [
        tap("L", "2018-09-01 09:00:00", "充值"),
        tap(None, "2018-09-01 09:00:00", BUS),
        tap("M", "not a date", ENTRY, "老街"),
    ]
    s, _ = stage([write_taps(tmp_path / "t.csv", rows)])
    assert counts(s) == {**BASE_COUNTS, "taps": 8, "unknown_type": 1, "invalid": 2}
    assert_identity(s)
    assert [e["row"] for e in s.examples["invalid"]] == [7, 8]


def test_same_second_entry_exit_tie_broken_by_file_order(tmp_path):
    rows = [tap("N", "2018-09-01 09:00:00", ENTRY, "老街"), tap("N", "2018-09-01 09:00:00", EXIT, "老街", value=200)]
    s, _ = stage([write_taps(tmp_path / "t.csv", rows)])
    assert s.trips_metro == 1
    s, _ = stage([write_taps(tmp_path / "t.csv", rows[::-1])])
    assert (s.trips_metro, s.unpaired_entries, s.unpaired_exits) == (0, 1, 1)


def test_pairs_across_files_in_given_order(tmp_path):
    f1 = write_taps(tmp_path / "a.csv", [tap("P", "2018-08-31 23:50:00", ENTRY, "老街")])
    f2 = write_taps(tmp_path / "b.csv", [tap("P", "2018-09-01 00:10:00", EXIT, "国贸站", value=200)])
    s, trips = stage([f2, f1])
    assert (s.taps, s.trips_metro) == (2, 1)
    assert (trips[0]["source_file"], trips[0]["source_row"], trips[0]["exit_station"]) == ("a.csv", 1, "国贸站")


def test_formats_give_identical_results(tmp_path):
    """CRLF/LF, quoted or not, either column order, '-' or empty, UTF-8 (+BOM) or GBK."""
    rows = BASE + [tap("D", "2018-09-01 09:00:00", ENTRY, "福田"), dict(BASE[3])]
    ref_stats, ref_trips = stage([write_taps(tmp_path / "ref.csv", rows)])
    other_order = ["deal_date", "close_date", "card_no", "deal_value", "deal_type", "company_name",
                   "car_no", "station", "conn_mark", "deal_money", "equ_no"]
    variants = [
        (dict(newline="\n", quote=True, columns=other_order, missing="-"), "utf-8"),
        (dict(encoding="utf-8-sig"), "utf-8"),
        (dict(encoding="gbk", missing="-"), "gbk"),
        (dict(encoding="gbk", quote=True, columns=other_order), "GBK"),
    ]
    for i, (kw, enc) in enumerate(variants):
        f = write_taps(tmp_path / "ref.csv", rows, **kw)
        st, tr = stage([f], encoding=enc)
        assert counts(st) == counts(ref_stats), (i, kw)
        assert tr == ref_trips, (i, kw)
    assert ref_trips[0]["entry_station"] == "罗湖站"


def test_minimal_required_columns(tmp_path):
    cols = ["card_no", "deal_date", "deal_type", "station"]
    s, trips = stage([write_taps(tmp_path / "t.csv", BASE, columns=cols)])
    assert counts(s) == BASE_COUNTS
    assert trips[0]["fare_fen"] is None and trips[0]["route"] is None


def test_empty_file_with_header(tmp_path):
    s, trips = stage([write_taps(tmp_path / "t.csv", [])])
    assert counts(s) == ZERO and trips == []


# ---------------------------------------------------------------------- errors
def test_missing_file_raises(tmp_path):
    with pytest.raises(InputError) as e:
        stage([tmp_path / "nope.csv"])
    assert "nope.csv" in str(e.value) and "not found" in str(e.value)


@pytest.mark.parametrize("absent", ["card_no", "deal_date", "deal_type", "station"])
def test_absent_required_column_raises(tmp_path, absent):
    f = write_taps(tmp_path / "t.csv", BASE, columns=[c for c in COLS if c != absent])
    with pytest.raises(InputError) as e:
        stage([f])
    assert e.value.field == absent and e.value.file == str(f)


def test_unreadable_csv_raises(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text(",".join(COLS) + "\nA,2018-09-01 08:00:00,巴士,1,2,3,4,5,6,7,8,9,10,11\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        stage([f])
    assert e.value.file == str(f) and "unreadable" in str(e.value)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError):
        stage([empty])


def test_gbk_read_as_utf8_raises_encoding_error(tmp_path):
    f = write_taps(tmp_path / "t.csv", BASE, encoding="gbk")
    with pytest.raises(InputError) as e:
        stage([f])
    assert e.value.field == "encoding"


def test_bad_options_raise(tmp_path):
    f = write_taps(tmp_path / "t.csv", BASE)
    with pytest.raises(InputError) as e:
        stage([f], tap_format="octopus")
    assert e.value.field == "tap_format"
    with pytest.raises(InputError) as e:
        stage([f], encoding="latin-1")
    assert e.value.field == "encoding"
    with pytest.raises(InputError):
        stage([])


def test_engine_left_clean(tmp_path):
    with DuckDBEngine() as engine:
        stage_trips(engine, [write_taps(tmp_path / "t.csv", BASE)], table="my trips")
        tables = {r[0] for r in engine.rows("SELECT table_name FROM duckdb_tables()")}
    assert tables == {"my trips"}


# ---------------------------------------------------------------------- write_trips
def test_write_trips_parquet_atomic(tmp_path):
    f = write_taps(tmp_path / "t.csv", BASE)
    out = tmp_path / "out" / "trips.parquet"
    s = write_trips([f], out)
    assert counts(s) == BASE_COUNTS
    tbl = pq.read_table(out)
    assert tbl.column_names == list(TRIP_COLUMNS)
    assert tbl.num_rows == 3
    assert sorted(p.name for p in out.parent.iterdir()) == ["trips.parquet"]
    # a failing import leaves the previous output untouched and no temporary files
    with pytest.raises(InputError):
        write_trips([tmp_path / "missing.csv"], out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["trips.parquet"]
    assert pq.read_table(out).num_rows == 3


# ---------------------------------------------------------------------- the real files
def reference_pairing(files, max_stay_minutes=180):
    """An independent, straightforward pandas + Python implementation of the documented rules."""
    frames = []
    for i, f in enumerate(files):
        df = pd.read_csv(f, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        df.columns = [c.strip().lower() for c in df.columns]
        for c in COLS:
            df[c] = df[c].str.strip().replace({"": None, "-": None}) if c in df else None
        df = df[COLS].copy()
        df["fi"], df["row"] = i, range(1, len(df) + 1)
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    out = dict(ZERO, taps=len(df))
    dup = df.duplicated(subset=COLS, keep="first")
    out["exact_duplicates"] = int(dup.sum())
    df = df[~dup]
    kinds = {ENTRY: "entry", EXIT: "exit", BUS: "bus"}
    df = df.assign(kind=df["deal_type"].map(kinds), ts=pd.to_datetime(df["deal_date"], errors="coerce"))
    out["unknown_type"] = int(df["kind"].isna().sum())
    df = df[df["kind"].notna()]
    bad = df["card_no"].isna() | df["ts"].isna()
    out["invalid"] = int(bad.sum())
    df = df[~bad]
    out["bus_taps"] = out["trips_bus"] = int((df["kind"] == "bus").sum())
    metro = df[df["kind"] != "bus"].sort_values(["card_no", "ts", "fi", "row"])
    out["metro_entries"] = int((metro["kind"] == "entry").sum())
    out["metro_exits"] = int((metro["kind"] == "exit").sum())
    limit = pd.Timedelta(minutes=max_stay_minutes)
    for _, g in metro.groupby("card_no", sort=False):
        taps = list(zip(g["kind"], g["ts"], zip(g["fi"], g["row"])))
        used = [False] * len(taps)
        for j in range(len(taps) - 1):  # pairs first: entry + next exit
            if taps[j][0] == "entry" and taps[j + 1][0] == "exit":
                used[j] = used[j + 1] = True
                key = "trips_metro" if taps[j + 1][1] - taps[j][1] <= limit else "overlong"
                out[key] += 1 if key == "trips_metro" else 2
        for j in range(len(taps) - 1):  # reversed pairs among the leftovers
            (k1, t1, p1), (k2, t2, p2) = taps[j], taps[j + 1]
            if not used[j] and not used[j + 1] and k1 == "exit" and k2 == "entry" and p2 < p1 and t2 - t1 <= limit:
                used[j] = used[j + 1] = True
                out["exit_before_entry"] += 2
        for j, (k, _, _) in enumerate(taps):
            if not used[j]:
                out["unpaired_entries" if k == "entry" else "unpaired_exits"] += 1
    return out


PAGE14_COUNTS = expect(
    taps=37000, bus_taps=18118, metro_entries=9620, metro_exits=9261, trips_metro=486, trips_bus=18118,
    unpaired_entries=9127, unpaired_exits=8768, exit_before_entry=14, overlong=0, exact_duplicates=1,
)
F10000_COUNTS = expect(
    taps=10000, bus_taps=205, metro_entries=9360, metro_exits=435, trips_metro=368, trips_bus=205,
    unpaired_entries=8988, unpaired_exits=63, exit_before_entry=8, overlong=0,
)
BOTH_COUNTS = expect(
    taps=47000, bus_taps=18323, metro_entries=18980, metro_exits=9696, trips_metro=854, trips_bus=18323,
    unpaired_entries=18095, unpaired_exits=8811, exit_before_entry=22, overlong=40, exact_duplicates=1,
)

real = pytest.mark.skipif(not PAGE14.exists() or not F10000.exists(), reason="shared field data not available")


@real
@pytest.mark.parametrize(
    "files, expected",
    [([PAGE14], PAGE14_COUNTS), ([F10000], F10000_COUNTS), ([F10000, PAGE14], BOTH_COUNTS)],
    ids=["page14", "10000", "both"],
)
def test_real_files_exact_counts(files, expected):
    s, trips = stage(files)
    assert counts(s) == expected
    assert reference_pairing(files) == expected  # independent cross-check
    assert_identity(s)
    assert len(trips) == s.trips_metro + s.trips_bus
    assert len({t["trip_id"] for t in trips}) == len(trips)
    metro = [t for t in trips if t["mode"] == "metro"]
    assert all(t["end_time"] >= t["start_time"] for t in metro)
    assert all(t["fare_fen"] is not None and t["fare_fen"] % 100 == 0 for t in metro)


@real
def test_page14_exact_duplicate_bus_row():
    s, trips = stage([PAGE14])
    assert s.exact_duplicates == 1
    (dup,) = s.examples["exact_duplicates"]
    assert dup["file"] == PAGE14.name and dup["deal_type"] == BUS
    raw = pd.read_csv(PAGE14, dtype=str, keep_default_na=False)
    first = raw.index[raw.duplicated(keep=False)].tolist()
    assert len(first) == 2 and first[1] + 1 == dup["row"]  # the repeat is reported, 1-based
    kept = [t for t in trips if t["source_row"] == first[0] + 1]
    assert len(kept) == 1 and kept[0]["mode"] == "bus"


@real
def test_real_exit_before_entry_examples_point_at_rows():
    s, _ = stage([F10000])
    raw = pd.read_csv(F10000, dtype=str, keep_default_na=False)
    for ex in s.examples["exit_before_entry"]:
        row = raw.iloc[ex["row"] - 1]
        assert (row["card_no"], row["deal_date"], row["deal_type"]) == (ex["card_no"], ex["deal_date"], ex["deal_type"])


# ---------------------------------------------------------------------- the one time parser
def test_tap_times_read_like_trip_times(tmp_path):
    """A tap time is read by the trip path's time parser: naive is local time in the session's
    zone, an explicit offset is honoured (08:00 UTC is 16:00 in Shanghai; the tap reader used to
    drop the offset and read 08:00); the slash form of the open-data extracts stays accepted."""
    rows = [tap("C1", "2024-03-01 08:00:00+00:00", ENTRY, "A"), tap("C1", "2024-03-01T08:30:00+00:00", EXIT, "B"),
            tap("C2", "2024/03/01 09:00:00", BUS, "M1"), tap("C3", "2024-03-01 10:00:00", BUS, "M2")]
    f = write_taps(tmp_path / "t.csv", rows)
    _, trips = stage([f])
    got = {(t["user_id"], str(t["start_time"]), str(t["end_time"])) for t in trips}
    assert got == {("C1", "2024-03-01 16:00:00", "2024-03-01 16:30:00"), ("C2", "2024-03-01 09:00:00", "None"),
                   ("C3", "2024-03-01 10:00:00", "None")}
    assert {t["trip_id"] for t in trips if t["user_id"] == "C1"} == {"C1-20240301160000-1"}
    _, utc = stage([f], timezone="UTC")  # naive times stay as written in any zone
    assert {(t["user_id"], str(t["start_time"])) for t in utc} == {
        ("C1", "2024-03-01 08:00:00"), ("C2", "2024-03-01 09:00:00"), ("C3", "2024-03-01 10:00:00")}


def test_tap_times_agree_with_the_trip_path(tmp_path):
    """The same time text gives the same local timestamp through both adapters."""
    from verifier.data.sources import open_source
    from verifier.methodologies import Column

    texts = ["2024-03-01 08:00:00+00:00", "2024-03-01 08:00:00", "2024-03-01T23:30:00-05:00", "2024-03-01 08:00"]
    path = tmp_path / "trips.csv"
    path.write_text("trip_id,start_time\n" + "".join(f"T{i},{t}\n" for i, t in enumerate(texts)), encoding="utf-8")
    with DuckDBEngine() as engine:
        engine.stage(open_source([path], "utf-8", engine), {"trip_id": "trip_id", "start_time": "start_time"},
                     "Asia/Shanghai", canonical={"trip_id": Column("text"), "start_time": Column("time")})
        trip_times = [str(t) for (t,) in engine.rows("SELECT start_time FROM staged ORDER BY row_no")]
    _, trips = stage([write_taps(tmp_path / "t.csv", [tap(f"C{i}", t, BUS, "M1") for i, t in enumerate(texts)])])
    tap_times = [str(t["start_time"]) for t in sorted(trips, key=lambda t: t["source_row"])]
    assert trip_times == tap_times == ["2024-03-01 16:00:00", "2024-03-01 08:00:00", "2024-03-02 12:30:00",
                                       "2024-03-01 08:00:00"]
