"""Write a synthetic shared-bike submission package (thin wrapper over ``verifier.synth``).

    python samples/generate.py OUT [--rides N] [--format csv|parquet] [--defect NAME] [--seed S] [--year Y]
    python samples/generate.py --all [ROOT]     # regenerate the committed packages (default: samples/)

Each package gets an ``expected.yaml``: the findings ``verifier verify`` must produce with the
package's own ``factors.yaml`` and seed 7 (see ``samples/README.md``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from verifier.synth import DEFECTS, expected_findings, write_bike_package  # noqa: E402

# The committed packages: small CSV ones, same generation seed, so each defect package is the
# clean one plus exactly one planted defect.
SAMPLE_RIDES = 400
SAMPLE_SEED = 1
VERIFY_SEED = 7


def write(out: Path, rides: int, fmt: str, defect: str | None, seed: int, year: int) -> dict:
    if out.exists():
        shutil.rmtree(out)
    info = write_bike_package(out, rides=rides, seed=seed, fmt=fmt, defect=defect, year=year)
    expected = expected_findings(info, seed=VERIFY_SEED)
    head = ("# What `verifier verify` must produce for this package (tests/test_golden.py).\n"
            "# Written by samples/generate.py from what verifier.synth planted; do not edit by hand.\n")
    (out / "expected.yaml").write_text(
        head + yaml.safe_dump(expected, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")
    return expected


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", type=Path, help="package folder to write (with --all: the samples root)")
    p.add_argument("--rides", type=int, default=1000)
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.add_argument("--defect", choices=DEFECTS, default=None)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--year", type=int, default=2024)
    p.add_argument("--all", action="store_true", help="regenerate bike-clean and bike-<defect> for every defect")
    args = p.parse_args(argv)
    if args.all:
        root = args.out or Path(__file__).resolve().parent
        for defect in (None, *DEFECTS):
            name = "bike-clean" if defect is None else f"bike-{defect.replace('_', '-')}"
            e = write(root / name, SAMPLE_RIDES, "csv", defect, SAMPLE_SEED, 2024)
            bad = [c for c, v in e["checks"].items() if v["status"] not in ("pass", "not_applicable")]
            print(f"{name}: exit {e['exit_code']}, non-pass: {', '.join(bad) or '-'}")
        return 0
    if args.out is None:
        p.error("OUT is required (or --all)")
    e = write(args.out, args.rides, args.format, args.defect, args.seed, args.year)
    print(f"{args.out}: exit {e['exit_code']}, conclusion {e['conclusion']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
