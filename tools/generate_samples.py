"""Write a synthetic submission package (thin wrapper over ``tools.synth``).

    python tools/generate_samples.py OUT [--rides N] [--format csv|parquet] [--defect NAME] [--seed S] [--year Y]
    python tools/generate_samples.py OUT --transit [--trips N] [--taps] [--format csv|parquet] [--defect NAME] ...
    python tools/generate_samples.py --all [ROOT]     # regenerate the committed packages (default: samples/)
                                                      # and the regulator folder ROOT/regulator/

Each package gets an ``expected.yaml``: the findings ``verifier verify`` must produce with the
package's own ``factors.yaml`` and seed 7 (taps packages also with their ``fares.yaml``, a copy of
the shipped metro fare table); see ``samples/README.md``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout: tools/ is not installed

from tools.synth import (  # noqa: E402
    DEFECTS, TRANSIT_DEFECTS, expected_findings, expected_transit_findings, write_bike_package,
    write_transit_package,
)
from tools.synth.regulator import write_regulator_folder  # noqa: E402

# The committed packages: small CSV ones, same generation seed, so each defect package is the
# clean one plus exactly one planted defect.
SAMPLE_RIDES = 400
SAMPLE_TRIPS = 300
SAMPLE_SEED = 1
VERIFY_SEED = 7
FARES_NAME = "fares.yaml"   # taps packages: a copy of verifier/transit/fares_shenzhen.yaml
HEAD = ("# What `verifier verify` must produce for this package (tests/test_golden.py).\n"
        "# Written by tools/generate_samples.py from what tools.synth planted; do not edit by hand.\n")


def _dump(out: Path, expected: dict) -> None:
    (out / "expected.yaml").write_text(
        HEAD + yaml.safe_dump(expected, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")


def write(out: Path, rides: int, fmt: str, defect: str | None, seed: int, year: int) -> dict:
    if out.exists():
        shutil.rmtree(out)
    info = write_bike_package(out, rides=rides, seed=seed, fmt=fmt, defect=defect, year=year)
    expected = expected_findings(info, seed=VERIFY_SEED)
    _dump(out, expected)
    return expected


def write_transit(out: Path, trips: int, fmt: str, defect: str | None, seed: int, year: int,
                  taps: bool) -> dict:
    from verifier.transit.fares import DEFAULT_PATH

    if out.exists():
        shutil.rmtree(out)
    info = write_transit_package(out, trips=trips, seed=seed, fmt=fmt, defect=defect, year=year, taps=taps)
    fares = None
    if taps:  # the fare table travels with the package, so transit.fare_band is evaluated
        (out / FARES_NAME).write_bytes(DEFAULT_PATH.read_bytes())
        fares = FARES_NAME
    expected = expected_transit_findings(info, seed=VERIFY_SEED, fares=fares)
    _dump(out, expected)
    return expected


def transit_packages() -> list[tuple[str, str | None, bool]]:
    """(package name, defect, taps) of the committed transit packages."""
    out = [("transit-clean", None, False), ("transit-taps-clean", None, True)]
    out += [(f"transit-{d.replace('_', '-')}", d, d == "unpaired_taps") for d in TRANSIT_DEFECTS]
    return out


def _summary(name: str, e: dict) -> None:
    bad = [f"{c} {v['status']}" for c, v in e["checks"].items() if v["status"] not in ("pass", "not_applicable")]
    print(f"{name}: exit {e['exit_code']}, non-pass: {', '.join(bad) or '-'}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", type=Path, help="package folder to write (with --all: the samples root)")
    p.add_argument("--rides", type=int, default=1000, help="bike: rides")
    p.add_argument("--transit", action="store_true", help="a bus/metro package (default: shared bikes)")
    p.add_argument("--trips", type=int, default=1000, help="transit: trips")
    p.add_argument("--taps", action="store_true", help="transit: raw Shenzhen Tong taps instead of a trip file")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.add_argument("--defect", choices=sorted(set(DEFECTS) | set(TRANSIT_DEFECTS)), default=None)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--year", type=int, default=2024)
    p.add_argument("--all", action="store_true",
                   help="regenerate bike-clean, bike-<defect>, transit-clean, transit-taps-clean, transit-<defect> "
                        "and regulator/ (tools.synth.regulator)")
    args = p.parse_args(argv)
    if args.all:
        root = args.out or Path(__file__).resolve().parent.parent / "samples"
        for defect in (None, *DEFECTS):
            name = "bike-clean" if defect is None else f"bike-{defect.replace('_', '-')}"
            _summary(name, write(root / name, SAMPLE_RIDES, "csv", defect, SAMPLE_SEED, 2024))
        for name, defect, taps in transit_packages():
            _summary(name, write_transit(root / name, SAMPLE_TRIPS, "csv", defect, SAMPLE_SEED, 2024, taps))
        summary = write_regulator_folder(root / "regulator")
        print(f"regulator: exit {summary['exit_code']}, {summary['double_claims']['records']} double claims")
        return 0
    if args.out is None:
        p.error("OUT is required (or --all)")
    if args.transit:
        if args.defect is not None and args.defect not in TRANSIT_DEFECTS:
            p.error(f"--defect {args.defect} is a bike defect; transit: {', '.join(TRANSIT_DEFECTS)}")
        e = write_transit(args.out, args.trips, args.format, args.defect, args.seed, args.year, args.taps)
    else:
        if args.defect is not None and args.defect not in DEFECTS:
            p.error(f"--defect {args.defect} is a transit defect (add --transit)")
        e = write(args.out, args.rides, args.format, args.defect, args.seed, args.year)
    print(f"{args.out}: exit {e['exit_code']}, conclusion {e['conclusion']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
