"""The report's charts carry information: records per day as bars over a filled calendar (gaps at
zero, excluded records stacked on top, the period and the crediting start marked, stray dates
counted, not drawn), histograms over the straight line when the data has no mileage, and
report.html showing its figures as data: URIs."""

from __future__ import annotations

import base64
import re

import pandas as pd
import pytest
import yaml
from matplotlib.patches import StepPatch

from conftest import OPEN_DATA_ORDERS, REPO, write_open_data_package
from verifier import pipeline
from verifier.constants import SCHEME_START
from verifier.report.figures import FigureData, draw, figure_notes, render_figures
from verifier.run import verify

ORDERS = OPEN_DATA_ORDERS


def daily(rows: list[tuple[str | None, int, int]]) -> FigureData:
    """FigureData with daily counts: (date or None, records, excluded) per row."""
    frame = pd.DataFrame(rows, columns=["date", "records", "excluded"])
    frame["date"] = [None if d is None else pd.Timestamp(d).date() for d in frame["date"]]
    return FigureData("shenzhen-bike-sharing", daily=frame)


def bars(fig) -> dict[str, list[int]]:
    """The drawn height of each series (the legend label before its count), day by day: the
    stacked step patches, each from its baseline."""
    return {p.get_label().split(" (")[0]: [int(v) for v in p.get_data().values - p.get_data().baseline]
            for p in fig.axes[0].patches if isinstance(p, StepPatch)}


def baselines(fig, series: str) -> list[int]:
    patch = next(p for p in fig.axes[0].patches if isinstance(p, StepPatch) and p.get_label().startswith(series))
    return [int(v) for v in patch.get_data().baseline]


def bar_days(fig) -> list[pd.Timestamp]:
    """The day each bar stands for (bars are centred on their date)."""
    import matplotlib.dates as mdates

    edges = next(p for p in fig.axes[0].patches if isinstance(p, StepPatch)).get_data().edges
    return [pd.Timestamp(mdates.num2date(e + 0.5).date()) for e in edges[:-1]]


def lines(fig) -> dict[str, pd.Timestamp]:
    """Vertical marks: legend label -> date (x) of the line."""
    import matplotlib.dates as mdates

    out = {}
    for line in fig.axes[0].get_lines():
        x = line.get_xdata()[0]
        out[line.get_label()] = pd.Timestamp(mdates.num2date(mdates.date2num(x) if not isinstance(x, float) else x)).tz_localize(None)
    return out


def test_days_without_records_are_zero_bars_and_excluded_records_stack_on_top():
    data = daily([("2024-01-01", 5, 1), ("2024-01-04", 3, 0), ("2024-01-07", 2, 2)])
    fig = draw("daily", data, "en", ("2024-01-01", "2024-01-07"))
    assert bar_days(fig) == list(pd.date_range("2024-01-01", "2024-01-07"))
    assert bars(fig) == {"Eligible records": [4, 0, 0, 3, 0, 0, 0], "Excluded records": [1, 0, 0, 0, 0, 0, 2]}
    assert baselines(fig, "Excluded") == [4, 0, 0, 3, 0, 0, 0]  # stacked on the eligible
    assert figure_notes(data, "en", ("2024-01-01", "2024-01-07")) == {}


def test_a_period_of_centuries_sums_days_per_bar():
    data = daily([("2024-03-01", 5, 0), ("2024-03-02", 2, 1)])
    fig = draw("daily", data, "en", ("1900-01-01", "2999-12-31"))
    assert 600 <= len(bar_days(fig)) <= 732
    assert sum(bars(fig)["Eligible records"]) == 6 and sum(bars(fig)["Excluded records"]) == 1
    assert fig.axes[0].get_ylabel().startswith("Records per ")


def test_one_day_of_data_is_a_labelled_bar_on_a_week():
    data = daily([("2021-08-01", 1999, 0)])
    fig = draw("daily", data, "zh", None)
    assert len(bar_days(fig)) == 7 and pd.Timestamp("2021-08-01") in bar_days(fig)
    assert sum(bars(fig)["有效记录"]) == 1999
    assert [t.get_text() for t in fig.axes[0].texts] == ["1,999"]
    assert fig.axes[0].get_ylim()[1] > 1999
    # on a year's period the single day is still drawn, and labelled
    fig = draw("daily", data, "zh", ("2021-01-01", "2021-12-31"))
    assert len(bar_days(fig)) == 365 and sum(bars(fig)["有效记录"]) == 1999


def test_the_crediting_start_is_marked_only_inside_the_axis():
    data = daily([("2022-08-10", 4, 4), ("2022-08-25", 6, 0)])
    marks = lines(draw("daily", data, "zh", ("2022-08-01", "2022-09-30")))
    label = f"碳普惠计入起始日 {SCHEME_START.isoformat()}"
    assert marks[label] == pd.Timestamp(SCHEME_START) - pd.Timedelta(hours=12)  # the day's left edge
    assert marks["核算期起止"] == pd.Timestamp("2022-07-31 12:00")
    marks = lines(draw("daily", daily([("2024-03-01", 4, 0)]), "zh", ("2024-01-01", "2024-12-31")))
    assert label not in marks


def test_a_stray_date_far_outside_is_counted_not_drawn():
    data = daily([("1970-01-01", 1, 1), ("2024-05-01", 300, 0), ("2025-02-10", 2, 2), (None, 3, 3)])
    period = ("2024-01-01", "2024-12-31")
    fig = draw("daily", data, "zh", period)
    days = bar_days(fig)
    assert days[0] == pd.Timestamp("2024-01-01") and days[-1] == pd.Timestamp("2025-02-10")  # near: drawn
    assert sum(bars(fig)["被剔除记录"]) == 2
    note = figure_notes(data, "zh", period)["daily"]
    assert note == "1 条记录日期为 1970-01-01，远在图示范围外，未绘出；3 条记录无日期，未绘出"
    assert "1970-01-01" in fig.axes[0].get_title(loc="left")


def test_transit_bars_per_mode():
    per_mode = pd.DataFrame({"date": [pd.Timestamp("2024-01-02").date()] * 3, "mode": ["bus", "metro", "metro"],
                             "records": [3, 5, 0], "excluded": [1, 2, 0]})
    per_mode.loc[2, "date"] = pd.Timestamp("2024-01-05").date()
    fig = draw("daily", FigureData("shenzhen-public-transit", per_mode_daily=per_mode), "en",
               ("2024-01-01", "2024-01-07"))
    assert bars(fig) == {"Bus, eligible": [0, 2, 0, 0, 0, 0, 0], "Metro, eligible": [0, 3, 0, 0, 0, 0, 0],
                         "Excluded records": [0, 3, 0, 0, 0, 0, 0]}


def _capture_figures(monkeypatch) -> list:
    seen = []
    real = pipeline._figure_data
    monkeypatch.setattr(pipeline, "_figure_data", lambda ctx: seen.append(real(ctx)) or seen[-1])
    return seen


def test_excluded_per_day_are_the_flagged_records_on_any_thread_count(tmp_path, monkeypatch):
    sample = REPO / "samples" / "bike-out-of-period"
    planted = yaml.safe_load((sample / "expected.yaml").read_text(encoding="utf-8"))["planted"]
    trips = pd.read_csv(sample / "trips.csv", dtype=str)
    dates = pd.to_datetime(trips["start_time"]).dt.normalize()
    expected = dates.iloc[[r - 1 for r in planted["rows"]]].value_counts().sort_index()
    seen = _capture_figures(monkeypatch)
    monkeypatch.setattr(pipeline, "_write_outputs", lambda *a, **k: None)  # the figure data is the subject
    pngs = []
    for threads in (1, 2):
        verify(sample, tmp_path / f"out{threads}", factors=sample / "factors.yaml", seed=7, threads=threads)
        got = seen[-1].daily
        excluded = got[got["excluded"] > 0].set_index("date")["excluded"]
        assert excluded.to_dict() == expected.to_dict()
        assert int(got["records"].sum()) == len(trips)
        pngs.append(render_figures(seen[-1], ["daily", "distance", "speed"], "zh", ("2024-01-01", "2024-12-31")))
    assert pngs[0] == pngs[1] and set(pngs[0]) == {"daily", "distance", "speed"}


@pytest.mark.skipif(not ORDERS.is_file(), reason="the open-data export is not beside the checkout")
def test_open_data_without_mileage_gets_straight_line_histograms_and_html_shows_every_figure(tmp_path, monkeypatch):
    pkg = write_open_data_package(tmp_path / "pkg", rides=300, period_start="2021-01-01")
    seen = _capture_figures(monkeypatch)
    verify(pkg, tmp_path / "out", seed=2021)
    data = seen[-1]
    assert data.measures == {"distance": "straight_line", "speed": "straight_line"}
    assert data.speed_hist is not None and int(data.speed_hist["records"].sum()) > 250
    assert draw("speed", data, "zh").axes[0].get_xlabel().startswith("直线速度")
    assert draw("speed", data, "en").axes[0].get_xlabel().startswith("Straight-line speed")
    # every crediting-start-violating record is excluded: all 300 on 2021-08-01, in red
    assert data.daily[["date", "records", "excluded"]].values.tolist() == [[pd.Timestamp("2021-08-01"), 300, 300]]

    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "verifier-figure:" not in html
    embedded = dict(re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="[^"]*" class="fig-(\w+)"', html))
    names = sorted(embedded.values())
    assert names == ["daily", "distance", "map", "speed"]
    for b64 in embedded:
        assert base64.b64decode(b64).startswith(b"\x89PNG")
    assert "速度按起终点直线距离计算" in html

