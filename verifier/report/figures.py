"""The report's figures: static PNGs drawn with matplotlib (Agg), byte-for-byte reproducible.

``FigureData`` is what the caller hands to ``write_report``; ``render_figures`` turns it into
``{name: png bytes}`` for the names the checklist points ask for (map, distance, speed, daily).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from verifier.report.fonts import matplotlib_families  # noqa: E402


@dataclass
class FigureData:
    methodology: str
    boundary: Any = None  # shapely (Multi)Polygon, WGS-84, or None
    points: pd.DataFrame | None = None  # start_lon, start_lat, end_lon, end_lat, start_inside, end_inside
    distance_hist: pd.DataFrame | None = None  # bin_start, bin_end, records (km)
    speed_hist: pd.DataFrame | None = None  # bin_start, bin_end, records (km/h)
    daily: pd.DataFrame | None = None  # date, records, out_of_period
    thresholds: dict = field(default_factory=dict)  # max_speed_kmh, min_duration_s
    per_mode_daily: pd.DataFrame | None = None  # date, mode, records


_L = {
    "lon": ("经度（°E）", "Longitude (°E)"),
    "lat": ("纬度（°N）", "Latitude (°N)"),
    "boundary": ("项目边界", "Project boundary"),
    "inside": ("起终点均在边界内", "Start and end inside"),
    "outside_start": ("起点在边界外", "Start outside"),
    "outside_end": ("终点在边界外", "End outside"),
    "off_view": ("另有 {n} 个边界外点位超出图幅", "{n} further outside points beyond the view"),
    "records": ("记录数", "Records"),
    "distance": ("骑行里程（km）", "Ride distance (km)"),
    "speed": ("平均速度（km/h）", "Average speed (km/h)"),
    "max_speed": ("速度上限 {v:g} km/h", "Speed limit {v:g} km/h"),
    "min_distance": ("里程下限 {v:g} km", "Minimum distance {v:g} km"),
    "date": ("日期", "Date"),
    "in_period": ("核算期内记录", "Records in the period"),
    "out_period": ("核算期外记录", "Records outside the period"),
    "period_edge": ("核算期起止", "Period start and end"),
    "bus": ("公交", "Bus"),
    "metro": ("地铁", "Metro"),
    "total": ("合计", "Total"),
    "no_records": ("数据没有记录", "The data holds no records"),
}


def _t(key: str, lang: str, **kw) -> str:
    zh, en = _L[key]
    return (en if lang == "en" else zh).format(**kw)


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
    drawers = {"map": _map, "distance": _distance, "speed": _speed, "daily": _daily}
    out: dict[str, bytes] = {}
    with matplotlib.rc_context({**_RC, "font.family": list(matplotlib_families())}):
        for name in names:
            draw = drawers.get(name)
            fig = draw(data, lang, period) if draw else None
            if fig is not None:
                out[name] = _png(fig)
    return out


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _map(data: FigureData, lang: str, period) -> Any:
    pts = data.points
    if data.boundary is None and (pts is None or pts.empty):
        return None
    fig, ax = plt.subplots(figsize=(_W, _W * 0.62), layout="constrained")
    if data.boundary is not None:
        x0, y0, x1, y1 = data.boundary.bounds
        geoms = getattr(data.boundary, "geoms", [data.boundary])
        for i, poly in enumerate(geoms):
            xs, ys = poly.exterior.xy
            ax.fill(xs, ys, facecolor="#eef2f6", edgecolor="#4a5a6a", linewidth=0.6,
                    label=_t("boundary", lang) if i == 0 else None, zorder=1)
            for ring in poly.interiors:
                xs, ys = ring.xy
                ax.fill(xs, ys, facecolor="white", edgecolor="#4a5a6a", linewidth=0.4, zorder=1)
    else:
        x0, x1 = pts[["start_lon", "end_lon"]].stack().quantile([0.01, 0.99])
        y0, y1 = pts[["start_lat", "end_lat"]].stack().quantile([0.01, 0.99])
    mx, my = (x1 - x0) * 0.06, (y1 - y0) * 0.08
    view = (x0 - mx, x1 + mx, y0 - my, y1 + my)
    if pts is not None and not pts.empty:
        s_in = pts["start_inside"].fillna(False).astype(bool)
        e_in = pts["end_inside"].fillna(False).astype(bool)
        ok = s_in & e_in
        ax.scatter(pd.concat([pts.loc[ok, "start_lon"], pts.loc[ok, "end_lon"]]),
                   pd.concat([pts.loc[ok, "start_lat"], pts.loc[ok, "end_lat"]]),
                   s=1.2, c="#5b8db8", alpha=0.5, linewidths=0, zorder=2,
                   label=_t("inside", lang) + f" ({int(ok.sum()):,})", rasterized=True)
        off = 0
        for col, mask, marker, colour, key in (
                ("start", ~s_in, "x", "#c0392b", "outside_start"),
                ("end", ~e_in, "+", "#e67e22", "outside_end")):
            lon, lat = pts.loc[mask, f"{col}_lon"], pts.loc[mask, f"{col}_lat"]
            inview = lon.between(view[0], view[1]) & lat.between(view[2], view[3])
            off += int((~inview).sum())
            ax.scatter(lon[inview], lat[inview], s=14, marker=marker, c=colour, linewidths=0.9,
                       zorder=3, label=_t(key, lang) + f" ({int(mask.sum()):,})")
        if off:
            ax.text(0.01, 0.01, _t("off_view", lang, n=f"{off:,}"), transform=ax.transAxes,
                    fontsize=7, color="#c0392b", va="bottom")
    ax.set_xlim(view[0], view[1])
    ax.set_ylim(view[2], view[3])
    ax.set_aspect(1 / math.cos(math.radians((y0 + y1) / 2)))
    ax.set_xlabel(_t("lon", lang))
    ax.set_ylabel(_t("lat", lang))
    ax.legend(loc="upper left", fontsize=7, frameon=True, framealpha=0.9, markerscale=1.5)
    ax.grid(True, linewidth=0.3, color="#cccccc")
    return fig


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


def _hist(frame: pd.DataFrame | None, xlabel: str, lang: str, marks: list[tuple[float, str]]):
    if frame is None:  # no value to draw an axis from: left out
        return None
    if frame.empty:  # no records at all
        return _no_records(xlabel, lang)
    fig, ax = plt.subplots(figsize=(_W, _W * 0.3), layout="constrained")
    width = frame["bin_end"] - frame["bin_start"]
    ax.bar(frame["bin_start"], frame["records"], width=width, align="edge", color="#7f9fbf",
           edgecolor="white", linewidth=0.3)
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
    return _hist(data.distance_hist, _t("distance", lang), lang, marks)


def _speed(data: FigureData, lang: str, period) -> Any:
    marks = []
    if data.thresholds.get("max_speed_kmh") is not None:
        v = float(data.thresholds["max_speed_kmh"])
        marks.append((v, _t("max_speed", lang, v=v)))
    return _hist(data.speed_hist, _t("speed", lang), lang, marks)


def _daily(data: FigureData, lang: str, period) -> Any:
    daily, per_mode = data.daily, data.per_mode_daily
    if daily is None and per_mode is None:
        return None
    if (daily is None or daily.empty) and (per_mode is None or per_mode.empty):
        return _no_records(_t("date", lang), lang)
    fig, ax = plt.subplots(figsize=(_W, _W * 0.36), layout="constrained")
    if per_mode is not None and not per_mode.empty:
        pm = per_mode.assign(date=pd.to_datetime(per_mode["date"]))
        for mode, colour in (("bus", "#2e8b57"), ("metro", "#5b8db8")):
            part = pm[pm["mode"] == mode].sort_values("date")
            if not part.empty:
                label = _t(mode, lang) if mode in ("bus", "metro") else str(mode)
                ax.plot(part["date"], part["records"], linewidth=0.8, color=colour, label=label)
    if daily is not None and not daily.empty:
        d = daily.assign(date=pd.to_datetime(daily["date"])).sort_values("date")
        out = _out_of_period(d, period)
        inside = d["records"] - out
        if per_mode is None or per_mode.empty:
            ax.fill_between(d["date"], 0, inside, step="mid", color="#7f9fbf", linewidth=0,
                            label=_t("in_period", lang))
        if out.sum() > 0:
            hit = out > 0
            ax.vlines(d.loc[hit, "date"], inside[hit], d.loc[hit, "records"], color="#c0392b",
                      linewidth=2.5, label=_t("out_period", lang) + f" ({int(out.sum()):,})")
            ax.scatter(d.loc[hit, "date"], d.loc[hit, "records"], s=14, marker="v",
                       color="#c0392b", zorder=3)
    if period:
        for edge, label in ((period[0], _t("period_edge", lang)), (period[1], None)):
            ax.axvline(pd.Timestamp(edge), color="#333333", linestyle=":", linewidth=0.9,
                       label=label)
    ax.set_xlabel(_t("date", lang))
    ax.set_ylabel(_t("records", lang))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.legend(loc="upper left", fontsize=7, ncols=4, framealpha=0.9)
    ax.grid(True, axis="y", linewidth=0.3, color="#cccccc")
    fig.autofmt_xdate(rotation=0, ha="center")
    return fig


def _out_of_period(d: pd.DataFrame, period) -> pd.Series:
    """Out-of-period records per day: the ``out_of_period`` column (counts or flags), else the
    days outside ``period``."""
    if "out_of_period" in d.columns:
        col = d["out_of_period"]
        if col.dtype == bool:
            return d["records"].where(col, 0)
        return col.fillna(0).astype("int64")
    if period:
        outside = (d["date"] < pd.Timestamp(period[0])) | (d["date"] > pd.Timestamp(period[1]))
        return d["records"].where(outside, 0)
    return d["records"] * 0
