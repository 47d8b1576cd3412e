"""Spark SQL: what the Spark engine (verifier.data.spark_engine) spells differently from DuckDB.

Every method of DuckDBDialect the checks, methodologies and adapters call has its Spark form here
when the DuckDB form does not run on Spark or means something else there (measured facts in
/work/shared/domain/stack-facts.md and issue 13): identifiers in backticks, string literals
with backslashes escaped, DECIMAL(38,0) for the exact sums' 128-bit integer, durations in
integer microseconds (epoch() is whole seconds on Spark), try_cast under ANSI mode.
"""

from __future__ import annotations

from pathlib import Path

from verifier.data.dialect import DuckDBDialect


class SparkDialect(DuckDBDialect):
    name = "spark"
    int128 = "DECIMAL(38,0)"
    types = {"text": "STRING", "time": "TIMESTAMP_NTZ", "number": "DOUBLE"}

    # -- names and literals --------------------------------------------------------------------
    def ident(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def text(self, value: str | Path) -> str:
        # Spark reads backslash escapes inside string literals: both quote and backslash escaped.
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


SPARK = SparkDialect()
