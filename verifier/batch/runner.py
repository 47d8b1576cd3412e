"""Running a batch: each filing verified as `verify` would, `jobs` at a time in worker
processes, the memory budget shared between them, and resumable.

With --jobs 1 the filings run one after the other in this process (one engine session for the
whole batch: a Spark session starts once). With more, in worker processes started by `spawn`
(never `fork`: a forked DuckDB or JVM is not safe); each gets memory_limit / jobs and
max(1, threads // jobs) threads, so a batch never uses jobs x the single run's budget.

Resume: DIR/batch.json is written first and marks DIR as a batch output. Each filing's key is
the SHA-256 of the canonical JSON of the tool version, its derived options (its seed included)
and every input file's (role, path, SHA-256), as findings.json lists them. Once a filing's
folder is complete its key is kept in DIR/.state/<name>.json (written atomically); a batch run
again in the same DIR reuses a filing whose key matches and whose folder is complete, and
verifies the others. Stale temporary folders (a crash inside `verify`) and the folders of
filings no longer in the batch are removed first. A batch started without --seed keeps the
seed it drew (batch.json), or nothing could ever be reused."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from verifier import __version__
from verifier.batch.filings import Filing, discover
from verifier.claims import CLAIMS_FILE
from verifier.data.engine import DEFAULT_MEMORY_LIMIT
from verifier.errors import EnvironmentFailure, InputError, one_line, quoted
from verifier.outdir import check_out, write_atomic

BATCH_FILE = "batch.json"  # written first: marks DIR as a batch output
STATE_DIR = ".state"
FILINGS_DIR = "filings"


@dataclass(frozen=True)
class BatchOptions:
    """The batch's command-line options (those of `verify` it passes on, plus jobs)."""
    factors: Path | None = None
    boundary: Path | None = None
    boundary_crs: str = "wgs84"
    seed: int | None = None
    jobs: int = 1
    engine: str = "duckdb"
    lang: str = "zh"
    fares: Path | None = None
    memory_limit: str | None = None
    threads: int | None = None
    temp_dir: Path | None = None
    spark_master: str | None = None
    spark_conf: tuple = ()
    quiet: bool = False


@dataclass
class Outcome:
    """What became of one filing: `verified` (its folder holds the verify output) or
    `unreadable` (error: the one-line reason)."""
    filing: Filing
    status: str
    conclusion: str | None = None
    error: str | None = None
    reused: bool = False
    seconds: float | None = None


@dataclass(frozen=True)
class Prepared:
    """A filing before it runs: its seed and key, or the reason it cannot be read."""
    filing: Filing
    seed: int | None = None
    key: str | None = None
    error: str | None = None


@dataclass
class Batch:
    """A finished batch: the filings' outcomes in discovery order, the seed and the shares."""
    out: Path
    options: BatchOptions
    seed: int
    outcomes: list[Outcome] = field(default_factory=list)
    memory_limit_per_filing: str = ""
    threads_per_filing: int = 1
    summary: dict = field(default_factory=dict)  # summary.json's content

    @property
    def exit_code(self) -> int:
        """0: every filing passes and no double claim was found; 1 otherwise."""
        s = self.summary
        clean = all(r["status"] == "pass" for r in s["filings"]) and not s["double_claims"]["pairs"] \
            and not s["double_claims"]["overlapping_periods"]
        return 0 if clean else 1


def run_batch(filings: list[Path | str], out: Path | str, options: BatchOptions | None = None,
              progress=None) -> Batch:
    """Verify every filing the FILING arguments name into OUT/filings/<name>/ (reusing those an
    earlier run of the same batch finished), find the double claims and write the summary. InputError (exit 2) before anything is written when
    the batch cannot run; EnvironmentFailure (exit 3) when the machine failed a filing: the
    filings finished so far are kept and running again resumes. `progress(line)` is told one
    line per filing (default: stderr unless options.quiet)."""
    o = options or BatchOptions()
    _check_options(o)
    found = discover(filings)
    out = check_out(out, {**{f"FILING {str(f)!r}": f for f in filings},
                          **{f"package {str(f.path)!r}": f.path for f in found},
                          "--factors": o.factors, "--boundary": o.boundary, "--fares": o.fares,
                          "--temp-dir": o.temp_dir}, marker=BATCH_FILE)
    memory, threads = shares(o.memory_limit, o.threads, o.jobs)
    batch = Batch(out, o, _batch_seed(out, o.seed), memory_limit_per_filing=memory, threads_per_filing=threads)
    _write_batch_file(batch, found)
    _clean(out, {f.name for f in found})
    say = progress or (_stderr if not o.quiet else lambda line: None)
    batch.outcomes = _run(batch, _prepare_all(found, batch), say)
    from verifier.batch.summary import build_summary, write_summary  # it reads Batch: imported here

    batch.summary = build_summary(batch)
    write_summary(out, batch.summary)
    return batch


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- options ----------------------------------------------------------------------------------
def _check_options(o: BatchOptions) -> None:
    """Every option as verify would check it, once for the batch (exit 2 before any work)."""
    from verifier.pipeline import load_boundary, load_fares, parse_options, spark_conf_pairs
    from verifier.reference.factors import FactorTable

    if not isinstance(o.jobs, int) or o.jobs < 1:
        raise InputError("command line", "--jobs", "must be a positive integer")
    parse_options(o.seed, 0.95, 0.05, 0.0, None, o.lang, o.boundary_crs, o.engine)
    spark_conf_pairs(o.spark_conf)
    shares(o.memory_limit, o.threads, o.jobs)
    FactorTable.load(o.factors)
    load_boundary(o.boundary, o.boundary_crs)
    load_fares(o.fares)


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)?\s*", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}  # DuckDB's: GB = 10^9, GiB = 2^30


def shares(memory_limit: str | None, threads: int | None, jobs: int) -> tuple[str, int]:
    """Each filing's share of the budget: (memory limit in DuckDB syntax, threads). The memory
    budget (--memory-limit, default verify's) and the threads (--threads, default the cores)
    are the batch's, divided between the `jobs` filings running at once."""
    text = memory_limit or DEFAULT_MEMORY_LIMIT
    m = _SIZE.fullmatch(str(text))
    if not m:
        raise InputError("command line", "--memory-limit", f"{quoted(text)} is not a size (e.g. 1GB, 4GB, 500MB)")
    total = float(m.group(1)) * _UNITS[(m.group(2) or "B").upper()]
    each = int(total // jobs)
    if each < 10**7:
        raise InputError("command line", "--memory-limit",
                         f"{quoted(text)} shared by {jobs} jobs leaves under 10MB each; give more or use fewer --jobs")
    return f"{each // 10**6}MB", max(1, (threads or _cores()) // jobs)


def _cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def derive_seed(batch_seed: int, report_sha256: str) -> int:
    """A filing's seed: from the batch seed and its report file only, so that its result does not
    depend on which other filings are in the batch (contract section 7)."""
    return int(hashlib.sha256(f"{batch_seed}:{report_sha256}".encode()).hexdigest()[:8], 16)


def _batch_seed(out: Path, seed: int | None) -> int:
    """--seed; else the seed an earlier run of this batch drew (resume); else a new one."""
    from verifier.sampling import draw_seed

    if seed is not None:
        return seed
    earlier = _read_json(out / BATCH_FILE) or {}
    kept = earlier.get("seed") if earlier.get("seed_drawn") else None
    return kept if isinstance(kept, int) and not isinstance(kept, bool) and kept >= 0 else draw_seed()


# -- the output folder ------------------------------------------------------------------------
def _write_batch_file(batch: Batch, found: list[Filing]) -> None:
    o = batch.options
    write_atomic(batch.out / BATCH_FILE, json.dumps({
        "schema_version": 1, "tool": {"name": "verifier", "version": __version__},
        "seed": batch.seed, "seed_drawn": o.seed is None,
        "options": {"lang": o.lang, "engine": o.engine, "boundary_crs": o.boundary_crs,
                    "factors": _str(o.factors), "boundary": _str(o.boundary), "fares": _str(o.fares),
                    "jobs": o.jobs, "memory_limit": o.memory_limit or DEFAULT_MEMORY_LIMIT, "threads": o.threads,
                    "memory_limit_per_filing": batch.memory_limit_per_filing,
                    "threads_per_filing": batch.threads_per_filing},
        "filings": [{"name": f.name, "path": str(f.path)} for f in found],
    }, ensure_ascii=False, indent=2) + "\n")


def _str(path) -> str | None:
    return None if path is None else str(path)


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _clean(out: Path, names: set[str]) -> None:
    """Remove what a crash left (verify's `.<name>.tmp-*` / `.old-*` folders, temp files) and the
    folders and states of filings no longer in the batch."""
    for folder, suffix in ((out / FILINGS_DIR, ""), (out / STATE_DIR, ".json")):
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            keep = not entry.name.startswith(".") and entry.name.endswith(suffix) \
                and entry.name[: len(entry.name) - len(suffix)] in names
            if not keep:
                _remove(entry)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def filing_dir(out: Path, name: str) -> Path:
    return out / FILINGS_DIR / name


def _state_file(out: Path, name: str) -> Path:
    return out / STATE_DIR / f"{name}.json"


# -- keys -------------------------------------------------------------------------------------
def _prepare_all(found: list[Filing], batch: Batch) -> list[Prepared]:
    """Each filing's seed and key (hashing its files: threads, as hashlib releases the GIL)."""
    with ThreadPoolExecutor(max_workers=max(1, min(4, len(found)))) as pool:
        return list(pool.map(lambda f: _prepare(f, batch), found))


class _LocalOnly:
    """The engine `hash_inputs` asks only about remote URIs: their parts are not hashed here
    (the cluster holds them); the URI itself enters the key."""

    @staticmethod
    def uri_parts(uri) -> list[tuple[str, str]]:
        return [(str(uri), "remote")]


def _prepare(filing: Filing, batch: Batch) -> Prepared:
    from verifier.pipeline import hash_inputs
    from verifier.submission import load_submission

    o = batch.options
    try:
        sub = load_submission(filing.path)
        inputs = hash_inputs(sub, o.factors, o.boundary, o.fares, _LocalOnly())
    except InputError as err:
        return Prepared(filing, error=str(err))
    except OSError as exc:
        return Prepared(filing, error=one_line(f"{quoted(str(filing.path))}: cannot read: {exc.strerror or exc}"))
    seed = derive_seed(batch.seed, inputs[0]["sha256"])  # the report comes first
    options = {"seed": seed, "lang": o.lang, "engine": o.engine, "boundary_crs": o.boundary_crs,
               "claims": True}
    files = [[i["role"], i["path"], i["sha256"]] for i in inputs]
    key = hashlib.sha256(json.dumps({"tool": __version__, "options": options, "inputs": files},
                                    sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()
    return Prepared(filing, seed=seed, key=key)


def _reusable(out: Path, p: Prepared) -> Outcome | None:
    """The earlier run's outcome of this filing when its key matches and its output is whole."""
    state = _read_json(_state_file(out, p.filing.name))
    if not state or state.get("key") != p.key:
        return None
    if state.get("status") == "unreadable":
        return Outcome(p.filing, "unreadable", error=state.get("error"), reused=True)
    folder = filing_dir(out, p.filing.name)
    if not (folder / "findings.json").is_file() or not _claims_present(folder):
        return None
    return Outcome(p.filing, "verified", conclusion=state.get("conclusion"), reused=True)


def _claims_present(folder: Path) -> bool:
    return (folder / CLAIMS_FILE).exists()


def _save_state(out: Path, p: Prepared, outcome: Outcome) -> None:
    write_atomic(_state_file(out, p.filing.name), json.dumps(
        {"key": p.key, "status": outcome.status, "conclusion": outcome.conclusion, "error": outcome.error},
        ensure_ascii=False) + "\n")


# -- running ----------------------------------------------------------------------------------
def _run(batch: Batch, prepared: list[Prepared], say) -> list[Outcome]:
    """Every filing's outcome (discovery order): reused, unreadable, or verified by the pool."""
    out, total = batch.out, len(prepared)
    outcomes: dict[str, Outcome] = {}

    def done(outcome: Outcome) -> None:
        outcomes[outcome.filing.name] = outcome
        say(one_line(f"[{len(outcomes)}/{total}] {outcome.filing.name}: {_line(outcome)}"))

    todo = []
    for p in prepared:
        if p.error:
            _forget(out, p.filing.name)
            done(Outcome(p.filing, "unreadable", error=p.error))
        elif reused := _reusable(out, p):
            done(reused)
        else:
            todo.append(p)
    if todo:
        with ctrl_c_remembered() as pressed:
            _verify_all(batch, todo, done, pressed)
    return [outcomes[p.filing.name] for p in prepared]


def _line(o: Outcome) -> str:
    if o.reused:
        return f"{o.conclusion or o.status}, reused"
    if o.status == "unreadable":
        return f"unreadable: {o.error}"
    return f"{o.conclusion}, {o.seconds:.1f} s"


def _forget(out: Path, name: str) -> None:
    """An earlier run's output of a filing that is now unreadable: gone, not shown as current."""
    _remove(filing_dir(out, name))
    _state_file(out, name).unlink(missing_ok=True)


@contextmanager
def ctrl_c_remembered():
    """Yield `pressed()`: whether Ctrl-C (SIGINT) came since the block began. A library may
    catch the KeyboardInterrupt that Ctrl-C raises inside it and report something else (a failed
    statement, an exception ignored in a finaliser); the batch asks `pressed()` after each filing
    so that Ctrl-C stops it all the same, instead of the filing being recorded as failed and the
    batch going on. Only the main thread may set a handler: elsewhere `pressed()` is always False."""
    seen: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous in (signal.SIG_IGN, None):
        yield lambda: False
        return

    def note(signum, frame):
        seen.append(signum)
        if callable(previous):
            previous(signum, frame)  # Python's default raises KeyboardInterrupt
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, note)
    try:
        yield lambda: bool(seen)
    finally:
        signal.signal(signal.SIGINT, previous)


def _verify_all(batch: Batch, todo: list[Prepared], done, pressed=lambda: False) -> None:
    """Verify `todo`, `jobs` at a time: one job in this process (one engine session serves the
    whole batch: a Spark session starts once, not once per worker), more in worker processes.
    An environment failure stops the batch (the running filings finish, the waiting ones are
    not started) and raises."""
    engine_threads = False
    if batch.options.jobs == 1:
        failure = None
        for p in todo:
            result = verify_filing(_job(batch, p))
            if pressed():  # whatever the filing's result says, Ctrl-C came while it ran
                raise KeyboardInterrupt
            engine_threads = bool(result.get("engine_threads"))  # this process's engine failed
            failure = _record(batch, p, result, done)
            if failure:
                break
    else:
        failure = _verify_in_workers(batch, todo, done, pressed)
    if failure:
        p, error = failure
        stop = EnvironmentFailure(f"filing {quoted(p.filing.name)}: {error}",
                                  "the filings finished so far are kept: run the same command again to resume")
        stop.engine_threads = engine_threads
        raise stop


def _verify_in_workers(batch: Batch, todo: list[Prepared], done, pressed) -> tuple[Prepared, str] | None:
    """Verify `todo` in `jobs` worker processes; the first environment failure, if any."""
    o = batch.options
    failure: tuple[Prepared, str] | None = None
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(o.jobs, len(todo)), mp_context=context) as pool:
        futures = {pool.submit(verify_filing, _job(batch, p)): p for p in todo}
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                if pressed():  # Ctrl-C reached the workers too: their results are not outcomes
                    raise KeyboardInterrupt
                for future in sorted(finished, key=lambda f: todo.index(futures[f])):
                    p = futures[future]
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        result = {"status": "environment",
                                  "error": "a worker process died (out of memory? see --memory-limit, --jobs)"}
                    failure = failure or _record(batch, p, result, done)
                if failure:
                    for f in pending:
                        f.cancel()
                    pending = {f for f in pending if not f.cancelled()}
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return failure


def _record(batch: Batch, p: Prepared, result: dict, done) -> tuple[Prepared, str] | None:
    """Keep a worker's result: the filing's state once its folder is complete; an environment
    failure is returned (the batch stops), anything else is the filing's outcome."""
    status = result["status"]
    if status == "environment":
        return p, result["error"]
    if status == "verified":
        outcome = Outcome(p.filing, "verified", conclusion=result["conclusion"], seconds=result["seconds"])
    else:  # unreadable, or an internal error: this filing's row, the batch goes on
        _remove(filing_dir(batch.out, p.filing.name))
        outcome = Outcome(p.filing, "unreadable", error=result["error"])
    if status != "internal":  # a bug may be fixed by the next run: never kept
        _save_state(batch.out, p, outcome)
    else:
        _state_file(batch.out, p.filing.name).unlink(missing_ok=True)
    done(outcome)
    return None


def _job(batch: Batch, p: Prepared) -> dict:
    """verify's arguments for one filing (plain values: they cross to a worker process)."""
    o = batch.options
    kwargs = dict(factors=o.factors, boundary=o.boundary, boundary_crs=o.boundary_crs, seed=p.seed, lang=o.lang,
                  engine=o.engine, fares=o.fares, memory_limit=batch.memory_limit_per_filing,
                  threads=batch.threads_per_filing, temp_dir=o.temp_dir, spark_master=o.spark_master,
                  spark_conf=tuple(o.spark_conf), claims=True)  # claims.parquet: the double-claim pass's input
    return {"package": str(p.filing.path), "out": str(filing_dir(batch.out, p.filing.name)), "kwargs": kwargs}


def verify_filing(job: dict) -> dict:
    """Verify one filing (in this process or a worker); raises only on Ctrl-C (an exception's
    class may not survive the trip back from a worker), returns {"status": verified|unreadable|internal|environment, ...}."""
    from verifier.pipeline import verify

    started = time.monotonic()
    try:
        findings = verify(job["package"], job["out"], **job["kwargs"])
    except InputError as err:
        return {"status": "unreadable", "error": str(err)}
    except EnvironmentFailure as err:
        return {"status": "environment", "error": str(err), "engine_threads": err.engine_threads}
    except Exception as exc:  # noqa: BLE001: one filing's bug is that filing's row
        if type(exc).__name__ == "InterruptException":  # the engine's word for Ctrl-C: stop the batch
            raise KeyboardInterrupt from exc
        return {"status": "internal", "error": one_line(f"internal error: {type(exc).__name__}: {exc}")}
    return {"status": "verified", "conclusion": findings.conclusion, "seconds": time.monotonic() - started}


__all__ = ["BatchOptions", "Batch", "Outcome", "run_batch", "derive_seed", "shares", "filing_dir"]
