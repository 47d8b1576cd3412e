"""The passes after staging, written once for every SQL engine: `SqlPasses`.

flag (duplicates, overlaps, daily cap), the view `records`, aggregate, examples, sample,
quantiles, histograms and daily are the same statements on DuckDB and on Spark (what each pass
costs: verifier.data.engine). What differs between engines is either SQL, which the engine's
dialect spells (`overlap_windows`, `histogram_bin`, `nulls_last`, `group_and_order`,
`exact_window` ...), or one of the small hooks below, which each engine class implements:

  _make_table(name, sql)  a work table later passes read (DuckDB: CREATE OR REPLACE TABLE;
                          Spark: materialised as Parquet, `Engine.materialize`)
  _make_view(name, sql)   a view recomputed at each read (the view `records`)
  _frame_of(sql)          a query's result as the pandas frame DuckDB's `.df()` gives
  _value(v)               a result value as DuckDB returns it (Spark: DECIMAL sums as int)

The engine sets `_has_users` (staging loaded the view or table `users`) and `population`.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path

import pandas as pd

from verifier.data import exact
from verifier.data.engine import Engine

# The window rules a check may stand for (RecordCheck.rule), in the contract's order (section 5).
WINDOW_RULES = ("validity", "duplicates", "overlap", "daily_cap")
# The column of `marks` naming the row a marked record relates to, per window rule's mark: the
# first record a duplicate repeats, an earlier trip an overlapping one overlaps (their reasons).
RELATED = {"dup": "repeats_row", "overlap": "overlaps_row"}


class SqlPasses(Engine):
    """The engine-neutral passes over the staged records (the view `staged`)."""

    _has_users = False  # the relation `users` (user_id, authorized_at) exists
    _has_drawn = False  # `sample` kept the table `drawn`
    _flag_sql: list[str] = []  # the check columns of `records`
    _marked: dict[str, str] = {}  # check id -> its column in `marks` (window rules that ran)
    _none_excluded = False  # the aggregate counted no excluded record (the flags since unchanged)

    # -- the engine's hooks --------------------------------------------------------------------
    @abstractmethod
    def _make_table(self, name: str, sql: str) -> None:
        """The work table `name` (replaced), computed once from the query `sql`."""

    @abstractmethod
    def _make_view(self, name: str, sql: str) -> None:
        """The view `name` (replaced) over the query `sql`."""

    @abstractmethod
    def _frame_of(self, sql: str) -> pd.DataFrame:
        """The result of the query `sql` as a pandas frame (DuckDB's `.df()` types)."""

    @staticmethod
    def _value(value):
        """A result value of `rows` as the DuckDB engine returns it."""
        return value

    # -- flags ---------------------------------------------------------------------------------
    def flag(self, predicates: dict[str, str], rules: dict[str, tuple[str, object]],
             warn_only: tuple[str, ...] = ()) -> None:
        """Define the view `records`: `staged` plus one boolean column per record-level check.

        `predicates`: check id -> SQL, evaluated record by record. `rules`: check id -> (the
        window rule it stands for, the rule's arguments), for the applicable checks only: a
        rule no check asks for costs no pass and has no column, nor has one whose arguments are
        None (it cannot run). The rules run in the contract's order (section 5): validity (its
        predicate) and duplicates on every record, overlaps among valid non-duplicate records,
        the daily cap last, among the records no other check flags. `warn_only`: the checks whose
        flagged records stay eligible."""
        ident = self.dialect.ident
        self.warn_only = tuple(warn_only)
        self._none_excluded = False
        run = _in_rule_order(rules)
        validity = run.get("validity")
        named = {**({validity[0]: validity[1]} if validity else {}), **predicates}
        self._flag_sql = [f"coalesce(({sql}), false) AS {ident(cid)}" for cid, sql in named.items()]
        self.flag_columns = list(named)
        self._marked = {}  # check id -> its column in the table `marks`
        marked = []  # (check id, column, the table of the row_no it marks)
        if "duplicates" in run:
            cid, keys = run["duplicates"]
            self._duplicates(keys)
            marked.append((cid, "dup", "dups"))
        if "overlap" in run:
            cid, interval = run["overlap"]
            self._overlaps(interval, validity[1] if validity else "false", "duplicates" in run)
            marked.append((cid, "overlap", "overlapping"))
        if marked:  # disjoint: overlaps are judged among the records no duplicate
            columns = [col for _, col, _ in marked]
            self._make_table("marks", " UNION ALL ".join(_one_hot(columns, col, table) for _, col, table in marked))
            self._add_marked(marked)
        self._define_view()
        if "daily_cap" in run:
            self._daily_cap(*run["daily_cap"])

    def _duplicates(self, keys: list[tuple[tuple[str, ...], tuple[str, ...]]]) -> None:
        """The table `dups`: every record (row_no) whose key, for any of `keys` (the key's
        columns, the columns a record must have for it to count), an earlier record in file
        order already had. The repeated keys first (a hash aggregate), then the file order only
        inside those groups (a sort of every record costs twice as much); each rule keeps only
        the records it marks, so `marks` stays small."""
        # repeats_row: the first record it repeats (the earliest, when it repeats under two keys)
        self._make_table("dups", "SELECT row_no, min(first_row) AS repeats_row FROM ("
                         + " UNION ALL ".join(_repeats_sql(key, " AND ".join(f"{c} IS NOT NULL" for c in present),
                                                           self.dialect.key_hash)
                                              for key, present in keys) + ") GROUP BY row_no")

    def _overlaps(self, interval: tuple[str, str, str], validity: str, dups: bool) -> None:
        """The table `overlapping`: the records (row_no) that start before an earlier record of
        the same user has ended, among the valid non-duplicate ones; `interval` names the
        (user, start, end) columns, an empty end being an instant at the start.

        Sorted by start, an instant (bus tap) before an interval starting at the same moment and
        file order between intervals, a record overlaps when an earlier one of the same user
        ends after it starts. Sorting by start alone (a row_no tie-break made the sort a third
        dearer): records that start earlier are one frame (the dialect's window expressions,
        `overlap_windows`: DuckDB excludes the peer group, Spark ends the range 1 us before);
        among those starting at the same moment, an interval overlaps when an interval earlier
        in the file shares its start. Duplicates leave by an outer join (NOT EXISTS cost as much
        as the window).

        overlaps_row names an earlier trip it overlaps: among the trips starting earlier, the one
        whose end the window found (the lowest row_no among equal ends), looked up afterwards by
        a join with the few overlapping records (carrying the row through the window aggregate
        doubled its cost); for intervals sharing a start, the first of them in the file."""
        user, start, end = interval
        not_dup = " LEFT JOIN dups d ON d.row_no = s.row_no" if dups else ""
        judged = f"""(SELECT s.row_no, s.{user} AS user_id, s.{start} AS start_time, coalesce(s.{end}, s.{start}) AS ends
                      FROM staged s{not_dup}
                      WHERE {'d.row_no IS NULL AND ' if dups else ''}s.{user} IS NOT NULL AND s.{start} IS NOT NULL
                        AND NOT coalesce(({validity}), false))"""

        def overlapping(partition: str, relation: str, columns: str) -> str:
            earlier_end, first_interval = self.dialect.overlap_windows(partition, "start_time", "ends", "row_no")
            return f"""
                SELECT {columns} FROM (
                    SELECT *, ends > start_time AS is_interval,
                           {earlier_end} AS earlier_end,
                           {first_interval} AS first_interval
                    FROM {relation})
                WHERE earlier_end > start_time OR (is_interval AND row_no > first_interval)"""

        # Candidates first, the records partitioned by a 64-bit hash of the user, and the user
        # not carried through the sort: integers sorted instead of texts (the pass 4.6 -> 3.0 s
        # at 2x10^7 records). Users sharing a hash share a partition, which can only add
        # candidates, never lose one: each record's frames are then supersets of its own user's
        # (a later end, a lower first interval). The rule itself runs on the records of the
        # candidates' hashes only, partitioned by the user, and the earlier trips are looked up
        # among those: when nothing is a candidate, the records are read once.
        user_key = self.dialect.key_hash(["user_id"])
        self._make_table("overlap_candidates", overlapping(
            "user_key", f"(SELECT row_no, start_time, ends, {user_key} AS user_key FROM {judged})",
            "DISTINCT user_key"))
        some = self.rows("SELECT count(*) FROM overlap_candidates")[0][0] > 0
        self._make_table("overlap_riders", f"SELECT * FROM {judged} j WHERE "
                         + (f"{user_key} IN (SELECT user_key FROM overlap_candidates)" if some else "false"))
        self._make_table("overlap_rows", overlapping(
            "user_id", "overlap_riders", "row_no, user_id, start_time, is_interval, earlier_end, first_interval"))
        lookup = "(SELECT * FROM overlap_riders j WHERE j.user_id IN (SELECT user_id FROM overlap_rows))"
        self._make_table("overlapping", f"""
            SELECT o.row_no, CASE WHEN o.earlier_end > o.start_time THEN min(e.row_no) ELSE min(o.first_interval) END AS overlaps_row
            FROM overlap_rows o LEFT JOIN {lookup} e ON e.user_id = o.user_id AND e.start_time < o.start_time
                AND e.ends = o.earlier_end AND o.earlier_end > o.start_time
            GROUP BY o.row_no, o.earlier_end, o.start_time""")

    def _add_marked(self, marked: list[tuple[str, str, str]]) -> None:
        """Each marked check's column of `records`, read from `marks`."""
        for cid, col, _ in marked:
            self._marked[cid] = col
            self._flag_sql.append(f"coalesce(m.{col}, false) AS {self.dialect.ident(cid)}")
            self.flag_columns.append(cid)
            if col in RELATED:
                self._flag_sql.append(f"m.{RELATED[col]}")

    def _define_view(self) -> None:
        self._make_view("records", self._records_sql("staged"))

    def _records_sql(self, relation: str) -> str:
        """`relation` (staged records) with the user's authorisation time and one boolean column
        per record-level check. (The users join is here, not in staging, so that staging keeps
        the file's row order: see `stage`; only the passes over `records` pay for it.)"""
        users = (f"(SELECT r.*, u.authorized_at FROM {relation} r LEFT JOIN users u ON u.user_id = r.user_id)"
                 if self._has_users else
                 f"(SELECT r.*, CAST(NULL AS {self.dialect.types['time']}) AS authorized_at FROM {relation} r)")
        marks = " LEFT JOIN marks m ON m.row_no = s.row_no" if self._marked else ""
        return f"SELECT s.*, {', '.join(self._flag_sql)} FROM {users} s{marks}"

    def _daily_cap(self, cid: str, args: tuple[str, dict[str, int]]) -> None:
        """Mark, per user, `by` value (e.g. mode) and record date, the records beyond the cap of
        their `by` value (`args`: by, caps), the latest first; among the records nothing else
        excludes. The marks of the earlier rules stay (bool_or per record)."""
        d = self.dialect
        by, caps = args
        excluded = self.excluded_sql()
        cap = f"CASE {by} " + " ".join(f"WHEN {d.text(m)} THEN {int(c)}" for m, c in caps.items()) + " END"
        self._make_table("capped", f"""
            SELECT row_no FROM (
                SELECT row_no, {cap} AS cap, row_number() OVER (
                    PARTITION BY user_id, {by}, record_date ORDER BY {d.nulls_last('start_time')}, {d.nulls_last('record_key')}) AS k
                FROM records WHERE NOT {excluded})
            WHERE cap IS NOT NULL AND k > cap""")
        columns = [*self._marked.values(), "cap"]
        if self._marked:
            related = [RELATED[c] for c in columns if c in RELATED]
            earlier = ", ".join([*self._marked.values(), "false AS cap", *related])
            self._make_table("marks", f"""
                SELECT row_no, {', '.join([*(f'bool_or({c}) AS {c}' for c in columns), *(f'max({r}) AS {r}' for r in related)])} FROM (
                    SELECT row_no, {earlier} FROM marks UNION ALL {_one_hot(columns, 'cap', 'capped')}) GROUP BY row_no""")
        else:
            self._make_table("marks", _one_hot(columns, "cap", "capped"))
        self._add_marked([(cid, "cap", "capped")])
        self._define_view()

    def excluded_sql(self) -> str:
        cols = [self.dialect.ident(c) for c in self.flag_columns if c not in self.warn_only]
        return "(" + " OR ".join(cols) + ")" if cols else "false"

    def _excluded_where(self) -> str:
        """`excluded_sql`, or false once the aggregate counted no excluded record: the passes
        after it (excluded.csv, the daily counts) then find none without evaluating the flags
        and joining users and marks for every record (a scan as dear as the aggregate's)."""
        return "false" if self._none_excluded else self.excluded_sql()

    # -- aggregates ----------------------------------------------------------------------------
    def aggregate(self, extra: dict[str, str] | None = None, pkm: dict[str, str | None] | None = None,
                  by: str | None = None) -> dict:
        """One scan: counts per flag, pkm per flag, totals, eligible totals, `extra` SQL
        aggregates (name -> expression) and `pkm` totals (name -> condition) in a single row.
        With `by` (an integer column of `records`, e.g. start_district), the same scan also
        gives, under "groups", each value's records, eligible records, pkm and eligible pkm
        ({value or None: {...}}; a value no record has is absent).

        Every pkm total is the exact sum of distance_km (the dialect's exact_sum, read back by
        its exact_window), the same on any thread count; NaN and ±inf add nothing
        (records.validity excludes them)."""
        d, ident = self.dialect, self.dialect.ident
        excluded = self.excluded_sql()
        sums = {"pkm": None, "eligible_pkm": f"NOT {excluded}",
                **{f"pkm:{cid}": ident(cid) for cid in self.flag_columns}, **(pkm or {})}
        # The exclusion and the exact sums' terms are computed once per record, in an inner
        # projection: written inside each of the 30-odd totals, DuckDB evaluated them at every
        # mention (the scan took three times the duplicates pass).
        terms = d.exact_terms("distance_km", "agg_pkm")
        once = {"agg_excluded": excluded, **terms}
        parts = {
            "records": "count(*)",
            "first_date": "min(record_date)",
            "last_date": "max(record_date)",
            "eligible": d.count_if("NOT agg_excluded"),
            **{f"n:{cid}": d.count_if(ident(cid)) for cid in self.flag_columns},
            **{f"sum:{name}": d.exact_sum_of("agg_pkm", where and where.replace(excluded, "agg_excluded"))
               for name, where in sums.items()},
            "sum:rest": d.exact_rest_count("distance_km"),
        }
        parts.update({name: sql.replace(excluded, "agg_excluded") for name, sql in (extra or {}).items()})
        inner = "SELECT *, " + ", ".join(f"{sql} AS {name}" for name, sql in once.items()) + " FROM records"
        select = ", ".join(f"{sql} AS {ident(n)}" for n, sql in parts.items())
        if by is None:
            row, groups = self.rows(f"SELECT {select} FROM ({inner}) r")[0], []
        else:
            row, groups = self._grouped(select, inner, by)
        out = {k: self._value(v) for k, v in zip(parts, row)}
        if not out["records"]:  # no record: SQL's count_if and sum give NULL; every count is 0
            out = {k: 0 if v is None and k not in ("first_date", "last_date") else v for k, v in out.items()}
        self._none_excluded = out["records"] == out["eligible"]
        any_rest = out.pop("sum:rest")
        by_value = {value: dict(zip(parts, (self._value(v) for v in g))) for value, g in groups}
        group_sums = {(value, name): (f"{by} IS NULL" if value is None else f"{by} = {int(value)}")
                      + (f" AND NOT {excluded}" if name == "eligible_pkm" else "")
                      for value in by_value for name in ("pkm", "eligible_pkm")}
        rest = self._rest_sums({**sums, **group_sums}) if any_rest else {}
        out.update({name: exact.combine(d.exact_window(out.pop(f"sum:{name}") or None), rest.get(name, ()))
                    for name in sums})
        if by is not None:
            out["groups"] = {value: {"records": int(g["records"]), "eligible": int(g["eligible"]),
                                     **{name: exact.combine(d.exact_window(g[f"sum:{name}"] or None),
                                                            rest.get((value, name), ()))
                                        for name in ("pkm", "eligible_pkm")}}
                             for value, g in by_value.items()}
        return out

    def _grouped(self, select: str, inner: str, by: str) -> tuple[tuple, list[tuple]]:
        """`aggregate`'s scan with the totals per value of `by` beside the whole's: one scan
        (GROUPING SETS), where a CASE per value inside each total made the scan 1.3 s longer at
        2x10^7 records (20 district totals). Returns the whole's row and (value, row) per group."""
        rows = self.rows(f"SELECT grouping({by}) AS agg_whole, {by} AS agg_by, {select} "
                         f"FROM ({inner}) r GROUP BY GROUPING SETS ((), ({by}))")
        whole = [r[2:] for r in rows if r[0]]
        groups = sorted(((r[1], r[2:]) for r in rows if not r[0]), key=lambda g: (g[0] is None, g[0] or 0))
        if not whole:  # no record: an engine may give no row for the empty grouping set either
            whole = self.rows(f"SELECT {select} FROM ({inner}) r")
        return whole[0], groups

    def _rest_sums(self, sums: dict) -> dict:
        """The distances outside the exact sum's window (tiny or huge; none on clean data), per
        total (its key: a total's name, or a (group value, name) pair -> its condition): a second
        pass, grouped by binary scale."""
        rows = self.rows(self.dialect.exact_rest("distance_km", "records", sums))
        return {name: [(int(r[0]), self._value(r[i + 1])) for r in rows] for i, name in enumerate(sums)}

    def examples(self, check_id: str, fields: list[str], limit: int = 5, reason: str | None = None) -> list[dict]:
        """The first flagged records in file order (with `reason`, SQL text, when given)."""
        cols = ", ".join(["record_key", "row_no"] + fields + ([f"{reason} AS reason"] if reason else []))
        df = self._frame_of(f"SELECT {cols} FROM records WHERE {self.dialect.ident(check_id)} "
                            f"ORDER BY row_no LIMIT {int(limit)}")
        return [_plain(r) for r in df.to_dict("records")]

    def _excluded_reasons(self, reasons: dict[str, str], sep: str) -> tuple[str, str]:
        """For write_excluded: the SQL of its `checks` and `reason` columns (ValueError when
        `reasons` does not name exactly the excluding checks)."""
        excluding = [c for c in self.flag_columns if c not in self.warn_only]
        if sorted(reasons) != sorted(excluding):
            raise ValueError(f"write_excluded: reasons for {sorted(reasons)}, the excluding checks are {sorted(excluding)}")
        d = self.dialect
        checks = d.joined([f"CASE WHEN {d.ident(c)} THEN {d.text(c)} END" for c in reasons], ";")
        reason = d.joined([f"CASE WHEN {d.ident(c)} THEN ({sql}) END" for c, sql in reasons.items()], sep)
        return checks, reason

    @abstractmethod
    def write_excluded(self, path: Path, reasons: dict[str, str], fields: list[str], sep: str) -> int: ...

    def sample(self, seed: int, size: int, extra: int = 0) -> pd.DataFrame:
        """The first `size + extra` records by md5("<seed>:<record_key>"), in draw order; kept
        as the table `drawn` (the figures' axes are read from it)."""
        key = self.dialect.selection_key(str(int(seed)), "record_key")
        # Ranked on the key alone; the drawn records are then fetched by a join with the small
        # ranked table (faster than an IN list, or than a top-N carrying every column) and only
        # they get their flags.
        self._make_table("drawn_keys", f"SELECT row_no, {key} AS draw_key FROM staged "
                                       f"ORDER BY draw_key, row_no LIMIT {int(size + extra)}")
        fetched = "(SELECT s.*, d.draw_key FROM staged s JOIN drawn_keys d ON d.row_no = s.row_no)"
        self._make_table("drawn", self._records_sql(fetched))
        self._has_drawn = True
        return self._frame_of("SELECT * FROM drawn ORDER BY draw_key, row_no")

    # Figures describe the records as submitted: the histograms read `staged` (or the drawn
    # records), not the flags; the daily counts read `records`, to colour the excluded ones.
    # Each method answers all its figures in one query.
    def quantiles(self, specs: dict[str, tuple[str, float, str]]) -> dict:
        """name -> the quantile q of finite expr where `where` holds (None if nowhere), for specs
        name -> (expr, q, where): an axis, so read from the drawn records (a random sample, no
        pass over the population); where none of them qualifies (or nothing was drawn), from
        every k-th record (k = records / 200,000, at least 1). Deterministic either way."""
        def over(relation: str, where: str = "true") -> dict:
            parts = [self.dialect.quantile(expr, q, cond) for expr, q, cond in specs.values()]
            return dict(zip(specs, self.rows(f"SELECT {', '.join(parts)} FROM {relation} WHERE {where}")[0]))

        out = over("drawn") if self._has_drawn else dict.fromkeys(specs)
        if None in out.values():
            rest = over("staged", f"row_no % {max(1, self.population // 200_000)} = 0")
            out = {k: rest[k] if v is None else v for k, v in out.items()}
        return out

    def histograms(self, specs: dict[str, tuple[str, float, str, float | None]]) -> dict[str, pd.DataFrame]:
        """name -> counts of expr in bins of width (values above cap in the last bin), for specs
        name -> (expr, width, where, cap): one scan, one grouping set per figure."""
        # Each value and condition is computed once, in an inner projection: written out inside
        # the CASE, DuckDB evaluated the expression at every mention (a speed: three haversines).
        d = self.dialect
        inner, bins = [], []
        for i, (expr, width, where, cap) in enumerate(specs.values()):
            inner += [f"{expr} AS v{i}", f"coalesce(({where}), false) AS w{i}"]
            bins.append(f"CASE WHEN w{i} AND v{i} IS NOT NULL AND {d.finite('v' + str(i))} THEN "
                        f"{d.histogram_bin('v' + str(i), width, cap)} END AS b{i}")
        sets = ", ".join(f"(b{i})" for i in range(len(bins)))
        df = self._frame_of(f"SELECT {', '.join(f'grouping(b{i}) = 0 AS g{i}' for i in range(len(bins)))}, "
                            f"{', '.join(f'b{i}' for i in range(len(bins)))}, count(*) AS records "
                            f"FROM (SELECT {', '.join(bins)} FROM (SELECT {', '.join(inner)} FROM staged)) "
                            f"GROUP BY GROUPING SETS ({sets})")
        out = {}
        for i, (name, (_, width, _, _)) in enumerate(specs.items()):
            part = df[df[f"g{i}"] & df[f"b{i}"].notna()].sort_values(f"b{i}")
            start = part[f"b{i}"].to_numpy(float) * width
            out[name] = pd.DataFrame({"bin_start": start, "bin_end": start + width,
                                      "records": part["records"].to_numpy("int64")})
        return out

    def daily(self, by: str | None = None) -> pd.DataFrame:
        """Records and excluded records (any excluding check's flag) per record date, and per
        value of the column `by` where given (e.g. mode); the undated records in a row of their
        own (date NULL), so a figure can say how many it could not place."""
        d = self.dialect
        split = f", {d.ident(by)}" if by else ""
        keys = [d.ident(by)] if by else []
        excluded = self._excluded_where()
        return self._frame_of(f"""
            SELECT record_date AS date{split}, count(*) AS records,
                   CAST({d.count_if(excluded)} AS BIGINT) AS excluded
            FROM {'staged' if excluded == 'false' else 'records'} {d.group_and_order(['record_date', *keys], ['date', *keys])}""")


def _in_rule_order(rules: dict[str, tuple[str, object]]) -> dict[str, tuple[str, object]]:
    """rule -> (check id, arguments) for the rules that can run, in the contract's order; an
    unknown rule is a defect of its check, never silently skipped."""
    by_rule = {}
    for cid, (rule, args) in rules.items():
        if rule not in WINDOW_RULES:
            raise ValueError(f"{cid}: unknown window rule {rule!r}; the engine knows {', '.join(WINDOW_RULES)}")
        if args is not None:
            by_rule[rule] = (cid, args)
    return {rule: by_rule[rule] for rule in WINDOW_RULES if rule in by_rule}


def _one_hot(columns: list[str], column: str, table: str) -> str:
    """The records (row_no) of `table` with `column` true and the other `columns` false, then
    the related rows of the `columns` that have one (`table`'s own for `column`, else NULL)."""
    flags = ", ".join(f"{'true' if c == column else 'false'} AS {c}" for c in columns)
    related = "".join(f", {RELATED[c] if c == column else 'CAST(NULL AS BIGINT)'} AS {RELATED[c]}"
                      for c in columns if c in RELATED)
    return f"SELECT row_no, {flags}{related} FROM {table}"


def _repeats_sql(key: tuple[str, ...], present: str, key_hash) -> str:
    """row_no of every record (where `present` holds) whose `key` an earlier record in file
    order already had, and first_row, that earlier record's; NULL equals NULL inside a key (an
    empty end time counts as a value). The repeated 64-bit hashes of the key first (`key_hash`:
    a grouping of integers, not of the texts and times), then the exact keys among the few
    records that have one."""
    cols = ", ".join(key)
    same = " AND ".join(f"s.{c} IS NOT DISTINCT FROM r.{c}" for c in key)
    h = key_hash(list(key))
    repeated = f"SELECT {h} AS h FROM staged WHERE {present} GROUP BY 1 HAVING count(*) > 1"
    return f"""(SELECT row_no, first_row FROM (
        SELECT s.row_no, row_number() OVER (PARTITION BY {', '.join(f's.{c}' for c in key)} ORDER BY s.row_no) AS k,
               min(s.row_no) OVER (PARTITION BY {', '.join(f's.{c}' for c in key)}) AS first_row
        FROM staged s JOIN (SELECT {cols} FROM staged WHERE {present} AND {h} IN ({repeated})
                            GROUP BY ALL HAVING count(*) > 1) r ON {same})
      WHERE k > 1)"""


def _plain(record: dict) -> dict:
    """A result record with plain Python values (None for NULL and NaN, times as ISO text)."""
    out = {}
    for k, v in record.items():
        if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
            out[k] = None
        elif hasattr(v, "isoformat"):
            out[k] = v.isoformat(sep=" ") if hasattr(v, "hour") else v.isoformat()
        elif hasattr(v, "item"):
            out[k] = v.item()
        else:
            out[k] = v
    return out
