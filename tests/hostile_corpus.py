"""The hostile-input corpus (issue 10): packages built from the clean samples with one thing broken.

Each case names its class, the sample it starts from, the one thing it breaks (`make`), the exit
code it must end with and the words its one stderr line must hold; `check` looks at what a run
that completes wrote. `tests/test_hostile.py` runs every case the same way: in a subprocess with a
time-out (a hang is a failure), inputs hashed before and after, `--out` compared before and after.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

# Class numbers follow the issue: 1 report loader, 2 degenerate data, 3 output folder, 4 files that
# are not plain files, 5 spreadsheet formulas, 6 one line exactly, 7 resources, 8 fonts, 9 sums.


@dataclass
class Case:
    id: str
    cls: int
    sample: str  # folder under samples/
    make: Callable[[Path, Path], None]  # (package, scratch folder) -> None: break one thing
    exit: int
    words: tuple[str, ...] = ()  # each must be in the one stderr line (exit 2/3), case-insensitive
    args: tuple[str, ...] = ()  # extra options; {pkg}, {tmp} and {out} are filled in
    out: str = "{tmp}/out"  # the --out folder
    check: Callable[[Path, Path], None] | None = None  # (out, package) for a run that completes
    prepare_out: Callable[[Path], None] | None = None  # an --out that exists before the run


# -- editing a package ---------------------------------------------------------------------------
def report_of(pkg: Path) -> dict:
    return yaml.safe_load((pkg / "report.yaml").read_text(encoding="utf-8"))


def write_report(pkg: Path, report: dict) -> None:
    (pkg / "report.yaml").write_text(yaml.safe_dump(report, allow_unicode=True, sort_keys=False), encoding="utf-8")


def edit_report(**changes):
    """Set dotted report fields (`project.period_end`) to values."""
    def make(pkg: Path, tmp: Path) -> None:
        report = report_of(pkg)
        for dotted, value in changes.items():
            node = report
            *parents, last = dotted.split("__")
            for p in parents:
                node = node[p]
            node[last] = value
        write_report(pkg, report)
    return make


def set_param(section: str, name: str, value):
    def make(pkg: Path, tmp: Path) -> None:
        report = report_of(pkg)
        for item in report[section]:
            if item["name"] == name:
                item["value"] = value
        write_report(pkg, report)
    return make


def replace_text(old: str, new: str, name: str = "report.yaml"):
    def make(pkg: Path, tmp: Path) -> None:
        path = pkg / name
        text = path.read_text(encoding="utf-8")
        assert old in text, (old, name)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return make


def raw_report(text: str | bytes, name: str = "report.yaml"):
    def make(pkg: Path, tmp: Path) -> None:
        (pkg / "report.yaml").unlink()
        target = pkg / name
        target.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return make


def report_as_json(transform=lambda s: s):
    """The report as report.json, its text passed through `transform`."""
    def make(pkg: Path, tmp: Path) -> None:
        report = report_of(pkg)
        (pkg / "report.yaml").unlink()
        (pkg / "report.json").write_text(transform(json.dumps(report, ensure_ascii=False, default=str)),
                                         encoding="utf-8")
    return make


def trips_table(pkg: Path) -> pa.Table:
    return pacsv.read_csv(pkg / "trips.csv", convert_options=pacsv.ConvertOptions(
        column_types={n: pa.string() for n in ("trip_id", "user_id", "start_time", "end_time")}))


def edit_column(column: str, fn, name: str = "trips.csv"):
    """Rewrite one CSV column, value by value (fn(i, value) -> new text), keeping the rest."""
    import csv

    def make(pkg: Path, tmp: Path) -> None:
        path = pkg / name
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        col = rows[0].index(column)
        for i, row in enumerate(rows[1:]):
            row[col] = fn(i, row[col])
        with path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows(rows)
    return make


def csv_lines(fn, name: str = "trips.csv"):
    """Rewrite the CSV's raw lines: fn(list of byte lines) -> list of byte lines."""
    def make(pkg: Path, tmp: Path) -> None:
        path = pkg / name
        lines = path.read_bytes().split(b"\n")
        path.write_bytes(b"\n".join(fn(lines)))
    return make


def set_line(n: int, content: bytes):
    """Replace file line n (1-based: line 1 is the header)."""
    def fn(lines):
        lines[n - 1] = content
        return lines
    return fn


def header_only(name: str = "trips.csv"):
    return csv_lines(lambda lines: [lines[0], b""], name)


def to_parquet(table_fn=None):
    """Replace trips.csv by trips.parquet (optionally transformed)."""
    def make(pkg: Path, tmp: Path) -> None:
        table = trips_table(pkg)
        if table_fn:
            table = table_fn(table)
        pq.write_table(table, pkg / "trips.parquet")
        (pkg / "trips.csv").unlink()
        report = report_of(pkg)
        report["data"]["trips"] = "trips.parquet"
        write_report(pkg, report)
    return make


def set_float(column: str, values: dict[int, float]):
    def fn(table: pa.Table) -> pa.Table:
        col = table.column(column).to_pylist()
        for i, v in values.items():
            col[i] = v
        return table.set_column(table.schema.get_field_index(column), column, pa.array(col, pa.float64()))
    return fn


def chain(*makes):
    def make(pkg: Path, tmp: Path) -> None:
        for m in makes:
            m(pkg, tmp)
    return make


def name_data(field_name: str, value):
    def make(pkg: Path, tmp: Path) -> None:
        report = report_of(pkg)
        report["data"][field_name] = value
        write_report(pkg, report)
    return make


def fifo_as(name: str, field_name: str):
    """Replace a named file by a FIFO (a named pipe nobody writes to: opening it blocks)."""
    def make(pkg: Path, tmp: Path) -> None:
        (pkg / name).unlink()
        os.mkfifo(pkg / name)
        name_data(field_name, name)(pkg, tmp)
    return make


def symlink_document(target: str):
    def make(pkg: Path, tmp: Path) -> None:
        doc = next((pkg / "docs").iterdir())
        doc.unlink()
        doc.symlink_to(target)
    return make


def outside_file(content: bytes = b"x\n"):
    """A file beside the package (outside it), for paths that escape."""
    def write(tmp: Path) -> Path:
        path = tmp / "outside" / "trips.csv"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
        return path
    return write


def trips_outside_absolute(pkg: Path, tmp: Path) -> None:
    target = outside_file((pkg / "trips.csv").read_bytes())(tmp)
    name_data("trips", str(target))(pkg, tmp)


def trips_outside_dotdot(pkg: Path, tmp: Path) -> None:
    outside_file((pkg / "trips.csv").read_bytes())(tmp)
    name_data("trips", "../outside/trips.csv")(pkg, tmp)


def trips_symlink_outside(pkg: Path, tmp: Path) -> None:
    target = outside_file((pkg / "trips.csv").read_bytes())(tmp)
    (pkg / "trips.csv").unlink()
    (pkg / "trips.csv").symlink_to(target)


def trips_symlink_inside(pkg: Path, tmp: Path) -> None:
    (pkg / "data").mkdir()
    (pkg / "trips.csv").rename(pkg / "data" / "real.csv")
    (pkg / "trips.csv").symlink_to(pkg / "data" / "real.csv")


def parquet_folder_with_outside_member(pkg: Path, tmp: Path) -> None:
    to_parquet()(pkg, tmp)
    (pkg / "parts").mkdir()
    (pkg / "trips.parquet").rename(pkg / "parts" / "a.parquet")
    outside = tmp / "outside"
    outside.mkdir(exist_ok=True)
    pq.write_table(pq.read_table(pkg / "parts" / "a.parquet"), outside / "b.parquet")
    (pkg / "parts" / "b.parquet").symlink_to(outside / "b.parquet")
    name_data("trips", "parts")(pkg, tmp)


def alias_bomb(pkg: Path, tmp: Path) -> None:
    text = (pkg / "report.yaml").read_text(encoding="utf-8")
    levels = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    bomb = "bomb:\n" + "\n".join("  " + line for line in levels) + "\n"
    (pkg / "report.yaml").write_text(text + bomb, encoding="utf-8")


def deep_yaml(depth: int):
    def make(pkg: Path, tmp: Path) -> None:
        text = (pkg / "report.yaml").read_text(encoding="utf-8")
        (pkg / "report.yaml").write_text(text + "notes: " + "[" * depth + "]" * depth + "\n", encoding="utf-8")
    return make


def huge_report(pkg: Path, tmp: Path) -> None:
    text = (pkg / "report.yaml").read_text(encoding="utf-8")
    (pkg / "report.yaml").write_text(text + "notes: \"" + "长" * (7 << 20) + "\"\n", encoding="utf-8")


def stale_out(out: Path) -> None:
    out.mkdir(parents=True)
    (out / "stale-from-an-earlier-run.txt").write_text("old", encoding="utf-8")
    (out / "findings.json").write_text("{}", encoding="utf-8")


def out_is_file(out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("not a folder", encoding="utf-8")


def out_parent_is_file(out: Path) -> None:
    out.parent.parent.mkdir(parents=True, exist_ok=True)
    out.parent.write_text("a file where a folder should be", encoding="utf-8")


# -- checks on what a completed run wrote -------------------------------------------------------------
def findings(out: Path) -> dict:
    # Strict JSON: no NaN or Infinity token may appear.
    def refuse(token):
        raise AssertionError(f"findings.json holds {token}")
    return json.loads((out / "findings.json").read_text(encoding="utf-8"), parse_constant=refuse)


def check_status(**expected):
    """check id (with _ for .) -> status."""
    def check(out: Path, pkg: Path) -> None:
        got = {c["id"]: c["status"] for c in findings(out)["checks"]}
        for key, status in expected.items():
            cid = key.replace("__", ".")
            assert got[cid] == status, (cid, got[cid])
    return check


def completeness_names(*fields_):
    """report.completeness fails with an example naming each field."""
    def check(out: Path, pkg: Path) -> None:
        c = next(c for c in findings(out)["checks"] if c["id"] == "report.completeness")
        assert c["status"] == "fail", c
        named = " ".join(json.dumps(e, ensure_ascii=False) for e in c["examples"]) + c["message"]
        for f in fields_:
            assert f in named, (f, c)
    return check


def empty_population(out: Path, pkg: Path) -> None:
    f = findings(out)
    assert f["sampling"]["population"] == 0 and f["sampling"]["size"] == 0
    count = next(c for c in f["checks"] if c["id"] == "count.reconciliation")
    assert count["status"] == "fail", count
    assert f["recalculation"]["recalculated_reduction_tco2"] == 0
    assert f["conclusion"] == "fail"
    assert (out / "report.pdf").stat().st_size > 0


def population_is(n: int):
    def check(out: Path, pkg: Path) -> None:
        assert findings(out)["sampling"]["population"] == n
    return check


def all_outputs(out: Path, pkg: Path) -> None:
    for name in ("findings.json", "sample.csv", "sample.xlsx", "report.html", "report.pdf"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name


def xlsx_cells(out: Path) -> list:
    from openpyxl import load_workbook

    wb = load_workbook(out / "sample.xlsx")
    return [cell for ws in wb.worksheets for row in ws.iter_rows() for cell in row]


def no_formulas(out: Path, pkg: Path) -> None:
    with zipfile.ZipFile(out / "sample.xlsx") as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in z.read(name) and b"<f " not in z.read(name), name
    for cell in xlsx_cells(out):
        if isinstance(cell.value, str) and cell.value[:1] in "=+-@":
            assert cell.data_type == "s", (cell.coordinate, cell.value)


def keeps_verbatim(*values: str):
    """Each value reaches findings.json or sample.csv exactly as read, and the report and the
    workpaper hold it escaped (no raw C0 control character in report.html or the xlsx XML)."""
    def check(out: Path, pkg: Path) -> None:
        all_outputs(out, pkg)
        sample = (out / "sample.csv").read_text(encoding="utf-8-sig")
        for v in values:
            assert v in sample, v
        html = (out / "report.html").read_text(encoding="utf-8")
        bad = [c for c in html if ord(c) < 32 and c not in "\t\n\r"]
        assert not bad, bad[:5]
        with zipfile.ZipFile(out / "sample.xlsx") as z:
            for name in z.namelist():
                text = z.read(name).decode("utf-8")
                assert not [c for c in text if ord(c) < 32 and c not in "\t\n\r"], name
        no_formulas(out, pkg)
    return check


def formulas_inert(out: Path, pkg: Path) -> None:
    """No formula in the workbook; sample.csv keeps the values verbatim (the sample is redrawn from it)."""
    no_formulas(out, pkg)
    keeps_verbatim("=HYPERLINK(")(out, pkg)
    texts = {c.value for c in xlsx_cells(out) if isinstance(c.value, str)}
    assert any(t.startswith("=HYPERLINK(") for t in texts) or any(t.startswith("=cmd|") for t in texts)


def markup_inert(out: Path, pkg: Path) -> None:
    html = (out / "report.html").read_text(encoding="utf-8")
    assert '<img src="file:' not in html and "<script" not in html and "<link rel=stylesheet" not in html
    assert "&lt;img src=" in html and "&lt;script&gt;" in html and "&lt;link rel=stylesheet" in html


def replaced_whole(out: Path, pkg: Path) -> None:
    assert not (out / "stale-from-an-earlier-run.txt").exists()
    all_outputs(out, pkg)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")], list(out.parent.iterdir())


def finite_totals(out: Path, pkg: Path) -> None:
    f = findings(out)  # strict: a NaN total fails here
    dist = next(c for c in f["checks"] if c["id"] == "distance.reconciliation")
    assert dist["status"] in ("pass", "fail")


# -- the corpus -------------------------------------------------------------------------------------
BIKE, TRANSIT, TAPS = "bike-clean", "transit-clean", "transit-taps-clean"
FORMULAS = ['=HYPERLINK("http://evil.example/","open me")', "=cmd|' /C calc'!A0", "+1+1", "-2", "@SUM(A1)"]
CONTROL = ["\x00", "\x1b[31m", "\x07", "\x7f", "\u202e", "\ufeff"]

CASES: list[Case] = [
    # 1. the report loader
    Case("yaml-alias-bomb", 1, BIKE, alias_bomb, 2, ("report.yaml", "alias")),
    Case("yaml-single-alias", 1, BIKE, replace_text("business_model: own_operator",
                                                    "business_model: &bm own_operator\n  contact_fax: *bm"),
         2, ("report.yaml", "alias")),
    Case("yaml-deep-nesting", 1, BIKE, deep_yaml(5000), 2, ("report.yaml",)),
    Case("json-deep-nesting", 1, BIKE, report_as_json(lambda s: s[:-1] + ', "notes": ' + "[" * 100000
                                                       + "]" * 100000 + "}"), 2, ("report.json",)),
    Case("yaml-duplicate-key", 1, BIKE, replace_text("business_model: own_operator",
                                                     "business_model: own_operator\n  business_model: aggregator"),
         2, ("report.yaml", "business_model", "duplicate")),
    Case("json-duplicate-key", 1, BIKE, report_as_json(lambda s: s.replace(
        '"business_model": "own_operator"', '"business_model": "own_operator", "business_model": "aggregator"')),
         2, ("report.json", "business_model", "duplicate")),
    Case("yaml-huge", 1, BIKE, huge_report, 2, ("report.yaml",)),
    Case("yaml-python-tag", 1, BIKE, replace_text("name: 深圳市示例绿骑单车科技有限公司",
                                                  "name: !!python/object/apply:os.system ['touch /tmp/pwned']"),
         2, ("report.yaml",)),
    Case("yaml-not-a-mapping", 1, BIKE, raw_report("- a\n- b\n"), 2, ("report.yaml",)),
    Case("yaml-empty", 1, BIKE, raw_report(""), 2, ("report.yaml",)),
    Case("yaml-binary", 1, BIKE, raw_report(bytes(range(256)) * 4), 2, ("report.yaml",)),
    Case("yaml-not-utf8", 1, BIKE, lambda pkg, tmp: (pkg / "report.yaml").write_bytes(
        (pkg / "report.yaml").read_text(encoding="utf-8").encode("gb18030")), 2, ("report.yaml",)),
    Case("json-truncated", 1, BIKE, report_as_json(lambda s: s[: len(s) // 2]), 2, ("report.json", "JSON")),
    Case("unknown-methodology", 1, BIKE, edit_report(methodology="shenzhen-scooters"), 2,
         ("report.yaml", "methodology", "shenzhen-scooters")),
    Case("impossible-date-unquoted", 1, BIKE, replace_text("period_end: 2024-12-31", "period_end: 2024-13-45"), 1,
         check=completeness_names("project.period_end")),
    Case("impossible-date-feb30", 1, BIKE, replace_text("period_start: 2024-01-01", "period_start: 2024-02-30"), 1,
         check=completeness_names("project.period_start")),
    Case("negative-count", 1, BIKE, set_param("monitored_data", "n_t9", -400), 1,
         check=completeness_names("n_t9")),
    Case("fractional-count", 1, BIKE, set_param("monitored_data", "n_t9", 400.5), 1,
         check=completeness_names("n_t9")),
    Case("nan-pkm", 1, BIKE, replace_text("value: 700.305", "value: .nan"), 1, check=completeness_names("m_t9")),
    Case("inf-result", 1, BIKE, replace_text("reduction_tco2: 0.035015", "reduction_tco2: .inf"), 1,
         check=completeness_names("results.reduction_tco2")),
    Case("json-nan", 1, BIKE, report_as_json(lambda s: s.replace('"reduction_tco2": 0.035015',
                                                                 '"reduction_tco2": NaN')), 1,
         check=completeness_names("results.reduction_tco2")),
    Case("unknown-timezone", 1, BIKE, edit_report(data__timezone="Mars/Olympus_Mons"), 1,
         check=completeness_names("data.timezone")),
    Case("boolean-business-model", 1, BIKE, replace_text("business_model: own_operator", "business_model: yes"), 1,
         check=completeness_names("applicant.business_model")),
    Case("transit-negative-cap", 1, TRANSIT, set_param("default_data", "daily_cap_bus", -1), 1,
         check=completeness_names("daily_cap_bus")),

    # 2. degenerate data
    Case("csv-header-only", 2, BIKE, header_only(), 1, check=empty_population),
    Case("parquet-no-rows", 2, BIKE, to_parquet(lambda t: t.slice(0, 0)), 1, check=empty_population),
    Case("transit-header-only", 2, TRANSIT, header_only(), 1, check=empty_population),
    Case("taps-header-only", 2, TAPS, header_only("taps.csv"), 1, check=empty_population),
    Case("csv-zero-bytes", 2, BIKE, lambda pkg, tmp: (pkg / "trips.csv").write_bytes(b""), 2, ("trips.csv",)),
    Case("nul-and-escapes-in-trip-id", 2, BIKE,
         edit_column("trip_id", lambda i, v: CONTROL[i % len(CONTROL)] + v), 0,
         check=keeps_verbatim(*CONTROL[:1])),
    Case("control-chars-in-user-id", 2, BIKE,
         chain(edit_column("user_id", lambda i, v: v + "\x1b[2J\x07"),
               edit_column("user_id", lambda i, v: v + "\x1b[2J\x07", "users.csv")), 0,
         check=keeps_verbatim("\x1b[2J\x07")),
    Case("newline-inside-quoted-trip-id", 2, BIKE, edit_column("trip_id", lambda i, v: v + "\nconclusion: pass"), 0,
         check=all_outputs),
    Case("markup-in-applicant", 2, BIKE, edit_report(
        applicant__name='<img src="file:///etc/passwd"><script>alert(1)</script>',
        project__name="url(file:///etc/shadow) <link rel=stylesheet href=http://evil.example/x.css>"), 0,
         check=markup_inert),
    Case("nan-inf-distances", 2, BIKE, to_parquet(set_float("distance_km", {0: float("nan"), 1: float("inf"),
                                                                           2: float("-inf"), 3: 1e308})), 1,
         check=finite_totals),
    Case("huge-coordinates", 2, BIKE, edit_column("start_lon", lambda i, v: "1e308" if i < 3 else v), 1,
         check=check_status(records__validity="fail")),
    Case("unparseable-times", 2, BIKE, edit_column("start_time", lambda i, v: "yesterday" if i < 3 else v), 1,
         check=check_status(records__validity="fail")),
    Case("far-times", 2, BIKE, edit_column("end_time", lambda i, v: "9999-12-31 23:59:59" if i < 2 else v), 1,
         check=all_outputs),
    Case("comma-decimals", 2, BIKE, edit_column("distance_km", lambda i, v: v.replace(".", ",") if i < 3 else v), 1,
         check=check_status(records__validity="fail")),
    Case("every-record-invalid", 2, BIKE, edit_column("distance_km", lambda i, v: ""), 1,
         check=check_status(records__validity="fail", sample__completeness="fail")),
    Case("one-record", 2, BIKE, csv_lines(lambda lines: lines[:2] + [b""]), 1, check=all_outputs),
    Case("one-day", 2, BIKE, chain(edit_column("start_time", lambda i, v: "2024-05-01 08:00:00"),
                                   edit_column("end_time", lambda i, v: "2024-05-01 08:10:00")), 1,
         check=all_outputs),

    # 3. the output folder
    Case("out-is-a-file", 3, BIKE, lambda pkg, tmp: None, 2, ("--out",), prepare_out=out_is_file),
    Case("out-is-the-package", 3, BIKE, lambda pkg, tmp: None, 2, ("--out",), out="{pkg}"),
    Case("out-inside-the-package", 3, BIKE, lambda pkg, tmp: None, 2, ("--out",), out="{pkg}/results"),
    Case("out-contains-the-package", 3, BIKE, lambda pkg, tmp: None, 2, ("--out",), out="{tmp}"),
    Case("out-is-the-factors-file", 3, BIKE, lambda pkg, tmp: None, 2, ("--out",), out="{pkg}/factors.yaml"),
    Case("out-parent-is-a-file", 3, BIKE, lambda pkg, tmp: None, 2, ("--out",), out="{tmp}/file/out",
         prepare_out=out_parent_is_file),
    Case("out-replaced-whole", 3, BIKE, lambda pkg, tmp: None, 0, prepare_out=stale_out, check=replaced_whole),
    Case("out-kept-on-bad-input", 3, BIKE, lambda pkg, tmp: (pkg / "trips.csv").write_bytes(b""),
         2, ("trips.csv",), prepare_out=stale_out),

    # 4. files that are not plain files
    Case("trips-fifo", 4, BIKE, fifo_as("trips.csv", "trips"), 2, ("data.trips",)),
    Case("users-fifo", 4, BIKE, fifo_as("users.csv", "users"), 2, ("data.users",)),
    Case("stations-fifo", 4, TRANSIT, fifo_as("stations.csv", "station_distances"), 2, ("data.station_distances",)),
    Case("taps-fifo", 4, TAPS, fifo_as("taps.csv", "taps"), 2, ("data.taps",)),
    Case("document-symlink-outside", 4, BIKE, symlink_document("/etc/passwd"), 2, ("documents.",)),
    Case("document-missing", 4, BIKE, lambda pkg, tmp: next((pkg / "docs").iterdir()).unlink(), 1,
         check=check_status(documents__materials="fail")),
    Case("document-is-a-folder", 4, BIKE, lambda pkg, tmp: (lambda d: (d.unlink(), d.mkdir()))(
        next((pkg / "docs").iterdir())), 2, ("documents.",)),
    Case("trips-absolute-outside", 4, BIKE, trips_outside_absolute, 2, ("data.trips",)),
    Case("trips-dotdot-outside", 4, BIKE, trips_outside_dotdot, 2, ("data.trips",)),
    Case("trips-symlink-outside", 4, BIKE, trips_symlink_outside, 2, ("data.trips",)),
    Case("trips-symlink-inside", 4, BIKE, trips_symlink_inside, 0, check=all_outputs),
    Case("trips-dev-zero", 4, BIKE, lambda pkg, tmp: ((pkg / "trips.csv").unlink(),
                                                      (pkg / "trips.csv").symlink_to("/dev/zero")), 2, ("data.trips",)),
    Case("parquet-folder-member-outside", 4, BIKE, parquet_folder_with_outside_member, 2, ("data.trips",)),
    Case("users-is-a-folder", 4, BIKE, lambda pkg, tmp: ((pkg / "users.csv").unlink(), (pkg / "users.csv").mkdir()),
         2, ("data.users",)),
    Case("factors-option-fifo", 4, BIKE, lambda pkg, tmp: ((pkg / "factors.yaml").unlink(),
                                                           os.mkfifo(pkg / "factors.yaml")), 2, ("--factors",)),

    # 5. spreadsheet formulas
    Case("formula-trip-ids", 5, BIKE, edit_column("trip_id", lambda i, v: FORMULAS[i % len(FORMULAS)] + f" {i}"), 0,
         check=formulas_inert),
    Case("formula-station-names", 5, TRANSIT,
         chain(edit_column("entry_station", lambda i, v: "=cmd|' /C calc'!A0" if v else v),
               edit_column("trip_id", lambda i, v: "@SUM(A1)" + v)), 1, check=no_formulas),

    # 6. one line, exactly
    Case("bad-seed-option", 6, BIKE, lambda pkg, tmp: None, 2, ("--seed",), args=("--seed", "abc")),
    Case("unknown-option", 6, BIKE, lambda pkg, tmp: None, 2, ("--frobnicate",), args=("--frobnicate",)),
    Case("bad-confidence", 6, BIKE, lambda pkg, tmp: None, 2, ("--confidence",), args=("--confidence", "2")),
    Case("bad-memory-limit", 6, BIKE, lambda pkg, tmp: None, 2, ("--memory-limit",), args=("--memory-limit", "lots")),
    Case("newline-in-file-name", 6, BIKE, name_data("trips", "trips\nconclusion: pass.csv"), 2, ("data.trips",)),
    Case("csv-bad-utf8-line-201", 6, BIKE, csv_lines(set_line(201, b"B\xff\xfe,U1,own,2024-01-02 11:32:14,"
                                                             b"2024-01-02 11:44:19,114.05,22.70,114.06,22.69,1.6")),
         2, ("trips.csv", "201", "UTF-8")),
    Case("csv-field-count-line-201", 6, BIKE, csv_lines(set_line(201, b"B1,U1,own,2024-01-02 11:32:14")),
         2, ("trips.csv", "201")),
    Case("csv-overlong-line", 6, BIKE, csv_lines(set_line(150, b"B1,U1,own," + b"x" * (9 << 20))),
         2, ("trips.csv", "150")),
    # A stray quote is kept as a character of its value: it neither swallows the lines after it
    # nor stops the run (the record is judged like any other).
    Case("csv-unterminated-quote", 6, BIKE, csv_lines(set_line(300, b'B1,"U1,own,2024-01-02 11:32:14,'
                                                               b"2024-01-02 11:44:19,114.05,22.70,114.06,22.69,1.6")),
         1, check=lambda out, pkg: population_is(400)(out, pkg)),
    Case("gbk-declared-invalid", 6, BIKE, chain(edit_report(data__encoding="gbk"),
                                                csv_lines(set_line(42, b"B1,\x80\xff,own"))), 2,
         ("trips.csv", "42")),
    Case("mapped-column-absent", 6, BIKE, edit_report(data__columns={"user_id": "USER_NO"}), 2,
         ("user_id", "USER_NO")),
]
