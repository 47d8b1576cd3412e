"""The Spark engine: the protocol of verifier.data.engine over Apache Spark, for a cluster.

The same passes as the DuckDB engine (verifier.data.engine describes them), written in Spark
SQL through `SparkDialect` (verifier.data.spark_dialect). What a table is differs: Spark's
temporary views are recomputed at every use, so every table a later pass reads (`stored`, the
marks, the drawn records) is materialised once as Parquet in the work folder (on a cluster the
work folder must be a path every executor can read: --temp-dir on a shared file system) and
read back as a view. Only the drawn and the example records reach the driver.

pyspark is an optional extra (`pip install 'verifier[spark]'`); it is imported here only.
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import pandas as pd

from verifier.data import exact
from verifier.data.duckdb_engine import RELATED, _in_rule_order, _one_hot, _plain, _repeats_sql
from verifier.data.engine import Engine, EngineOptions
from verifier.data.spark_dialect import SPARK
from verifier.errors import EnvironmentFailure, InputError

ident = SPARK.ident

# Settings for a run on this machine (local[*]); --spark-conf overrides any of them.
LOCAL_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",  # stderr holds the progress lines and one-line errors
    "spark.sql.ansi.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.session.timeZone": "UTC",  # set_timezone gives the data's zone
    "spark.driver.memory": "2g",
}


class SparkEngine(Engine):
    """Stages one submission's records in Spark and answers the checks' questions about them."""

    dialect = SPARK
    # Tests share one session across engines (it costs 10-30 s to start): when True, `close`
    # leaves the session running for the next engine with the same master and settings.
    reuse_session: ClassVar[bool] = False

    def __init__(self, options: EngineOptions | None = None):
        self.options = options or EngineOptions(engine="spark")
        try:
            self._tmp = tempfile.TemporaryDirectory(prefix="verifier-spark-", dir=self.options.temp_dir or None)
        except OSError as exc:
            raise InputError("command line", "--temp-dir", f"cannot create a work folder: {exc}") from None
        self.workdir = Path(self._tmp.name)
        self.spark = session(self.options, self.workdir)
        self.flag_columns: list[str] = []
        self.warn_only: tuple[str, ...] = ()
        self.has_trip_id = False
        self.population = 0
        self.timezone_rejected = None
        self._views: list[str] = []  # temporary views this engine registered (dropped at close)

    def close(self) -> None:
        try:
            for name in self._views:
                self.spark.catalog.dropTempView(name)
            if not self.reuse_session:
                stop_session()
        finally:
            self._tmp.cleanup()

    # -- statements ------------------------------------------------------------------------------
    def _execute(self, sql: str):
        """Every statement the engine issues passes here (and into `statement_log` when set)."""
        if self.statement_log is not None:
            self.statement_log.append(sql)
        return self.spark.sql(sql)

    def execute(self, sql: str, reading=None) -> None:
        with _reading(reading):
            self._execute(sql).collect()

    def rows(self, sql: str, reading=None) -> list[tuple]:
        with _reading(reading):
            return [tuple(r) for r in self._execute(sql).collect()]

    def materialize(self, name: str, sql: str) -> None:
        """Compute `sql` once into Parquet in the work folder and register it as the view `name`
        (Spark's own views would recompute the query at every pass that reads them)."""
        path = self.workdir / "tables" / name
        self._execute(sql).write.mode("overwrite").parquet(str(path))
        self.spark.read.parquet(str(path)).createOrReplaceTempView(name)
        if name not in self._views:
            self._views.append(name)

    def describe(self, source) -> dict[str, str]:
        raise NotImplementedError

    def drop_tables(self, names) -> None:
        for name in names:
            self.spark.catalog.dropTempView(name)

    def write_parquet(self, table: str, path: Path) -> None:
        raise NotImplementedError

    # -- staging -----------------------------------------------------------------------------------
    def set_timezone(self, timezone: str) -> None:
        raise NotImplementedError

    def stage(self, source, columns, timezone, boundary=None, users=None, users_encoding="utf-8",
              relation=None, extra_columns=(), derived=None, *, canonical, coordinates=False,
              districts=None) -> int:
        raise NotImplementedError

    def attach_station_distances(self, path: Path, encoding: str, fill_missing: bool = False) -> None:
        raise NotImplementedError

    def parquet_counts(self, files: list[Path]) -> list[int]:
        raise NotImplementedError

    # -- flags and answers -------------------------------------------------------------------------
    # The passes after staging mirror DuckDBEngine method by method (same tables, columns and
    # tie-breaks); what Spark spells differently is said where it is. Set by staging:
    _has_users = False  # the view `users` (user_id, authorized_at) exists
    _has_drawn = False  # `sample` kept the table `drawn`
    _flag_sql: list[str] = []  # the check columns of `records`
    _marked: dict[str, str] = {}  # check id -> its column in `marks` (window rules that ran)

    def _view(self, name: str, sql: str) -> None:
        """A temporary view over materialised tables (recomputed at each read: cheap ones only)."""
        self._execute(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {sql}")
        if name not in self._views:
            self._views.append(name)

    def flag(self, predicates, rules, warn_only=()) -> None:
        """As DuckDBEngine.flag: the view `records` (staged, users, one boolean column per
        check), the window rules in the contract's order, their marks materialised once."""
        self.warn_only = tuple(warn_only)
        run = _in_rule_order(rules)
        validity = run.get("validity")
        named = {**({validity[0]: validity[1]} if validity else {}), **predicates}
        self._flag_sql = [f"coalesce(({sql}), false) AS {ident(cid)}" for cid, sql in named.items()]
        self.flag_columns = list(named)
        self._marked = {}
        marked = []  # (check id, column, the table of the row_no it marks)
        if "duplicates" in run:
            cid, keys = run["duplicates"]
            self.materialize("dups", "SELECT row_no, min(first_row) AS repeats_row FROM ("
                             + " UNION ALL ".join(_repeats_sql(key, " AND ".join(f"{c} IS NOT NULL" for c in present))
                                                  for key, present in keys) + ") GROUP BY row_no")
            marked.append((cid, "dup", "dups"))
        if "overlap" in run:
            cid, interval = run["overlap"]
            self._overlaps(interval, validity[1] if validity else "false", "duplicates" in run)
            marked.append((cid, "overlap", "overlapping"))
        if marked:
            columns = [col for _, col, _ in marked]
            self.materialize("marks", " UNION ALL ".join(_one_hot(columns, col, table) for _, col, table in marked))
            self._add_marked(marked)
        self._define_view()
        if "daily_cap" in run:
            self._daily_cap(*run["daily_cap"])

    def _overlaps(self, interval: tuple[str, str, str], validity: str, dups: bool) -> None:
        """The table `overlapping` (row_no, overlaps_row), as DuckDBEngine._overlaps (its
        docstring says which earlier trip overlaps_row names). Spark has no EXCLUDE GROUP and no
        FILTER on window aggregates: the earlier records are the frame RANGE BETWEEN UNBOUNDED
        PRECEDING AND 1 PRECEDING over the start in integer microseconds (the same set: every
        record starting earlier), the same-start intervals a CASE inside min() over the peers."""
        user, start, end = interval
        not_dup = " LEFT JOIN dups d ON d.row_no = s.row_no" if dups else ""
        judged = f"""(SELECT s.row_no, s.{user} AS user_id, s.{start} AS start_time, coalesce(s.{end}, s.{start}) AS ends
                      FROM staged s{not_dup}
                      WHERE {'d.row_no IS NULL AND ' if dups else ''}s.{user} IS NOT NULL AND s.{start} IS NOT NULL
                        AND NOT coalesce(({validity}), false))"""
        same_user = f"PARTITION BY user_id ORDER BY {self.dialect.micros('start_time')}"
        self.materialize("overlapping", f"""
            WITH o AS (SELECT * FROM (
                SELECT row_no, user_id, start_time, ends > start_time AS is_interval,
                       max(ends) OVER ({same_user} RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier_end,
                       min(CASE WHEN ends > start_time THEN row_no END) OVER ({same_user}
                           RANGE BETWEEN CURRENT ROW AND CURRENT ROW) AS first_interval
                FROM {judged})
              WHERE earlier_end > start_time OR (is_interval AND row_no > first_interval))
            SELECT o.row_no, CASE WHEN o.earlier_end > o.start_time THEN min(e.row_no) ELSE min(o.first_interval) END AS overlaps_row
            FROM o LEFT JOIN {judged} e ON e.user_id = o.user_id AND e.start_time < o.start_time
                AND e.ends = o.earlier_end AND o.earlier_end > o.start_time
            GROUP BY o.row_no, o.earlier_end, o.start_time""")

    def _add_marked(self, marked: list[tuple[str, str, str]]) -> None:
        """Each marked check's column of `records`, read from `marks`."""
        for cid, col, _ in marked:
            self._marked[cid] = col
            self._flag_sql.append(f"coalesce(m.{col}, false) AS {ident(cid)}")
            self.flag_columns.append(cid)
            if col in RELATED:
                self._flag_sql.append(f"m.{RELATED[col]}")

    def _define_view(self) -> None:
        self._view("records", self._records_sql("staged"))

    def _records_sql(self, relation: str) -> str:
        """`relation` (staged records) with the user's authorisation time and one boolean column
        per record-level check (as DuckDBEngine._records_sql)."""
        users = (f"(SELECT r.*, u.authorized_at FROM {relation} r LEFT JOIN users u ON u.user_id = r.user_id)"
                 if self._has_users else
                 f"(SELECT r.*, CAST(NULL AS {self.dialect.types['time']}) AS authorized_at FROM {relation} r)")
        marks = " LEFT JOIN marks m ON m.row_no = s.row_no" if self._marked else ""
        return f"SELECT s.*, {', '.join(self._flag_sql)} FROM {users} s{marks}"

    def _daily_cap(self, cid: str, args: tuple[str, dict[str, int]]) -> None:
        """As DuckDBEngine._daily_cap (the latest first beyond the cap; NULLS LAST as DuckDB)."""
        by, caps = args
        excluded = self.excluded_sql()
        cap = f"CASE {by} " + " ".join(f"WHEN {self.dialect.text(m)} THEN {int(c)}" for m, c in caps.items()) + " END"
        self.materialize("capped", f"""
            SELECT row_no FROM (
                SELECT row_no, {cap} AS cap, row_number() OVER (
                    PARTITION BY user_id, {by}, record_date ORDER BY start_time NULLS LAST, record_key NULLS LAST) AS k
                FROM records WHERE NOT {excluded})
            WHERE cap IS NOT NULL AND k > cap""")
        columns = [*self._marked.values(), "cap"]
        if self._marked:
            related = [RELATED[c] for c in columns if c in RELATED]
            earlier = ", ".join([*self._marked.values(), "false AS cap", *related])
            # `marks` is read by the statement that replaces it: written under a new name first
            self.materialize("marks_capped", f"""
                SELECT row_no, {', '.join([*(f'bool_or({c}) AS {c}' for c in columns), *(f'max({r}) AS {r}' for r in related)])} FROM (
                    SELECT row_no, {earlier} FROM marks UNION ALL {_one_hot(columns, 'cap', 'capped')}) GROUP BY row_no""")
            self.materialize("marks", "SELECT * FROM marks_capped")
        else:
            self.materialize("marks", _one_hot(columns, "cap", "capped"))
        self._add_marked([(cid, "cap", "capped")])
        self._define_view()

    def excluded_sql(self) -> str:
        cols = [ident(c) for c in self.flag_columns if c not in self.warn_only]
        return "(" + " OR ".join(cols) + ")" if cols else "false"

    def aggregate(self, extra=None, pkm=None) -> dict:
        """As DuckDBEngine.aggregate: one scan of `records`, the same dict (Python ints, dates,
        exact totals). The window sums come as text (SparkDialect.exact_sum)."""
        d = self.dialect
        excluded = self.excluded_sql()
        sums = {"pkm": None, "eligible_pkm": f"NOT {excluded}",
                **{f"pkm:{cid}": ident(cid) for cid in self.flag_columns}, **(pkm or {})}
        parts = {
            "records": "count(*)",
            "first_date": "min(record_date)",
            "last_date": "max(record_date)",
            "eligible": d.count_if(f"NOT {excluded}"),
            **{f"n:{cid}": d.count_if(ident(cid)) for cid in self.flag_columns},
            **{f"sum:{name}": d.exact_sum("distance_km", where) for name, where in sums.items()},
            "sum:rest": d.exact_rest_count("distance_km"),
        }
        parts.update(extra or {})
        row = self.rows("SELECT " + ", ".join(f"{sql} AS {ident(n)}" for n, sql in parts.items()) + " FROM records")[0]
        out = {k: _python(v) for k, v in zip(parts, row)}
        if not out["records"]:  # as DuckDB: with no record every count is 0
            out = {k: 0 if v is None and k not in ("first_date", "last_date") else v for k, v in out.items()}
        rest = self._rest_sums(sums) if out.pop("sum:rest") else {}
        out.update({name: exact.combine(d.exact_window(out.pop(f"sum:{name}") or None), rest.get(name, ()))
                    for name in sums})
        return out

    def _rest_sums(self, sums: dict[str, str | None]) -> dict[str, list[tuple[int, int]]]:
        """The distances outside the exact sum's window, per total (a second pass)."""
        rows = self.rows(self.dialect.exact_rest("distance_km", "records", sums))
        return {name: [(int(r[0]), _python(r[i + 1])) for r in rows] for i, name in enumerate(sums)}

    def examples(self, check_id, fields, limit=5, reason=None) -> list[dict]:
        """The first flagged records in file order (with `reason`, SQL text, when given)."""
        cols = ", ".join(["record_key", "row_no"] + fields + ([f"{reason} AS reason"] if reason else []))
        df = _frame(self._execute(f"SELECT {cols} FROM records WHERE {ident(check_id)} "
                                  f"ORDER BY row_no LIMIT {int(limit)}"))
        return [_plain(r) for r in df.to_dict("records")]

    def write_excluded(self, path: Path, reasons, fields, sep) -> int:
        """excluded.csv as DuckDBEngine.write_excluded writes it, byte for byte: the rows stream
        to the driver in row_no order (toLocalIterator: one partition at a time, bounded
        memory) and are written here in DuckDB's CSV form (`_csv_field`)."""
        excluding = [c for c in self.flag_columns if c not in self.warn_only]
        if sorted(reasons) != sorted(excluding):
            raise ValueError(f"write_excluded: reasons for {sorted(reasons)}, the excluding checks are {sorted(excluding)}")
        d = self.dialect
        checks = d.joined([f"CASE WHEN {ident(c)} THEN {d.text(c)} END" for c in reasons], ";")
        reason = d.joined([f"CASE WHEN {ident(c)} THEN ({sql}) END" for c, sql in reasons.items()], sep)
        names = ["\ufeffrecord_key", "row_no", "checks", "reason", *(f for f in fields if f not in ("record_key", "row_no"))]
        columns = ["record_key", "row_no", f"{checks} AS checks", f"{reason} AS reason",
                   *(ident(f) for f in names[4:])]
        query = self._execute(f"SELECT {', '.join(columns)} FROM records WHERE {self.excluded_sql()} ORDER BY row_no")
        count = 0
        with open(path, "w", encoding="utf-8", newline="") as out:
            out.write(",".join(map(_csv_field, names)) + "\n")
            for row in query.toLocalIterator():
                out.write(",".join(map(_csv_field, row)) + "\n")
                count += 1
        return count

    def sample(self, seed: int, size: int, extra: int = 0) -> pd.DataFrame:
        """As DuckDBEngine.sample: md5 rank (ties by row_no), the drawn records through
        `records` kept as the table `drawn`, returned in draw order."""
        key = self.dialect.selection_key(str(int(seed)), "record_key")
        self.materialize("drawn_keys", f"SELECT row_no, {key} AS draw_key FROM staged "
                                       f"ORDER BY draw_key, row_no LIMIT {int(size + extra)}")
        fetched = "(SELECT s.*, d.draw_key FROM staged s JOIN drawn_keys d ON d.row_no = s.row_no)"
        self.materialize("drawn", self._records_sql(fetched))
        self._has_drawn = True
        return _frame(self._execute("SELECT * FROM drawn ORDER BY draw_key, row_no"))

    def quantiles(self, specs) -> dict:
        """As DuckDBEngine.quantiles: from the drawn records, else every k-th record."""
        def over(relation: str, where: str = "true") -> dict:
            parts = [self.dialect.quantile(expr, q, cond) for expr, q, cond in specs.values()]
            return dict(zip(specs, self.rows(f"SELECT {', '.join(parts)} FROM {relation} WHERE {where}")[0]))

        out = over("drawn") if self._has_drawn else dict.fromkeys(specs)
        if None in out.values():
            rest = over("staged", f"row_no % {max(1, self.population // 200_000)} = 0")
            out = {k: rest[k] if v is None else v for k, v in out.items()}
        return out

    def histograms(self, specs) -> dict[str, pd.DataFrame]:
        """As DuckDBEngine.histograms: one scan of `staged`, one grouping set per figure. The
        bin is floor() as a double (Spark's floor is a BIGINT, which raises past 2^63: every
        double that large is an integer already)."""
        d = self.dialect
        inner, bins = [], []
        for i, (expr, width, where, cap) in enumerate(specs.values()):
            inner += [f"{expr} AS v{i}", f"coalesce(({where}), false) AS w{i}"]
            value = f"least(v{i}, {d.double(cap)})" if cap is not None else f"v{i}"
            q = f"({value} / {d.double(width)})"
            bins.append(f"CASE WHEN w{i} AND v{i} IS NOT NULL AND {d.finite('v' + str(i))} THEN "
                        f"CASE WHEN abs({q}) < {2.0 ** 52!r} THEN CAST(floor({q}) AS DOUBLE) ELSE {q} END END AS b{i}")
        sets = ", ".join(f"(b{i})" for i in range(len(bins)))
        df = _frame(self._execute(
            f"SELECT {', '.join(f'grouping(b{i}) = 0 AS g{i}' for i in range(len(bins)))}, "
            f"{', '.join(f'b{i}' for i in range(len(bins)))}, count(*) AS records "
            f"FROM (SELECT {', '.join(bins)} FROM (SELECT {', '.join(inner)} FROM staged)) "
            f"GROUP BY GROUPING SETS ({sets})"))
        out = {}
        for i, (name, (_, width, _, _)) in enumerate(specs.items()):
            part = df[df[f"g{i}"] & df[f"b{i}"].notna()].sort_values(f"b{i}")
            start = part[f"b{i}"].to_numpy(float) * width
            out[name] = pd.DataFrame({"bin_start": start, "bin_end": start + width,
                                      "records": part["records"].to_numpy("int64")})
        return out

    def daily(self, by=None) -> pd.DataFrame:
        """As DuckDBEngine.daily (GROUP BY ALL spelled out; NULLS LAST, Spark's default is first)."""
        split = f", {ident(by)}" if by else ""
        return _frame(self._execute(f"""
            SELECT record_date AS date{split}, count(*) AS records,
                   CAST({self.dialect.count_if(self.excluded_sql())} AS BIGINT) AS excluded
            FROM records GROUP BY record_date{split}
            ORDER BY date NULLS LAST{f', {ident(by)} NULLS LAST' if by else ''}"""))


# -- the session ------------------------------------------------------------------------------------
_SESSION = {"key": None, "spark": None}


def session(options: EngineOptions, workdir: Path):
    """The Spark session for `options` (master, settings): the running one when they match,
    else a new one (spark.driver.memory and the master apply only when the JVM starts)."""
    master = options.spark_master or (f"local[{int(options.threads)}]" if options.threads else "local[*]")
    conf = {**LOCAL_DEFAULTS, "spark.local.dir": str(workdir / "spark-local"), **dict(options.spark_conf)}
    key = (master, tuple(sorted((k, v) for k, v in conf.items() if k != "spark.local.dir")))
    if _SESSION["spark"] is not None and _SESSION["key"] == key:
        return _SESSION["spark"]
    stop_session()
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EnvironmentFailure("pyspark is not installed", "pip install 'verifier[spark]' (and a Java 17 runtime)") from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName("verifier")
    for k, v in conf.items():
        builder = builder.config(k, v)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # no Java, a master that does not answer
        raise EnvironmentFailure(f"cannot start Spark ({master}): {str(exc).splitlines()[0][:300]}",
                                 "install a Java 17 runtime (JAVA_HOME) and check --spark-master") from None
    spark.sparkContext.setLogLevel("ERROR")
    _SESSION.update(key=key, spark=spark)
    return spark


def stop_session() -> None:
    spark, _SESSION["spark"], _SESSION["key"] = _SESSION["spark"], None, None
    if spark is not None:
        spark.stop()


@contextmanager
def _reading(source):
    """A statement that reads a submission file (`source`: its adapter): an error is that input's
    InputError. Without `source`, errors pass as they are."""
    try:
        yield
    except Exception as exc:
        if source is None or not _is_spark_error(exc):
            raise
        raise source.read_error(exc) from None


def _is_spark_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(("pyspark", "py4j"))


def _frame(df) -> pd.DataFrame:
    """A Spark result as the pandas frame the DuckDB engine's `.df()` gives (same dtypes): the
    rows as Arrow, converted by DuckDB itself. (answer's stand-in until staging's own.)"""
    import duckdb

    table = df.toArrow()
    return duckdb.from_arrow(table).df()


# -- the passes after staging (answer) ---------------------------------------------------------------
def _python(value):
    """A SQL result value as the DuckDB engine returns it: DECIMAL sums and counts as int."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _csv_field(value) -> str:
    """One value as DuckDB's COPY (FORMAT csv) writes it: NULL empty, doubles in their shortest
    form (inf, nan), timestamps without trailing zeros in the fraction, text quoted where it
    holds the delimiter, a quote, a line break or '#' (or is empty), quotes doubled."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        text = value.isoformat(sep=" ")
        return text.rstrip("0") if "." in text else text
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if not isinstance(value, str):
        return text
    if text == "" or any(c in text for c in ',"\n\r#'):
        return '"' + text.replace('"', '""') + '"'
    return text
