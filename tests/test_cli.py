"""The command line: exit codes, one-line errors, nothing half-written (contract section 3)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from conftest import ride


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "verifier", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def rides(n=3):
    return [ride(f"t{i}", f"u{i}", f"2024-03-0{i + 1} 08:00:00", f"2024-03-0{i + 1} 08:10:00") for i in range(n)]


def assert_input_error(result, *words):
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and "nanobind" not in line
             and not line.startswith((" - leaked", "See https", " - ..."))]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_missing_report(tmp_path):
    (tmp_path / "empty").mkdir()
    r = run_cli("verify", tmp_path / "empty", "--out", tmp_path / "out")
    assert_input_error(r, "report.yaml")
    assert not (tmp_path / "out").exists()


def test_unparseable_report(tmp_path, bike_package):
    pkg = bike_package(rides())
    (pkg / "report.yaml").write_text("methodology: [unclosed\n", encoding="utf-8")
    r = run_cli("verify", pkg, "--out", tmp_path / "out")
    assert_input_error(r, "report.yaml", "YAML")
    assert not (tmp_path / "out").exists()


def test_unknown_methodology(tmp_path, bike_package):
    pkg = bike_package(rides(), methodology="shenzhen-scooters")
    assert_input_error(run_cli("verify", pkg, "--out", tmp_path / "out"), "methodology", "shenzhen-scooters")


def test_no_trip_data_named(tmp_path, bike_package):
    pkg = bike_package(rides(), data={"crs": "wgs84"})
    assert_input_error(run_cli("verify", pkg, "--out", tmp_path / "out"), "data.trips")


def test_named_file_missing(tmp_path, bike_package):
    pkg = bike_package(rides())
    (pkg / "trips.csv").unlink()
    assert_input_error(run_cli("verify", pkg, "--out", tmp_path / "out"), "trips.csv", "not found")


def test_users_file_missing(tmp_path, bike_package):
    pkg = bike_package(rides(), data={"trips": "trips.csv", "users": "users.csv", "crs": "wgs84"})
    assert_input_error(run_cli("verify", pkg, "--out", tmp_path / "out"), "users.csv", "data.users")


def test_required_column_absent(tmp_path, bike_package):
    pkg = bike_package(rides())
    text = (pkg / "trips.csv").read_text().replace("start_time", "begin")
    (pkg / "trips.csv").write_text(text)
    assert_input_error(run_cli("verify", pkg, "--out", tmp_path / "out"), "start_time", "trips.csv")


def test_mapped_column_absent(tmp_path, bike_package):
    pkg = bike_package(rides(), data={"trips": "trips.csv", "crs": "wgs84", "columns": {"distance_km": "KM"}})
    assert_input_error(run_cli("verify", pkg, "--out", tmp_path / "out"), "distance_km", "KM")


@pytest.mark.parametrize("option", [["--confidence", "1.5"], ["--tolerable-rate", "0"],
                                    ["--expected-rate", "0.2"], ["--lang", "fr"], ["--seed", "-1"],
                                    ["--memory-limit", "lots"], ["--temp-dir", "/nonexistent/spill"]])
def test_bad_option(tmp_path, bike_package, option):
    pkg = bike_package(rides())
    r = run_cli("verify", pkg, "--out", tmp_path / "out", *option)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_existing_output_untouched_on_error(tmp_path, bike_package):
    out = tmp_path / "out"
    out.mkdir()
    (out / "findings.json").write_text("old", encoding="utf-8")
    pkg = bike_package(rides())
    (pkg / "trips.csv").unlink()
    assert run_cli("verify", pkg, "--out", out).returncode == 2
    assert (out / "findings.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "pkg"]  # no temporary folder left


def test_inputs_never_modified(tmp_path, bike_package):
    pkg = bike_package(rides())
    before = {p.name: p.read_bytes() for p in pkg.iterdir()}
    r = run_cli("verify", pkg, "--out", tmp_path / "out", "--seed", "3")
    assert r.returncode in (0, 1), r.stderr
    assert {p.name: p.read_bytes() for p in pkg.iterdir()} == before


def test_seed_drawn_and_recorded(tmp_path, bike_package):
    pkg = bike_package(rides())
    r = run_cli("verify", pkg, "--out", tmp_path / "out")
    assert r.returncode in (0, 1), r.stderr
    findings = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))
    seed = findings["parameters"]["seed"]
    assert isinstance(seed, int) and findings["sampling"]["seed"] == seed
    assert findings["parameters"]["seed_drawn"] is True


def test_sample_size_command():
    r = run_cli("sample-size", "--confidence", "0.95", "--tolerable-rate", "0.05", "--expected-rate", "0.01")
    assert r.returncode == 0
    assert r.stdout.strip().splitlines()[-1] == "93"
    r = run_cli("sample-size", "--confidence", "0.95", "--tolerable-rate", "0.05")
    assert r.stdout.strip().splitlines()[-1] == "59"


def test_sample_size_bad_argument():
    r = run_cli("sample-size", "--confidence", "0.95", "--tolerable-rate", "0.05", "--expected-rate", "0.07")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_version():
    r = run_cli("--version")
    assert r.returncode == 0 and "verifier" in r.stdout


def test_json_report_same_as_yaml(tmp_path, bike_package):
    pkg = bike_package(rides())
    raw = yaml.safe_load((pkg / "report.yaml").read_text(encoding="utf-8"))
    (pkg / "report.yaml").unlink()
    (pkg / "report.json").write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    r = run_cli("verify", pkg, "--out", tmp_path / "out", "--seed", "5")
    assert r.returncode in (0, 1), r.stderr
    findings = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))
    assert findings["checks"][0]["id"] == "report.completeness"
    assert findings["checks"][0]["status"] == "pass"


def test_import_taps_pairs_the_real_file(tmp_path):
    from conftest import SHARED
    import duckdb

    src = SHARED / "data" / "field" / "szt_card_records_2018-09-01_page14.csv"
    out = tmp_path / "trips.parquet"
    r = run_cli("import-taps", src, "--out", out)
    assert r.returncode == 0, r.stderr
    assert "486 metro trips, 18118 bus trips" in r.stdout
    assert "exact_duplicates: 1" in r.stdout
    con = duckdb.connect()
    rows = con.execute(f"SELECT mode, count(*) FROM read_parquet('{out}') GROUP BY 1 ORDER BY 1").fetchall()
    con.close()
    assert rows == [("bus", 18118), ("metro", 486)]


def test_import_taps_missing_file(tmp_path):
    r = run_cli("import-taps", tmp_path / "nope.csv", "--out", tmp_path / "t.parquet")
    assert_input_error(r, "nope.csv")
    assert not (tmp_path / "t.parquet").exists()


@pytest.mark.parametrize("where", ["folder", "input", "under-a-file"])
def test_import_taps_out_is_checked_before_any_work(tmp_path, where):
    """--out names the Parquet file to write: a folder, an input tap file, or a path under a file
    is exit 2 naming --out, and the input stays as it was."""
    import hashlib

    from conftest import REPO

    src = tmp_path / "taps.csv"
    src.write_bytes((REPO / "samples" / "transit-taps-clean" / "taps.csv").read_bytes())
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    out = {"folder": tmp_path, "input": src, "under-a-file": src / "trips.parquet"}[where]
    r = run_cli("import-taps", src, "--out", out)
    assert_input_error(r, "--out")
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
    assert [p.name for p in tmp_path.iterdir()] == ["taps.csv"]  # no temporary folder left


def test_duckdb_verify_imports_neither_pyspark_nor_scipy_stats(tmp_path, bike_package):
    # pandera imports pyspark.pandas when pyspark is installed (verifier[spark]: 1 s, a warning)
    # and scipy.stats costs 1.6 s: neither is used by a DuckDB run.
    import pyspark  # noqa: F401: installed here, so pandera would find it

    pkg = bike_package(rides())
    code = ("import sys\n"
            f"sys.argv = ['verifier', 'verify', {str(pkg)!r}, '--out', {str(tmp_path / 'out')!r}, '--seed', '1', '--quiet']\n"
            "from verifier.cli import main\ntry:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pyspark' or m.startswith('scipy.stats')), code)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[] 1", result.stdout  # exit 1: three rides are too few
    assert (tmp_path / "out" / "findings.json").is_file()
    assert "pandera" not in result.stderr and "FutureWarning" not in result.stderr, result.stderr


def test_sigterm_stops_a_run_and_leaves_nothing_behind(tmp_path):
    """SIGTERM (`kill`, a scheduler's time limit) while the engine works: "terminated", exit 143,
    no output folder, and nothing in the temp folder: the engine's work folder, which holds the
    staged records (gigabytes at 10^8), is removed as after Ctrl-C. (SIGTERM's default ended the
    process where it stood and left the folder behind.)"""
    import os
    import signal
    import time
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "samples" / "bike-clean"
    temp = tmp_path / "temp"
    temp.mkdir()
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "verifier", "verify", str(package), "--out", str(out),
                             "--factors", str(package / "factors.yaml"), "--seed", "1", "--quiet"],
                            env={**os.environ, "TMPDIR": str(temp)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)

    def engine_working() -> bool:  # its work folder exists (the report helper's is verifier-report-*)
        return any(p.name.startswith("verifier-") and not p.name.startswith("verifier-report-")
                   for p in temp.iterdir())

    deadline = time.monotonic() + 120
    while not engine_working() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before its engine was seen"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "terminated", err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["temp"]  # no output, finished or not
    assert sorted(p.name for p in temp.iterdir()) == []
