"""Benchmark `verifier verify` against the floor (bare DuckDB) and a plain pandas implementation.

    python bench/run.py [--sizes 1e6,1e7,2e7] [--formats parquet,csv] [--with-1e8]
                        [--workdir bench/work] [--out bench/results.md] [--profile-size 1e7]

Writes synthetic bike packages with `tools.synth.write_bike_package` (reused when the manifest
in the package folder matches), then runs every task in its own fresh child process and measures
its wall time and peak RSS (`os.wait4` on that child: ru_maxrss of that process and its waited-for
descendants only). See bench/README.md for what each task does.

The same file is the child program: `python bench/run.py _floor FILE FMT`, `_pandas FILE FMT`,
`_gen DIR RIDES FMT SEED`, `_steps PKG OUT` print one JSON line as their last output.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import tempfile
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))  # the checkout: the generator tools.synth is not installed
SEED = 1            # generator seed of every package
VERIFY_SEED = 1     # sampling seed given to verify
PANDAS_TIMEOUT_S = 600
PANDAS_MAX_CSV = 10**7          # plain pandas on CSV above this would pass ~16 GB / 10 min
PANDAS_MAX_PARQUET = 2 * 10**7  # at 10^8 plain pandas would need > 16 GB
MEMORY_LIMIT = "4GB"            # the budget variant: 4x the default engine budget (1GB); 2x10^7 fits in it
FLOOR_FULL = "floor of verify's work (bare DuckDB)"
FLOOR_BUDGET = "floor of verify's work, verify's memory budget"
PANDAS_FULL = "pandas, complete"
SMALL = "verify, small filing"
SMALL_REPS = 5                  # verify runs of the small filing (the median is the figure)
BOUNDARY = REPO.parent / "shared" / "data" / "geo" / "shenzhen_districts_osm_wgs84.geojson"
GRID = 512                       # cells per side of the floor's boundary grid (verify's default too)
COLUMNS = ["trip_id", "user_id", "start_time", "end_time", "start_lon", "start_lat", "end_lon",
           "end_lat", "distance_km"]


# ---------------------------------------------------------------------------------------------
# child programs
def child_gen(folder: str, rides: str, fmt: str, seed: str) -> dict:
    from tools.synth import write_bike_package

    t = time.perf_counter()
    info = write_bike_package(Path(folder), rides=int(rides), seed=int(seed), fmt=fmt)
    return {"seconds": time.perf_counter() - t, "records": info["records"], "pkm_m": info["pkm_m"],
            "trips": info["trips"]}


def _invalid_sql() -> str:
    return ("count_if(trip_id IS NULL OR user_id IS NULL OR start_time IS NULL OR end_time IS NULL "
            "OR distance_km IS NULL OR NOT (distance_km > 0) OR NOT (end_time > start_time) "
            "OR NOT (start_lon BETWEEN -180 AND 180) OR NOT (end_lon BETWEEN -180 AND 180) "
            "OR NOT (start_lat BETWEEN -90 AND 90) OR NOT (end_lat BETWEEN -90 AND 90))")


def _connect(limit: str = ""):
    """A bare DuckDB connection: DuckDB's own default memory limit (80 % of RAM), or `limit` with
    a spill folder of its own (verify's budget: the floor under the same ceiling as verify)."""
    import duckdb

    con = duckdb.connect()
    if limit:
        spill = tempfile.mkdtemp(prefix="bench-floor-")
        atexit.register(shutil.rmtree, spill, True)
        con.execute(f"SET memory_limit = '{limit}'")
        con.execute(f"SET temp_directory = '{spill}'")
    return con


def child_floor(path: str, fmt: str, limit: str = "") -> dict:
    """The floor: bare DuckDB on the file, the core reconciliations, one process."""
    src = (f"read_parquet('{path}')" if fmt == "parquet"
           else f"read_csv('{path}', header = true)")
    con = _connect(limit)
    parts = {}

    def q(name, sql):
        t = time.perf_counter()
        row = con.execute(sql).fetchall()[0]
        parts[name] = round(time.perf_counter() - t, 3)
        return row

    agg = q("aggregates", f"SELECT count(*), sum(distance_km), min(start_time), max(start_time), "
                          f"{_invalid_sql()} FROM {src}")
    dups = q("duplicate_ids", f"SELECT count(*) FROM (SELECT trip_id FROM {src} GROUP BY trip_id "
                              f"HAVING count(*) > 1)")
    over = q("overlaps", f"""SELECT count_if(start_time < prev_end) FROM (
                 SELECT start_time, lag(end_time) OVER (PARTITION BY user_id ORDER BY start_time) AS prev_end
                 FROM {src})""")
    return {"rows": int(agg[0]), "pkm": float(agg[1]), "first": str(agg[2]), "last": str(agg[3]),
            "invalid": int(agg[4]), "duplicate_ids": int(dups[0]), "overlaps": int(over[0]), "parts": parts}




def _boundary():
    """Shenzhen from ../shared (the OSM district polygons, unioned), prepared: the polygon both the
    floor and pandas test every start and end point against."""
    import shapely
    from shapely.geometry import shape

    doc = json.loads(BOUNDARY.read_text(encoding="utf-8"))
    geom = shapely.union_all([shape(f["geometry"]) for f in doc["features"]])
    shapely.prepare(geom)
    return geom


def _boundary_grid(geom, n: int = GRID, block: int = 16):
    """(x0, y0, sx, sy, cells): per cell of an n x n grid over the polygon's box, 1 inside, 0
    outside, 2 where the outline crosses it (those points need the exact test). Blocks first, then
    the cells of the blocks the outline crosses: the same two-level classification verify uses."""
    import numpy as np
    import shapely

    x0, y0, x1, y1 = geom.bounds
    sx, sy = n / (x1 - x0), n / (y1 - y0)
    outline = geom.boundary
    shapely.prepare(outline)

    def classify(ii, jj, step):
        bx0, by0 = x0 + ii * step / sx, y0 + jj * step / sy
        bx1, by1 = bx0 + step / sx, by0 + step / sy
        state = np.full(ii.size, 2, dtype=np.uint8)
        clear = ~shapely.intersects(outline, shapely.box(bx0, by0, bx1, by1))
        state[clear] = shapely.contains_xy(geom, ((bx0 + bx1) / 2)[clear], ((by0 + by1) / 2)[clear])
        return state

    m = n // block
    jj, ii = np.divmod(np.arange(m * m), m)
    cells = np.repeat(np.repeat(classify(ii, jj, block).reshape(m, m), block, 0), block, 1).ravel()
    todo = np.flatnonzero(cells == 2)
    jj, ii = np.divmod(todo, n)
    cells[todo] = classify(ii, jj, 1)
    return x0, y0, x1, y1, sx, sy, cells


def _floor_boundary(con, src: str) -> tuple[int, int]:
    """Every start and end point tested against the boundary, as verify does it: a grid lookup
    joined to every record, the exact shapely test (a vectorised UDF) only for points in cells the
    outline crosses. Returns (starts inside, ends inside)."""
    import numpy as np
    import pyarrow as pa
    import shapely

    geom = _boundary()
    x0, y0, x1, y1, sx, sy, cells = _boundary_grid(geom)

    def exact(lon, lat):
        return pa.array(shapely.contains_xy(geom, np.asarray(lon), np.asarray(lat)))

    con.create_function("inside_exact", exact, ["DOUBLE", "DOUBLE"], "BOOLEAN", type="arrow",
                        side_effects=False, null_handling="special")
    con.execute("CREATE OR REPLACE TABLE grid AS SELECT $c::UTINYINT[] AS cells", {"c": cells.tolist()})

    def inside(lon, lat):
        i = f"CAST(least(floor(({lon} - {x0!r}) * {sx!r}), {GRID - 1}) AS INTEGER)"
        j = f"CAST(least(floor(({lat} - {y0!r}) * {sy!r}), {GRID - 1}) AS INTEGER)"
        cell = (f"CASE WHEN {lon} > {x0!r} AND {lon} < {x1!r} AND {lat} > {y0!r} AND {lat} < {y1!r} "
                f"THEN g.cells[1 + {j} * {GRID} + {i}] ELSE 0 END")
        return f"CASE {cell} WHEN 1 THEN true WHEN 0 THEN false ELSE inside_exact({lon}, {lat}) END"

    row = con.execute(f"SELECT count_if({inside('start_lon', 'start_lat')}), "
                      f"count_if({inside('end_lon', 'end_lat')}) FROM {src} CROSS JOIN grid g").fetchone()
    return int(row[0]), int(row[1])


def _sha256(path: str, parts: dict) -> None:
    """The file's SHA-256, timed into `parts` (verifier.pipeline.sha256_file's loop, inlined: a
    reference imports no verifier code)."""
    t = time.perf_counter()
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    parts["sha256"] = round(time.perf_counter() - t, 3)


def child_floor_full(path: str, fmt: str, users: str, limit: str = "") -> dict:
    """The floor of verify's own work: the floor's queries plus what verify must also do on every
    record and the floor does not (tuple duplicates, the md5 rank of the sample, the users join,
    the boundary test of every start and end point, the SHA-256 of the file), each as one bare
    query; no flags view, no figures, no report. With `limit`, under that memory limit."""
    src = (f"read_parquet('{path}')" if fmt == "parquet" else f"read_csv('{path}', header = true)")
    con = _connect(limit)
    t0 = time.perf_counter()
    floor = child_floor(path, fmt, limit)
    parts = dict(floor["parts"])

    def q(name, sql):
        t = time.perf_counter()
        row = con.execute(sql).fetchall()[0]
        parts[name] = round(time.perf_counter() - t, 3)
        return row

    tup = q("tuple_duplicates", f"SELECT count(*) FROM (SELECT user_id, start_time, end_time FROM {src} "
                                f"GROUP BY ALL HAVING count(*) > 1)")
    md5 = q("md5_rank", f"SELECT max(k) FROM (SELECT md5('{VERIFY_SEED}:' || trip_id) AS k FROM {src} "
                        f"ORDER BY k LIMIT 5000)")
    early = q("users_join", f"SELECT count_if(t.start_time < u.authorized_at) FROM {src} t LEFT JOIN "
                            f"read_csv('{users}', header = true) u ON u.user_id = t.user_id")
    t = time.perf_counter()
    starts_in, ends_in = _floor_boundary(con, src)
    parts["boundary"] = round(time.perf_counter() - t, 3)
    _sha256(path, parts)
    return dict(floor, parts=parts, total=round(time.perf_counter() - t0, 3), tuple_duplicates=int(tup[0]),
                md5_5000th=md5[0], before_authorisation=int(early[0]), starts_inside=starts_in, ends_inside=ends_in)


def child_pandas(path: str, fmt: str) -> dict:
    """Plain pandas: read, count, sum, min/max, invalid, duplicate ids, per-user overlap."""
    import pandas as pd

    parts = {}
    t = time.perf_counter()
    if fmt == "parquet":
        df = pd.read_parquet(path, columns=COLUMNS)
    else:
        df = pd.read_csv(path, usecols=COLUMNS, parse_dates=["start_time", "end_time"])
    parts["read"] = round(time.perf_counter() - t, 3)
    figures, _ = _pandas_core(df, parts)
    return dict(figures, parts=parts)


def _pandas_core(df, parts: dict):
    """The floor's figures in plain pandas (timed into `parts`); also the records sorted by user
    and start, which the complete implementation reuses."""
    t = time.perf_counter()
    n = len(df)
    pkm = float(df["distance_km"].sum())
    first, last = df["start_time"].min(), df["start_time"].max()
    bad = df[COLUMNS].isna().any(axis=1) | ~(df["distance_km"] > 0) | ~(df["end_time"] > df["start_time"])
    for c, lim in (("start_lon", 180), ("end_lon", 180), ("start_lat", 90), ("end_lat", 90)):
        bad |= ~df[c].between(-lim, lim)
    invalid = int(bad.sum())
    parts["aggregates"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    dups = int(df["trip_id"].duplicated().sum())
    parts["duplicate_ids"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    s = df[["user_id", "start_time", "end_time"]].sort_values(["user_id", "start_time"], kind="stable")
    prev_end = s.groupby("user_id", sort=False)["end_time"].shift()
    over = int((s["start_time"] < prev_end).sum())
    parts["overlaps"] = round(time.perf_counter() - t, 3)
    figures = {"rows": n, "pkm": pkm, "first": str(first), "last": str(last), "invalid": invalid,
               "duplicate_ids": dups, "overlaps": over}
    return figures, s


def child_pandas_full(path: str, fmt: str, users: str) -> dict:
    """A complete pandas implementation of verify's whole-population work, as a pandas user would
    write it: the core figures of `child_pandas`, then tuple duplicates, the md5 rank of the sample
    (hashlib per record), the users join (`merge`), the boundary test of every start and end point
    (shapely's vectorised `contains_xy` on the prepared polygon) and the SHA-256 of the file."""
    import hashlib as _hashlib
    import heapq

    import pandas as pd
    import shapely

    t0 = time.perf_counter()
    parts = {}
    t = time.perf_counter()
    df = (pd.read_parquet(path) if fmt == "parquet"
          else pd.read_csv(path, parse_dates=["start_time", "end_time"]))
    parts["read"] = round(time.perf_counter() - t, 3)
    figures, s = _pandas_core(df, parts)
    t = time.perf_counter()
    key = ["user_id", "start_time", "end_time"]
    tup = len(s[s.duplicated(key, keep=False)].drop_duplicates(key))
    del s
    parts["tuple_duplicates"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    prefix = f"{VERIFY_SEED}:"
    md5 = max(heapq.nsmallest(5000, (_hashlib.md5((prefix + i).encode()).hexdigest() for i in df["trip_id"])))
    parts["md5_rank"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    u = pd.read_csv(users, parse_dates=["authorized_at"])
    m = df[["user_id", "start_time"]].merge(u, on="user_id", how="left")
    early = int((m["start_time"] < m["authorized_at"]).sum())
    del m
    parts["users_join"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    geom = _boundary()
    starts_in = int(shapely.contains_xy(geom, df["start_lon"].to_numpy(), df["start_lat"].to_numpy()).sum())
    ends_in = int(shapely.contains_xy(geom, df["end_lon"].to_numpy(), df["end_lat"].to_numpy()).sum())
    parts["boundary"] = round(time.perf_counter() - t, 3)
    _sha256(path, parts)
    return dict(figures, tuple_duplicates=tup, md5_5000th=md5, before_authorisation=early, starts_inside=starts_in,
                ends_inside=ends_in, parts=parts, total=round(time.perf_counter() - t0, 3))


def child_steps(pkg: str, out: str) -> dict:
    """verify in-process with a progress callback and timers around the engine's and run's parts
    (monkeypatched here, nothing in verifier/ changes): where the time goes."""
    import verifier.pipeline as run
    from verifier.data.engine import DuckDBEngine
    from verifier.geo.boundary import Boundary

    timers: dict[str, list] = {}
    lock = threading.Lock()

    def timed(owner, name, label):
        fn = getattr(owner, name)

        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                with lock:
                    e = timers.setdefault(label, [0.0, 0])
                    e[0] += time.perf_counter() - t
                    e[1] += 1
        setattr(owner, name, wrapper)

    for m in ("stage", "flag", "aggregate", "examples", "sample", "quantiles", "histograms", "daily", "parquet_counts"):
        timed(DuckDBEngine, m, f"engine.{m}")
    timed(Boundary, "contains_exact", "Boundary.contains_exact (points in grid cells an outline crosses, "
                                      "in DuckDB's UDF threads)")
    for f in ("hash_inputs", "_findings", "_figure_data", "_write_outputs", "_draw_sample"):
        timed(run, f, f"pipeline.{f}")
    import verifier.report.render as render
    timed(render, "write_report", "render.write_report (html, figures, pdf, xlsx)")

    steps: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    run.verify(pkg, out, factors=str(Path(pkg) / "factors.yaml"), seed=VERIFY_SEED,
               progress=lambda name: steps.append((name, time.perf_counter() - t0)))
    total = time.perf_counter() - t0
    per_step = []
    for i, (name, at) in enumerate(steps):
        end = steps[i + 1][1] if i + 1 < len(steps) else total
        per_step.append([name, round(end - at, 3)])
    return {"total": round(total, 3), "steps": per_step,
            "timers": {k: [round(v[0], 3), v[1]] for k, v in sorted(timers.items(), key=lambda kv: -kv[1][0])}}


CHILDREN = {"_gen": child_gen, "_floor": child_floor, "_floor_full": child_floor_full, "_pandas": child_pandas,
            "_pandas_full": child_pandas_full,
            "_steps": child_steps}


# ---------------------------------------------------------------------------------------------
# measuring one child
def measure(cmd: list[str], timeout: float | None = None, env: dict | None = None,
            tty_stderr: bool = False) -> dict:
    """Run `cmd` in a fresh child; wall seconds, peak RSS (MB) of that child, exit code and the
    JSON of its last stdout line (if any). `tty_stderr`: the child's stderr is a pseudo-terminal
    (the verify CLI exits 3 when stderr is not a terminal: its progress bar, see README)."""
    t = time.perf_counter()
    master = slave = None
    if tty_stderr:
        import pty

        master, slave = pty.openpty()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave if tty_stderr else subprocess.PIPE,
                         cwd=REPO, env=env or _env(), start_new_session=True)
    out_chunks, err_chunks = [], []

    def drain_pty():
        buf = bytearray()
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO once the child side is closed
                break
            if not chunk:
                break
            buf += chunk
        err_chunks.append(bytes(buf))

    if tty_stderr:
        os.close(slave)
        readers = [threading.Thread(target=lambda: out_chunks.append(p.stdout.read()), daemon=True),
                   threading.Thread(target=drain_pty, daemon=True)]
    else:
        readers = [threading.Thread(target=lambda s=s, b=b: b.append(s.read()), daemon=True)
                   for s, b in ((p.stdout, out_chunks), (p.stderr, err_chunks))]
    for r in readers:
        r.start()
    killed = []

    def kill():
        killed.append(True)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    timer = threading.Timer(timeout, kill) if timeout else None
    if timer:
        timer.start()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    if timer:
        timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    for r in readers:
        r.join()
    if master is not None:
        os.close(master)
    stdout = (out_chunks[0] if out_chunks else b"").decode(errors="replace")
    stderr = (err_chunks[0] if err_chunks else b"").decode(errors="replace")
    data = None
    lines = [ln for ln in stdout.strip().splitlines() if ln.strip()]
    if lines:
        try:
            data = json.loads(lines[-1])
        except json.JSONDecodeError:
            data = None
    return {"wall": wall, "rss_mb": usage.ru_maxrss / 1024, "code": p.returncode, "data": data,
            "timed_out": bool(killed), "stderr": stderr[-2000:]}


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def self_cmd(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


# ---------------------------------------------------------------------------------------------
# packages
def synth_hash() -> str:
    """One hash over the generator's sources (tools/synth/*.py, by name)."""
    h = hashlib.sha256()
    for f in sorted((REPO / "tools" / "synth").glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def package(workdir: Path, rides: int, fmt: str, log) -> tuple[Path, dict]:
    folder = workdir / f"pkg-{fmt}-{rides:.0e}".replace("+", "")
    manifest = folder / "bench-manifest.json"
    params = {"rides": rides, "fmt": fmt, "seed": SEED, "defect": None, "year": 2024}
    if manifest.exists():
        m = json.loads(manifest.read_text())
        if m.get("params") == params:
            stale = "" if m.get("synth") == synth_hash() else " (tools/synth/ changed since: delete the folder to regenerate)"
            log(f"reusing {folder.name} (generated in {m['gen']['seconds']:.1f} s){stale}")
            return folder, m["gen"]
    if folder.exists():
        shutil.rmtree(folder)
    log(f"generating {folder.name} ...")
    r = measure(self_cmd("_gen", str(folder), str(rides), fmt, str(SEED)))
    if r["code"] != 0:
        raise SystemExit(f"generating {folder} failed:\n{r['stderr']}")
    gen = dict(r["data"], wall=r["wall"], rss_mb=r["rss_mb"], bytes=(folder / r["data"]["trips"]).stat().st_size)
    manifest.write_text(json.dumps({"params": params, "synth": synth_hash(), "gen": gen}, indent=1))
    log(f"  {gen['records']:,} records, {gen['bytes'] / 1e9:.2f} GB in {gen['seconds']:.1f} s")
    return folder, gen


def warm(folder: Path) -> float:
    """Read every file of the package once, so that every task finds it in the page cache: the
    task run first (verify) would otherwise also pay the disk read the later ones do not. Returns
    the seconds the read took."""
    t = time.perf_counter()
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            with open(f, "rb") as fh:
                while fh.read(1 << 24):
                    pass
    return time.perf_counter() - t


# ---------------------------------------------------------------------------------------------
# the run
def machine() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(next(ln for ln in Path("/proc/meminfo").read_text().splitlines()
                      if ln.startswith("MemTotal")).split()[1])
        mem = f"{kb / 1024 ** 2:.1f} GiB"
    except (OSError, StopIteration):
        pass
    osname = platform.platform()
    try:
        rel = dict(ln.split("=", 1) for ln in Path("/etc/os-release").read_text().splitlines() if "=" in ln)
        osname = rel.get("PRETTY_NAME", "").strip('"') + f" ({platform.release()})"
    except OSError:
        pass
    import duckdb
    import numpy
    import pandas
    import pyarrow

    try:  # read-only: which verifier code was measured (others may be editing the tree)
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "verifier"],
                               capture_output=True, text=True).stdout.split("\n")
        dirty = [ln[3:] for ln in dirty if ln.strip()]
        tree = f"{head}" + (f" + uncommitted changes in {', '.join(dirty)}" if dirty else "")
        eng = REPO / "verifier" / "data" / "engine.py"
        tree += (f"; engine.py sha256 {hashlib.sha256(eng.read_bytes()).hexdigest()[:12]}, modified "
                 f"{datetime.fromtimestamp(eng.stat().st_mtime, timezone.utc).strftime('%H:%M:%S UTC')}")
    except OSError:
        tree = "?"
    return {"verifier": tree, "cpu": cpu, "cores": os.cpu_count(), "ram": mem, "os": osname,
            "python": platform.python_version(), "duckdb": duckdb.__version__, "pandas": pandas.__version__,
            "pyarrow": pyarrow.__version__, "numpy": numpy.__version__,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def cross_checks(rows: list[dict], size: int, fmt: str) -> list[str]:
    """Do the references agree with each other on the figures they share? (They must, or a
    ratio between them means nothing.)"""
    def data(task):
        return next((x["data"] for x in rows if x["size"] == size and x["format"] == fmt and x["task"] == task
                     and x.get("data")), {})
    out = []
    core = ("rows", "invalid", "duplicate_ids", "overlaps")
    full = core + ("tuple_duplicates", "md5_5000th", "before_authorisation", "starts_inside", "ends_inside")
    for a, b, keys in (("floor (bare DuckDB)", "pandas", core), (FLOOR_FULL, PANDAS_FULL, full)):
        x, y = data(a), data(b)
        if x and y:
            same = all(x.get(k) == y.get(k) for k in keys) and abs(x["pkm"] - y["pkm"]) < 1e-3
            out.append(f"{fmt_size(size)} {fmt}: {a} and {b} agree on {', '.join(keys)}, pkm: "
                       f"{'yes' if same else 'NO'} ({', '.join(f'{k}={x.get(k)}' for k in keys)}, pkm={x.get('pkm'):.3f})")
    return out


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def fmt_size(n: int) -> str:
    m, e = f"{n:.0e}".split("e")
    e = int(e)
    return f"10^{e}" if m == "1" else f"{m}×10^{e}"


def run_verify(pkg: Path, out: Path, limit: str | None) -> tuple[dict, str]:
    """`verifier verify` of one package in a fresh child, end to end (PDF included): the
    measurement and a note saying what it concluded."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "verifier", "verify", str(pkg), "--out", str(out),
           "--factors", str(pkg / "factors.yaml"), "--seed", str(VERIFY_SEED)]
    if limit:
        cmd += ["--memory-limit", limit]
    ld = load()
    r = measure(cmd, tty_stderr=True)
    r["load"] = ld
    if r["code"] in (0, 1) and (out / "findings.json").exists():
        f = json.loads((out / "findings.json").read_text())
        r["data"] = {"rows": f["sampling"]["population"], "conclusion": f["conclusion"],
                     "pdf_bytes": (out / "report.pdf").stat().st_size if (out / "report.pdf").exists() else None}
        return r, f"conclusion {f['conclusion']}, PDF {'written' if r['data']['pdf_bytes'] else 'MISSING'}"
    return r, f"FAILED: {r['stderr'].strip().splitlines()[-1] if r['stderr'].strip() else r['code']}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1e6,1e7,2e7")
    ap.add_argument("--formats", default="parquet,csv")
    ap.add_argument("--with-1e8", action="store_true", help="also 10^8 rides (Parquet only)")
    ap.add_argument("--workdir", default=str(HERE / "work"))
    ap.add_argument("--out", default=str(HERE / "results.md"))
    ap.add_argument("--profile-size", default="1e7",
                    help="also run verify in-process with step timers at this Parquet size ('' to skip)")
    ap.add_argument("--skip", default="", help="comma list of (size:format) pairs to skip, e.g. 2e7:csv")
    ap.add_argument("--no-pandas", action="store_true")
    ap.add_argument("--no-budget-variant", action="store_true",
                    help=f"skip the verify --memory-limit {MEMORY_LIMIT} run at the largest size of each format")
    ap.add_argument("--budget-at", default="",
                    help="run that variant at this size instead (e.g. 2e7: where the stored table fits in it)")
    ap.add_argument("--small", default="3000",
                    help=f"also verify a small CSV filing of this many rides {SMALL_REPS} times ('' to skip)")
    ap.add_argument("--render", action="store_true",
                    help="only rewrite --out from WORKDIR/results.json (the last run's measurements)")
    args = ap.parse_args(argv)
    if args.render:
        saved = json.loads((Path(args.workdir) / "results.json").read_text())
        write_md(Path(args.out), saved["machine"], saved["rows"], saved["notes"], saved["gens"], saved["profile"])
        return 0

    sizes = [int(float(s)) for s in args.sizes.split(",") if s]
    formats = [f for f in args.formats.split(",") if f]
    skip = {(int(float(p.split(":")[0])), p.split(":")[1]) for p in args.skip.split(",") if p}
    combos = [(n, f) for n in sizes for f in formats if (n, f) not in skip]
    if args.with_1e8:
        combos.append((10**8, "parquet"))
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    out_md = Path(args.out)
    mach = machine()
    rows: list[dict] = []
    notes: list[str] = []
    gens: dict = {}
    profile: dict | None = None
    largest = {f: max(n for n, g in combos if g == f) for f in {g for _, g in combos}}

    def log(msg):
        print(msg, flush=True)

    def record(size, fmt, task, r, note=""):
        d = r.get("data") or {}
        row = {"size": size, "format": fmt, "task": task, "rows": d.get("rows"), "wall": r.get("wall"),
               "rss_mb": r.get("rss_mb"), "code": r.get("code"), "load": r.get("load"), "note": note,
               "parts": d.get("parts"), "data": d}
        rows.append(row)
        log(f"  {task:<22} rows={row['rows']}  {row['wall'] or 0:7.1f} s  {row['rss_mb'] or 0:7.0f} MB"
            f"  exit={row['code']}  load={row['load']}  {note}")
        write_md(out_md, mach, rows, notes, gens, profile)
        (workdir / "results.json").write_text(json.dumps({"machine": mach, "rows": rows, "gens": gens,
                                                           "profile": profile, "notes": notes}, indent=1,
                                                          default=str))

    def run_profile(psize):
        nonlocal profile
        pkg, gen = package(workdir, psize, "parquet", log)
        out = workdir / "out-profile"
        shutil.rmtree(out, ignore_errors=True)
        log(f"== profile: verify in-process at {fmt_size(psize)} parquet (load {load()})")
        r = measure(self_cmd("_steps", str(pkg), str(out)))
        if r["data"]:
            profile = dict(r["data"], size=psize, wall=r["wall"], rss_mb=r["rss_mb"], load=load())
            for name, s in profile["steps"]:
                log(f"  {name:<24} {s:7.2f} s")
        else:
            log("profile failed: " + r["stderr"][-500:])
        write_md(out_md, mach, rows, notes, gens, profile)

    if args.small:
        n = int(float(args.small))
        log(f"== small filing: {n:,} rides csv, verify {SMALL_REPS} times (load {load()})")
        pkg, gens[f"{n}:csv"] = package(workdir, n, "csv", log)
        warm(pkg)
        runs = [run_verify(pkg, workdir / "out-small", None) for _ in range(SMALL_REPS)]
        walls = sorted(r["wall"] for r, _ in runs)
        r = dict(runs[0][0], wall=walls[len(walls) // 2], rss_mb=max(r["rss_mb"] for r, _ in runs),
                 code=max(r["code"] for r, _ in runs))
        record(n, "csv", SMALL, r, f"median of {SMALL_REPS} runs: " + ", ".join(f"{w:.2f}" for w in walls)
               + f" s; {runs[-1][1]}")

    from verifier.data.engine import DEFAULT_MEMORY_LIMIT as verify_budget  # here: the children need not import it

    psize = int(float(args.profile_size)) if args.profile_size else None
    for size, fmt in combos:
        log(f"== {fmt_size(size)} {fmt}  (load {load()})")
        pkg, gen = package(workdir, size, fmt, log)
        gens[f"{size}:{fmt}"] = gen
        log(f"  package read once into the page cache in {warm(pkg):.1f} s")
        trips = pkg / gen["trips"]
        tasks = [("verify", None)]
        budget_at = int(float(args.budget_at)) if args.budget_at else largest[fmt]
        if size == budget_at and not args.no_budget_variant:
            tasks.append((f"verify --memory-limit {MEMORY_LIMIT}", MEMORY_LIMIT))
        for task, limit in tasks:
            out = workdir / f"out-{fmt}-{size:.0e}{'-limit' if limit else ''}".replace("+", "")
            r, note = run_verify(pkg, out, limit)
            record(size, fmt, task, r, note)
        ld = load()
        r = measure(self_cmd("_floor", str(trips), fmt))
        r["load"] = ld
        d = r.get("data") or {}
        record(size, fmt, "floor (bare DuckDB)", r,
               "; ".join(f"{k} {v:.1f} s" for k, v in (d.get("parts") or {}).items()) if d else
               f"FAILED: {r['stderr'][-300:]}")
        for task, limit in ((FLOOR_FULL, ""), (FLOOR_BUDGET, verify_budget)):
            ld = load()
            r = measure(self_cmd("_floor_full", str(trips), fmt, str(pkg / "users.csv"), limit))
            r["load"] = ld
            d = r.get("data") or {}
            record(size, fmt, task, r,
                   "; ".join(f"{k} {v:.1f} s" for k, v in (d.get("parts") or {}).items()) if d else
                   f"FAILED: {r['stderr'][-300:]}")
        too_big = (fmt == "csv" and size > PANDAS_MAX_CSV) or (fmt == "parquet" and size > PANDAS_MAX_PARQUET)
        if args.no_pandas:
            record(size, fmt, "pandas", {"load": load()}, "skipped (--no-pandas)")
        elif too_big:
            why = ("skipped: plain pandas read_csv at this size needs > 16 GB or > 10 min "
                   "(stack facts: 6 GB and 47 s at 2×10^7 for the core work alone, without the default "
                   "parser's object columns)" if fmt == "csv" else
                   "skipped: plain pandas at 10^8 needs > 16 GB (stack facts: overlaps alone 10 GB, 124 s)")
            record(size, fmt, "pandas", {"load": load()}, why)
        else:
            ld = load()
            r = measure(self_cmd("_pandas", str(trips), fmt), timeout=PANDAS_TIMEOUT_S)
            r["load"] = ld
            d = r.get("data") or {}
            note = ("; ".join(f"{k} {v:.1f} s" for k, v in (d.get("parts") or {}).items()) if d
                    else ("killed after 600 s" if r["timed_out"] else f"FAILED: {r['stderr'][-300:]}"))
            record(size, fmt, "pandas", r, note)
        if args.no_pandas or too_big:
            record(size, fmt, PANDAS_FULL, {"load": load()}, "skipped (--no-pandas)" if args.no_pandas else
                   "skipped: needs more memory than this machine has (about 8 GB at 2×10^7 already)")
        else:
            ld = load()
            r = measure(self_cmd("_pandas_full", str(trips), fmt, str(pkg / "users.csv")), timeout=PANDAS_TIMEOUT_S)
            r["load"] = ld
            d = r.get("data") or {}
            note = ("; ".join(f"{k} {v:.1f} s" for k, v in (d.get("parts") or {}).items()) if d
                    else ("killed after 600 s" if r["timed_out"] else f"FAILED: {r['stderr'][-300:]}"))
            record(size, fmt, PANDAS_FULL, r, note)
        notes.extend(cross_checks(rows, size, fmt))
        if psize == size and fmt == "parquet":
            run_profile(psize)
            psize = None
    if psize:
        run_profile(psize)

    write_md(out_md, mach, rows, notes, gens, profile)
    log(f"written {out_md}")
    return 0


# ---------------------------------------------------------------------------------------------
# results.md
def verdict(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


def targets(rows: list[dict], find) -> list[str]:
    """The issue's three targets, each with the figures that decide it (or 'not measured')."""
    L = []
    small = next((r for r in rows if r["task"] == SMALL and r.get("wall")), None)
    if small:
        L.append(f"- small filing ({small['size']:,} rides, CSV), end to end with the PDF, at most 3 s wall: "
                 f"median {small['wall']:.2f} s of {SMALL_REPS} runs, peak RSS {small['rss_mb']:.0f} MB "
                 f"{verdict(small['wall'] <= 3 and small.get('code') in (0, 1))}")
    else:
        L.append("- small filing at most 3 s wall: not measured in this run (`--small`)")
    n20 = 2 * 10**7
    v, fw = find(n20, "parquet", "verify"), find(n20, "parquet", FLOOR_FULL)
    fl, pf = find(n20, "parquet", "floor (bare DuckDB)"), find(n20, "parquet", PANDAS_FULL)
    if v and fw:
        L.append(f"- 2×10^7 Parquet, verify within 1.5× of the floor of its own work: {v['wall'] / fw['wall']:.2f}× "
                 f"({v['wall']:.1f} s vs {fw['wall']:.1f} s) {verdict(v['wall'] / fw['wall'] <= 1.5)}")
    else:
        L.append("- 2×10^7 Parquet, verify within 1.5× of the floor of its own work: not measured in this run")
    fb = find(n20, "parquet", FLOOR_BUDGET)
    if v and fb:
        L.append(f"- (the same reference under verify's memory budget) 2×10^7 Parquet, verify against the floor of its "
                 f"own work run with verify's default memory limit: {v['wall'] / fb['wall']:.2f}× ({fb['wall']:.1f} s, "
                 f"{fb['rss_mb']:.0f} MB): the floor reads the file in every query and needs no more memory than verify")
    if v and pf:
        L.append(f"- 2×10^7 Parquet, verify at least 4× faster than the complete pandas implementation: "
                 f"{pf['wall'] / v['wall']:.2f}× ({pf['wall']:.1f} s, {pf['rss_mb']:.0f} MB vs {v['wall']:.1f} s) "
                 f"{verdict(pf['wall'] / v['wall'] >= 4)}")
    else:
        L.append("- 2×10^7 Parquet, verify at least 4× faster than complete pandas: not measured in this run")
    if v:
        L.append(f"- 2×10^7 Parquet, verify peak RSS at most 2 GB: {v['rss_mb']:.0f} MB {verdict(v['rss_mb'] <= 2048)}")
    if v and fl:
        L.append(f"- (not a target) 2×10^7 Parquet, verify against the core floor (no boundary, tuple duplicates, "
                 f"md5 rank, users join or hashing): {v['wall'] / fl['wall']:.2f}× ({fl['wall']:.1f} s)")
    big = find(10**8, "parquet", "verify")
    if big:
        ok = big["wall"] <= 180 and big["rss_mb"] <= 2048
        L.append(f"- 10^8 Parquet, at most 3 minutes and 2 GB: {big['wall']:.0f} s, {big['rss_mb']:.0f} MB {verdict(ok)}")
    else:
        L.append("- 10^8 Parquet at most 3 minutes and 2 GB: not run (`--with-1e8`)")
    return L


KEPT = "<!-- bench/run.py rewrites everything above this line and keeps what follows it -->"


def write_md(path: Path, mach: dict, rows: list[dict], notes: list[str], gens: dict, profile) -> None:
    def find(size, fmt, task):
        return next((r for r in rows if r["size"] == size and r["format"] == fmt and r["task"] == task
                     and r.get("wall") and r.get("code") in (0, 1)), None)

    L = ["# verify against the floor: results", "",
         "Written by `python bench/run.py` (see bench/README.md). Each task ran in its own fresh child "
         "process, with the package read once beforehand so that every task finds it in the page cache; peak RSS is that child's `ru_maxrss` (`os.wait4`). Load average (1/5/15 min) is "
         "taken just before each task: the machine has 2 cores and is shared, so seconds carry noise.", "",
         "## Machine", ""]
    L += [f"- {k}: {v}" for k, v in mach.items()]
    L += ["", "## Results", "",
          "| size | format | task | rows | wall s | peak RSS MB | verify/floor | verify/floor of its work "
          "| pandas/verify | load avg | note |",
          "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        vf = vw = pv = ""
        floor = find(r["size"], r["format"], "floor (bare DuckDB)")
        full = find(r["size"], r["format"], FLOOR_FULL)
        verify = find(r["size"], r["format"], "verify")
        if r["task"].startswith("verify") and floor and r.get("wall") and r.get("code") in (0, 1):
            vf = f"{r['wall'] / floor['wall']:.2f}"
        if r["task"].startswith("verify") and full and r.get("wall") and r.get("code") in (0, 1):
            vw = f"{r['wall'] / full['wall']:.2f}"
        if r["task"] in ("pandas", PANDAS_FULL) and verify and r.get("wall") and r.get("code") == 0:
            pv = f"{r['wall'] / verify['wall']:.2f}"
        wall = f"{r['wall']:.1f}" if r.get("wall") else "—"
        rss = f"{r['rss_mb']:.0f}" if r.get("rss_mb") else "—"
        rws = f"{r['rows']:,}" if r.get("rows") is not None else "—"
        L.append(f"| {fmt_size(r['size'])} | {r['format']} | {r['task']} | {rws} | {wall} | {rss} | {vf} | {vw} | {pv} "
                 f"| {r.get('load') or ''} | {r.get('note', '')} |")
    if gens:
        L += ["", "Packages (generated once, reused while `bench-manifest.json` matches):", ""]
        for k, g in gens.items():
            n, f = k.split(":")
            L.append(f"- {fmt_size(int(n))} {f}: {g['records']:,} records, {g['bytes'] / 1e9:.2f} GB, "
                     f"generated in {g['seconds']:.1f} s")
    L += ["", "## Targets (issue 15)", ""] + targets(rows, find)
    if notes:
        L += ["", "## Cross-checks", ""] + [f"- {n}" for n in notes]
    if profile:
        L += ["", f"## Where verify spends its time ({fmt_size(profile['size'])} Parquet, in-process, "
                  f"{profile['total']:.1f} s, peak RSS {profile['rss_mb']:.0f} MB, load {profile['load']})", "",
              "Steps as announced by `verify(progress=...)` (each until the next starts):", "",
              "| step | seconds |", "|---|---:|"]
        L += [f"| {name} | {s:.2f} |" for name, s in profile["steps"]]
        L += ["", "Timers around the parts (cumulative seconds, calls; nested: `engine.stage` includes the "
                  "point-in-polygon UDF, `run._write_outputs` includes `render.write_report`; "
                  "`run.hash_inputs` runs in a thread beside staging):", "",
              "| part | seconds | calls |", "|---|---:|---:|"]
        L += [f"| {k} | {s:.2f} | {c} |" for k, (s, c) in profile["timers"].items()]
    L += ["", "## What the tasks do", "",
          "- **verify**: `python -m verifier verify PKG --out OUT --factors PKG/factors.yaml --seed 1`, "
          "end to end, PDF included (staging with boundary tests in 3 coordinate systems, users join, "
          "all flag rules, aggregates, md5 sample, figures, report, SHA-256 of the inputs).",
          "- **floor (bare DuckDB)**: one process, three queries on the file itself: one scan for count, "
          "sum of distance, min/max start, invalid-value count; duplicate trip ids (GROUP BY HAVING); "
          "per-user overlaps (lag of end_time over user ordered by start). No boundary, no users file, "
          "no tuple duplicates, no sample, no report: the least any engine must do.",
          "- **floor of verify's work (bare DuckDB)**: the floor's three queries, then one bare query "
          "each for what verify must also do over every record: tuple duplicates (user, start, end), the "
          "md5 rank of the sample (top 5,000), the users join (rides before authorisation), the boundary "
          "test of every start and end point (Shenzhen from `../shared/data/geo`, a 512×512 grid lookup "
          "joined to every record and shapely's exact test in a vectorised UDF for points in cells the "
          "outline crosses, as verify does it, in one coordinate system where verify reads three), and the "
          "SHA-256 of the file. No per-record flags, figures or report: the floor of verify's own work, "
          "the reference of the issue's 1.5× target. It runs with DuckDB's own memory limit (80 % of RAM).",
          f"- **{FLOOR_BUDGET}**: the same queries with verify's default memory limit (`SET memory_limit`, "
          "a spill folder of its own): whether the floor owes its speed to memory verify may not use.",
          "- **pandas**: plain pandas (`read_parquet` / `read_csv(parse_dates=...)`, default parser), the same "
          "figures as the floor: count, sum, min/max, invalid, `duplicated()`, sort + groupby shift for overlaps.",
          f"- **{PANDAS_FULL}**: the same work as the floor of verify's work, written as a pandas user would: "
          "the whole file read, `duplicated()` for both kinds of duplicates, sort + groupby shift for "
          "overlaps, `hashlib.md5` per record and `heapq.nsmallest` for the sample rank, `merge` with the "
          "users file, shapely's `contains_xy` on the prepared polygon for every start and end point, "
          "hashlib for the file's SHA-256. The reference of the issue's 4× target.",
          f"- **{SMALL}**: `verify` of a small (default 3,000-ride) CSV package, PDF included, {SMALL_REPS} times in fresh "
          "processes; the median is the figure (the regulator's batch runs hundreds of these)."]
    kept = ""
    if path.exists():
        old = path.read_text(encoding="utf-8")
        kept = old[old.index(KEPT) + len(KEPT):] if KEPT in old else ""
    path.write_text("\n".join(L) + "\n\n" + KEPT + (kept or "\n"), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in CHILDREN:
        result = CHILDREN[sys.argv[1]](*sys.argv[2:])
        print(json.dumps(result, default=str))
        sys.exit(0)
    sys.exit(main())
