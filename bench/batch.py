"""Benchmark `verifier batch`: many bike filings at once (issue 14).

    python bench/batch.py WORKDIR [--filings 50] [--records 1e5] [--doubles 25] [--jobs 2,1]
                          [--format parquet] [--memory-limit M] [--out bench/results.md]

Writes FILINGS bike packages of RECORDS rides each into WORKDIR/filings/ (tools.synth, one
operator per filing: seed 1000 + i, WGS-84 coordinates, 2024; reused when WORKDIR/manifest.json
matches), with planted double claims: filings op01, op02 and op03 (those present) each also
file DOUBLES rides of op00 (written in GCJ-02, equal to op00's only by the trip fingerprint). Then, for each --jobs value,
runs `verifier batch WORKDIR/filings --out WORKDIR/out-jobsN --seed 7 --factors ... --jobs N` from a
fresh output folder in its own child process, measuring wall seconds and peak RSS of its process
tree (the sum of VmRSS over the batch process and its workers, sampled every 0.2 s: bench/spark.py's
`measure`), and appends one row per run to the "Batch" section of --out (created if missing):
filings, records, jobs, seconds, peak RSS, seconds per filing, double claims found / planted, exit.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]
import run as base  # noqa: E402: bench/run.py: the machine block, load average
from spark import measure  # noqa: E402: bench/spark.py: wall time and the process tree's peak RSS

SECTION = "## Batch (bench/batch.py)"
TABLE_HEAD = ("| date (UTC) | filings | records | format | jobs | memory limit | wall s | peak RSS MB | s per filing "
              "| double claims found / planted | exit | load avg after | verifier |\n"
              "|---|---:|---:|---|---:|---|---:|---:|---:|---|---:|---|---|\n")
VERIFY_SEED = 7
SOURCE = "op00"           # the filing whose rides others file again
COPIERS = 3               # op01.. that file them again (fewer when the batch is smaller)


def filing_name(i: int) -> str:
    return f"op{i:02d}"


def copiers(filings: int) -> list[str]:
    return [filing_name(i) for i in range(1, min(COPIERS, filings - 1) + 1)]


def generate(workdir: Path, filings: int, records: int, doubles: int, fmt: str) -> Path:
    """The packages (reused when the manifest matches); returns the folder of filings."""
    from tools.synth import write_bike_package
    from tools.synth.regulator import shared_rides
    from verifier.pipeline import sha256_file

    folder = workdir / "filings"
    manifest = {"filings": filings, "records": records, "doubles": doubles, "format": fmt,
                "generator": sha256_file(REPO / "tools" / "synth" / "bike.py")}
    mpath = workdir / "manifest.json"
    if mpath.is_file() and json.loads(mpath.read_text()) == manifest:
        return folder
    shutil.rmtree(workdir / "filings", ignore_errors=True)
    mpath.unlink(missing_ok=True)
    src = write_bike_package(folder / SOURCE, rides=records, seed=1000, fmt=fmt, crs="wgs84")
    shared = shared_rides(folder / SOURCE / src["trips"], 1000, doubles)
    for i in range(1, filings):
        name = filing_name(i)
        extra = shared["table"] if name in copiers(filings) else None
        write_bike_package(folder / name, rides=records, seed=1000 + i, fmt=fmt, crs="wgs84", extra_rides=extra)
    shutil.copyfile(folder / SOURCE / "factors.yaml", workdir / "factors.yaml")
    mpath.write_text(json.dumps(manifest))
    return folder


def run_batch(workdir: Path, folder: Path, jobs: int, memory_limit: str | None) -> dict:
    out = workdir / f"out-jobs{jobs}"
    shutil.rmtree(out, ignore_errors=True)   # a fresh run, not a resumed one
    cmd = [sys.executable, "-m", "verifier", "batch", str(folder), "--out", str(out), "--seed", str(VERIFY_SEED),
           "--factors", str(workdir / "factors.yaml"), "--jobs", str(jobs)]
    if memory_limit:
        cmd += ["--memory-limit", memory_limit]
    r = measure(cmd)
    summary = out / "summary.json"
    r["found"] = json.loads(summary.read_text())["double_claims"]["records"] if summary.is_file() else None
    r["load"] = base.load()
    return r


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip() or "?"


def append_row(md: Path, row: str) -> None:
    """Append `row` to the Batch section's table (the section is created at the end if missing)."""
    text = md.read_text(encoding="utf-8") if md.is_file() else ""
    if SECTION not in text:
        mach = base.machine()
        text = text.rstrip("\n") + (
            f"\n\n{SECTION}\n\n`python bench/batch.py WORKDIR`: FILINGS bike filings of RECORDS rides, three of which "
            "also file rides of a fourth (fingerprint double claims), through `verifier batch --jobs N` from a fresh "
            "--out; wall seconds and peak RSS = sum of VmRSS over the batch process tree (workers included) "
            f"sampled every 0.2 s. Machine: {mach.get('cpu', '?')}, {mach.get('cores', '?')} cores, "
            f"{mach.get('ram', '?')}.\n\n" + TABLE_HEAD)
    start = text.index(SECTION)
    nxt = text.find("\n## ", start + len(SECTION))
    end = len(text) if nxt < 0 else nxt
    body = text[start:end].rstrip("\n") + "\n" + row + "\n"
    md.write_text(text[:start] + body + ("\n" + text[end:].lstrip("\n") if nxt >= 0 else ""), encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--filings", type=int, default=50)
    ap.add_argument("--records", type=float, default=1e5)
    ap.add_argument("--doubles", type=int, default=25, help="rides of op00 filed again by op01-op03 each")
    ap.add_argument("--jobs", default="2,1", help="comma-separated --jobs values, one run each")
    ap.add_argument("--format", choices=("csv", "parquet"), default="parquet")
    ap.add_argument("--memory-limit", help="the batch's --memory-limit (default: verifier's, 1GB)")
    ap.add_argument("--out", type=Path, default=HERE / "results.md")
    args = ap.parse_args(argv)
    if args.filings < 2:
        ap.error("--filings: at least 2")
    records = int(args.records)
    args.workdir.mkdir(parents=True, exist_ok=True)
    folder = generate(args.workdir, args.filings, records, args.doubles, args.format)
    planted = args.doubles * len(copiers(args.filings))
    for jobs in (int(j) for j in args.jobs.split(",")):
        r = run_batch(args.workdir, folder, jobs, args.memory_limit)
        when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")
        row = (f"| {when} | {args.filings} | {records:,} | {args.format} | {jobs} | "
               f"{args.memory_limit or 'default (1GB)'} | {r['wall']:.1f} | "
               f"{r['rss_mb']:.0f} | {r['wall'] / args.filings:.2f} | {r['found']} / {planted} | {r['code']} | "
               f"{r['load']} | {_commit()} |")
        print(row, flush=True)
        if r["code"] not in (0, 1):
            print(r["stderr"], file=sys.stderr)
        append_row(args.out, row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
