"""claims.parquet: what a filing claims, record by record, for finding the same trip claimed in
two filings (contract section 7; verifier.batch.double_claims reads it).

Written by `verify(claims=True)` while the engine is open, in one streaming write (DuckDB: a
COPY; Spark: one sorted Parquet part), beside excluded.csv in the run's output folder and so
replaced with the rest of it. One row per ELIGIBLE record (no excluding check flags it: a trip
the filing's own verification excluded is not credited, so it cannot be credited twice), in
row_no order; the same bytes on every run of one engine. Columns:

  record_key   TEXT     the record key (findings' examples, excluded.csv)
  row_no       BIGINT   1-based record order
  keyed        BOOLEAN  the record key is the file's trip_id (an extension of the design's
                        columns: without a trip_id column the key is a row number, which says
                        nothing about the trip, so the same-applicant key rule skips it)
  user_id      TEXT     NULL when absent
  start_s      BIGINT   start_time in whole seconds since 1970-01-01 of the naive local time,
                        the floor (dialect.epoch_seconds)
  fingerprint  TEXT     the methodology's trip fingerprint (Methodology.fingerprint), NULL when
                        the record has none: its parts as text, each after its length and a
                        colon, joined by '|' (so no station name can pass for two parts)
  part         TEXT     the activity part (Methodology.part_sql, e.g. the transit mode), NULL
  distance_km  DOUBLE   the record's pkm (NULL allowed)

Points (bike) enter the fingerprint in WGS-84: converted from the package's coordinate system
(data.crs: wgs84, gcj02, bd09) with verifier.geo.crs.convert inside the engine (`wgs84_e4`,
registered as the SQL function `wgs84_e4` by `Engine.point_function`: the same numpy code on
DuckDB and Spark), each coordinate as the integer rint(x * 10^4) (IEEE round half to even of the
double x·10^4), written "lon,lat". A package whose data.crs is none of those has no point, so
no bike fingerprint. The GCJ-02 inverse iterates per chunk of points until all converge: the
WGS-84 value may differ by ~1e-13 degrees with the chunking, which changes x·10^4's rounding
only within 1e-9 of a half (no such point in practice).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from verifier.constants import CRS_NAMES
from verifier.data.dialect import DIALECT

CLAIMS_FILE = "claims.parquet"
POINT_FUNCTION = "wgs84_e4"
COLUMNS = ("record_key", "row_no", "keyed", "user_id", "start_s", "fingerprint", "part", "distance_km")


def wgs84_e4(lon: np.ndarray, lat: np.ndarray, crs: str) -> pa.Array:
    """Points (lon, lat in `crs`) as WGS-84 text "round(lon·10^4),round(lat·10^4)" (integers,
    round half to even); NULL where a coordinate is missing, not finite or out of range."""
    from verifier.geo.crs import convert

    x, y = convert(lon, lat, crs, "wgs84")
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90)
    xi = pa.array(np.rint(np.where(ok, x, 0.0) * 1e4).astype(np.int64)).cast(pa.string())
    yi = pa.array(np.rint(np.where(ok, y, 0.0) * 1e4).astype(np.int64)).cast(pa.string())
    text = pc.binary_join_element_wise(xi, yi, ",")
    return pc.if_else(pa.array(ok), text, pa.scalar(None, pa.string()))


def write_claims(ctx, folder: Path) -> Path:
    """Write claims.parquet into `folder` (the run's temporary output folder) from the engine's
    `records` (after the checks' flags): one row per eligible record, row_no order."""
    engine, m = ctx.engine, ctx.methodology
    text = DIALECT.types["text"]
    if m.coordinates and ctx.sub.crs in CRS_NAMES:
        crs = ctx.sub.crs
        engine.point_function(POINT_FUNCTION, lambda lon, lat: wgs84_e4(lon, lat, crs))

    def point(lon: str, lat: str) -> str:
        if not (m.coordinates and ctx.sub.crs in CRS_NAMES):
            return f"CAST(NULL AS {text})"
        return f"{POINT_FUNCTION}({lon}, {lat})"

    def column(name: str) -> str:
        return name if name in m.columns else "NULL"

    declared = m.fingerprint(point)
    parts, has = declared if declared else ({}, "false")
    part = m.part_sql()
    inner = {"record_key": f"CAST(record_key AS {text})", "row_no": "CAST(row_no AS BIGINT)",
             "keyed": "true" if engine.has_trip_id else "false",
             "user_id": f"CAST({column('user_id')} AS {text})",
             "start_s": DIALECT.epoch_seconds(column("start_time")),
             "part": f"CAST({part} AS {text})" if part else f"CAST(NULL AS {text})",
             "distance_km": f"CAST({column('distance_km')} AS DOUBLE)",
             "fp_has": f"({has})",
             **{f"fp_{i}": f"CAST({sql} AS {text})" for i, sql in enumerate(parts.values())}}
    select = ", ".join(f"{sql} AS {name}" for name, sql in inner.items())
    query = (f"SELECT {', '.join(c if c != 'fingerprint' else f'{_fingerprint(len(parts))} AS fingerprint' for c in COLUMNS)} "
             f"FROM (SELECT {select} FROM records WHERE NOT {engine.excluded_sql()}) r ORDER BY row_no")
    path = Path(folder) / CLAIMS_FILE
    engine.write_query_parquet(query, path)
    return path


def _fingerprint(n: int) -> str:
    """SQL over fp_has and fp_0 .. fp_<n-1> (text): the fingerprint text, NULL when the record has
    none or any part is NULL."""
    if not n:
        return f"CAST(NULL AS {DIALECT.types['text']})"
    joined = " || '|' || ".join(f"CAST(length(fp_{i}) AS {DIALECT.types['text']}) || ':' || fp_{i}" for i in range(n))
    nulls = " OR ".join(f"fp_{i} IS NULL" for i in range(n))
    return f"CASE WHEN fp_has AND NOT ({nulls}) THEN {joined} END"
