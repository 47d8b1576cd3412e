"""One verification run as typed phases: the inputs are read (`Inputs`), the records staged
(`Staged`), measured in the engine (`Measures`), the checks evaluated (`CheckResult`s and the
recalculation), and the `Findings` and the report written atomically. Each phase is immutable;
what a check reads is a `verifier.context.Context` built from them."""

from __future__ import annotations

import hashlib
import math
import shutil
import threading
from contextlib import ExitStack, contextmanager
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import pandas as pd

from verifier import __version__
from verifier.checks import REGISTRY
from verifier.checks.base import Check
from verifier.checks.documents_materials import listed_documents
from verifier.checks.record import FlagCheck
from verifier.constants import CRS_NAMES
from verifier.context import Context, Inputs, Measures, Options
from verifier.data.engine import ENGINES, EngineOptions, engine_class, environment_failures, open_engine
from verifier.data.sources import InputSpec, Staged, stage_input
from verifier.data.uris import DataUri, as_uri, local_parts
from verifier.errors import InputError, quoted
from verifier.claims import write_claims
from verifier.excluded import write_excluded
from verifier.findings import CheckResult, Findings, frozen
from verifier.gc_pause import collector_off_while_importing
from verifier.geo import districts
from verifier.methodologies import Methodology, get
from verifier.outdir import check_out, replace_dir, temp_beside
from verifier.previous import compare, load_previous
from verifier.recalc import REQUIRES as RECALCULATION_REQUIRES, recalculate
from verifier.reference.factors import FactorTable, default_materiality
from verifier.report.fonts import preflight
from verifier.sampling import draw_seed, plan_sample, upper_deviation_rate
from verifier.submission import Submission, load_submission, parse_number
from verifier.verifier_info import apply_verifier_info, load_verifier_info

MAP_POINTS = 5000  # records drawn (by the same md5 rank) for the report's map
STEPS = 13  # the steps verify() announces to `progress` (writing the PDF; 10 without)


def verify(submission: Path | str, out: Path | str, *, factors=None, boundary=None, boundary_crs="wgs84",
           seed=None, confidence=0.95, tolerable_rate=0.05, expected_rate=0.0, materiality=None,
           lang="zh", fares=None, memory_limit=None, threads=None, temp_dir=None, report_date=None,
           write_pdf: bool = True, progress=None, previous=None, verifier_info=None, engine="duckdb",
           spark_master=None, spark_conf=(), claims: bool = False, report_helper=None) -> Findings:
    """Verify a submission package and write findings.json, sample.csv and the report to `out`.

    Raises InputError (exit 2) before anything is written when the package or an option cannot
    be read. `progress(step)` is told each of the STEPS steps as it starts, and
    `progress.inputs_read()` (when it has one) once no InputError can follow (verifier.progress).
    `previous` (an earlier run's output folder) and `verifier_info` (a YAML file) add
    findings.json's optional `previous` and `verification` blocks. `engine` names the engine
    (verifier.data.engine.ENGINES; recorded as parameters.engine, the one figure of findings.json
    that differs between engines), with `spark_master` and `spark_conf` (KEY=VALUE pairs) for Spark.
    `claims`: also write claims.parquet (verifier.claims: the eligible records, for `verifier batch`
    to find a trip claimed in two filings). `report_helper`: a ReportHelper (verifier.report.helper)
    the caller started, as early as it could, that writes the report's PDF; stopped
    by the time verify returns, used or not (`_report_helper`)."""
    with collector_off_while_importing() as imported, ExitStack() as stack:
        preflight(write_pdf)  # fonts and system libraries: fail (exit 3) or warn before any work
        step = progress or (lambda name: None)
        step("reading the package")
        out = check_out(out, {**_input_paths(submission, factors, boundary, fares, temp_dir),
                              "--previous": previous, "--verifier-info": verifier_info})
        opts = parse_options(seed, confidence, tolerable_rate, expected_rate, materiality, lang, boundary_crs, engine)
        engine_options = EngineOptions(memory_limit=memory_limit, threads=threads, temp_dir=temp_dir, engine=engine,
                                       spark_master=spark_master, spark_conf=spark_conf_pairs(spark_conf))
        given = read_inputs(submission, opts, factors, boundary, fares)
        _check_uris(given.sub, engine, out)
        helper = _report_helper(stack, report_helper, write_pdf)
        # The report's modules; with a helper only the figures' (the rest is imported once the
        # helper has the figures, while it lays the PDF out).
        report = ["verifier.report.figures"] if helper else ["verifier.report.render", "verifier.report.pdf"]
        warm_up = _warm_up(report if write_pdf else [])
        info = load_verifier_info(verifier_info) if verifier_info else None
        earlier = load_previous(previous, given.sub.methodology) if previous else None
        tmp = temp_beside(out)  # the new output folder: excluded.csv is written there while the engine is open
        with _discarded_on_error(tmp), environment_failures(), open_engine(engine_options) as engine:
            with ThreadPoolExecutor(max_workers=1) as pool:  # hash the inputs while the engine stages
                hashes = pool.submit(hash_inputs, given.sub, factors, boundary, fares, engine)
                step(f"staging the records ({_files(given.sub)})")
                staged = Context(given, stage(given, engine), engine)
                getattr(progress, "inputs_read", lambda: None)()  # every input is read: no exit 2 now
                measured = measure(staged, step, imports_ready=lambda: (warm_up.join(), imported()))
                step("evaluating the checks")
                results, recalculation = evaluate(measured)
                step("hashing the inputs")
                inputs = _count_records(measured, hashes.result())
            step("listing the excluded records")
            excluded = write_excluded(measured, _checks(measured)[1], tmp)
            if claims:
                write_claims(measured, tmp)
            findings = apply_verifier_info(replace(_findings(measured, results, recalculation, inputs, report_date),
                                                   excluded=excluded), info)
            if earlier:
                findings = replace(findings, previous=compare(*earlier, findings))
            step("the figures' data")
            figures = _figure_data(measured) if write_pdf else None
        step("writing the output files")
        with _discarded_on_error(tmp), environment_failures():
            _write_outputs(tmp, out, findings, measured.measures.sample_table, figures, opts.lang, write_pdf, step,
                           helper)
        return findings


def _files(sub: Submission) -> str:
    """How many record files the package names (a folder: its Parquet files), for the progress."""
    paths = [p for role in ("trips", "taps") for p in sub.data_files.get(role, [])]
    n = sum(len(_record_files(p)) for p in paths)
    return f"{n:,} file{'' if n == 1 else 's'}"


def _record_files(p: Path | DataUri) -> list[Path | DataUri]:
    """The files a named data path holds: a folder its Parquet parts (name order), else itself;
    a file:// URI the same, as URIs; another URI itself (the engine lists it: `hash_inputs`)."""
    if isinstance(p, DataUri):
        return local_parts(p)
    if not p.is_dir():
        return [p]
    try:
        return sorted(x for x in p.iterdir() if x.suffix.lower() == ".parquet")
    except OSError:  # staging names the problem
        return [p]


def read_inputs(submission, opts: Options, factors, boundary, fares) -> Inputs:
    """The submission and the reference data the options name (InputError when unreadable)."""
    sub = load_submission(submission)
    return Inputs(sub=sub, opts=opts, methodology=get(sub.methodology), factors=FactorTable.load(factors),
                  boundary=load_boundary(boundary, opts.boundary_crs), fares=load_fares(fares))


def _check_uris(sub: Submission, engine: str, out: Path) -> None:
    """data.trips given as URIs: InputError unless the engine reads URIs; a file:// one is an
    input like any other (the output folder must lie apart from it)."""
    uris = [p for p in sub.data_files.get("trips", []) if isinstance(p, DataUri)]
    if uris and not engine_class(engine).reads_uris:
        raise InputError(sub.report_path, "data.trips", f"{quoted(str(uris[0]), 200)} is a URI, which only a "
                                                        "cluster engine reads; use --engine spark")
    local = {f"data.trips {u}": u.local for u in uris if u.local is not None}
    if local:
        check_out(out, local)


def _input_paths(submission, factors, boundary, fares, temp_dir) -> dict:
    """Every path the run reads (the package folder holds the data files), for check_out."""
    package = Path(submission)
    return {"package": package if not package.is_file() else package.parent, "--factors": factors,
            "--boundary": boundary, "--fares": fares, "--temp-dir": temp_dir}


def _report_helper(stack: ExitStack, helper, write_pdf: bool):
    """`helper` (stopped when `stack` closes) if it is to write this filing's report, else None
    (and stopped now: no PDF is wanted). In a small filing the report's imports are a third of
    the run while the second core idles; in a large one the helper lays the PDF out while this
    process rasterises the figures and writes report.html and sample.xlsx (2x10^7 rides: 0.8 s
    less, 0.965), and this process never loads WeasyPrint (its peak RSS about 30 MB lower; the
    helper's own is about 260 MB)."""
    if helper is None:
        return None
    stack.callback(helper.close)
    if not write_pdf:
        helper.close()
        return None
    return helper


def _warm_up(report: list[str]) -> threading.Thread:
    """Import the libraries needed only after the full-population passes (statistics, schemas,
    and the `report` modules) in a background thread: DuckDB releases the GIL while it works, so
    the ~2 s of imports overlap with staging instead of adding to it. Join the thread before the first use
    (two threads importing the same modules could otherwise wait on each other's import locks)."""
    names = ["scipy.special", "verifier.schemas", *report]

    def load():
        import importlib

        for name in names:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001: the import on first use reports it
                return

    thread = threading.Thread(target=load, name="verifier-warm-up", daemon=True)
    thread.start()
    return thread


# -- options and reference data ---------------------------------------------------------------
def parse_options(seed, confidence, tolerable, expected, materiality, lang, boundary_crs, engine="duckdb") -> Options:
    def bad(name, why):
        return InputError("command line", name, why)

    if not 0 < confidence < 1:
        raise bad("--confidence", "must be between 0 and 1 (e.g. 0.95)")
    if not 0 < tolerable < 1:
        raise bad("--tolerable-rate", "must be between 0 and 1 (e.g. 0.05)")
    if not 0 <= expected < tolerable:
        raise bad("--expected-rate", "must be at least 0 and below the tolerable rate")
    if materiality is not None and not 0 < materiality < 1:
        raise bad("--materiality", "must be between 0 and 1 (e.g. 0.05)")
    if lang not in ("zh", "en"):
        raise bad("--lang", "must be zh or en")
    if boundary_crs not in ("wgs84", "gcj02"):
        raise bad("--boundary-crs", "must be wgs84 or gcj02")
    if seed is not None and (not isinstance(seed, int) or seed < 0):
        raise bad("--seed", "must be a non-negative integer")
    if engine not in ENGINES:
        raise bad("--engine", f"{quoted(str(engine))} is not an engine; use {' or '.join(ENGINES)}")
    drawn = seed is None
    return Options(seed=draw_seed() if drawn else seed, seed_drawn=drawn, confidence=confidence,
                   tolerable_rate=tolerable, expected_rate=expected, materiality=materiality, lang=lang,
                   boundary_crs=boundary_crs, engine=engine)


def spark_conf_pairs(pairs) -> tuple[tuple[str, str], ...]:
    """--spark-conf KEY=VALUE (strings, or (key, value) pairs) as pairs, in the order given."""
    out = []
    for pair in pairs or ():
        if isinstance(pair, str):
            key, eq, value = pair.partition("=")
            if not eq or not key.strip():
                raise InputError("command line", "--spark-conf", f"{quoted(pair)} is not KEY=VALUE")
            pair = (key.strip(), value)
        out.append((str(pair[0]), str(pair[1])))
    return tuple(out)


def load_boundary(path, crs):
    from verifier.geo.boundary import Boundary

    return Boundary.from_geojson(Path(path), crs) if path else Boundary.default()


def load_fares(path):
    if not path:
        return None
    from verifier.transit.fares import FareTable

    return FareTable.load(Path(path))


# -- staging ----------------------------------------------------------------------------------
def stage(given: Inputs, engine) -> Staged:
    """Stage the records (by the input adapter of the submission's data form) and the reference
    tables into the engine."""
    sub, m = given.sub, given.methodology
    return stage_input(engine, InputSpec(
        files=sub.data_files, encoding=sub.encoding, timezone=sub.timezone,
        canonical=m.columns, required=m.required_columns,
        column_map=sub.column_map, coordinates=m.coordinates, boundary=given.boundary,
        derived=_derived_columns(m), districts=districts.staged(given), tap_format=str(sub.data.get("tap_format") or "shenzhen-tong"),
        form="taps" if sub.uses_taps else "trips"))


def _derived_columns(m: Methodology) -> dict[str, str]:
    """The columns the applicable record checks derive (RecordCheck.derived)."""
    out: dict[str, str] = {}
    for cls in REGISTRY.checks.values():
        if cls.id in m.checks:
            out.update({name: sql() for name, sql in getattr(cls, "derived", {}).items()})
    return out


def _checks(ctx: Context) -> tuple[list[Check], list[Check]]:
    """Every check, each after the checks it requires, and those of them that apply."""
    checks = [cls() for cls in REGISTRY.in_order()]
    return checks, [c for c in checks if c.id in ctx.methodology.checks]


# -- measures ---------------------------------------------------------------------------------
def measure(ctx: Context, step, imports_ready=lambda: None) -> Context:
    """The record checks' flags, the aggregates and the sample in the engine: `ctx` with its
    Measures."""
    _, applicable = _checks(ctx)
    flags = [c for c in applicable if isinstance(c, FlagCheck)]
    rules = {c.id: (c.rule, c.rule_args(ctx)) for c in flags if c.rule}  # the engine's window rules
    predicates = {c.id: p for c in flags if not c.rule and (p := c.predicate(ctx))}
    step(f"record-level checks ({ctx.population:,} records)")
    ctx.engine.flag(predicates, rules, warn_only=tuple(c.id for c in flags if not c.excludes))
    extra, pkm = ctx.methodology.aggregates(ctx.engine.excluded_sql())
    for check in applicable:
        extra.update(check.aggregates(ctx))
    step("totals")
    stats = ctx.engine.aggregate(extra, pkm, by=districts.grouped_by(districts.located(ctx)))
    step("drawing the sample")
    imports_ready()
    sample, sampling, table, map_points = _draw_sample(ctx, [c.id for c in flags], applicable)
    o = ctx.opts
    claimed = parse_number(ctx.sub.results.get("reduction_tco2"))
    materiality, source = ((o.materiality, "--materiality") if o.materiality is not None
                           else default_materiality(claimed))
    return replace(ctx, measures=Measures(
        stats=MappingProxyType(stats), sample=sample, sampling=frozen(sampling), sample_table=table,
        map_points=map_points, materiality=materiality, materiality_source=source))


def _draw_sample(ctx: Context, flag_ids: list[str], checks: list[Check]):
    """The attribute sample: size from the plan, records by md5 rank, each record's outcomes
    (the checks' sample tests, then the record checks' flags). Returns the sample, the
    `sampling` block, sample.csv's table and the records drawn for the map."""
    o = ctx.opts
    plan = plan_sample(o.confidence, o.tolerable_rate, o.expected_rate)
    size = min(plan.size, ctx.population)
    drawn = ctx.engine.sample(o.seed, size, extra=max(0, MAP_POINTS - size))
    sample = drawn.head(size).copy()
    tested = [c.id for c in checks if _sample_test(c, ctx, sample)]
    for cid in flag_ids:
        if cid in sample.columns:
            sample[cid] = sample[cid].map({True: "fail", False: "pass"})
    # A deviation is a sampled record failing a sample test (counted once whatever it fails).
    deviations = int((sample[tested] == "fail").any(axis=1).sum()) if tested else 0
    upper = upper_deviation_rate(deviations, size, o.confidence) if size else 1.0
    sampling = {"method": "md5-rank", "seed": o.seed, "population": int(ctx.population), "size": int(size),
                "deviations": deviations, "upper_deviation_rate": round(float(upper), 6),
                "confidence": o.confidence, "tolerable_rate": o.tolerable_rate, "expected_rate": o.expected_rate,
                "allowed_deviations": plan.allowed_deviations, "planned_size": plan.size,
                "selection": 'md5("<seed>:<record_key>") ascending'}
    from verifier.schemas import validate_sample

    tests = tested + [c for c in flag_ids if c in sample.columns]
    fields = ["record_key"] + [c for c in ctx.methodology.columns if ctx.has(c)]
    table = sample[fields + tests].reset_index(drop=True)
    if table.empty:  # no record drawn: DuckDB types an empty text column as object, not text
        table = table.astype({c: "str" for c in table.columns if table[c].dtype == object})
    table, sampling["range_warnings"] = validate_sample(ctx.sub.methodology, table, tuple(tests))
    return sample, sampling, table, drawn


def _sample_test(check: Check, ctx: Context, sample: pd.DataFrame) -> bool:
    """Add the check's outcome per sampled record to `sample`; False when it has no sample test."""
    passed = check.sample_test(ctx, sample)
    if passed is not None:
        sample[check.id] = passed.map({True: "pass", False: "fail"})
    return passed is not None


# -- check results ----------------------------------------------------------------------------
def evaluate(ctx: Context) -> tuple[list[CheckResult], Mapping]:
    """Every check's result (in the contract's order, messages in the report's language) and
    the recalculation. Each check reads `ctx` with the results of the checks it requires; the
    recalculation is made once, as soon as the results it reads (recalc.REQUIRES) are known."""
    checks, applicable = _checks(ctx)
    applies = {c.id for c in applicable}
    results: dict[str, CheckResult] = {}
    recalculation = None
    for check in checks:
        recalculation = recalculation or _recalculate_when_ready(ctx, results)
        if check.id in applies:
            results[check.id] = check.evaluate(replace(ctx, results=_subset(results, check.requires),
                                                       recalculation=recalculation))
        else:
            results[check.id] = check.not_applicable()
    recalculation = recalculation or _recalculate_when_ready(ctx, results)
    return [results[cid].in_language(ctx.opts.lang) for cid in REGISTRY.ids()], recalculation


def _recalculate_when_ready(ctx: Context, results: dict[str, CheckResult]) -> Mapping | None:
    if not all(cid in results for cid in RECALCULATION_REQUIRES):
        return None
    return frozen(recalculate(replace(ctx, results=_subset(results, RECALCULATION_REQUIRES))))


def _subset(results: dict[str, CheckResult], ids) -> Mapping[str, CheckResult]:
    return MappingProxyType({cid: results[cid] for cid in ids})


# -- findings ---------------------------------------------------------------------------------
def _findings(ctx: Context, checks: list[CheckResult], recalculation: Mapping, inputs: list[dict],
              report_date) -> Findings:
    sub, o, m = ctx.sub, ctx.opts, ctx.measures
    boundary = ctx.boundary
    return Findings(
        tool={"name": "verifier", "version": __version__},
        methodology=sub.methodology,
        applicant={"name": sub.applicant.get("name"), "uscc": sub.applicant.get("uscc")},
        period={"start": _iso(sub.project.get("period_start")), "end": _iso(sub.project.get("period_end"))},
        inputs=inputs,
        parameters={"seed": o.seed, "confidence": o.confidence, "tolerable_rate": o.tolerable_rate,
                    "expected_rate": o.expected_rate, "materiality": m.materiality,
                    "materiality_source": m.materiality_source, "seed_drawn": o.seed_drawn,
                    "lang": o.lang, "boundary_crs": o.boundary_crs, "engine": o.engine},
        checks=tuple(checks),
        sampling=m.sampling,
        recalculation=recalculation,
        project={"name": sub.project.get("name"), "methodology_name": sub.project.get("methodology_name")},
        report=_report_meta(sub, inputs, o.seed, report_date),
        factors=_factor_rows(ctx),
        boundary=None if boundary is None else {"name": boundary.name, "source": boundary.source,
                                                "licence": boundary.licence},
        breakdown=districts.breakdown(districts.located(ctx), m.stats),
    )


def _iso(value):
    from verifier.submission import parse_date

    d = parse_date(value)
    return d.isoformat() if d else (None if value is None else str(value))


def _report_meta(sub: Submission, inputs: list[dict], seed: int, report_date) -> dict:
    """Report number from the inputs' hashes and the seed; date the given one, else the day after
    the period (so the same inputs always give the same report, byte for byte)."""
    digest = hashlib.sha256(("|".join(i["sha256"] for i in inputs) + f"|{seed}").encode()).hexdigest()
    year = sub.claim_year or "0000"
    if report_date is None:
        end = sub.period_end
        report_date = (end + timedelta(days=1)) if end else date(1970, 1, 1)
    return {"number": f"SZCI-{year}-{digest[:8].upper()}", "date": str(report_date)}


def _factor_rows(ctx: Context) -> list[dict]:
    """The findings' `factors` block: each default parameter, reported beside published."""
    rows = []
    for name in ctx.methodology.default_params:
        f = ctx.factor(name)
        entry = f.published
        rows.append({"parameter": name, "reported": f.reported, "published": entry.value if entry else None,
                     "source": entry.source if entry else None, "year": ctx.sub.claim_year})
    return rows


def hash_inputs(sub: Submission, factors, boundary, fares, engine) -> list[dict]:
    """Every input file with its SHA-256, in the order named. A file:// URI's files are hashed
    here and shown as URIs; another URI's parts are listed and hashed by the engine where they
    live (`Engine.uri_parts`)."""
    items = [("report", sub.report_path)]
    for role, paths in sub.data_files.items():
        for p in paths:
            items += [(role, x) for x in _record_files(p)]
    items += [(f"document:{k}", sub.root / v) for k, v in listed_documents(sub).items()]
    for role, p in (("factors", factors), ("boundary", boundary), ("fares", fares)):
        if p:
            items.append((role, Path(p)))
    return [{"role": role, "path": shown, "sha256": digest, "records": None}
            for role, p in items for shown, digest in _digests(sub.root, p, engine)]


def _digests(root: Path, p: Path | DataUri, engine) -> list[tuple[str, str]]:
    """(shown path, SHA-256) of one named input: a remote URI gives one pair per part."""
    if isinstance(p, DataUri) and p.local is None:
        return engine.uri_parts(p)
    return [(_display(root, p), sha256_file(p.local if isinstance(p, DataUri) else p))]


def _count_records(ctx: Context, inputs: list[dict]) -> list[dict]:
    """`inputs` with the records per trip file (Parquet metadata; a single CSV holds them all)."""
    trips = [n for n, i in enumerate(inputs) if i["role"] in ("trips", "taps")]
    counts: list = []
    if len(trips) == 1:
        counts = [int(ctx.tap_stats.taps if ctx.tap_stats else ctx.population)]
    elif trips and not ctx.sub.uses_taps:
        counts = ctx.engine.parquet_counts([as_uri(inputs[n]["path"]) or ctx.sub.root / inputs[n]["path"]
                                            for n in trips])
    records = dict(zip(trips, counts))
    return [{**i, "records": records[n]} if n in records else i for n, i in enumerate(inputs)]


def _display(root: Path, p: Path | DataUri) -> str:
    """A package file relative to the package folder; a URI as written."""
    if isinstance(p, DataUri):
        return str(p)
    try:
        return Path(p).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(p)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


# -- report data and output --------------------------------------------------------------------
def _figure_data(ctx: Context):
    """What the report's figures draw: the methodology names them (its checklist), the checks
    give the histograms' axes, thresholds and measures; the engine counts records and excluded
    records per day."""
    from verifier.report.figure_data import FigureData

    engine, sub, m = ctx.engine, ctx.sub, ctx.methodology
    wanted = set(m.figures)
    points = _map_points(ctx) if "map" in wanted and m.coordinates else None
    specs = {name: h for check in _checks(ctx)[1] for name, h in check.histograms(ctx).items() if name in wanted}
    per_mode = engine.daily(by=m.daily_by) if m.daily_by else None  # one scan: split or not
    hists = {}
    if specs and not ctx.population:  # drawn empty: the report shows there was nothing
        hists = dict.fromkeys(specs, pd.DataFrame({"bin_start": [], "bin_end": [], "records": []}))
    elif specs:
        hists = _histograms(engine, {name: (h.value, h.where, h.floor) for name, h in specs.items()})
    return FigureData(
        methodology=sub.methodology,
        boundary=ctx.boundary.geometry if ctx.boundary is not None else None,
        **districts.outlines(ctx.boundary),
        points=points,
        distance_hist=hists.get("distance"),
        speed_hist=hists.get("speed"),
        daily=engine.daily() if per_mode is None else None,
        thresholds={k: v for h in specs.values() for k, v in h.marks.items()},
        per_mode_daily=per_mode,
        measures={name: h.measure for name, h in specs.items() if h.measure},
    )


def _map_points(ctx: Context) -> pd.DataFrame | None:
    """The records drawn for the map, in WGS-84, each end marked inside the boundary or not."""
    from verifier.geo.crs import convert

    sub, pts = ctx.sub, ctx.measures.map_points
    if sub.crs not in CRS_NAMES or not len(pts):
        return None
    bit = 1 << CRS_NAMES.index(sub.crs)
    sx, sy = convert(pts["start_lon"].to_numpy(float), pts["start_lat"].to_numpy(float), sub.crs, "wgs84")
    ex, ey = convert(pts["end_lon"].to_numpy(float), pts["end_lat"].to_numpy(float), sub.crs, "wgs84")
    return pd.DataFrame({"start_lon": sx, "start_lat": sy, "end_lon": ex, "end_lat": ey,
                         "start_inside": (pts["start_geo"].fillna(0).astype(int) & bit) > 0,
                         "end_inside": (pts["end_geo"].fillna(0).astype(int) & bit) > 0})


def _histograms(engine, specs: dict[str, tuple[str, str, float]], bins: int = 40) -> dict:
    """name -> a histogram of expr where `where` holds, for specs name -> (expr, where, floor):
    about `bins` bars of a round width over the bulk of the data (the top 0.5 % piled into the
    last bar; `floor` keeps a threshold inside the range); None where no value is given."""
    tops = engine.quantiles({name: (expr, 0.995, where) for name, (expr, where, _) in specs.items()})
    axes = {}
    for name, (expr, where, floor) in specs.items():
        if tops[name] is None:
            continue
        top = max(float(tops[name]), floor, 1e-6)
        raw = top / bins
        magnitude = 10 ** math.floor(math.log10(raw))
        width = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
        axes[name] = (expr, width, where, math.ceil(top / width) * width - width / 2)
    hists = engine.histograms(axes) if axes else {}
    return {name: hists.get(name) for name in specs}


@contextmanager
def _discarded_on_error(tmp: Path):
    """The temporary output folder is deleted when the run fails: `out` stays as it was."""
    try:
        yield
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_outputs(tmp: Path, out: Path, findings: Findings, sample: pd.DataFrame, figures, lang: str,
                   write_pdf: bool, step=lambda name: None, helper=None) -> None:
    """Everything goes to the temporary folder `tmp` beside `out` (temp_beside; excluded.csv is
    already there), which then replaces `out` as a whole (verifier.outdir): a failure at any
    point leaves `out` as it was."""
    try:
        (tmp / "findings.json").write_text(findings.to_json(), encoding="utf-8")
        sample.to_csv(tmp / "sample.csv", index=False, encoding="utf-8-sig")
        if write_pdf and helper is not None:
            helper.write_report(tmp, findings, sample, figures, lang, step)
        elif write_pdf:
            from verifier.report.render import write_report

            write_report(tmp, findings, sample, figures, lang=lang, step=step)
        replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
