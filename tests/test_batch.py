"""`verifier batch` (contract section 7): discovery and names, unreadable filings, exit codes, the
filing seed independent of the batch, --jobs, the memory share."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from verifier.batch.filings import discover, safe_name, unique_names
from verifier.batch.runner import derive_seed, shares
from verifier.errors import InputError


SAMPLES = Path(__file__).resolve().parent.parent / "samples"
FACTORS = SAMPLES / "bike-clean" / "factors.yaml"
PACKAGES = ("bike-clean", "bike-duplicates", "transit-clean")


def make_packages(root: Path, names=PACKAGES, broken: bool = True) -> Path:
    """root/pk holding copies of the sample packages (and `broken`, a folder without a report)."""
    pk = root / "pk"
    for name in names:
        shutil.copytree(SAMPLES / name, pk / name)
    if broken:
        (pk / "broken").mkdir(parents=True)
        (pk / "broken" / "notes.txt").write_text("no report here", encoding="utf-8")
    return pk


def batch_cli(cwd: Path, *args, out="out", seed=5, jobs=1, timeout=600) -> subprocess.CompletedProcess:
    """`verifier batch` run in `cwd` (relative paths: summaries of two folders compare equal)."""
    cmd = [sys.executable, "-m", "verifier", "batch", *map(str, args), "--out", out, "--factors", FACTORS,
           "--seed", str(seed), "--jobs", str(jobs)]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def error_lines(r: subprocess.CompletedProcess) -> list[str]:
    return [line for line in r.stderr.splitlines() if line.startswith("error:")]


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The batch of the three samples and the broken folder, --jobs 1, uninterrupted."""
    root = tmp_path_factory.mktemp("full")
    make_packages(root)
    return root, batch_cli(root, "pk")


# -- discovery ---------------------------------------------------------------------------------
def test_discovery_package_and_folder_of_packages(tmp_path):
    pk = make_packages(tmp_path, names=("bike-clean", "transit-clean"))
    (pk / ".hidden").mkdir()
    (pk / "loose-file.txt").write_text("x", encoding="utf-8")
    other = tmp_path / "y2025" / "bike-clean"
    shutil.copytree(SAMPLES / "bike-clean", other)
    found = discover([pk, other, pk / "transit-clean"])  # transit-clean named twice: one filing
    assert [(f.name, f.path) for f in found] == [
        ("pk-bike-clean", pk / "bike-clean"), ("broken", pk / "broken"), ("transit-clean", pk / "transit-clean"),
        ("y2025-bike-clean", other)]


def test_names_collide_then_numbered_and_safe():
    paths = [Path("/a/x/op"), Path("/b/x/op"), Path("/c/y/op"), Path("/d/.secret"), Path("/e/bad\nname")]
    assert unique_names(paths) == ["x-op", "x-op-2", "y-op", "secret", "bad_name"]
    assert safe_name("..") == "filing"
    assert safe_name("a/b\u202ec") == "a_b_c"
    assert len(safe_name("长" * 300)) == 100


@pytest.mark.parametrize("setup, words", [
    (lambda root: [root / "missing"], "not found"),
    (lambda root: [], "no filings"),
    (lambda root: [(root / "empty").mkdir() or root / "empty"], "neither a package"),
])
def test_discovery_errors(tmp_path, setup, words):
    with pytest.raises(InputError, match=words):
        discover(setup(tmp_path))


def test_seed_and_shares():
    assert derive_seed(5, "ab" * 32) == int(__import__("hashlib").sha256(f"5:{'ab' * 32}".encode())
                                            .hexdigest()[:8], 16)
    assert derive_seed(5, "ab" * 32) != derive_seed(6, "ab" * 32)
    assert shares(None, 4, 2) == ("500MB", 2)
    assert shares("3GiB", 1, 2) == ("1610MB", 1)
    with pytest.raises(InputError, match="--memory-limit"):
        shares("lots", None, 1)


# -- exit 2: the batch cannot run, nothing written ----------------------------------------------
def test_exit_2_before_anything_is_written(tmp_path):
    pk = make_packages(tmp_path, names=("bike-clean",), broken=False)
    cases = [
        (["missing"], "out", "not found"),
        (["pk"], "pk/bike-clean/out", "--out"),  # inside a package
        (["pk"], "pk/out", "--out"),  # inside a folder of filings: it would be read as a filing
    ]
    for args, out, words in cases:
        r = batch_cli(tmp_path, *args, out=out)
        assert r.returncode == 2, r.stderr
        assert len(error_lines(r)) == 1 and words in error_lines(r)[0], r.stderr
        assert not (tmp_path / out).exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.docx").write_text("precious", encoding="utf-8")
    r = batch_cli(tmp_path, "pk", out="mine")
    assert r.returncode == 2 and "not a verifier output" in r.stderr, r.stderr
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["thesis.docx"]
    r = batch_cli(tmp_path, "pk", out="o2", jobs=0)
    assert r.returncode == 2 and "--jobs" in r.stderr
    assert pk.is_dir() and not (tmp_path / "o2").exists()


# -- a whole batch ------------------------------------------------------------------------------
def test_batch_rows_unreadable_reason_and_exit_1(full):
    root, r = full
    assert r.returncode == 1, r.stderr
    summary = json.loads((root / "out" / "summary.json").read_text(encoding="utf-8"))
    rows = {row["name"]: row for row in summary["filings"]}
    assert [row["name"] for row in summary["filings"]][-1] == "broken"  # unreadable last
    broken = rows["broken"]
    assert broken["status"] == "unreadable" and broken["findings"] is None
    assert broken["error"] == "'pk/broken': report.yaml: no report.yaml or report.json in the submission folder"
    clean = rows["bike-clean"]
    assert clean["conclusion"] == "pass" and clean["path"] == "pk/bike-clean"
    assert clean["verified_reduction_tco2"] == 0.035015 and clean["year"] == 2024
    assert clean["findings"] == "filings/bike-clean/findings.json"
    assert clean["report"] == "filings/bike-clean/report.pdf"
    assert (root / "out" / clean["report"]).is_file()
    assert rows["bike-duplicates"]["status"] == "fail"
    assert "records.duplicates" in rows["bike-duplicates"]["failing_checks"]
    # bike-duplicates repeats bike-clean's rides (one applicant, one period): the later one by name
    assert rows["bike-duplicates"]["failing_checks"][-1] == "batch.double_claim"
    assert summary["double_claims"]["overlapping_periods"] == [["bike-clean", "bike-duplicates"]]
    assert [(p["filing"], p["earlier"], p["basis"]) for p in summary["double_claims"]["pairs"]] == \
        [("bike-duplicates", "bike-clean", "same_applicant")]
    assert rows["bike-duplicates"]["double_claims"] == summary["double_claims"]["pairs"][0]["records"] > 0
    assert rows["bike-clean"]["double_claims"] == 0 and rows["bike-clean"]["status"] == "pass"
    assert rows["transit-clean"]["methodology"] == "shenzhen-public-transit"
    t = summary["totals"]
    assert (t["filings"], t["unreadable"], t["passed"] + t["failed"]) == (4, 1, 3)
    assert summary["seed"] == 5 and "jobs" not in summary["parameters"]
    for name in ("bike-clean", "bike-duplicates", "transit-clean"):
        assert (root / "out" / "filings" / name / "claims.parquet").exists(), name
    for name in ("summary.csv", "summary.xlsx", "summary.pdf", "summary.html", "double_claims.csv"):
        assert (root / "out" / name).is_file(), name
    assert "[4/4]" in r.stderr and "broken: unreadable" in r.stderr
    assert "filings 4:" in r.stdout and "unreadable 1" in r.stdout


def test_memory_share_recorded(full):
    root, _ = full
    batch = json.loads((root / "out" / "batch.json").read_text(encoding="utf-8"))
    assert batch["options"]["memory_limit"] == "1GB"
    assert batch["options"]["memory_limit_per_filing"] == "1000MB"
    assert batch["filings"][0] == {"name": "bike-clean", "path": "pk/bike-clean"}


def test_jobs_2_same_summary_and_shared_budget(full, tmp_path):
    root, _ = full
    make_packages(tmp_path)
    r = batch_cli(tmp_path, "pk", jobs=2)
    assert r.returncode == 1, r.stderr
    one = (root / "out" / "summary.json").read_text(encoding="utf-8")
    two = (tmp_path / "out" / "summary.json").read_text(encoding="utf-8")
    assert two == one  # jobs, like threads, changes nothing the summary says
    batch = json.loads((tmp_path / "out" / "batch.json").read_text(encoding="utf-8"))
    assert batch["options"]["memory_limit_per_filing"] == "500MB"
    assert batch["options"]["threads_per_filing"] == max(1, len(os.sched_getaffinity(0)) // 2)
    for name in ("bike-clean", "transit-clean"):
        assert (tmp_path / "out" / "filings" / name / "findings.json").read_bytes() == \
            (root / "out" / "filings" / name / "findings.json").read_bytes(), name


def test_filing_alone_same_findings_and_exit_0(full, tmp_path):
    root, _ = full
    make_packages(tmp_path, names=("bike-clean",), broken=False)
    r = batch_cli(tmp_path, "pk/bike-clean")
    assert r.returncode == 0, r.stderr + r.stdout
    alone = tmp_path / "out" / "filings" / "bike-clean" / "findings.json"
    assert alone.read_bytes() == (root / "out" / "filings" / "bike-clean" / "findings.json").read_bytes()
    seed = json.loads(alone.read_text(encoding="utf-8"))["parameters"]["seed"]
    report = SAMPLES / "bike-clean" / "report.yaml"
    assert seed == derive_seed(5, __import__("hashlib").sha256(report.read_bytes()).hexdigest())
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["totals"]["passed"] == 1 and summary["filings"][0]["status"] == "pass"


def test_environment_failure_stops_the_batch_exit_3(tmp_path):
    """The machine failing a filing (here: out of memory) stops the batch: exit 3, one line naming
    the filing and saying that running again resumes; the filings after it are not started."""
    make_packages(tmp_path)
    cmd = [sys.executable, "-m", "verifier", "batch", "pk", "--out", "out", "--factors", str(FACTORS),
           "--seed", "5", "--memory-limit", "10MB"]
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 3, r.stderr
    [line] = error_lines(r)
    assert line.startswith("error: filing 'bike-clean': out of memory") and "run the same command again to resume" \
        in line, line
    assert not (tmp_path / "out" / "summary.json").exists()
    assert list((tmp_path / "out" / "filings").iterdir()) == []
    assert "Traceback" not in r.stderr
