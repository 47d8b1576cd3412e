"""An interrupted `verifier batch` (Ctrl-C, a crash) run again reuses the filings it finished and
ends with the summary an uninterrupted run writes; a changed input redoes only its filing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from terminal import at_a_terminal
from test_batch import FACTORS, batch_cli, make_packages


FIRST = "bike-clean"  # --jobs 1 verifies the filings in name order: this one finishes first


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> bytes:
    root = tmp_path_factory.mktemp("whole")
    make_packages(root)
    r = batch_cli(root, "pk")
    assert r.returncode == 1, r.stderr
    return (root / "out" / "summary.json").read_bytes()


def interrupt_after_first(root: Path, sig: int) -> int:
    """Start the batch (its own process group, as a terminal's job), wait until the first filing
    is complete, send `sig` to the group; the batch's exit status."""
    cmd = [sys.executable, "-m", "verifier", "batch", "pk", "--out", "out", "--factors", str(FACTORS),
           "--seed", "5", "--jobs", "1", "--quiet"]
    # Its temporary folders under the test's own: a batch killed (SIGKILL) cannot remove them.
    (root / "tmp").mkdir(exist_ok=True)
    proc = subprocess.Popen(at_a_terminal(cmd), cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "TMPDIR": str(root / "tmp")})
    state = root / "out" / ".state" / f"{FIRST}.json"
    deadline = time.monotonic() + 300
    while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state.exists() and proc.poll() is None, "the first filing did not finish alone"
    os.killpg(proc.pid, sig)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert "Traceback" not in err, err
    return proc.returncode


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["ctrl-c", "sigterm", "crash"])
def test_interrupted_batch_resumes(tmp_path, uninterrupted, sig):
    make_packages(tmp_path)
    code = interrupt_after_first(tmp_path, sig)
    assert code == {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}[sig]
    assert not (tmp_path / "out" / "summary.json").exists()
    if sig != signal.SIGKILL:  # stopped, not killed: its work folders are gone with it
        assert list((tmp_path / "tmp").iterdir()) == []
    first = tmp_path / "out" / "filings" / FIRST / "findings.json"
    before = first.stat()
    r = batch_cli(tmp_path, "pk")
    assert r.returncode == 1, r.stderr
    assert f"{FIRST}: pass, reused" in r.stderr, r.stderr
    assert r.stderr.count("reused") == 1, r.stderr  # the others are verified again
    after = first.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    resumed = (tmp_path / "out" / "summary.json").read_bytes()
    assert resumed == uninterrupted  # byte for byte: what was reused is said on stderr only
    assert not [p for p in (tmp_path / "out" / "filings").iterdir() if p.name.startswith(".")]


def test_changed_input_redoes_only_its_filing(tmp_path, uninterrupted):
    pk = make_packages(tmp_path)
    assert batch_cli(tmp_path, "pk").returncode == 1
    trips = pk / "transit-clean" / "trips.csv"
    lines = trips.read_text(encoding="utf-8").splitlines(keepends=True)
    trips.write_text("".join(lines[:-1]), encoding="utf-8")  # one trip fewer
    (tmp_path / "out" / "filings" / "gone-filing").mkdir()  # a filing no longer in the batch
    (tmp_path / "out" / "filings" / ".transit-clean.tmp-x1").mkdir()  # a crashed verify's leftover
    r = batch_cli(tmp_path, "pk")
    assert r.returncode == 1, r.stderr
    reused = sorted(line.split("] ")[1].split(":")[0] for line in r.stderr.splitlines() if "reused" in line)
    assert reused == ["bike-clean", "bike-duplicates"], r.stderr
    assert "transit-clean: fail," in r.stderr or "transit-clean: pass," in r.stderr, r.stderr
    assert sorted(p.name for p in (tmp_path / "out" / "filings").iterdir()) == \
        ["bike-clean", "bike-duplicates", "transit-clean"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    transit = next(row for row in summary["filings"] if row["name"] == "transit-clean")
    findings = json.loads((tmp_path / "out" / transit["findings"]).read_text(encoding="utf-8"))
    assert next(i for i in findings["inputs"] if i["role"] == "trips")["records"] == \
        len(lines) - 2  # header and the removed trip


SWALLOWING_LIBRARY = r"""
import os, signal, sys, time
import verifier.pipeline
from verifier.batch import BatchOptions, run_batch

calls = []

def verify(package, out, **kwargs):  # a library that catches Ctrl-C and reports a failed step
    calls.append(package)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    except KeyboardInterrupt:
        raise RuntimeError("Query failed")
    raise AssertionError("SIGINT did not arrive")

verifier.pipeline.verify = verify
try:
    run_batch(["pk"], "out", BatchOptions(factors=sys.argv[1], seed=5, quiet=True))
except KeyboardInterrupt:
    print("stopped after", len(calls))
else:
    print("went on to", len(calls))
"""


def test_ctrl_c_stops_the_batch_even_when_a_library_swallows_it(tmp_path):
    """Ctrl-C during a filing stops the batch even if the code it lands in turns the
    KeyboardInterrupt into another error: no later filing starts, nothing is recorded for it."""
    make_packages(tmp_path)
    r = subprocess.run(at_a_terminal([sys.executable, "-c", SWALLOWING_LIBRARY, str(FACTORS)]), cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.stdout.strip() == "stopped after 1", r.stdout + r.stderr
    assert not (tmp_path / "out" / "summary.json").exists()
    assert not list((tmp_path / "out" / ".state").glob("*.json"))
