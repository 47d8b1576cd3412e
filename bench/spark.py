"""Benchmark the Spark engine against DuckDB on one package, in one run (bench/README.md, "Spark").

    python bench/spark.py [--package /work/benchpk/bike-1e7] [--rows 1e6]
                          [--tasks duckdb,local,cluster,floor] [--out bench/results.md]

Tasks, each in its own fresh child process (a Spark one starts its own JVM):
  duckdb    verify PKG --engine duckdb
  local     verify PKG --engine spark --spark-master local[2]
  cluster   verify PKG --engine spark --spark-master spark://... on a standalone cluster of two
            workers (1 core each) started here on loopback (tools/spark_cluster.py)
  floor     the floor's three bare queries (count/sum/invalid, duplicate ids, per-user overlaps;
            bench/run.py) in DuckDB, in Spark local[2] and on the cluster: what any engine must do
Peak RSS is sampled (every 0.2 s) as the sum of VmRSS over the child's process tree (the driver
JVM and Python workers included) plus, for cluster tasks, the master's and workers' trees (the
executor JVMs are the workers' children). `--rows N` runs on the first N records of the package
(a sliced copy in --workdir, report totals made consistent). The rows go into --out as the
section "Spark engine" (replaced on each run), with the estimate of the cluster for 10^9 records.

The same file is the child program: `python bench/spark.py _spark_floor FILE MASTER [KEY=VALUE...]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]
import run as base  # noqa: E402: bench/run.py: the floor's queries, the machine block
from tools.spark_cluster import standalone_cluster  # noqa: E402

SECTION = "## Spark engine (bench/spark.py)"
TARGET_RECORDS, TARGET_SECONDS = 10**9, 3600
# Spark settings for this 2-core machine; every JVM's memory is fixed before it starts.
LOCAL_CONF = ["spark.driver.memory=3g", "spark.sql.shuffle.partitions=8"]
CLUSTER_CONF = ["spark.driver.memory=2g", "spark.executor.memory=1536m", "spark.executor.cores=1",
                "spark.cores.max=2", "spark.sql.shuffle.partitions=8"]
WORKER_MEMORY = "2g"


# ---------------------------------------------------------------------------------------------
# child program: the floor in Spark
def child_spark_floor(path: str, master: str, *conf: str) -> dict:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName("bench-floor")
    for kv in conf:
        builder = builder.config(*kv.split("=", 1))
    spark = builder.config("spark.ui.enabled", "false").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    spark.read.parquet(path).createOrReplaceTempView("t")
    parts = {}

    def q(name, sql):
        t = time.perf_counter()
        row = spark.sql(sql).collect()[0]
        parts[name] = round(time.perf_counter() - t, 3)
        return row

    agg = q("aggregates", f"SELECT count(*), sum(distance_km), {base._invalid_sql()} FROM t")
    dups = q("duplicate_ids", "SELECT count(*) FROM (SELECT trip_id FROM t GROUP BY trip_id HAVING count(*) > 1)")
    over = q("overlaps", """SELECT count_if(start_time < prev_end) FROM (
                 SELECT start_time, lag(end_time) OVER (PARTITION BY user_id ORDER BY start_time) AS prev_end
                 FROM t)""")
    spark.stop()
    return {"rows": int(agg[0]), "invalid": int(agg[2]), "duplicate_ids": int(dups[0]), "overlaps": int(over[0]),
            "parts": parts}


# ---------------------------------------------------------------------------------------------
# measuring a process tree
def _tree_rss_kb(roots: list[int]) -> int:
    """Sum of VmRSS over `roots` and all their descendants (from /proc, one pass)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(d))
    total, stack, seen = 0, list(roots), set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        stack += children.get(pid, [])
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def measure(cmd: list[str], also: list[int] = (), timeout: float = 7200) -> dict:
    """Run `cmd`; wall seconds, the sampled peak RSS (MB) of its tree plus the trees of `also`."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=base._env(),
                         start_new_session=True)
    peak, done = [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kb([p.pid, *also]))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        out, err = p.communicate()
    except BaseException:  # stopped (SIGTERM, Ctrl-C): take the child's JVM down too
        os.killpg(p.pid, 9)
        p.wait()
        raise
    wall = time.perf_counter() - t
    done.set()
    sampler.join()
    lines = [ln for ln in out.decode(errors="replace").splitlines() if ln.strip()]
    data = None
    try:
        data = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        pass
    return {"wall": wall, "rss_mb": peak[0] / 1024, "code": p.returncode, "data": data,
            "stderr": err.decode(errors="replace")[-2000:]}


# ---------------------------------------------------------------------------------------------
# the package
def sliced(package: Path, rows: int | None, workdir: Path) -> Path:
    """`package`, or a copy holding its first `rows` records (report counts made consistent)."""
    import duckdb
    import yaml

    if not rows:
        return package
    folder = workdir / f"{package.name}-first-{rows:.0e}".replace("+", "")
    if (folder / "report.yaml").is_file():
        return folder
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(package, tmp, ignore=shutil.ignore_patterns("trips.parquet"))
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_parquet('{package / 'trips.parquet'}') LIMIT {rows}) "
                f"TO '{tmp / 'trips.parquet'}' (FORMAT parquet)")
    n, km = con.execute(f"SELECT count(*), round(sum(distance_km), 3) FROM read_parquet('{tmp / 'trips.parquet'}')").fetchone()
    report = yaml.safe_load((tmp / "report.yaml").read_text(encoding="utf-8"))
    report["monitored_data"][0]["value"], report["monitored_data"][1]["value"] = int(n), float(km)
    baseline = round(0.05 * float(km) / 1000, 6)
    report["results"].update(baseline_emissions_tco2=baseline, reduction_tco2=baseline)
    (tmp / "report.yaml").write_text(yaml.safe_dump(report, allow_unicode=True, sort_keys=False), encoding="utf-8")
    tmp.rename(folder)
    return folder


def verify_cmd(pkg: Path, out: Path, temp: Path, *engine_args: str) -> list[str]:
    shutil.rmtree(out, ignore_errors=True)
    temp.mkdir(parents=True, exist_ok=True)
    return [sys.executable, "-m", "verifier", "verify", str(pkg), "--out", str(out), "--factors",
            str(pkg / "factors.yaml"), "--seed", "1", "--quiet", "--temp-dir", str(temp), *engine_args]


def spark_args(master: str, conf: list[str]) -> list[str]:
    return ["--engine", "spark", "--spark-master", master] + [a for kv in conf for a in ("--spark-conf", kv)]


def row(task: str, r: dict, rows=None, note: str = "") -> dict:
    ok = r["code"] in (0, 1)
    if not ok:
        last = [ln for ln in r["stderr"].splitlines() if ln.strip()][-1:] or [f"exit {r['code']}"]
        note = (note + "; " if note else "") + f"FAILED (exit {r['code']}): {last[0][:200]}"
    return {"task": task, "rows": rows if ok else None, "wall": round(r["wall"], 1), "rss_mb": round(r["rss_mb"]),
            "ok": ok, "note": note, "load": base.load()}


def verify_row(task: str, r: dict, out: Path) -> dict:
    findings = out / "findings.json"
    if r["code"] in (0, 1) and findings.is_file():
        doc = json.loads(findings.read_text(encoding="utf-8"))
        conclusion = "pass" if r["code"] == 0 else "fail"
        return row(task, r, doc["sampling"]["population"], f"conclusion {conclusion}")
    return row(task, r)


def floor_row(task: str, r: dict) -> dict:
    d = r["data"] or {}
    parts = "; ".join(f"{k} {v:.1f} s" for k, v in d.get("parts", {}).items())
    return row(task, r, d.get("rows"), parts)


# ---------------------------------------------------------------------------------------------
def run(args) -> list[dict]:
    pkg = sliced(Path(args.package), int(float(args.rows)) if args.rows else None, args.workdir)
    trips = str(pkg / "trips.parquet")
    tasks = set(args.tasks.split(","))
    work = args.workdir / "spark-runs"
    rows: list[dict] = []

    def log(msg):
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    def record(r):
        rows.append(r)
        log(f"{r['task']}: {r['rows']} rows, {r['wall']} s, {r['rss_mb']} MB {r['note']}")

    if "duckdb" in tasks:
        out = work / "out-duckdb"
        record(verify_row("verify, DuckDB", measure(verify_cmd(pkg, out, work / "tmp")), out))
    if "floor" in tasks:
        record(floor_row("floor, DuckDB", measure(base.self_cmd("_floor", trips, "parquet"))))
    if "local" in tasks:
        out = work / "out-local"
        record(verify_row("verify, Spark local[2]",
                          measure(verify_cmd(pkg, out, work / "tmp", *spark_args("local[2]", LOCAL_CONF))), out))
    if "floor" in tasks:
        record(floor_row("floor, Spark local[2]",
                         measure([sys.executable, __file__, "_spark_floor", trips, "local[2]", *LOCAL_CONF])))
    if tasks & {"cluster", "floor"}:
        with standalone_cluster(work / "cluster", workers=2, cores=1, memory=WORKER_MEMORY) as cluster:
            daemons = cluster.pids()
            if "cluster" in tasks:
                out = work / "out-cluster"
                record(verify_row("verify, Spark standalone (2 workers x 1 core)",
                                  measure(verify_cmd(pkg, out, work / "tmp", *spark_args(cluster.master, CLUSTER_CONF)),
                                          also=daemons), out))
            if "floor" in tasks:
                record(floor_row("floor, Spark standalone (2 workers x 1 core)",
                                 measure([sys.executable, __file__, "_spark_floor", trips, cluster.master,
                                          *CLUSTER_CONF], also=daemons)))
    return rows


def query_seconds(r: dict) -> float:
    """A floor row's seconds in its queries (from its note), without the session start."""
    return sum(float(part.split()[-2]) for part in r["note"].split("; ") if part.endswith(" s"))


def estimate(rows: list[dict]) -> list[str]:
    """The cluster for 10^9 records in an hour, from the measured rows: records per second per
    executor core, assuming Spark scales linearly with cores (its scans and shuffles do, up to
    the network) and discounting 30 % for a real cluster's stragglers and network. A verify row
    on the cluster gives it directly (session start included: pessimistic at small sizes);
    without one, the cluster floor's query seconds (session start excluded: it does not grow
    with the records) times DuckDB's verify/floor ratio (the verifier's own passes over the
    floor's three queries) stand in for it, and the text says so."""
    need = TARGET_RECORDS / TARGET_SECONDS
    got = {r["task"].split(",")[0] + ("/cluster" if "standalone" in r["task"] else "/duckdb" if "DuckDB" in r["task"]
                                      else "/local"): r for r in rows if r["ok"] and r["rows"]}
    out = [f"Target: {TARGET_RECORDS:.0e} records in {TARGET_SECONDS} s = {need:,.0f} records/s."]

    def cores(label, per_core):
        out.append(f"- {label}: {per_core:,.0f} records/s per executor core -> **{need / (per_core * 0.7):,.0f} "
                   "executor cores** at 70 % scaling efficiency")

    if "verify/cluster" in got:
        r = got["verify/cluster"]
        cores(f"verify on the cluster, {r['rows']:,} records in {r['wall']} s (session start included)",
              r["rows"] / r["wall"] / 2)
    if {"floor/cluster", "verify/duckdb", "floor/duckdb"} <= set(got):
        f, v, d = got["floor/cluster"], got["verify/duckdb"], got["floor/duckdb"]
        ratio, q = v["wall"] / d["wall"], query_seconds(f)
        cores(f"the cluster floor ({f['rows']:,} records in {q:.1f} s of queries, {f['wall']} s with the session "
              f"start) times DuckDB's verify/floor ratio ({v['wall']} s / {d['wall']} s = {ratio:.1f})",
              f["rows"] / q / 2 / ratio)
    return out


def write_md(path: Path, rows: list[dict], args, notes: list[str]) -> None:
    mach = base.machine()
    shown = [a for i, a in enumerate(sys.argv[1:]) if a != "--note" and (i == 0 or sys.argv[i] != "--note")]
    lines = [SECTION, "",
             f"Written by `python bench/spark.py {' '.join(shown)}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
             f"(verifier {mach.get('verifier', '?')}; {mach.get('cores')} cores, {mach.get('ram')}). Each task in a fresh "
             "child process; peak RSS = sum of VmRSS over the child's process tree sampled every 0.2 s (JVMs and "
             "Python workers included; cluster tasks also count the master, the workers and their executors).", "",
             "| task | rows | wall s | peak RSS MB | load avg after | note |", "|---|---:|---:|---:|---|---|"]
    for r in rows:
        count = "" if r["rows"] is None else f"{r['rows']:,}"
        lines.append(f"| {r['task']} | {count} | {r['wall']} | {r['rss_mb']} | {r['load']} | {r['note']} |")
    lines += ["", *estimate(rows), "", *notes, ""]
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    head = text.split(SECTION)[0].rstrip("\n")
    path.write_text((head + "\n\n" if head else "") + "\n".join(lines), encoding="utf-8")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds: the cluster and children are stopped
    if argv and argv[0] == "_spark_floor":
        print(json.dumps(child_spark_floor(*argv[1:])))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--package", default="/work/benchpk/bike-1e7")
    ap.add_argument("--rows", default="", help="only the first N records (e.g. 1e6)")
    ap.add_argument("--tasks", default="duckdb,local,cluster,floor")
    ap.add_argument("--workdir", type=Path, default=HERE / "work")
    ap.add_argument("--out", type=Path, default=HERE / "results.md")
    ap.add_argument("--note", action="append", default=[], help="a line added under the table")
    ap.add_argument("--render", action="store_true", help="rewrite --out from the last run's rows (JSON)")
    args = ap.parse_args(argv)
    saved = args.workdir / "spark-results.json"
    if args.render:
        rows = json.loads(saved.read_text(encoding="utf-8"))
    else:
        rows = run(args)
        saved.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    write_md(args.out, rows, args, args.note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
