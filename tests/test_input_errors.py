"""Hostile input (issue 10, classes 1, 4 and 6; contract sections 1 and 3).

Every case runs through the command line in a subprocess: an unreadable package is exit 2 with
exactly one line on stderr (submission values quoted, so nothing can forge a second line) and
nothing written to --out; a report value that parses but cannot be what its field needs is a
report.completeness fail (exit 1), never exit 2 or 3.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

SAMPLES = REPO / "samples"


def run_cli(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "verifier", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=timeout)


def stderr_lines(result) -> list[str]:
    # (the same filter as test_cli: nanobind's leak report at interpreter exit is not ours)
    return [line for line in result.stderr.splitlines() if line.strip() and "nanobind" not in line
            and not line.startswith((" - leaked", "See https", " - ..."))]


def assert_one_line(result, code: int, *words: str, out: Path | None = None) -> str:
    """Exit `code`, exactly one line on stderr holding every word, no traceback, no --out."""
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    if out is not None:
        assert not out.exists()
    return lines[0]


def package(tmp_path: Path, sample: str = "bike-clean", name: str = "pkg") -> Path:
    pkg = tmp_path / name
    shutil.copytree(SAMPLES / sample, pkg)
    return pkg


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def verify(pkg: Path, out: Path, *extra, timeout=180):
    return run_cli("verify", pkg, "--out", out, "--seed", "1", *extra, timeout=timeout)


def completeness(out: Path) -> dict:
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    return next(c for c in findings["checks"] if c["id"] == "report.completeness")


# -- class 1: the report loader ----------------------------------------------------------------
def test_alias_bomb_is_refused_before_it_expands(tmp_path):
    # Expanded, the bomb is 9^11 items: the run would not end. The subprocess's time-out (a hang
    # fails) is the guard; no wall-clock bound is asserted (timings belong in bench/).
    pkg, out = package(tmp_path), tmp_path / "out"
    bomb = "".join(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 12))
    edit(pkg / "report.yaml", "  name: 示例绿骑单车2024年度骑行碳普惠项目\n",
         "  name: 示例绿骑单车2024年度骑行碳普惠项目\n  notes:\n    l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
         + bomb.replace("  l", "    l"))
    assert_one_line(verify(pkg, out, timeout=60), 2, "report.yaml", "project.notes.l1", "alias", out=out)


def test_deep_nesting_is_refused(tmp_path):
    pkg, out = package(tmp_path), tmp_path / "out"
    edit(pkg / "report.yaml", "  business_model: own_operator\n",
         "  business_model: " + "[" * 5000 + "]" * 5000 + "\n")
    assert_one_line(verify(pkg, out), 2, "report.yaml", "applicant.business_model[0]", "deeper than 32", out=out)


def test_deep_nesting_in_json_is_refused(tmp_path):
    import yaml

    pkg, out = package(tmp_path), tmp_path / "out"
    raw = yaml.safe_load((pkg / "report.yaml").read_text(encoding="utf-8"))
    (pkg / "report.yaml").unlink()
    text = json.dumps(raw, ensure_ascii=False, default=str)
    text = text.replace('"own_operator"', "[" * 5000 + "]" * 5000)
    (pkg / "report.json").write_text(text, encoding="utf-8")
    assert_one_line(verify(pkg, out), 2, "report.json", "applicant.business_model[0]", "deeper than 32", out=out)


def test_duplicate_key_is_refused(tmp_path):
    pkg, out = package(tmp_path), tmp_path / "out"
    edit(pkg / "report.yaml", "  business_model: own_operator\n",
         "  business_model: aggregator\n  business_model: own_operator\n")
    assert_one_line(verify(pkg, out), 2, "report.yaml", "applicant.business_model", "duplicate key", out=out)


def test_duplicate_key_in_json_is_refused(tmp_path):
    pkg, out = package(tmp_path), tmp_path / "out"
    (pkg / "report.yaml").unlink()
    (pkg / "report.json").write_text('{"methodology": "shenzhen-bike-sharing", "applicant": '
                                     '{"business_model": "aggregator", "business_model": "own_operator"}}',
                                     encoding="utf-8")
    assert_one_line(verify(pkg, out), 2, "report.json", "applicant.business_model", "duplicate key", out=out)


def test_oversized_report_is_refused_before_reading(tmp_path):
    pkg, out = package(tmp_path), tmp_path / "out"
    with (pkg / "report.yaml").open("a", encoding="utf-8") as fh:
        fh.write("padding: '" + "x" * (20 * 1024 * 1024) + "'\n")
    assert_one_line(verify(pkg, out), 2, "report.yaml", "larger than 4 MiB", out=out)


def test_bad_values_are_completeness_findings(tmp_path):
    """One run, every kind of value that parses but cannot be what its field needs: each is one
    report.completeness example (exit 1, never 2 or 3); the records are read in Asia/Shanghai."""
    pkg, out = package(tmp_path), tmp_path / "out"
    report = pkg / "report.yaml"
    edit(report, "period_end: 2024-12-31", "period_end: 2024-13-45")
    edit(report, "  value: 400\n", "  value: -400\n")
    edit(report, "reduction_tco2: 0.035015", "reduction_tco2: .nan")
    edit(report, "timezone: Asia/Shanghai", "timezone: Mars/Olympus")
    (pkg / "docs" / "碳普惠减排量备案申请表.pdf").unlink()  # a missing document stays a finding too
    r = verify(pkg, out)
    assert r.returncode == 1, r.stderr[-2000:]
    assert "conclusion: fail" in r.stdout
    check = completeness(out)
    assert check["status"] == "fail"
    problems = {e["field"]: e["problem"] for e in check["examples"]}
    assert "not a date" in problems["project.period_end"], problems
    assert "negative" in problems["monitored_data.n_t9.value"], problems
    assert "not a finite number" in problems["results.reduction_tco2"], problems
    assert "'Mars/Olympus'" in problems["data.timezone"] and "read in Asia/Shanghai" in problems["data.timezone"]
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    assert findings["period"]["end"] == "2024-13-45"
    documents = next(c for c in findings["checks"] if c["id"] == "documents.materials")
    assert documents["status"] == "fail" and "application_form" in documents["message"]
    assert not any(i["role"] == "document:application_form" for i in findings["inputs"])


@pytest.mark.parametrize("suffix, old, new, field, words", [
    (".yaml", "  value: 400\n", "  value: 400.5\n", "monitored_data.n_t9.value", "not a whole number"),
    (".yaml", "  value: 700.305\n", "  value: -700.305\n", "monitored_data.m_t9.value", "negative"),
    (".yaml", "period_end: 2024-12-31", "period_end: 9999-12-31", "project.period_end", "not a plausible date"),
    (".yaml", "  value: 400\n", "  value: " + "9" * 5000 + "\n", "monitored_data.n_t9.value", "not a number"),
    (".json", '"value": 700.305', '"value": NaN', "monitored_data.m_t9.value", "not a finite number"),
    (".json", '"value": 700.305', '"value": -Infinity', "monitored_data.m_t9.value", "not a finite number"),
], ids=["fractional-count", "negative-pkm", "year-9999", "5000-digits", "json-nan", "json-infinity"])
def test_bad_values_load_and_are_judged(tmp_path, suffix, old, new, field, words):
    """The loader keeps each value as found (YAML and JSON alike); report.completeness names it."""
    import yaml

    from verifier.checks.report_completeness import problems_of
    from verifier.submission import load_submission

    pkg = package(tmp_path)
    if suffix == ".json":
        raw = yaml.safe_load((pkg / "report.yaml").read_text(encoding="utf-8"))
        (pkg / "report.yaml").unlink()
        (pkg / "report.json").write_text(json.dumps(raw, ensure_ascii=False, default=str), encoding="utf-8")
    edit(pkg / f"report{suffix}", old, new)
    problems = {p["field"]: p["problem"] for p in problems_of(load_submission(pkg))}
    assert words in problems[field], problems


# -- class 4: files that are not plain files --------------------------------------------------
@pytest.mark.parametrize("name, field", [("trips.csv", "data.trips"), ("users.csv", "data.users")])
def test_named_pipe_is_refused_without_hanging(tmp_path, name, field):
    pkg, out = package(tmp_path), tmp_path / "out"
    (pkg / name).unlink()
    os.mkfifo(pkg / name)
    assert_one_line(verify(pkg, out, timeout=60), 2, name, field, "named pipe", out=out)


def test_named_pipe_option_file_is_refused(tmp_path):
    pkg, out = package(tmp_path), tmp_path / "out"
    os.mkfifo(tmp_path / "factors.yaml")
    r = verify(pkg, out, "--factors", tmp_path / "factors.yaml", timeout=60)
    assert_one_line(r, 2, "factors.yaml", "--factors", "named pipe", out=out)


def test_document_symlinked_outside_is_refused(tmp_path):
    pkg, out = package(tmp_path), tmp_path / "out"
    doc = pkg / "docs" / "碳普惠减排量备案申请表.pdf"
    doc.unlink()
    doc.symlink_to("/etc/passwd")
    assert_one_line(verify(pkg, out), 2, "documents.application_form", "outside the package folder", out=out)


def test_document_named_pipe_is_refused(tmp_path):
    pkg, out = package(tmp_path), tmp_path / "out"
    doc = pkg / "docs" / "碳普惠减排量备案申请表.pdf"
    doc.unlink()
    os.mkfifo(doc)
    assert_one_line(verify(pkg, out, timeout=60), 2, "documents.application_form", "named pipe", out=out)


def test_absolute_trips_path_is_refused(tmp_path):
    pkg, out = package(tmp_path), tmp_path / "out"
    shutil.copy(pkg / "trips.csv", tmp_path / "outside.csv")
    edit(pkg / "report.yaml", "trips: trips.csv", f"trips: {tmp_path / 'outside.csv'}")
    assert_one_line(verify(pkg, out), 2, "data.trips", "absolute path", out=out)


def test_parent_escape_is_refused(tmp_path):
    pkg, out = package(tmp_path), tmp_path / "out"
    shutil.copy(pkg / "trips.csv", tmp_path / "outside.csv")
    edit(pkg / "report.yaml", "trips: trips.csv", "trips: ../outside.csv")
    assert_one_line(verify(pkg, out), 2, "data.trips", "outside the package folder", out=out)


def test_trips_folder_with_a_member_outside_is_refused(tmp_path):
    import duckdb

    pkg, out = package(tmp_path), tmp_path / "out"
    (pkg / "trips").mkdir()
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_csv('{pkg / 'trips.csv'}', all_varchar=true)) "
                f"TO '{pkg / 'trips' / 'part-0.parquet'}' (FORMAT parquet)")
    con.close()
    shutil.copy(pkg / "trips" / "part-0.parquet", tmp_path / "outside.parquet")
    (pkg / "trips" / "part-1.parquet").symlink_to(tmp_path / "outside.parquet")
    edit(pkg / "report.yaml", "trips: trips.csv", "trips: trips")
    assert_one_line(verify(pkg, out), 2, "part-1.parquet", "data.trips", "outside the package folder", out=out)


# -- class 6: one line, exactly -------------------------------------------------------------
def test_file_name_with_a_newline_cannot_forge_a_line(tmp_path):
    pkg, out = package(tmp_path), tmp_path / "out"
    edit(pkg / "report.yaml", "trips: trips.csv", 'trips: "missing.csv\\nconclusion: pass"')
    r = verify(pkg, out)
    line = assert_one_line(r, 2, "data.trips", "not found", "missing.csv\\nconclusion: pass", out=out)
    assert line.startswith("error: ")
    assert "conclusion: pass" not in r.stdout


def test_document_id_with_a_newline_is_quoted(tmp_path):
    pkg, out = package(tmp_path), tmp_path / "out"
    edit(pkg / "report.yaml", "  application_form: docs/", '  "x\\nconclusion: pass": /etc/passwd\n  application_form: docs/')
    assert_one_line(verify(pkg, out), 2, "documents.'x\\nconclusion: pass'", "absolute path", out=out)


@pytest.mark.parametrize("args, words", [
    (["--seed", "abc"], ["--seed", "'abc'"]),
    (["--no-such-option"], ["--no-such-option", "no such option"]),
    (["--lang", "fr"], ["--lang", "'fr'"]),
])
def test_bad_command_line_option_is_one_line(tmp_path, args, words):
    pkg, out = package(tmp_path), tmp_path / "out"
    line = assert_one_line(verify(pkg, out, *args), 2, *words, out=out)
    assert line.startswith("error: command line: ")


def test_missing_argument_is_one_line(tmp_path):
    assert_one_line(run_cli("verify"), 2, "SUBMISSION")
    assert_one_line(run_cli("sample-size", "--confidence", "x"), 2, "--confidence")


def _bad_line(pkg: Path, name: str, line_no: int, change) -> None:
    path = pkg / name
    lines = path.read_bytes().split(b"\n")
    lines[line_no - 1] = change(lines[line_no - 1])
    path.write_bytes(b"\n".join(lines))


def test_csv_not_utf8_names_the_line(tmp_path):
    pkg, out = package(tmp_path), tmp_path / "out"
    _bad_line(pkg, "trips.csv", 201, lambda line: line.replace(b",U", b",U\xff", 1))
    assert_one_line(verify(pkg, out), 2, "trips.csv", "data.trips", "not UTF-8 (line 201)",
                    "set data.encoding: gbk?", out=out)


def test_csv_wrong_field_count_names_the_line(tmp_path):
    pkg, out = package(tmp_path), tmp_path / "out"
    _bad_line(pkg, "trips.csv", 201, lambda line: line + b",extra")
    assert_one_line(verify(pkg, out), 2, "trips.csv", "line 201 has 11 fields; the header has 10", out=out)


def test_csv_overlong_line_names_the_line(tmp_path):
    pkg, out = package(tmp_path), tmp_path / "out"
    _bad_line(pkg, "trips.csv", 201, lambda line: line.replace(b",own,", b"," + b"o" * 2_100_000 + b",", 1))
    assert_one_line(verify(pkg, out), 2, "trips.csv", "line 201 is longer than 2,000,000 bytes", out=out)


def test_csv_unterminated_quote_names_the_line(tmp_path):
    pkg, out = package(tmp_path), tmp_path / "out"
    lines = (pkg / "trips.csv").read_text(encoding="utf-8").strip().split("\n")
    rows = [row.replace(",own,", ',"own",') for row in lines[1:]]
    # beyond DuckDB's sniffing sample (20,480 rows), so that the error comes at staging
    rows = [f"X{i:07d}" + row[row.index(","):] for i, row in enumerate((rows * 80)[:30000])]
    rows[25000] = rows[25000].replace('"own"', '"own')
    (pkg / "trips.csv").write_text("\n".join([lines[0], *rows]) + "\n", encoding="utf-8")
    assert_one_line(verify(pkg, out), 2, "trips.csv", "line 25002", "quote", out=out)


def test_tap_csv_not_utf8_names_the_line(tmp_path):
    pkg, out = package(tmp_path, "transit-taps-clean"), tmp_path / "out"
    _bad_line(pkg, "taps.csv", 301, lambda line: line.replace(b",", b",\xff", 1))
    assert_one_line(verify(pkg, out), 2, "taps.csv", "encoding", "not UTF-8 (line 301)", out=out)


def test_tap_csv_wrong_field_count_names_the_line(tmp_path):
    from verifier.data.sources import locate_csv_problem

    pkg = package(tmp_path, "transit-taps-clean")
    _bad_line(pkg, "taps.csv", 301, lambda line: line + b",extra")
    problem = locate_csv_problem(pkg / "taps.csv")
    assert (problem.kind, problem.line) == ("fields", 301)
    r = run_cli("import-taps", pkg / "taps.csv", "--out", tmp_path / "trips.parquet")
    assert_one_line(r, 2, "taps.csv", "line 301 has 12 fields; the header has 11", out=tmp_path / "trips.parquet")


def test_clean_csv_has_no_problem():
    from verifier.data.sources import locate_csv_problem

    assert locate_csv_problem(SAMPLES / "bike-clean" / "trips.csv") is None
    assert locate_csv_problem(SAMPLES / "transit-taps-clean" / "taps.csv") is None


def test_input_error_never_prints_a_control_character():
    from verifier.errors import InputError, field_path

    err = InputError(Path("a\nb.csv"), field_path("documents", "x\x1b[2Jy"), "bad value 'c\u2028d'\r\n", row=3)
    text = str(err)
    assert text == "'a\\nb.csv': documents.'x\\x1b[2Jy', row 3: bad value 'c\\u2028d'\\r\\n"
    assert text.isprintable()
