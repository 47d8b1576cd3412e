"""Every case of the hostile-input corpus (tests/hostile_corpus.py) ends cleanly (issue 10).

One generic test: build the case's package from a clean sample, hash every input, run `verify` in a
subprocess with a time-out, then assert the exit code; for exit 2 and 3 exactly one stderr line
holding the case's words and `--out` exactly as it was before; never a traceback; the inputs
unchanged (SHA-256); and the case's own check of what a completed run wrote.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from hostile_corpus import CASES, Case

TIMEOUT_S = 180  # a hang is a failure, not a wait


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> SHA-256 (or the kind of thing it is) of everything below `folder`,
    symlinks not followed, named pipes not opened."""
    if not folder.exists() and not folder.is_symlink():
        return {}
    if not folder.is_dir():
        return {".": hashlib.sha256(folder.read_bytes()).hexdigest()}
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            out[rel] = "link:" + os.readlink(path)
        elif path.is_fifo():
            out[rel] = "fifo"
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


def run(case: Case, tmp: Path) -> tuple[subprocess.CompletedProcess, Path, Path]:
    pkg = tmp / "pkg"
    shutil.copytree(REPO / "samples" / case.sample, pkg)
    case.make(pkg, tmp)
    out = Path(case.out.format(pkg=pkg, tmp=tmp))
    if case.prepare_out:
        case.prepare_out(out)
    factors = pkg / "factors.yaml"
    args = [a.format(pkg=pkg, tmp=tmp, out=out) for a in case.args]
    cmd = [sys.executable, "-m", "verifier", "verify", str(pkg), "--out", str(out), "--seed", "7",
           "--factors", str(factors), *args]
    if case.sample == "transit-taps-clean":
        cmd += ["--fares", str(pkg / "fares.yaml")]
    inputs_before = snapshot(pkg)
    outside_before = snapshot(tmp / "outside")
    out_before = snapshot(out)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, start_new_session=True, env={**os.environ, "VERIFIER_DEBUG": "0"})
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{case.id}: still running after {TIMEOUT_S} s (a hang)")
    result = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    if out != pkg and not str(out).startswith(str(pkg) + os.sep):
        assert snapshot(pkg) == inputs_before, "an input was modified"
    else:
        assert snapshot(pkg) == inputs_before, "the package was modified"
    assert snapshot(tmp / "outside") == outside_before, "a file outside the package was modified"
    if result.returncode in (2, 3):
        assert snapshot(out) == out_before, "--out changed although the run was refused"
    return result, out, pkg


@pytest.mark.parametrize("case", CASES, ids=[f"{c.cls}-{c.id}" for c in CASES])
def test_hostile_case(case: Case, tmp_path):
    result, out, pkg = run(case, tmp_path)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == case.exit, (result.returncode, result.stderr[-2000:])
    if case.exit in (2, 3):
        lines = result.stderr.splitlines()
        assert len(lines) == 1, lines
        line = lines[0].lower()
        for word in case.words:
            assert word.lower() in line, (word, lines[0])
        assert not any(ord(c) < 32 for c in lines[0]), repr(lines[0])
        assert "internal error" not in line
    else:
        assert "internal error" not in result.stderr
        # Nothing the submitter wrote may forge a line of the summary.
        assert "conclusion: pass" not in result.stdout.splitlines()[1:], result.stdout
        if case.check:
            case.check(out, pkg)


def test_corpus_covers_every_class():
    """At least 60 cases, every class of the issue that a package can trigger present."""
    assert len(CASES) >= 60
    assert {c.cls for c in CASES} >= {1, 2, 3, 4, 5, 6}
    assert len({c.id for c in CASES}) == len(CASES)
