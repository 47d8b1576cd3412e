"""`verifier batch --engine spark`: each filing verified on Spark in its worker and the double-claim
pass on Spark give the same summary.json (but for parameters.engine) and double_claims.csv, byte
for byte, as DuckDB: a ride set filed by two operators (WGS-84 and GCJ-02) from the regulator's
sample folder. With --jobs 1 every filing and the pass run on this process's one session."""

from __future__ import annotations

from pathlib import Path

from tests.spark_support import SPARK_TESTS, share_session, spark_options
from verifier.batch import BatchOptions, run_batch

pytestmark = SPARK_TESTS

REGULATOR = Path(__file__).resolve().parent.parent / "samples" / "regulator"
FILINGS = [REGULATOR / "opB-2024", REGULATOR / "opC-2024"]


def _batch(out: Path, **engine) -> bytes:
    done = run_batch(FILINGS, out, BatchOptions(factors=REGULATOR / "factors.yaml", seed=7, jobs=1, quiet=True,
                                                **engine))
    assert done.exit_code == 1
    return (out / "summary.json").read_bytes()


def test_spark_batch_same_summary_and_double_claims_as_duckdb(tmp_path):
    share_session()  # --jobs 1 verifies in this process: the filings and the pass share the session
    spark = spark_options()
    on_spark = _batch(tmp_path / "spark", engine="spark", spark_master=spark["spark_master"],
                      spark_conf=spark["spark_conf"])
    on_duckdb = _batch(tmp_path / "duckdb")
    assert b'"engine": "spark"' in on_spark
    assert on_spark.replace(b'"engine": "spark"', b'"engine": "duckdb"') == on_duckdb
    csv = (tmp_path / "spark" / "double_claims.csv").read_bytes()
    assert csv == (tmp_path / "duckdb" / "double_claims.csv").read_bytes()
    assert csv.count(b"\n") == 1 + 12 and b",opB-2024," in csv  # header and the 12 rides opC re-filed
