"""Every statement the engine issues on the sample packages is portable SQL, save the listed
engine-specific pieces, and those pieces live only in verifier/data/ (issue 11 point 4).

The statements are recorded by the engine (`Engine.statement_log`) while `verify` runs four sample
packages (a bike CSV, a bike with its users file, transit trips with a station table, transit taps
with fares) and each is parsed with sqlglot, read as DuckDB and written as Spark SQL with
unsupported constructs raising. A statement that does not transpile must hold one of the pieces
of ENGINE_SPECIFIC: that is the groundwork for a second (Spark) engine, which supplies its own
dialect and engine class for exactly these pieces.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

sqlglot = pytest.importorskip("sqlglot")
from sqlglot.errors import ErrorLevel  # noqa: E402

from verifier.data.engine import Engine  # noqa: E402
from verifier.run import verify  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("bike-clean", "bike-before-authorization", "transit-clean", "transit-taps-clean")

# Constructs only the dialect (verifier/data/dialect.py), the DuckDB engine class and the input
# adapters (verifier/data/) may spell; a Spark engine replaces each with its own form.
ENGINE_SPECIFIC = {
    # table functions reading the submission's files (Spark: DataFrameReader / USING csv)
    "read_csv": r"\bread_csv\(",
    "read_parquet": r"\bread_parquet\(",
    "parquet_file_metadata": r"\bparquet_file_metadata\(",
    "DESCRIBE": r"\bDESCRIBE\b",
    "COPY TO": r"\bCOPY\s+\S+\s+TO\s",
    # session settings (time zone, memory, threads, spill folder)
    "SET": r"(^|[\"'])\s*SET\s+\w+\s*=",
    # the point-in-boundary UDF (Spark: a pandas UDF)
    "geo_bits": r"\bgeo_bits\(",
    # the start point's district UDF (Spark: a pandas UDF)
    "district_of": r"\bdistrict_of\(",
    # the physical row number of a stored table (file order of CSV records and taps)
    "rowid": r"\browid\b",
    # star forms (Spark: explicit column lists)
    "EXCLUDE/REPLACE": r"\*\s*(EXCLUDE|REPLACE)\s*\(",
    # the overlap rule's window frame without the current peer group (Spark has no frame exclusion)
    "EXCLUDE GROUP": r"\bEXCLUDE\s+GROUP\b",
    # types and functions the dialect spells for DuckDB
    "HUGEINT": r"\bHUGEINT\b",
    "TIMESTAMPTZ": r"\bTIMESTAMPTZ\b",
    "try_strptime": r"\btry_strptime\(",
    "epoch_us": r"\bepoch_us\(",
}

# Modules outside verifier/data/ exempt from the second test, each with its reason.
EXEMPT: dict[str, str] = {}


def _options(package: Path) -> dict:
    options = dict(yaml.safe_load((package / "expected.yaml").read_text(encoding="utf-8"))["options"])
    for name in ("factors", "boundary", "fares"):
        if options.get(name):
            options[name] = package / options[name]
    return options


@pytest.fixture(scope="module")
def statements(tmp_path_factory) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    with pytest.MonkeyPatch.context() as mp:
        for name in PACKAGES:
            log: list[str] = []
            mp.setattr(Engine, "statement_log", log)
            package = REPO / "samples" / name
            verify(package, tmp_path_factory.mktemp(name) / "out", write_pdf=False, **_options(package))
            out[name] = log
    return out


def _transpiles(sql: str) -> bool:
    try:
        sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE)
    except (sqlglot.errors.ParseError, sqlglot.errors.UnsupportedError, sqlglot.errors.TokenError):
        return False
    return True


def _pieces(sql: str) -> list[str]:
    """The listed pieces in `sql` (SQL keywords as the code spells them: upper case)."""
    return [name for name, pattern in ENGINE_SPECIFIC.items() if re.search(pattern, sql, re.M)]


def test_every_statement_transpiles_or_holds_a_listed_piece(statements):
    for name, log in statements.items():
        # staging, flags, aggregates, sample and figures all pass through the log
        assert len(log) >= 15, (name, len(log))
        assert any("CREATE OR REPLACE VIEW stored" in s for s in log)
        assert any("CREATE OR REPLACE TABLE drawn " in s for s in log)
    if_taps = statements["transit-taps-clean"]
    assert any("_taps_metro" in s for s in if_taps)  # tap pairing is issued by the engine too
    failing = {s for log in statements.values() for s in log if not _transpiles(s)}
    unlisted = [" ".join(s.split())[:300] for s in failing if not _pieces(s)]
    assert unlisted == [], "statements that are neither portable nor built from listed pieces"


def test_the_check_a_listed_piece_explains_is_real():
    """The pieces are needed: the overlap rule's frame exclusion does not transpile (so the
    first test can fail), a plain aggregate does."""
    assert not _transpiles("SELECT max(x) OVER (PARTITION BY u ORDER BY t RANGE BETWEEN UNBOUNDED "
                           "PRECEDING AND CURRENT ROW EXCLUDE GROUP) FROM r")
    assert _transpiles("SELECT count(*), sum(CASE WHEN a > 1 THEN 1 END) FROM r WHERE b IS NOT NULL")
    assert _pieces("SELECT r.* EXCLUDE (a) FROM r") == ["EXCLUDE/REPLACE"]


def test_listed_pieces_live_only_in_the_data_layer():
    found = []
    for path in sorted((REPO / "verifier").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith("verifier/data/") or rel in EXEMPT:
            continue
        text = path.read_text(encoding="utf-8")
        found += [(rel, piece) for piece in _pieces(text)]
        # and no module outside the data layer holds the engine's connection or issues SQL on it
        found += [(rel, m.group()) for m in re.finditer(r"\bengine\.(con|sql)\b|\.con\.execute\(", text)]
    assert found == []
