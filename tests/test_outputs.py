"""The output folder (checked first, replaced as a whole), the workpaper's text cells, and
failures of the machine (exit 3) told apart from bad input (exit 2)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest

from conftest import ride
from verifier import outdir
from verifier.data.engine import DuckDBEngine, environment_failure
from verifier.errors import EnvironmentFailure, InputError
from verifier.report.workpaper import write_workpaper
from verifier.run import verify


def rides(n=3):
    return [ride(f"t{i}", f"u{i}", f"2024-03-0{i + 1} 08:00:00", f"2024-03-0{i + 1} 08:10:00") for i in range(n)]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "verifier", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip() and "nanobind" not in line
            and not line.startswith((" - leaked", "See https", " - ..."))]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- --out checked before any work -------------------------------------------------------------
def test_out_naming_a_file_is_refused_before_the_package_is_read(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("mine", encoding="utf-8")
    with pytest.raises(InputError) as err:
        verify(tmp_path / "no-such-package", out)  # the package error would come first otherwise
    assert err.value.field == "--out" and "not a folder" in err.value.message
    assert out.read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize("where, relation", [
    (lambda pkg, tmp: pkg, "is the package"),
    (lambda pkg, tmp: pkg / "out", "lies inside the package"),
    (lambda pkg, tmp: tmp, "contains the package"),
])
def test_out_overlapping_the_package_is_refused_and_the_package_untouched(tmp_path, bike_package, where,
                                                                         relation):
    pkg = bike_package(rides())
    before = snapshot(tmp_path)
    with pytest.raises(InputError) as err:
        verify(pkg, where(pkg, tmp_path), seed=1, write_pdf=False)
    assert err.value.field == "--out" and relation in err.value.message
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("option", ["factors", "boundary", "fares", "temp_dir"])
def test_out_containing_or_inside_another_input_is_refused(tmp_path, bike_package, option):
    pkg = bike_package(rides())
    folder = tmp_path / "inputs"
    (folder / "spill").mkdir(parents=True)
    (folder / "table.yaml").write_text("[]\n", encoding="utf-8")
    value = folder / ("spill" if option == "temp_dir" else "table.yaml")
    for out, relation in ((folder, "contains"), (value / "out" if option == "temp_dir" else value, None)):
        with pytest.raises(InputError) as err:
            verify(pkg, out, seed=1, write_pdf=False, **{option: value})
        assert err.value.field == "--out"
        assert relation is None or f"contains the --{option.replace('_', '-')}" in err.value.message
    assert (folder / "table.yaml").read_text(encoding="utf-8") == "[]\n"


def test_out_holding_other_files_is_refused(tmp_path, bike_package):
    pkg = bike_package(rides())
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.docx").write_text("years of work", encoding="utf-8")
    with pytest.raises(InputError) as err:
        verify(pkg, out, seed=1, write_pdf=False)
    assert err.value.field == "--out" and "not a verifier output" in err.value.message
    assert snapshot(out) == {"thesis.docx": b"years of work"}


def test_out_whose_parent_cannot_be_written_is_exit_2(tmp_path, bike_package):
    pkg = bike_package(rides())
    (tmp_path / "file").write_text("x", encoding="utf-8")
    r = run_cli("verify", pkg, "--out", tmp_path / "file" / "out")
    assert r.returncode == 2
    lines = error_lines(r)
    assert len(lines) == 1 and "--out" in lines[0] and "cannot write into" in lines[0], r.stderr


# -- replaced as a whole -----------------------------------------------------------------------
def earlier_run(out: Path) -> None:
    out.mkdir()
    (out / "findings.json").write_text("old", encoding="utf-8")
    (out / "stale.csv").write_text("from an older version", encoding="utf-8")


def test_existing_output_is_replaced_as_a_whole(tmp_path, bike_package):
    pkg = bike_package(rides())
    out = tmp_path / "out"
    earlier_run(out)
    verify(pkg, out, seed=1, write_pdf=False)
    assert sorted(p.name for p in out.iterdir()) == ["excluded.csv", "findings.json", "sample.csv"]  # stale.csv went too
    assert (out / "findings.json").read_text(encoding="utf-8").startswith("{")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "pkg"]


def test_a_failure_after_findings_were_written_leaves_out_as_it_was(tmp_path, bike_package, monkeypatch):
    import verifier.report.render as render

    def fail(out_dir, *args, **kwargs):
        assert (Path(out_dir) / "findings.json").is_file()  # the failure comes after it was written
        raise RuntimeError("report writer failed")

    monkeypatch.setattr(render, "write_report", fail)
    pkg = bike_package(rides())
    out = tmp_path / "out"
    earlier_run(out)
    before = snapshot(out)
    with pytest.raises(RuntimeError, match="report writer failed"):
        verify(pkg, out, seed=1)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "pkg"]  # no temporary folder beside it


def test_exchange_swaps_two_folders_in_one_call(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "new").write_text("new", encoding="utf-8")
    (b / "old").write_text("old", encoding="utf-8")
    if not outdir._exchange(a, b):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here")
    assert [p.name for p in a.iterdir()] == ["old"] and [p.name for p in b.iterdir()] == ["new"]


def test_fallback_without_the_exchange_replaces_and_restores(tmp_path, monkeypatch):
    monkeypatch.setattr(outdir, "_exchange", lambda a, b: False)
    out, new = tmp_path / "out", tmp_path / "new"
    earlier_run(out)
    new.mkdir()
    (new / "findings.json").write_text("new", encoding="utf-8")
    outdir.replace_dir(new, out)
    assert snapshot(out) == {"findings.json": b"new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]

    # the second rename fails: the old run is put back
    newer = tmp_path / "newer"
    newer.mkdir()
    real_rename = os.rename

    def rename(src, dst):
        if Path(src) == newer:
            raise OSError(errno.EIO, "simulated")
        return real_rename(src, dst)

    monkeypatch.setattr(outdir.os, "rename", rename)
    with pytest.raises(OSError):
        outdir.replace_dir(newer, out)
    assert snapshot(out) == {"findings.json": b"new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newer", "out"]


# -- the workpaper: submission values are text, never formulas ------------------------------
FORMULAS = ['=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0", "+1+1", "-2", "@SUM(A1)"]


def test_workpaper_writes_formula_like_values_as_text(tmp_path):
    sample = pd.DataFrame({"record_key": FORMULAS, "user_id": ["=1+1"] * 5, "entry_station": ["@A1"] * 5,
                           "distance_km": [1.5] * 5, "sample.completeness": ["pass"] * 5})
    path = tmp_path / "sample.xlsx"
    write_workpaper(path, sample, {"sample.completeness": "完整性"}, "zh", "2025-01-01", "SZCI-X")
    ws = openpyxl.load_workbook(path).active
    for i, value in enumerate(FORMULAS, start=2):
        key, user, station, km = (ws.cell(i, c) for c in (2, 3, 4, 5))
        assert (key.value, key.data_type) == (value, "s")
        assert (user.value, user.data_type) == ("=1+1", "s")
        assert (station.value, station.data_type) == ("@A1", "s")
        assert (km.value, km.data_type) == (1.5, "n")  # numbers stay numbers
    sheet = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet and b"<f " not in sheet


# -- the machine's failures: exit 3, one line, what helps -------------------------------------
def test_classification_of_engine_and_system_errors():
    oom = environment_failure(duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block"))
    assert oom.what == "out of memory" and "--memory-limit" in oom.hint
    spill = environment_failure(duckdb.OutOfMemoryException(
        "Out of Memory Error: failed to offload data block of size 256.0 KiB (736.0 KiB/921.5 KiB used)"))
    assert "spill folder is full" in spill.what and "--temp-dir" in spill.hint
    full = environment_failure(duckdb.IOException("Could not write file: No space left on device"))
    assert full.what == "disk full" and "--temp-dir" in full.hint
    assert environment_failure(OSError(errno.ENOSPC, "No space left on device")).what == "disk full"
    assert environment_failure(MemoryError()).what == "out of memory"
    assert environment_failure(duckdb.IOException("Could not read file 'trips.csv'")) is None
    assert environment_failure(duckdb.BinderException("column x not found")) is None


def test_out_of_memory_after_staging_is_exit_3_and_writes_nothing(tmp_path, bike_package, monkeypatch):
    def oom(self, *args, **kwargs):
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block of size 256 KiB")

    monkeypatch.setattr(DuckDBEngine, "aggregate", oom)
    pkg = bike_package(rides())
    with pytest.raises(EnvironmentFailure) as err:
        verify(pkg, tmp_path / "out", seed=1, write_pdf=False)
    assert err.value.exit_code == 3 and "--memory-limit" in err.value.hint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]


def test_disk_full_while_staging_is_not_blamed_on_the_package(tmp_path, bike_package, monkeypatch):
    real_init = DuckDBEngine.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        self.con = _FailingCreate(self.con)

    monkeypatch.setattr(DuckDBEngine, "__init__", init)
    with pytest.raises(EnvironmentFailure) as err:  # not InputError "trips.csv cannot be read"
        verify(bike_package(rides()), tmp_path / "out", seed=1, write_pdf=False)
    assert err.value.what == "disk full" and "--temp-dir" in err.value.hint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]


class _FailingCreate:
    """A connection whose writing of the stored records (the COPY to stored-N.parquet) fails as
    a full disk does."""

    def __init__(self, inner):
        self.inner = inner

    def execute(self, sql, *args):
        if sql.lstrip().startswith("COPY") and "stored-1.parquet" in sql:
            raise duckdb.IOException("Could not write file: No space left on device")
        return self.inner.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_an_unexpected_engine_error_after_staging_is_an_internal_error(tmp_path, bike_package, monkeypatch):
    def broken(self, *args, **kwargs):
        raise duckdb.BinderException("Binder Error: column \"x\" not found")

    monkeypatch.setattr(DuckDBEngine, "flag", broken)
    with pytest.raises(duckdb.BinderException):  # not InputError: the applicant is not to blame
        verify(bike_package(rides()), tmp_path / "out", seed=1, write_pdf=False)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MB tmpfs (root only); skipped where it cannot be mounted."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if r.returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def big_package(folder: Path, records: int) -> Path:
    """A bike package of `records` rides, written by DuckDB (fast)."""
    from conftest import write_bike_package

    write_bike_package(folder, rides(1))
    duckdb.sql(f"""COPY (SELECT 'T' || i AS trip_id, 'U' || (i % 5000) AS user_id, 'own' AS order_source,
                   TIMESTAMP '2024-01-01' + INTERVAL (i) SECOND * 97 AS start_time,
                   TIMESTAMP '2024-01-01' + INTERVAL (i) SECOND * 97 + INTERVAL 600 SECOND AS end_time,
                   114.05 + (i % 100) / 10000 AS start_lon, 22.54 AS start_lat, 114.06 AS end_lon,
                   22.545 AS end_lat, 1.6 AS distance_km FROM range({records}) t(i))
                   TO '{folder / "trips.csv"}' (HEADER)""")
    return folder


def test_a_real_out_of_memory_is_exit_3_with_the_hint(tmp_path, tiny_disk):
    pkg = big_package(tmp_path / "pkg", 300_000)
    out = tmp_path / "out"
    r = run_cli("verify", pkg, "--out", out, "--seed", "1", "--memory-limit", "5MB", "--temp-dir", tiny_disk)
    assert r.returncode == 3, r.stderr
    lines = error_lines(r)
    assert len(lines) == 1 and lines[0].startswith("error: out of memory"), r.stderr
    assert "--memory-limit" in lines[0] or "--temp-dir" in lines[0]
    assert "internal error" not in r.stderr and not out.exists()


def test_a_full_disk_while_writing_outputs_is_exit_3_and_leaves_nothing(tmp_path, bike_package, tiny_disk):
    pkg = bike_package(rides())
    (tiny_disk / "filler").write_bytes(b"x" * 900_000)  # leaves room for findings.json, not the PDF
    out = tiny_disk / "out"
    r = run_cli("verify", pkg, "--out", out, "--seed", "1")
    assert r.returncode == 3, r.stderr
    *progress, error = error_lines(r)  # the inputs were read: the steps run so far, then one error line
    assert progress and all(line.startswith("verifier: [") for line in progress), r.stderr
    assert error.startswith("error: disk full;") and "--out" in error, r.stderr
    assert [p.name for p in tiny_disk.iterdir()] == ["filler"]
