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
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from verifier.report.fonts import matplotlib_families  # noqa: E402


@dataclass
class FigureData:
    methodology: str
    boundary: Any = None  # shapely (Multi)Polygon, WGS-84, or None
    districts: tuple = ()  # the boundary's district (Multi)Polygons, WGS-84 (outlines on the map)
    district_names: tuple = ()  # their names, in the same order
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
    "districts": ("行政区界", "District outlines"),
    "overview": ("全部点位", "All points"),
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
