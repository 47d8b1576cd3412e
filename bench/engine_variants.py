"""Where the engine's time goes, and what cheaper formulations would save (for tuning the engine).

    python bench/engine_variants.py PKG [--threads N]

PKG: a bike package written by bench/run.py (e.g. bench/work/pkg-parquet-1e07). Stages the trips
with the engine's own `stage` (with and without the boundary and the users file), then times
the window rules as the engine writes them (a wide `SELECT *` through three windows into a new
table) against narrow variants that compute the same flags over (row_no, keys, times) only, and
checks that each variant flags the same records. Prints one line per measurement; nothing here
changes verifier/.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verifier.data.engine import DuckDBEngine, EngineOptions  # noqa: E402
from verifier.data.sources import open_source  # noqa: E402
from verifier.geo.boundary import Boundary  # noqa: E402
from verifier.methodology import BIKE, canonical_columns, METHODOLOGIES  # noqa: E402,F401


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label, fn):
    t = time.perf_counter()
    out = fn()
    print(f"{time.perf_counter() - t:8.2f} s  peak {rss_mb():6.0f} MB  {label}", flush=True)
    return out


DUP_ID = "(trip_id IS NOT NULL AND row_number() OVER (PARTITION BY trip_id ORDER BY row_no) > 1)"
DUP_TUPLE = ("(user_id IS NOT NULL AND start_time IS NOT NULL AND row_number() OVER "
             "(PARTITION BY user_id, mode, start_time, end_time ORDER BY row_no) > 1)")
OVERLAP = """CASE WHEN ok THEN coalesce(max(coalesce(end_time, start_time)) OVER (
                PARTITION BY user_id, ok ORDER BY start_time, coalesce(end_time, start_time) > start_time, row_no
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) > start_time, false) ELSE false END"""
VALID = ("NOT (user_id IS NULL OR start_time IS NULL OR end_time IS NULL OR distance_km IS NULL "
         "OR NOT (end_time > start_time) OR NOT (distance_km > 0))")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("pkg")
    ap.add_argument("--threads", type=int)
    args = ap.parse_args()
    pkg = Path(args.pkg)
    trips = next(p for p in (pkg / "trips.parquet", pkg / "trips.csv") if p.exists())
    users = pkg / "users.csv"
    cols = canonical_columns(BIKE)
    boundary = Boundary.default()

    with DuckDBEngine(EngineOptions(threads=args.threads)) as eng:
        src = open_source([trips], "utf-8", eng.workdir)
        columns = src.resolve({}, cols, ())
        n = timed("stage: typed columns only (no boundary, no users)",
                  lambda: eng.stage(src, columns, "Asia/Shanghai", None, None))
        timed("stage: + users join", lambda: eng.stage(src, columns, "Asia/Shanghai", None, users))
        timed("stage: + boundary UDF (3 CRS x 2 points), as verify does",
              lambda: eng.stage(src, columns, "Asia/Shanghai", boundary, users))
        con = eng.con
        timed("plain copy of the Parquet file into a table (floor for staging)",
              lambda: con.execute(f"CREATE OR REPLACE TABLE plain AS SELECT * FROM read_parquet('{trips}')"
                                  if trips.suffix == ".parquet" else
                                  f"CREATE OR REPLACE TABLE plain AS SELECT * FROM read_csv('{trips}')"))
        con.execute("DROP TABLE plain")
        print(f"records: {n:,}")

        # window rules as the engine writes them: every column through the windows
        timed("flags, engine form: SELECT * through dup-id, dup-tuple, overlap windows -> new table",
              lambda: con.execute(f"""
                CREATE OR REPLACE TABLE f_wide AS
                WITH d AS (SELECT *, {DUP_ID} OR {DUP_TUPLE} AS dup FROM records),
                     o AS (SELECT *, {VALID} AND NOT dup AND user_id IS NOT NULL AND start_time IS NOT NULL AS ok FROM d)
                SELECT * EXCLUDE (ok), {OVERLAP} AS overlap FROM o"""))
        # narrow: only the key columns go through the windows; flags keyed by row_no
        timed("flags, narrow: same windows over (row_no, trip_id, user_id, mode, times, valid) -> (row_no, flags)",
              lambda: con.execute(f"""
                CREATE OR REPLACE TABLE f_narrow AS
                WITH n AS (SELECT row_no, trip_id, user_id, mode, start_time, end_time, {VALID} AS valid FROM records),
                     d AS (SELECT *, {DUP_ID} OR {DUP_TUPLE} AS dup FROM n),
                     o AS (SELECT *, valid AND NOT dup AND user_id IS NOT NULL AND start_time IS NOT NULL AS ok FROM d)
                SELECT row_no, dup, {OVERLAP} AS overlap FROM o"""))
        # grouped duplicates: only keys seen twice need a row_number
        timed("flags, dup by GROUP BY: repeated keys first, row_number only inside them",
              lambda: con.execute(f"""
                CREATE OR REPLACE TABLE f_dup AS
                WITH rid AS (SELECT trip_id FROM records WHERE trip_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1),
                     rtu AS (SELECT user_id, mode, start_time, end_time FROM records
                             WHERE user_id IS NOT NULL AND start_time IS NOT NULL
                             GROUP BY ALL HAVING count(*) > 1),
                     c AS (SELECT r.row_no, r.trip_id, r.user_id, r.mode, r.start_time, r.end_time FROM records r
                           WHERE r.trip_id IN (SELECT trip_id FROM rid)
                              OR (r.user_id, r.mode, r.start_time, r.end_time) IN (SELECT * FROM rtu))
                SELECT row_no FROM (SELECT row_no, {DUP_ID} OR {DUP_TUPLE} AS dup FROM c) WHERE dup"""))
        timed("flags, overlap alone over (row_no, user_id, times, ok)",
              lambda: con.execute(f"""
                CREATE OR REPLACE TABLE f_over AS
                WITH o AS (SELECT row_no, user_id, start_time, end_time,
                                  {VALID} AND user_id IS NOT NULL AND start_time IS NOT NULL AS ok FROM records)
                SELECT row_no, {OVERLAP} AS overlap FROM o"""))
        same = con.execute("""SELECT (SELECT count_if(dup) FROM f_wide), (SELECT count_if(dup) FROM f_narrow),
                                     (SELECT count(*) FROM f_dup),
                                     (SELECT count_if(overlap) FROM f_wide), (SELECT count_if(overlap) FROM f_narrow)
                           """).fetchall()[0]
        print(f"flag counts (wide dup, narrow dup, grouped dup, wide overlap, narrow overlap): {same}")
        timed("aggregate over records joined to narrow flags by row_no",
              lambda: con.execute("""SELECT count(*), sum(distance_km) FILTER (WHERE NOT (dup OR overlap))
                                     FROM records JOIN f_narrow USING (row_no)""").fetchall())
    return 0


if __name__ == "__main__":
    sys.exit(main())
