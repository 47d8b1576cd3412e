"""Progress people can see (issue 12 point 12): a bar on a terminal, one line per step on stderr
otherwise, nothing with --quiet; stdout's summary unchanged; an exit-2 run still prints exactly
one line on stderr (the lines are held until the inputs are read: verifier.progress)."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO, ride
from verifier.pipeline import STEPS, verify
from verifier import progress as progress_module
from verifier.progress import Progress

LINE = re.compile(r"^verifier: \[(\d+)/(\d+)\] (.+) \((\d+\.\d) s\)$")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "verifier", *map(str, args)], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def rides(n=4):
    return [ride(f"t{i}", f"u{i}", f"2024-03-0{i + 1} 08:00:00", f"2024-03-0{i + 1} 08:10:00") for i in range(n)]


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


# -- the reporter --------------------------------------------------------------------------------
def test_lines_are_held_until_the_inputs_are_read_then_follow_the_steps():
    out, clock = io.StringIO(), Clock()
    p = Progress(3, stream=out, clock=clock)
    p("reading the package")
    clock.now += 1.25
    p("staging the records (1 file)")
    assert out.getvalue() == ""  # an unreadable file could still end the run with one error line
    clock.now += 4
    p.inputs_read()
    assert out.getvalue().splitlines() == ["verifier: [1/3] reading the package (0.0 s)",
                                           "verifier: [2/3] staging the records (1 file) (1.2 s)"]
    p("totals")
    p.close()
    assert out.getvalue().splitlines()[-1] == "verifier: [3/3] totals (5.2 s)"


def test_a_run_that_fails_before_its_inputs_are_read_prints_no_progress():
    out = io.StringIO()
    p = Progress(9, stream=out)
    p("reading the package")
    p("staging the records (1 file)")
    p.close()  # the error line follows, alone
    p.inputs_read()
    assert out.getvalue() == ""


def test_quiet_prints_nothing_even_on_a_terminal():
    for stream in (io.StringIO(), Terminal()):
        p = Progress(2, stream=stream, quiet=True)
        p("reading the package")
        p.inputs_read()
        p("totals")
        p.close()
        assert stream.getvalue() == ""


def test_a_terminal_gets_a_bar_not_lines():
    term = Terminal()
    p = Progress(2, stream=term)
    p("reading the package")
    p("totals")
    p.inputs_read()
    assert p.bar is not None and p.bar.n == 1 and "totals" in term.getvalue()
    p.close()
    assert "verifier: [" not in term.getvalue() and p.bar is None
    assert not any(t.name == "verifier-progress" for t in threading.enumerate())  # its ticker ended


def test_the_bar_keeps_its_clock_moving_through_a_long_step(monkeypatch):
    monkeypatch.setattr(progress_module, "TICK_S", 0.01)
    term = Terminal()
    p = Progress(2, stream=term)
    p("staging the records (1 file)")
    drawn = len(term.getvalue())
    time.sleep(0.3)
    assert len(term.getvalue()) > drawn  # redrawn with no step announced
    p.close()


def test_the_pipeline_announces_its_steps_and_when_its_inputs_are_read(tmp_path, bike_package):
    events = []

    class Recorder:
        def __call__(self, name):
            events.append(name)

        def inputs_read(self):
            events.append(None)

    verify(bike_package(rides()), tmp_path / "out", seed=1, write_pdf=False, progress=Recorder())
    steps = [e for e in events if e is not None]
    assert len(steps) == STEPS - 3  # without the PDF: no figures drawn, no PDF laid out or written
    assert steps[-1] == "writing the output files"
    assert steps[:3] == ["reading the package", "staging the records (1 file)", "record-level checks (4 records)"]
    assert events.index(None) == 2  # right after staging, before the record-level checks


# -- the command line ------------------------------------------------------------------------------
def test_verify_not_on_a_terminal_says_each_step_on_stderr_and_quiet_silences_it(tmp_path):
    pkg = REPO / "samples" / "bike-clean"
    args = ["verify", pkg, "--out", tmp_path / "out", "--factors", pkg / "factors.yaml", "--seed", "7"]
    loud = run_cli(*args)
    assert loud.returncode == 0, loud.stderr
    lines = loud.stderr.splitlines()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert [(int(m[1]), int(m[2])) for m in parsed] == [(n, STEPS) for n in range(1, STEPS + 1)]
    assert [m[3] for m in parsed][:2] == ["reading the package", "staging the records (1 file)"]
    assert [m[3] for m in parsed][-3:-1] == ["drawing the figures", "laying out the PDF"]
    assert re.fullmatch(r"writing the PDF \(\d+ pages\)", parsed[-1][3]), parsed[-1][3]
    seconds = [float(m[4]) for m in parsed]
    assert seconds == sorted(seconds)

    quiet = run_cli(*args, "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    assert quiet.stdout == loud.stdout  # the summary scripts parse is the same either way
    assert quiet.stdout.startswith("conclusion: pass")


def test_demo_quiet_is_silent_on_stderr(tmp_path):
    r = run_cli("demo", "--out", tmp_path / "demo", "--quiet")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout.splitlines()[-1] == f"report: {tmp_path / 'demo' / 'report.pdf'}"


@pytest.mark.parametrize("where", ["reading", "staging"])
def test_exit_2_is_still_exactly_one_line_on_stderr(tmp_path, bike_package, where):
    pkg = bike_package(rides())
    if where == "reading":  # found while reading the package
        (pkg / "report.yaml").write_text("methodology: [unclosed", encoding="utf-8")
    else:  # found only while the records are staged
        with open(pkg / "trips.csv", "a", encoding="utf-8") as fh:
            fh.write("t9,u9,own,2024-03-09 08:00:00,2024-03-09 08:10:00,114.05,22.54,114.07,22.54,1.6,extra\n")
    r = run_cli("verify", pkg, "--out", tmp_path / "out", "--seed", "1")
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("error: "), r.stderr
    assert r.stdout == "" and not (tmp_path / "out").exists()
