"""Before/after: does a change alter what `verify` writes? Byte comparison of every output.

    python bench/same_outputs.py BEFORE_TREE AFTER_TREE [--workdir bench/work/same] [--lang zh en]

Runs `verifier verify` with each tree (a checkout, e.g. `git worktree add /tmp/before <rev>`) on
every package in `samples/` of AFTER_TREE, with the options its expected.yaml names, in each
language, and compares findings.json, sample.csv, report.html, report.pdf and sample.xlsx byte
for byte (findings.json's tool version is the only field allowed to differ). Prints one line per
difference and exits 1 when there is one. A refactoring must leave every byte as it was.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

OUTPUTS = ("findings.json", "sample.csv", "report.html", "report.pdf", "sample.xlsx")


def run(tree: Path, package: Path, out: Path, lang: str) -> int:
    shutil.rmtree(out, ignore_errors=True)
    options = (yaml.safe_load((package / "expected.yaml").read_text(encoding="utf-8")) or {}).get("options") or {}
    cmd = [sys.executable, "-m", "verifier", "verify", str(package), "--out", str(out), "--lang", lang]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        cmd += [flag, str(package / value) if name in ("factors", "boundary", "fares") else str(value)]
    return subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(tree)}, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode


def same(name: str, a: Path, b: Path) -> bool:
    if not a.exists() or not b.exists():
        return a.exists() == b.exists()
    if name == "findings.json":  # the tool's version may differ between two trees
        x, y = (json.loads(p.read_text(encoding="utf-8")) for p in (a, b))
        x["tool"] = y["tool"] = None
        return x == y
    return a.read_bytes() == b.read_bytes()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent / "work" / "same")
    ap.add_argument("--lang", nargs="+", default=["zh", "en"])
    a = ap.parse_args(argv)
    packages = sorted(p for p in (a.after / "samples").iterdir() if (p / "expected.yaml").is_file())
    differences = 0
    for package in packages:
        for lang in a.lang:
            outs = {}
            codes = {}
            for name, tree in (("before", a.before), ("after", a.after)):
                outs[name] = a.workdir / name / f"{package.name}-{lang}"
                codes[name] = run(tree, package, outs[name], lang)
            diff = [n for n in OUTPUTS if not same(n, outs["before"] / n, outs["after"] / n)]
            if codes["before"] != codes["after"]:
                diff.insert(0, f"exit {codes['before']} -> {codes['after']}")
            differences += bool(diff)
            print(f"{package.name} [{lang}]: {'differs: ' + ', '.join(diff) if diff else 'identical'}", flush=True)
    print(f"\n{len(packages) * len(a.lang)} runs, {differences} with differences")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
