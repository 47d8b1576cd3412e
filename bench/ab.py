"""Before/after: `verify` of one package by two source trees, alternated in one run.

    python bench/ab.py PACKAGE BEFORE_TREE AFTER_TREE [--reps 3] [--workdir bench/work/ab]

A tree is a checkout of verifier (e.g. `git worktree add /tmp/before <rev>`); each run is a fresh
child process of this interpreter with PYTHONPATH set to the tree, so both use the same installed
libraries. Runs alternate (before, after, before, ...) so that the machine's drift falls on both.
Prints one Markdown row per run (wall seconds, peak RSS of the child, load average) and the
median ratio after/before.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def run(tree: Path, package: Path, out: Path) -> tuple[float, int, int]:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "verifier", "verify", str(package), "--out", str(out), "--seed", "1",
           "--factors", str(package / "factors.yaml")]
    start = time.perf_counter()
    # cwd too: `python -m` puts the working folder first on sys.path, before PYTHONPATH, so a run
    # from inside another checkout would otherwise import that checkout's verifier.
    child = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(tree)}, cwd=tree,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss // 1024, os.waitstatus_to_exitcode(status)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("package", type=Path)
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent / "work" / "ab")
    a = ap.parse_args(argv)
    seconds: dict[str, list[float]] = {"before": [], "after": []}
    print("| run | tree | wall s | peak RSS MB | exit | load avg |\n|---|---|---:|---:|---:|---|")
    for rep in range(a.reps):
        for name, tree in (("before", a.before), ("after", a.after)):
            load = "/".join(f"{x:.2f}" for x in os.getloadavg())
            wall, rss, code = run(tree, a.package, a.workdir / name)
            seconds[name].append(wall)
            print(f"| {rep + 1} | {name} | {wall:.1f} | {rss:,} | {code} | {load} |", flush=True)
    ratio = statistics.median(seconds["after"]) / statistics.median(seconds["before"])
    print(f"\nmedian after/before: {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
