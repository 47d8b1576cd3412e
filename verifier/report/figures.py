"""The report's figures: static PNGs drawn with matplotlib (Agg), byte-for-byte reproducible.

``FigureData`` (verifier.report.figure_data) is what the caller hands to ``write_report``;
``render_figures`` turns it into ``{name: png bytes}`` for the names the checklist points ask
for (map, distance, speed, daily).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from verifier.constants import SCHEME_START  # noqa: E402
from verifier.report.figure_data import FigureData  # noqa: E402, F401: drawn from here
from verifier.report.fonts import matplotlib_families  # noqa: E402


_L = {
    "lon": ("经度（°E）", "Longitude (°E)"),
    "lat": ("纬度（°N）", "Latitude (°N)"),
    "boundary": ("项目边界", "Project boundary"),
    "inside": ("起终点均在边界内", "Start and end inside"),
    "outside_start": ("起点在边界外", "Start outside"),
    "outside_end": ("终点在边界外", "End outside"),
    "districts": ("行政区界", "District outlines"),
    "overview": ("全部点位", "All points"),
    "records": ("记录数", "Records"),
    "distance": ("骑行里程（km）", "Ride distance (km)"),
    "speed": ("平均速度（km/h）", "Average speed (km/h)"),
    "max_speed": ("速度上限 {v:g} km/h", "Speed limit {v:g} km/h"),
    "min_distance": ("里程下限 {v:g} km", "Minimum distance {v:g} km"),
    "date": ("日期", "Date"),
    "period_edge": ("核算期起止", "Period start and end"),
    "no_records": ("数据没有记录", "The data holds no records"),
}


def _t(key: str, lang: str, **kw) -> str:
    """A label in the report's language: the map's from `_L`, the charts' from the report strings
    (templates/i18n/charts.yaml)."""
    if key in _L:
        zh, en = _L[key]
        return (en if lang == "en" else zh).format(**kw)
    from verifier.report.model import translator  # the report's string table, loaded once

    return translator(lang)(key).format(**kw)


_RC = {  # font.family: set per call, once the shipped font is registered
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "axes.unicode_minus": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "verifier",
    "svg.fonttype": "path",
    "path.simplify": True,
}
_DPI = 200
_W = 16.5 / 2.54  # figure width in inches: the A4 text column


def render_figures(data: FigureData, names: list[str], lang: str = "zh",
                   period: tuple[str, str] | None = None) -> dict[str, bytes]:
    """PNG bytes per requested figure name; a figure without data is left out."""
    return rasterised(figure_objects(data, names, lang, period))


def figure_objects(data: FigureData, names: list[str], lang: str = "zh",
                   period: tuple[str, str] | None = None) -> dict:
    """The matplotlib Figure per requested figure name that has something to draw, not yet
    rasterised (`rasterised`): which figures the report shows is known before their pixels."""
    out = {}
    with _style():
        for name in names:
            fig = draw(name, data, lang, period)
            if fig is not None:
                out[name] = fig
    return out


def rasterised(figures: dict) -> dict[str, bytes]:
    """PNG bytes per Figure (each closed once drawn), in the report's style as they were made."""
    with _style():
        return {name: _png(fig) for name, fig in figures.items()}


def figure_span(period: Mapping | None) -> tuple[str, str] | None:
    """The period's edges on the figures: only dates (a report may claim "2024-13-45", a finding)."""
    from verifier.submission import parse_date

    period = period or {}
    return (period["start"], period["end"]) if parse_date(period.get("start")) and parse_date(period.get("end")) else None


def draw_figures(figures: FigureData | None, methodology: str, period: Mapping | None,
                 lang: str = "zh") -> dict[str, bytes]:
    """PNG bytes per figure the methodology's checklist asks for, from plain data alone (no
    findings needed). Not drawn in a thread beside the engine: matplotlib holds the GIL and, by
    the time the figures' data exists, the engine has nothing left to overlap with (measured)."""
    return rasterised(report_figures(figures, methodology, period, lang))


def report_figures(figures: FigureData | None, methodology: str, period: Mapping | None,
                   lang: str = "zh") -> dict:
    """draw_figures' Figures, not yet rasterised (figure_objects)."""
    from verifier.report.checklist import load_checklist

    if figures is None:
        return {}
    names = [f for p in load_checklist(methodology)["points"] for f in p.get("figures", [])]
    return figure_objects(figures, names, lang, figure_span(period))


def _style():
    return matplotlib.rc_context({**_RC, "font.family": list(matplotlib_families())})


def draw(name: str, data: FigureData, lang: str = "zh", period: tuple[str, str] | None = None):
    """The matplotlib Figure of one figure name (None: no data, or a name no drawer knows); the
    caller closes it (render_figures does, once saved)."""
    drawer = {"map": _map, "distance": _distance, "speed": _speed, "daily": _daily}.get(name)
    if drawer is None:
        return None
    with _style():
        return drawer(data, lang, period)


def figure_notes(data: FigureData, lang: str = "zh", period: tuple[str, str] | None = None) -> dict[str, str]:
    """What a figure's caption adds, per figure name: records the daily chart could not place
    (undated, or dated far outside the period and the bulk of the data), and histograms drawn
    over another measure than their usual one (the straight line, without mileage)."""
    notes = {name: _t(f"chart_note_{measure}_{name}", lang) for name, measure in data.measures.items()}
    frame = _day_frame(data)
    if frame is not None and not frame.empty:
        view = _day_view(frame, period)
        parts = []
        if view.hidden:
            parts.append(_hidden_text(view, lang))
        if view.undated:
            parts.append(_t("chart_note_undated", lang, n=f"{view.undated:,}"))
        if parts:
            notes["daily"] = _t("chart_note_sep", lang).join(parts)
    return notes


def _png(fig) -> bytes:
    """The figure drawn by Agg at _DPI as an opaque RGB PNG: the same pixels savefig gives (the
    figure is white, its alpha 255 everywhere), but WeasyPrint embeds an RGB image with one
    re-encoding where an RGBA one costs a decode, a split and two (a soft mask per figure)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    fig.set_dpi(_DPI)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3]
    plt.close(fig)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="png", dpi=(_DPI, _DPI))
    return buf.getvalue()


NEAR = 0.75  # degrees around the boundary's box drawn at full scale (Hong Kong, Dongguan, Huizhou)


def _map(data: FigureData, lang: str, period) -> Any:
    """The boundary with its district outlines and every drawn start and end point: the frame
    holds the boundary and every point near it (within NEAR degrees of its box); points farther
    away (another city, a swapped or zero coordinate) appear in an overview panel beside it,
    which frames them all. The legend sits below the panels and names only what is drawn."""
    kinds = _point_kinds(data.points, lang)
    if data.boundary is None and not kinds:  # nothing to draw a frame around
        return None
    xs = pd.concat([k[0] for k in kinds]) if kinds else pd.Series(dtype=float)
    ys = pd.concat([k[1] for k in kinds]) if kinds else pd.Series(dtype=float)
    home = data.boundary.bounds if data.boundary is not None else (xs.min(), ys.min(), xs.max(), ys.max())
    near = (xs >= home[0] - NEAR) & (xs <= home[2] + NEAR) & (ys >= home[1] - NEAR) & (ys <= home[3] + NEAR)
    view = _frame(home, xs[near], ys[near], 0.04)
    far = bool((~near).any())
    aspect = 1 / math.cos(math.radians(max(-80.0, min(80.0, (view[2] + view[3]) / 2))))
    ratio = (view[3] - view[2]) * aspect / (view[1] - view[0])
    width = _W * (0.7 if far else 1.0)  # the main panel's share of the page width
    fig = plt.figure(figsize=(_W, min(max(width * ratio + 0.9, _W * 0.5), _W * 0.85)), layout="constrained")
    if far:
        ax, ov = fig.subplots(1, 2, width_ratios=[0.7, 0.3])
    else:
        ax, ov = fig.subplots(), None
    handles = _draw_areas(ax, data, lang, labels=True)
    for x, y, style, label in kinds:
        handles.append(ax.scatter(x, y, label=label, **style))
    ax.set_xlim(view[0], view[1])
    ax.set_ylim(view[2], view[3])
    ax.set_aspect(aspect)
    ax.set_xlabel(_t("lon", lang))
    ax.set_ylabel(_t("lat", lang))
    ax.grid(True, linewidth=0.3, color="#cccccc")
    if ov is not None:
        _overview(ov, data, kinds, _frame(home, xs, ys, 0.08), view, lang)
    legend = fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3), fontsize=7,
                        frameon=False)
    for h in legend.legend_handles:  # markers legible in the key, however small on the map
        if hasattr(h, "set_sizes"):
            h.set_sizes([16])
            h.set_alpha(1)
    return fig


def _point_kinds(pts: pd.DataFrame | None, lang: str) -> list[tuple[pd.Series, pd.Series, dict, str]]:
    """(lon, lat, scatter style, legend label) per kind of marker that has points: ends of rides
    inside (counted as rides), starts outside, ends outside (counted as points). A point without
    both coordinates cannot be drawn, nor counted here."""
    if pts is None or pts.empty:
        return []
    s_in = pts["start_inside"].fillna(False).astype(bool)
    e_in = pts["end_inside"].fillna(False).astype(bool)
    ok = s_in & e_in
    inside = dict(s=1.2, c="#5b8db8", alpha=0.5, linewidths=0, zorder=3, rasterized=True)
    out = []
    for lon, lat, style, key, n in (
            (pd.concat([pts.loc[ok, "start_lon"], pts.loc[ok, "end_lon"]]),
             pd.concat([pts.loc[ok, "start_lat"], pts.loc[ok, "end_lat"]]), inside, "inside", ok.sum()),
            (pts.loc[~s_in, "start_lon"], pts.loc[~s_in, "start_lat"],
             dict(s=14, marker="x", c="#c0392b", linewidths=0.9, zorder=4), "outside_start", None),
            (pts.loc[~e_in, "end_lon"], pts.loc[~e_in, "end_lat"],
             dict(s=14, marker="+", c="#e67e22", linewidths=0.9, zorder=4), "outside_end", None)):
        drawn = np.isfinite(lon.to_numpy(float)) & np.isfinite(lat.to_numpy(float))
        if drawn.any():
            out.append((lon[drawn].astype(float), lat[drawn].astype(float), style,
                        _t(key, lang) + f" ({int(drawn.sum() if n is None else n):,})"))
    return out


def _frame(home, xs: pd.Series, ys: pd.Series, pad: float) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1): the box ``home`` (x0, y0, x1, y1) grown to hold every point, padded."""
    x0, y0, x1, y1 = home
    if len(xs):
        x0, x1 = min(x0, float(xs.min())), max(x1, float(xs.max()))
        y0, y1 = min(y0, float(ys.min())), max(y1, float(ys.max()))
    mx, my = max((x1 - x0) * pad, 0.01), max((y1 - y0) * pad, 0.01)
    return x0 - mx, x1 + mx, y0 - my, y1 + my


def _draw_areas(ax, data: FigureData, lang: str, labels: bool) -> list:
    """The boundary (filled, its outline) and the district outlines (thin, named when
    ``labels``); returns their legend handles."""
    from matplotlib.lines import Line2D

    handles = []
    if data.boundary is None:
        return handles
    for poly in getattr(data.boundary, "geoms", [data.boundary]):
        xs, ys = poly.exterior.xy
        ax.fill(xs, ys, facecolor="#eef2f6", edgecolor="none", zorder=1)
        for ring in [poly.exterior, *poly.interiors]:
            ax.plot(*ring.xy, color="#4a5a6a", linewidth=0.7, zorder=2)
        for ring in poly.interiors:
            ax.fill(*ring.xy, facecolor="white", edgecolor="none", zorder=1)
    handles.append(Line2D([], [], color="#4a5a6a", linewidth=0.7, label=_t("boundary", lang)))
    if data.districts:
        for geom in data.districts:
            for poly in getattr(geom, "geoms", [geom]):
                for ring in [poly.exterior, *poly.interiors]:
                    ax.plot(*ring.xy, color="#8a9aaa", linewidth=0.3, zorder=2)
        handles.append(Line2D([], [], color="#8a9aaa", linewidth=0.3, label=_t("districts", lang)))
        if labels:
            for name, geom in zip(data.district_names, data.districts):
                p = geom.representative_point()
                ax.text(p.x, p.y, name, fontsize=6, color="#55606b", ha="center", va="center",
                        zorder=5, parse_math=False, clip_on=True)
    return handles


def _overview(ax, data: FigureData, kinds, frame, view, lang: str) -> None:
    """Every point at a scale that holds them all, with the main panel's frame marked."""
    from matplotlib.patches import Rectangle

    _draw_areas(ax, data, lang, labels=False)
    for x, y, style, _ in kinds:
        ax.scatter(x, y, **style)
    ax.add_patch(Rectangle((view[0], view[2]), view[1] - view[0], view[3] - view[2], fill=False,
                           edgecolor="#333333", linewidth=0.6, linestyle="--", zorder=5))
    ax.set_xlim(frame[0], frame[1])
    ax.set_ylim(frame[2], frame[3])
    ax.set_title(_t("overview", lang), fontsize=8)
    ax.tick_params(labelsize=6)
    ax.grid(True, linewidth=0.3, color="#cccccc")


def _no_records(xlabel: str, lang: str):
    """An empty chart that says so: the reader sees the figure was drawn, from no records."""
    fig, ax = plt.subplots(figsize=(_W, _W * 0.3), layout="constrained")
    ax.text(0.5, 0.5, _t("no_records", lang), transform=ax.transAxes, ha="center", va="center",
            fontsize=9, color="#555555")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(_t("records", lang))
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def _hist(frame: pd.DataFrame | None, xlabel: str, lang: str, marks: list[tuple[float, str]],
          above: str | None = None):
    """Bars of a binned distribution with its thresholds (`marks`) drawn; `above`: the report
    string saying how many records lie in the bins at or beyond the first threshold (their bars
    red: a few records in a long tail are otherwise bars nobody sees)."""
    if frame is None:  # no value to draw an axis from: left out
        return None
    if frame.empty:  # no records at all
        return _no_records(xlabel, lang)
    fig, ax = plt.subplots(figsize=(_W, _W * 0.3), layout="constrained")
    width = frame["bin_end"] - frame["bin_start"]
    tail = frame["bin_start"] >= marks[0][0] if above and marks else frame["bin_start"] > math.inf
    ax.bar(frame["bin_start"], frame["records"], width=width, align="edge",
           color=tail.map({True: "#c0392b", False: "#7f9fbf"}), edgecolor="white", linewidth=0.3)
    if tail.any():
        n, total = int(frame.loc[tail, "records"].sum()), int(frame["records"].sum())
        ax.text(0.99, 0.55, _t(above, lang, edge=f"{frame.loc[tail, 'bin_start'].min():g}", n=f"{n:,}",
                               share=f"{n / total:.2%}"),
                transform=ax.transAxes, ha="right", va="top", fontsize=7, color="#c0392b")
    for value, label in marks:
        ax.axvline(value, color="#c0392b", linestyle="--", linewidth=1.0, label=label)
        right = float(frame["bin_end"].max())
        if value < right:
            ax.axvspan(value, right, color="#c0392b", alpha=0.07, linewidth=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(_t("records", lang))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    # keep the thresholds in view, so the reader sees how far the data stays from them
    right = max([float(frame["bin_end"].max())] + [v * 1.08 for v, _ in marks])
    ax.set_xlim(float(frame["bin_start"].min()), right)
    if marks:
        ax.legend(loc="upper right", fontsize=7)
    ax.grid(True, axis="y", linewidth=0.3, color="#cccccc")
    return fig


def _distance(data: FigureData, lang: str, period) -> Any:
    marks = []
    if data.thresholds.get("min_distance_km") is not None:
        v = float(data.thresholds["min_distance_km"])
        marks.append((v, _t("min_distance", lang, v=v)))
    return _hist(data.distance_hist, _axis("distance", data, lang), lang, marks)


def _speed(data: FigureData, lang: str, period) -> Any:
    marks = []
    if data.thresholds.get("max_speed_kmh") is not None:
        v = float(data.thresholds["max_speed_kmh"])
        marks.append((v, _t("max_speed", lang, v=v)))
    return _hist(data.speed_hist, _axis("speed", data, lang), lang, marks, above="chart_above_speed")


def _axis(name: str, data: FigureData, lang: str) -> str:
    """A histogram's axis label: its usual quantity, or the measure the check drew it over."""
    measure = data.measures.get(name)
    return _t(f"chart_axis_{measure}_{name}", lang) if measure else _t(name, lang)




# -- records per day ---------------------------------------------------------------------------
_COLOURS = {"eligible": "#5b8db8", "bus": "#2e8b57", "metro": "#5b8db8", "other": "#a0a0a0",
            "excluded": "#c0392b"}
_SERIES = ("eligible", "bus", "metro", "other")  # stacking order, bottom up; excluded on top
_MIN_DAYS = 7  # the narrowest date axis: a single day of data still reads as a day of a week
_NEAR_DAYS = 31  # dates at most this far (or one period length) from the period are drawn
_BULK = (0.05, 0.95)  # the bulk of the data: the record-weighted date quantiles it lies between
_HALF_DAY = pd.Timedelta(hours=12)
# The widest axis: what matplotlib can draw (years 1-9999), less a week and a last bar's width.
_DATES = (pd.Timestamp("0001-01-08"), pd.Timestamp("9980-12-31"))
_MAX_BARS = 732  # two years of days; a longer axis (a period claimed over decades) sums days per bar


@dataclass
class _DayView:
    days: pd.DataFrame  # a row per bar from the axis' first day (gaps at zero): series..., excluded
    step: int = 1  # days per bar
    last: pd.Timestamp | None = None  # the axis' last day
    hidden: int = 0  # dated records outside the axis (not drawn, counted in the caption)
    hidden_first: pd.Timestamp | None = None
    hidden_last: pd.Timestamp | None = None
    undated: int = 0  # records without a date


def _day_frame(data: FigureData) -> pd.DataFrame | None:
    """date (NaT: undated), series ("eligible", or the mode: bus, metro, other), eligible and
    excluded records: the daily counts, split by mode where the methodology gives them."""
    split = data.per_mode_daily is not None
    frame = data.per_mode_daily if split else data.daily
    if frame is None:
        return None
    series = frame["mode"].where(frame["mode"].isin(("bus", "metro")), "other") if split else "eligible"
    excluded = frame["excluded"].fillna(0).astype("int64")
    return pd.DataFrame({"date": pd.to_datetime(frame["date"]), "series": series,
                         "eligible": frame["records"].astype("int64") - excluded, "excluded": excluded})


def _day_view(frame: pd.DataFrame, period) -> _DayView:
    """The calendar the chart draws (every day from the first to the last of the axis, days
    without records at zero) and the records it leaves out."""
    counts = ["eligible", "excluded"]
    dated = frame[frame["date"].notna()]
    undated = int(frame.loc[frame["date"].isna(), counts].to_numpy().sum())
    per_day = dated.groupby("date")[counts].sum().sum(axis=1)
    span = _day_range(per_day, period)
    if span is None:
        return _DayView(pd.DataFrame(), undated=undated)
    days = pd.date_range(*span, freq="D")
    shown = dated[dated["date"].between(*span)]
    out = dated[~dated["date"].between(*span)]
    wide = shown.pivot_table(index="date", columns="series", values="eligible", aggfunc="sum")
    table = wide.reindex(index=days, columns=[s for s in _SERIES if s in set(dated["series"])])
    table["excluded"] = shown.groupby("date")["excluded"].sum().reindex(days)
    table = table.fillna(0).astype("int64")
    step = math.ceil(len(days) / _MAX_BARS)
    if step > 1:  # drawing each of 400,000 days would take minutes and show nothing
        table = table.groupby(pd.Series(range(len(days)), index=days) // step).sum()
        table.index = days[::step]
    return _DayView(table, step=step, last=days[-1], hidden=int(out[counts].to_numpy().sum()),
                    hidden_first=out["date"].min() if len(out) else None,
                    hidden_last=out["date"].max() if len(out) else None, undated=undated)


def _day_range(per_day: pd.Series, period) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last day of the date axis: the period and the bulk of the data (the dates
    between its 5th and 95th record percentile), widened to every date with records at most one
    such span (at least _NEAR_DAYS) beyond them, at least _MIN_DAYS wide. A date farther out (a
    stray 1970-01-01) would squeeze the chart into a line: it is not drawn, and counted in the
    caption."""
    ends = [pd.Timestamp(period[0]), pd.Timestamp(period[1])] if period else []
    if len(per_day):
        share = per_day.sort_index().cumsum() / per_day.sum()
        ends += [share.index[share >= q][0] for q in _BULK]
    if not ends:
        return None
    lo, hi = min(ends), max(ends)
    reach = max(hi - lo, pd.Timedelta(days=_NEAR_DAYS))
    near = per_day.index[(per_day.index >= lo - reach) & (per_day.index <= hi + reach)]
    if len(near):
        lo, hi = min(lo, near.min()), max(hi, near.max())
    short = _MIN_DAYS - 1 - (hi - lo).days
    if short > 0:
        lo, hi = lo - pd.Timedelta(days=short // 2), hi + pd.Timedelta(days=short - short // 2)
    return max(lo, _DATES[0]), min(hi, _DATES[1])


def _daily(data: FigureData, lang: str, period) -> Any:
    """Records per day as bars, eligible (per mode where split) below the excluded records,
    every day of the axis drawn (gaps at zero), the period and the crediting start marked."""
    frame = _day_frame(data)
    if frame is None:
        return None
    view = _day_view(frame, period)
    if view.days.empty or not view.days.to_numpy().any():  # no dated record at all
        return _no_records(_t("date", lang), lang)
    days, step = view.days, view.step
    fig, ax = plt.subplots(figsize=(_W, _W * 0.36), layout="constrained")
    # One step patch per series, stacked: a bar patch per day took seconds per chart.
    ends = [*days.index.to_pydatetime(), (view.last + pd.Timedelta(days=1)).to_pydatetime()]
    edges = mdates.date2num(ends) - 0.5  # each bar centred on its date, where the date ticks fall
    ax.xaxis_date()
    bottom = pd.Series(0, index=days.index + pd.Timedelta(days=(step - 1) / 2))  # at each bar's centre
    for col in days.columns:
        label = _t(f"chart_{col}", lang) + f" ({int(days[col].sum()):,})"
        top = bottom.to_numpy() + days[col].to_numpy()
        ax.stairs(top, edges, baseline=bottom.to_numpy(), fill=True, color=_COLOURS[col], linewidth=0, label=label)
        bottom = pd.Series(top, index=bottom.index)
    if not _label_few_days(ax, bottom):
        _point_at_excluded(ax, days["excluded"].set_axis(bottom.index), bottom)
    _mark_dates(ax, days.index[0], view.last, period, lang)
    if view.hidden:
        _hidden_note(ax, view, lang)
    ax.set_xlim(days.index[0] - _HALF_DAY, view.last + _HALF_DAY)
    _date_axis(ax)
    ax.set_xlabel(_t("date", lang))
    ax.set_ylabel(_t("records", lang) if step == 1 else _t("chart_records_per", lang, n=f"{step:,}"))
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True, steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_ylim(0, max(1, int(bottom.max())) * 1.15)
    ax.grid(True, axis="y", linewidth=0.3, color="#cccccc")
    _legend_above(fig, ax)
    return fig


def _legend_above(fig, ax) -> None:
    """The legend in a row above the chart, off the data: the bars first, then the marked dates."""
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(handles)), key=lambda i: isinstance(handles[i], matplotlib.lines.Line2D))
    fig.legend([handles[i] for i in order], [labels[i] for i in order], loc="outside upper center",
               ncols=4, fontsize=7, frameon=False)


def _label_few_days(ax, totals: pd.Series, few: int = 3) -> bool:
    """With records on only a few days, each such bar carries its count (a thin bar on a long
    axis is otherwise easy to miss); True when it labelled them."""
    busy = totals[totals > 0]
    for day, n in busy.items() if len(busy) <= few else ():
        ax.annotate(f"{int(n):,}", (day, n), xytext=(0, 2), textcoords="offset points",
                    ha="center", va="bottom", fontsize=7)
    return len(busy) <= few


def _point_at_excluded(ax, excluded: pd.Series, totals: pd.Series, few: int = 31) -> None:
    """On a long axis a day's bar is a hairline: a few days with excluded records each get a
    marker above their bar, so none goes unseen."""
    hit = excluded[excluded > 0]
    if len(excluded) > 120 and 0 < len(hit) <= few:
        lift = float(totals.max()) * 0.05  # just above the bar
        ax.scatter(hit.index.to_pydatetime(), totals[hit.index] + lift, s=14, marker="v",
                   color=_COLOURS["excluded"], zorder=3, clip_on=False)


def _mark_dates(ax, first: pd.Timestamp, last: pd.Timestamp, period, lang: str) -> None:
    """The period's start and end and, inside the axis, the crediting start (SCHEME_START), as
    lines on the day boundaries."""
    if period:
        start, end = pd.Timestamp(period[0]) - _HALF_DAY, pd.Timestamp(period[1]) + _HALF_DAY
        ax.axvline(start, color="#333333", linestyle=":", linewidth=1.0, label=_t("period_edge", lang))
        ax.axvline(end, color="#333333", linestyle=":", linewidth=1.0)
    scheme = pd.Timestamp(SCHEME_START)
    if first <= scheme <= last:
        ax.axvline(scheme - _HALF_DAY, color="#8e44ad", linestyle="--", linewidth=1.0,
                   label=_t("chart_scheme_start", lang, date=SCHEME_START.isoformat()))


def _hidden_note(ax, view: _DayView, lang: str) -> None:
    """Say above the chart, on the side they lie, how many records fall outside the axis."""
    left = view.hidden_first < view.days.index[0]
    text = _hidden_text(view, lang)
    ax.set_title(("← " + text) if left else (text + " →"), loc="left" if left else "right",
                 fontsize=7, color=_COLOURS["excluded"])


def _hidden_text(view: _DayView, lang: str) -> str:
    first, last = view.hidden_first.date().isoformat(), view.hidden_last.date().isoformat()
    dates = first if first == last else _t("chart_date_span", lang, first=first, last=last)
    return _t("chart_note_not_drawn", lang, n=f"{view.hidden:,}", dates=dates)


def _date_axis(ax) -> None:
    """Dates as numbers (no month names: the same in both languages), as few as read well."""
    locator = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(
        locator, formats=["%Y", "%Y-%m", "%m-%d", "%H:%M", "%H:%M", "%S"],
        zero_formats=["", "%Y-%m", "%Y-%m-%d", "%m-%d", "%H:%M", "%H:%M"],
        offset_formats=[""] * 6))  # the first tick of a year already shows it
