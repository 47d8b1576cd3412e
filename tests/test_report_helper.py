"""A filing's report PDF is written by a helper process (verifier.report.helper) that imported
the report's libraries while the engine worked: the same bytes as written in the run's process,
the run's own way when the helper is gone, its errors raised in the run, and no helper left
behind, whatever way the run ends."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from terminal import at_a_terminal

from verifier import pipeline
from verifier.pipeline import verify
from verifier.report.helper import ReportHelper

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
OUTPUTS = ("findings.json", "sample.csv", "excluded.csv", "report.pdf", "report.html", "sample.xlsx")


def outputs(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in OUTPUTS if (folder / name).exists()}


@pytest.fixture(scope="module")
def in_process(tmp_path_factory) -> dict[str, bytes]:
    """bike-duplicates (a failing filing: non-conformities, examples, excluded records) verified
    with everything in this process."""
    out = tmp_path_factory.mktemp("here") / "out"
    verify(SAMPLES / "bike-duplicates", out, seed=3)
    return outputs(out)


def test_the_helper_loads_weasyprint_before_it_is_asked_for_a_report():
    """The helper's point: WeasyPrint, with the Pango library it loads, imported while the run
    still works, before any report is asked of it. (render.py imports WeasyPrint for the PDF
    only; a helper that imported render alone loaded it when the report came, 0.25 s later,
    on the small filing's critical path.)"""
    helper = ReportHelper.start()
    try:
        maps = Path(f"/proc/{helper._process.pid}/maps")
        deadline = time.monotonic() + 20
        while "libpango" not in maps.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "libpango" in maps.read_text()
    finally:
        helper.close()


def test_the_helper_writes_the_same_bytes(tmp_path, in_process):
    helper = ReportHelper.start()
    steps = []
    verify(SAMPLES / "bike-duplicates", tmp_path / "out", seed=3, report_helper=helper, progress=steps.append)
    assert helper._process.returncode == 0  # it wrote the report and left (a helper stopped unused: -15)
    assert outputs(tmp_path / "out") == in_process
    assert steps[-3:] == ["drawing the figures", "laying out the PDF", "writing the PDF (15 pages)"]
    assert len(steps) == pipeline.STEPS


def test_a_helper_gone_leaves_the_report_to_the_run(tmp_path, in_process):
    helper = ReportHelper.start()
    helper._process.kill()
    helper._process.wait()
    steps = []
    verify(SAMPLES / "bike-duplicates", tmp_path / "out", seed=3, report_helper=helper, progress=steps.append)
    assert outputs(tmp_path / "out") == in_process
    assert len(steps) == pipeline.STEPS  # each step announced once


def test_no_pdf_wanted_stops_the_helper_at_once(tmp_path):
    helper = ReportHelper.start()
    verify(SAMPLES / "bike-duplicates", tmp_path / "out", seed=3, report_helper=helper, write_pdf=False)
    assert helper._process.returncode == -signal.SIGTERM
    assert not (tmp_path / "out" / "report.pdf").exists()


def test_a_report_written_here_leaves_no_temporary_file(tmp_path, monkeypatch, in_process):
    """Without a helper (none could start, or it died) the PDF is written in the run's process:
    WeasyPrint's copies of the fonts are removed there too."""
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    # As at the end of a `verifier` run (os._exit): no finaliser removes WeasyPrint's font folder.
    from weasyprint.text.fonts import FontConfiguration
    monkeypatch.setattr(FontConfiguration, "__del__", lambda self: None)
    verify(SAMPLES / "bike-duplicates", tmp_path / "out", seed=3, report_helper=None)
    assert outputs(tmp_path / "out") == in_process
    assert sorted(p.name for p in temp.iterdir()) == []


def test_an_error_in_the_helper_is_raised_in_the_run(tmp_path):
    from verifier.report.helper import _dumps

    helper = ReportHelper.start()
    findings = SimpleNamespace(methodology="shenzhen-bike-sharing", period=None)  # no report can be made of it
    job = {"out_dir": str(tmp_path), "findings": findings, "sample": None, "figures": None, "lang": "zh",
           "figures_drawn": []}
    helper._conn.send_bytes(_dumps(job))
    with pytest.raises(AttributeError, match="has no attribute 'get'"):
        helper._follow(lambda name: None, [])
    helper.close()
    assert helper._process.returncode == 0  # the helper met it, said so and left


def test_an_input_error_crosses_whole():
    """Errors of ours pickle with their fields (they cross from the helper and batch workers)."""
    import pickle

    from verifier.errors import EnvironmentFailure, InputError

    err = pickle.loads(pickle.dumps(InputError(Path("trips.csv"), "distance_m", "not a number", row=7)))
    assert (str(err), err.row, err.exit_code) == ("'trips.csv': distance_m, row 7: not a number", 7, 2)
    env = EnvironmentFailure("out of memory", "use --memory-limit")
    env.engine_threads = True
    env = pickle.loads(pickle.dumps(env))
    assert (str(env), env.engine_threads) == ("out of memory; use --memory-limit", True)


def _helpers(marker: str) -> list[int]:
    """The helper processes started by a run whose environment holds `marker`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes()
            env = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"verifier.report.helper" in cmd and marker.encode() in env:
            found.append(int(proc.name))
    return found


@pytest.mark.parametrize("how", ["done", "ctrl-c", "bad input"])
def test_no_helper_outlives_the_command(tmp_path, how):
    """`verifier verify` ends its helper whichever way it ends: done, Ctrl-C (exit 130: the
    helper, in a session of its own, never sees the terminal's Ctrl-C, the run stops it) or an
    input error (exit 2). Nor any temporary file: the run's and the helper's (WeasyPrint's copies
    of the fonts, 3 MB a report, which its finaliser alone removed: a run leaves with os._exit)
    are all gone."""
    package = tmp_path / "pkg"
    shutil.copytree(SAMPLES / "bike-clean", package)
    if how == "bad input":
        (package / "report.yaml").write_text("not: [valid", encoding="utf-8")
    marker = f"VERIFIER_TEST_MARK={tmp_path.name}"
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {**os.environ, "VERIFIER_TEST_MARK": tmp_path.name, "TMPDIR": str(temp)}
    cmd = [sys.executable, "-m", "verifier", "verify", str(package), "--out", str(tmp_path / "out"),
           "--factors", str(package / "factors.yaml"), "--seed", "1", "--quiet"]
    proc = subprocess.Popen(at_a_terminal(cmd), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    if how == "ctrl-c":
        deadline = time.monotonic() + 60
        while not _helpers(marker) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _helpers(marker), "no helper was started"
        os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    expected = {"done": 0, "ctrl-c": 130, "bad input": 2}[how]
    assert proc.returncode == expected, err
    assert "Traceback" not in err, err
    deadline = time.monotonic() + 10
    while _helpers(marker) and time.monotonic() < deadline:  # a helper being stopped may take a moment
        time.sleep(0.05)
    assert _helpers(marker) == []
    assert sorted(p.name for p in temp.iterdir()) == []
    assert (tmp_path / "out" / "report.pdf").exists() == (how == "done")
    if how == "done":
        assert out.startswith("conclusion: pass"), out


def test_a_failure_writing_here_is_the_runs_not_a_dead_helpers(tmp_path, monkeypatch):
    """A full disk while the run writes report.html fails the run (exit 3, nothing written); it
    is not taken for a helper that died, after which the PDF alone would be written."""
    from verifier.errors import EnvironmentFailure
    from verifier.report import render

    real = render.write_report

    def full_disk(*args, parts=render.PARTS, **kwargs):
        if "pdf" not in parts:  # the run's own part
            raise OSError(28, "No space left on device")
        return real(*args, parts=parts, **kwargs)

    monkeypatch.setattr(render, "write_report", full_disk)
    helper = ReportHelper.start()
    with pytest.raises(EnvironmentFailure, match="disk full"):
        verify(SAMPLES / "bike-clean", tmp_path / "out", seed=3, report_helper=helper)
    assert not (tmp_path / "out").exists()
    assert helper._process.poll() is not None
