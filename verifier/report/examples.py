"""A check's example records as a small table a person can read: one column per field shown,
headed in the report's language (`field_<name>` strings), values written as the report writes
numbers, the record key and row first and the reason last.

Record-level examples carry `record_key`, `row_no`, the methodology's example fields and the
check's extras (`table_km`, `authorized_at`, ...); report-level ones carry their own keys
(`parameter`, `field`, `problem`, ...): both are laid out the same way.
"""

from __future__ import annotations

from verifier import numbers

FIRST = ("record_key", "row_no")
LAST = ("reason",)
# Two coordinates printed as one point ("lon, lat"): half the columns of a bike example.
POINTS = {"start_point": ("start_lon", "start_lat"), "end_point": ("end_lon", "end_lat")}
KM = {"distance_km", "table_km"}  # per-record kilometres: written like pkm
PLAIN = {"row_no", "row", "year", "data_year"}  # identifiers, not quantities: no separators
CODED = ("mode", "order_source")  # fields holding a code, printed in words (`<field>_<code>` strings)


def _columns(examples: list[dict]) -> list[str]:
    seen: list[str] = []
    for ex in examples:
        seen += [k for k in ex if k not in seen]
    if all(ex.get("trip_id") == ex.get("record_key") for ex in examples):
        seen = [k for k in seen if k != "trip_id"]  # the record key is the trip id: shown once
    for point, (lon, lat) in POINTS.items():
        if lon in seen and lat in seen:
            seen[seen.index(lon)] = point
            seen.remove(lat)
    middle = [k for k in seen if k not in FIRST and k not in LAST]
    return [k for k in FIRST if k in seen] + middle + [k for k in LAST if k in seen]


def coded(key: str, value, words: dict[str, str]):
    """A coded value (mode `bus`) in the report's words where it has them; else as given."""
    return words.get(f"{key}_{value}", value) if key in CODED and isinstance(value, str) else value


def cell(key: str, ex: dict, words: dict[str, str] | None = None) -> str:
    """One value of an example as printed (— where it has none); `words`: coded values' words."""
    if key in POINTS:
        lon, lat = (ex.get(k) for k in POINTS[key])
        return numbers.DASH if numbers.missing(lon) and numbers.missing(lat) else \
            f"{numbers.plain(lon)}, {numbers.plain(lat)}"
    value = coded(key, ex.get(key), words or {})
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if key in KM:
            return numbers.pkm(value)
        return numbers.plain(value) if key in PLAIN or isinstance(value, float) else numbers.count(value)
    return numbers.written(value)


def example_table(examples: list, labels: dict[str, str], words: dict[str, str]) -> dict | None:
    """{"columns": [{"key", "label"}], "rows": [[text]]} of `examples` (dicts; other values as
    a one-column table); `labels` maps a field to its header (the field name where none),
    `words` a coded value `<field>_<code>` to its words."""
    if not examples:
        return None
    rows = [ex if isinstance(ex, dict) else {"value": ex} for ex in examples]
    keys = _columns(rows)
    return {"columns": [{"key": k, "label": labels.get(k, k)} for k in keys],
            "rows": [[cell(k, ex, words) for k in keys] for ex in rows]}
