"""The command line (contract sections 3 and 7): verify, batch, sample-size, import-taps, demo, sign, check-report."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click

from verifier import __version__
from verifier.errors import EnvironmentFailure, InputError, one_line

FLOAT = click.FLOAT


QUIET = click.option("--quiet", is_flag=True,
                     help="No progress on stderr (errors and warnings still print).")


def _run_verify(quiet: bool, *args, **kwargs):
    """pipeline.verify with its progress on stderr (verifier.progress), ended before an error
    line is printed: a bar on a terminal, held lines otherwise, or nothing with --quiet."""
    import time

    started = time.monotonic()  # the elapsed time shown counts the imports below
    from verifier.report.helper import ReportHelper

    # Started first, so that it imports the report's libraries while this process imports the
    # engine's and stages: a small filing's report is written there (pipeline._report_helper).
    helper = ReportHelper.start()
    try:
        from verifier.pipeline import STEPS, verify as run_verify
        from verifier.progress import Progress

        progress = Progress(STEPS, quiet=quiet, started=started)
        try:
            return run_verify(*args, progress=progress, report_helper=helper, **kwargs)
        finally:
            progress.close()
    finally:
        if helper is not None:
            helper.close()


def _fail_input(err: InputError) -> None:
    click.echo(f"error: {err}", err=True)
    sys.exit(2)


def _usage_error(exc: click.ClickException) -> InputError:
    """A command-line error click raised, as one InputError line: `command line: --seed: ...`."""
    if isinstance(exc, click.BadParameter):  # MissingParameter included
        param = exc.param
        name = exc.param_hint if isinstance(exc.param_hint, str) else None
        if param is not None and name is None:
            name = (param.opts[0] if param.param_type_name == "option" and param.opts
                    else (param.name or "argument").upper())
        if isinstance(exc, click.MissingParameter):
            return InputError("command line", name, "required, not given")
        return InputError("command line", name, exc.message)
    if isinstance(exc, click.NoSuchOption):
        hint = f"; did you mean {' or '.join(exc.possibilities)}?" if exc.possibilities else ""
        return InputError("command line", exc.option_name, f"no such option{hint}")
    if isinstance(exc, click.BadOptionUsage):
        return InputError("command line", exc.option_name, exc.message)
    return InputError("command line", None, exc.format_message())


class OneLineGroup(click.Group):
    """The command group whose every command-line error is one line on stderr (exit 2), like
    every other unreadable input: click prints usage, a hint and the error (three lines)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # bare `verifier`: the help, as asked
                click.echo(exc.format_message())
                sys.exit(0)
            if not isinstance(exc, click.UsageError):
                click.echo(f"error: {one_line(exc.format_message())}", err=True)
                sys.exit(exc.exit_code)
            _fail_input(_usage_error(exc))
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


def _guard(fn, *args, **kwargs):
    """Run a command body: unreadable input -> one line and exit 2; a bug -> one line and exit 3."""
    try:
        return fn(*args, **kwargs)
    except InputError as err:
        _fail_input(err)
    except EnvironmentFailure as err:
        click.echo(f"error: {err}", err=True)
        if err.engine_threads:
            # Leave at once: after an engine out-of-memory its worker threads can abort the
            # interpreter's shutdown (SIGABRT, a second stderr line). Every work folder was
            # removed on the way here.
            leave(3)
        sys.exit(3)
    except KeyboardInterrupt:
        if _terminated:
            click.echo("terminated", err=True)
            sys.exit(128 + signal.SIGTERM)
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001: a user sees one line, never a traceback
        if "--debug" in sys.argv or _env_debug():
            raise
        click.echo(one_line(f"internal error: {type(exc).__name__}: {exc} (run with VERIFIER_DEBUG=1 for "
                            "details; please report it)"), err=True)
        sys.exit(3)


def _env_debug() -> bool:
    import os

    return os.environ.get("VERIFIER_DEBUG") == "1"


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="verifier")
def main() -> None:
    """verifier: check Shenzhen carbon-inclusion (碳普惠) filings against their methodology."""


@main.command()
@click.argument("submission", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--factors", type=click.Path(path_type=Path), help="Factor table (YAML) from the regulator.")
@click.option("--boundary", type=click.Path(path_type=Path), help="Boundary GeoJSON (default: Shenzhen).")
@click.option("--boundary-crs", type=click.Choice(["wgs84", "gcj02"]), default="wgs84", show_default=True)
@click.option("--seed", type=click.IntRange(min=0), help="Sampling seed (drawn at random and recorded if absent).")
@click.option("--confidence", type=FLOAT, default=0.95, show_default=True)
@click.option("--tolerable-rate", type=FLOAT, default=0.05, show_default=True)
@click.option("--expected-rate", type=FLOAT, default=0.0, show_default=True)
@click.option("--materiality", type=FLOAT, help="Default: by the claimed reduction's size (CDM 9/CMP.7).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--fares", type=click.Path(path_type=Path), help="Transit: metro fare table for transit.fare_band.")
@click.option("--memory-limit", help="Engine memory budget, e.g. 4GB (default 1GB); the rest spills to --temp-dir.")
@click.option("--threads", type=click.IntRange(min=1), help="Engine threads (default: all cores).")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True,
              help="Engine holding the full population: DuckDB on this machine, or Apache Spark (pip install 'verifier[spark]').")
@click.option("--spark-master", help="Spark master URL, e.g. spark://host:7077 or yarn (default: local[*]).")
@click.option("--spark-conf", multiple=True, metavar="KEY=VALUE",
              help="A Spark setting, e.g. spark.executor.memory=8g (repeatable).")
@click.option("--temp-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Folder for the engine's spill files (default: the system's temporary folder).")
@click.option("--report-date", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Date printed on the report (default: the day after the period).")
@click.option("--previous", type=click.Path(path_type=Path),
              help="An earlier run's output folder: compare its non-conformities, counts and amounts.")
@click.option("--verifier-info", type=click.Path(path_type=Path),
              help="YAML with the report number, verification body, team, site visit and version.")
@QUIET
def verify(submission, out, quiet, **options) -> None:
    """Verify SUBMISSION (a package folder) and write findings.json, sample.csv and the report.

    Exit 0: conclusion pass; 1: fail; 2: the package or an option cannot be read; 3: an internal
    or environment failure (memory, disk, a missing font or library). Progress goes to stderr:
    a bar on a terminal, else one line per step once the inputs are read (--quiet: none)."""
    if options.get("report_date"):
        options["report_date"] = options["report_date"].date()
    findings = _guard(_run_verify, quiet, submission, out, **options)
    _summary(findings, out)
    sys.exit(findings.exit_code)


def _summary(findings, out: Path) -> None:
    d = findings.to_dict()
    counts: dict[str, int] = {}
    for c in d["checks"]:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    r = d["recalculation"]
    # Check messages carry report values: each printed line stays one line (one_line).
    click.echo(f"conclusion: {d['conclusion']}  ({', '.join(f'{k} {v}' for k, v in counts.items())})")
    click.echo(f"reported {r['reported_reduction_tco2']} tCO2, recalculated {r['recalculated_reduction_tco2']} tCO2, "
               f"verified {r['verified_reduction_tco2']} tCO2")
    for c in d["checks"]:
        if c["status"] in ("fail", "warn"):
            click.echo(one_line(f"  {c['status']:4} {c['id']}: {c['message']}"))
    click.echo(one_line(f"seed {d['sampling']['seed']}; written to {out}"))


@main.command()
@click.argument("filings", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="Output folder (a new or empty one, or an earlier batch's: it resumes).")
@click.option("--factors", type=click.Path(path_type=Path), help="Factor table (YAML) from the regulator.")
@click.option("--boundary", type=click.Path(path_type=Path), help="Boundary GeoJSON (default: Shenzhen).")
@click.option("--boundary-crs", type=click.Choice(["wgs84", "gcj02"]), default="wgs84", show_default=True)
@click.option("--seed", type=click.IntRange(min=0),
              help="Batch seed; each filing's is derived from it and its report (drawn and recorded if absent).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Filings verified at once; they share --memory-limit and --threads.")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--fares", type=click.Path(path_type=Path), help="Transit: metro fare table for transit.fare_band.")
@click.option("--memory-limit", help="The batch's engine memory budget, shared by the --jobs (default 1GB).")
@click.option("--threads", type=click.IntRange(min=1), help="The batch's engine threads (default: all cores), shared.")
@click.option("--temp-dir", type=click.Path(path_type=Path, file_okay=False), help="Folder for spill files.")
@click.option("--spark-master", help="Spark master URL (default: local[*]).")
@click.option("--spark-conf", multiple=True, metavar="KEY=VALUE", help="A Spark setting (repeatable).")
@QUIET
def batch(filings, out, **options) -> None:
    """Verify many FILINGS (package folders, or folders of them) into OUT/filings/<name>/, find
    the trips claimed twice and write summary.json/.csv/.xlsx/.pdf/.html.

    Exit 0: every filing passes and no double claim; 1: otherwise; 2: the batch cannot run (no
    filings, a bad option, an unusable --out); 3: an environment failure (run again to resume:
    finished filings are reused). One progress line per filing on stderr (--quiet: none)."""
    from verifier.batch import BatchOptions, run_batch

    options["spark_conf"] = tuple(options["spark_conf"])
    done = _guard(run_batch, list(filings), out, BatchOptions(**options))
    _batch_summary(done.summary, out)
    sys.exit(done.exit_code)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _batch_summary(summary: dict, out: Path) -> None:
    t, d = summary["totals"], summary["double_claims"]
    click.echo(f"filings {t['filings']}: passed {t['passed']}, failed {t['failed']}, unreadable {t['unreadable']}")
    click.echo(f"verified {t['verified_reduction_tco2']} tCO2, double claimed {t['double_claimed_tco2']} tCO2, "
               f"creditable {t['creditable_reduction_tco2']} tCO2")
    click.echo(f"double claims: {_n(d['records'], 'record')} in {_n(len(d['pairs']), 'pair')} of filings, "
               f"{_n(len(d['overlapping_periods']), 'overlapping period')}")
    for row in summary["filings"]:
        if row["status"] == "unreadable":
            click.echo(one_line(f"  unreadable {row['name']}: {row['error']}"))
        elif row["status"] == "fail":
            click.echo(one_line(f"  fail {row['name']}: {', '.join(row['failing_checks'])}"))
    click.echo(one_line(f"seed {summary['seed']}; written to {out}"))


@main.command("sample-size")
@click.option("--confidence", type=FLOAT, required=True)
@click.option("--tolerable-rate", type=FLOAT, required=True)
@click.option("--expected-rate", type=FLOAT, default=0.0, show_default=True)
@click.option("--population", type=click.IntRange(min=1), help="Use the hypergeometric plan for this population.")
def sample_size(confidence, tolerable_rate, expected_rate, population) -> None:
    """Print the attribute-sampling sample size; the last line is the integer alone."""
    from verifier.sampling import describe_plan, plan_sample

    try:
        plan = plan_sample(confidence, tolerable_rate, expected_rate, population=population,
                           hypergeometric=population is not None)
    except ValueError as exc:
        _fail_input(InputError("command line", "sample-size", str(exc)))
    for line in describe_plan(plan):
        click.echo(line)


@main.command("import-taps")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Trips Parquet file to write.")
@click.option("--encoding", type=click.Choice(["utf-8", "gbk"]), default="utf-8", show_default=True)
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True,
              help="Engine pairing the taps: DuckDB on this machine, or Apache Spark.")
@click.option("--spark-master", help="Spark master URL (default: local[*]).")
@click.option("--spark-conf", multiple=True, metavar="KEY=VALUE", help="A Spark setting (repeatable).")
def import_taps(files, out, encoding, engine, spark_master, spark_conf) -> None:
    """Pair raw Shenzhen Tong tap records into trips (Parquet) and report what could not be paired."""
    from verifier.data.sources.taps import write_trips

    stats = _guard(write_trips, list(files), out, encoding=encoding, engine=engine, spark_master=spark_master,
                   spark_conf=spark_conf)
    click.echo(f"{stats.taps} taps -> {stats.trips_metro} metro trips, {stats.trips_bus} bus trips")
    for name in ("unpaired_entries", "unpaired_exits", "exit_before_entry", "overlong", "exact_duplicates",
                 "unknown_type"):
        click.echo(f"  {name}: {getattr(stats, name)}")
    click.echo(f"written to {out}")


@main.command()
@click.option("--out", "out", default="demo-output", show_default=True, type=click.Path(path_type=Path))
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@QUIET
def demo(out, lang, quiet) -> None:
    """Verify the bundled clean sample submission and write its report."""
    from verifier.resources import resource_dir

    package = resource_dir("samples") / "bike-clean"
    findings = _guard(_run_verify, quiet, package, out, factors=package / "factors.yaml", seed=7, lang=lang)
    _summary(findings, out)
    click.echo(f"report: {Path(out) / 'report.pdf'}")
    sys.exit(findings.exit_code)


@main.command()
@click.argument("report", type=click.Path(path_type=Path))
@click.option("--key", required=True, type=click.Path(path_type=Path),
              help="PKCS#12 file (.p12/.pfx) with the signer's private key and certificate.")
@click.option("--passphrase-file", type=click.Path(path_type=Path),
              help="File holding the key's passphrase (its final line break ignored).")
@click.option("--reason", help="Reason recorded in the signature, e.g. 核证报告签发.")
@click.option("--out", "out", type=click.Path(path_type=Path),
              help="Signed PDF to write (default: REPORT.signed.pdf beside it; never REPORT itself).")
def sign(report, key, passphrase_file, reason, out) -> None:
    """Sign REPORT (a report.pdf) with a PAdES signature, as an incremental update that keeps its
    PDF/A-3 declaration and attachments. Exit 2: a file or the key cannot be read."""
    from verifier.signing import sign_report

    signed = _guard(sign_report, report, key, passphrase_file=passphrase_file, reason=reason, out=out)
    click.echo(one_line(f"signed by {signed.signer!r} (field {signed.field}); written to {signed.out}"))


@main.command("check-report")
@click.argument("report", type=click.Path(path_type=Path))
@click.option("--inputs", type=click.Path(path_type=Path),
              help="Folder holding the inputs (the package): each SHA-256 listed in findings.json is compared.")
def check_report(report, inputs) -> None:
    """Check REPORT: its signature (if any) is intact, its attached findings.json is the one it was
    rendered from and, with --inputs, the inputs listed there match the files under that folder.
    Exit 0: nothing differs; 1: one line per difference; 2: the PDF cannot be read."""
    from verifier.report_check import check_report as run_check

    checked = _guard(run_check, report, inputs)
    for line in checked.notes:
        click.echo(one_line(f"ok: {line}"))
    for line in checked.differences:
        click.echo(one_line(f"differs: {line}"))
    n = len(checked.differences)
    click.echo("report intact" if not n else f"{n} difference{'s' if n > 1 else ''} found")
    sys.exit(checked.exit_code)


_terminated: list[int] = []  # the SIGTERM, once it has arrived (`_stop_on_sigterm`)


def _stop_on_sigterm() -> None:
    """SIGTERM (`kill`, a scheduler's time limit, a container stopping) stops a command the way
    Ctrl-C does, through the same path: the engine's work folder (the staged records: gigabytes
    at 10^8) removed, no output written, a batch left resumable; then "terminated" and exit 143.
    By default SIGTERM ended the process where it stood and left the work folder behind. A
    second SIGTERM during that cleanup is ignored (SIGKILL still ends it); an ignored SIGTERM
    stays ignored."""
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def stop(signum, frame):
        _terminated.append(signum)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        engines = sys.modules.get("verifier.data.duckdb_engine")
        if engines is not None:  # a statement running there is stopped too (DuckDB only watches SIGINT)
            engines.interrupt_all()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def entry() -> None:
    """The `verifier` program (its console script and `python -m verifier`): `main`, then the
    process leaves without tearing the interpreter down. Once a command has returned, every
    output is written and closed and the engine is shut; freeing the libraries' objects one by
    one would add about 0.25 s to a 3,000-ride filing's 3.4 s, for a process that is ending.
    After a Spark session the interpreter exits as usual: PySpark stops its JVM on the way out.
    `main` itself (click's test runner, a caller's script) leaves the interpreter alone, and
    its signals too (`_stop_on_sigterm`)."""
    _stop_on_sigterm()
    try:
        main()
        code = 0
    except SystemExit as exc:
        if exc.code is not None and not isinstance(exc.code, int):
            raise
        code = exc.code or 0
    engines = sys.modules.get("verifier.data.duckdb_engine")
    if engines is not None:  # an engine a signal kept from its `with` still has its work folder
        engines.close_all()
    if "pyspark" in sys.modules:
        sys.exit(code)
    leave(code)


def leave(code: int) -> None:
    """End the process now with `code`, what is buffered for stdout and stderr written first."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`verifier ... | head`): nothing to save
            pass
    os._exit(code)


if __name__ == "__main__":
    entry()
