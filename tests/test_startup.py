"""What a run does to its own process to start and end sooner: the objects the imports made are
frozen once (out of every later garbage collection) with the collector back on afterwards, also
when the run fails before its imports are done."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "samples"

RUNS = r"""
import gc, json, shutil, sys
from pathlib import Path
from verifier.errors import InputError
from verifier.pipeline import verify

tmp, sample = Path(sys.argv[1]), Path(sys.argv[2])
seen = {}
def state(name):
    seen[name] = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}

bad = tmp / "bad"
shutil.copytree(sample, bad)
(bad / "report.yaml").write_text("not: [valid", encoding="utf-8")
try:
    verify(bad, tmp / "out0", seed=1, write_pdf=False)
except InputError:
    state("failed first")
verify(sample, tmp / "out1", seed=1, write_pdf=False)
state("first run")
verify(sample, tmp / "out2", seed=1, write_pdf=False)
state("second run")
print(json.dumps(seen))
"""


def test_imports_frozen_once_and_the_collector_back_on(tmp_path):
    r = subprocess.run([sys.executable, "-c", RUNS, str(tmp_path), str(SAMPLES / "bike-clean")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    assert seen["failed first"] == {"enabled": True, "frozen": 0}  # nothing frozen by a run that failed early
    assert seen["first run"]["enabled"] and seen["first run"]["frozen"] > 10_000  # the libraries' objects
    assert seen["second run"] == seen["first run"]  # once per process: a later run's garbage is never frozen
