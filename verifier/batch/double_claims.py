"""The same trip claimed in two filings (contract section 7, check id `batch.double_claim`): one
engine pass over every filing's claims.parquet (verifier.claims), never the records in pandas.

Filings are taken in filing order (period end, then name; a filing without a period end last):
the claim of the LATER filing is the double one. Rules, each an equality of one key between a
record and a record of an earlier filing:

- same applicant: the filings' USCC are equal (and their methodology: a bike ride and a metro
  trip are never the same trip, so a USCC filing both compares each methodology apart), and the
  records' keys are equal where both keys are trip ids (`keyed`; a row number is no trip's
  key), or their (user_id, start_s) are equal (user_id not NULL);
- fingerprint: the filings' methodology is the same and the fingerprints are equal (not NULL).

A later record is counted once, against the EARLIEST filing any rule matches it with; its basis
is `same_applicant` where a same-applicant rule matches it against that filing, else
`fingerprint`; its earlier record is the first (lowest row_no) one of that filing the basis's
rules match. How, in bounded memory: every claims file is read by one scan
(dialect.indexed_parquet); per rule one hash aggregate (grouped by the rule's scope and key,
integers only in its state) keeps only the keys held by two filings or more, with the earliest
(filing, row_no) holding each, packed as filing·2^40 + row_no so one min() gives both; the claims
are then joined to those few keys (a small build side) and the earliest of the rules' matches
chosen per record (table `matched`), whose earlier record's key a join of the claims to the few
matched ones adds (table `doubles`). From it:
double_claims.csv (engine-written, in filing order then row_no), the pairs (one per filing,
earlier filing, basis: records, exact pkm, tCO2 at the later filing's factors by its
methodology's `emissions` on the pair's activity per part) and up to five examples per pair.
`overlapping_periods`: the pairs of filings of one USCC and methodology whose [start, end]
periods intersect, [earlier, later], in filing order of the later then the earlier.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from verifier.data import exact
from verifier.data.dialect import DIALECT
from verifier.data.engine import EngineOptions, open_engine
from verifier.methodologies import get

CSV_COLUMNS = ("filing", "record_key", "earlier_filing", "earlier_record_key", "basis", "pkm")
EXAMPLES = 5
PACK = 1 << 40  # (filing, row_no) packed as filing·PACK + row_no: rows per filing below 2^40
SAME, FINGERPRINT = "same_applicant", "fingerprint"


@dataclass(frozen=True)
class ClaimsInput:
    name: str                 # filing name (DIR/filings/<name>)
    claims: Path              # its claims.parquet
    uscc: str | None
    methodology: str
    period_start: str | None  # ISO dates from findings.json period
    period_end: str | None
    factors: dict             # findings.json recalculation.factors_used {name: {"value": ..}}


@dataclass(frozen=True)
class DoubleClaims:
    block: dict               # contract: {"pairs": [...], "records": n, "overlapping_periods": [[a, b], ...]}
    per_filing: dict          # name -> {"records": n, "pkm": x, "tco2": y}  (as the LATER filing)


def filing_order(filings: list[ClaimsInput]) -> list[ClaimsInput]:
    """Period end, then name (a filing without a period end after every dated one)."""
    return sorted(filings, key=lambda f: (f.period_end is None, f.period_end or "", f.name))


def find_double_claims(filings: list[ClaimsInput], csv_path: Path, engine_options: EngineOptions) -> DoubleClaims:
    """Find every double claim among `filings`, write double_claims.csv to `csv_path` (written
    whole or not at all: a temporary name, then renamed) and return the block and per-filing
    figures."""
    filings = filing_order(filings)
    csv_path = Path(csv_path)
    tmp = csv_path.with_name(f".{csv_path.name}.tmp")
    try:
        with open_engine(engine_options) as engine:
            found = _find(engine, filings, tmp) if filings else None
        if found is None:
            tmp.write_text("\ufeff" + ",".join(CSV_COLUMNS) + "\n", encoding="utf-8")
            found = ([], [], [])
        os.replace(tmp, csv_path)
    finally:
        tmp.unlink(missing_ok=True)
    groups, rests, examples = found
    return _summarise(filings, groups, rests, examples)


# -- the engine pass ---------------------------------------------------------------------------
def _find(engine, filings: list[ClaimsInput], csv_tmp: Path):
    """The table `doubles` in the engine, the csv, and what the pairs need: the groups (filing,
    earlier, basis, part, records, exact window sum, rest count), their rest sums and examples."""
    d = DIALECT
    claims = f"({_claims_sql(filings)}) c"
    for name, (candidates, keys) in _keys_sql(claims).items():  # each small
        engine.materialize(f"{name}_h", candidates)
        engine.materialize(name, keys)
    engine.materialize("matched", _matched_sql(claims))
    # The earlier record's key: the claims joined to the few matched ones (the small build side).
    engine.materialize("doubles", f"SELECT m.filing, m.row_no, m.record_key, m.part, m.distance_km, m.basis, "
                                  f"CAST((m.first - m.first % {PACK}) / {PACK} AS BIGINT) AS earlier, "
                                  f"c.record_key AS earlier_key FROM matched m JOIN {claims} "
                                  f"ON c.filing * {PACK} + c.row_no = m.first")
    names = d.values([(i, f.name) for i, f in enumerate(filings)], ("i", "name"))
    engine.write_csv(
        {"filing": "n.name", "record_key": "x.record_key", "earlier_filing": "e.name",
         "earlier_record_key": "x.earlier_key", "basis": "x.basis", "pkm": "x.distance_km"},
        f"FROM doubles x JOIN {names} n ON n.i = x.filing JOIN {names} e ON e.i = x.earlier "
        f"ORDER BY x.filing, x.row_no", csv_tmp)
    keys = "filing, earlier, basis, part"
    groups = engine.rows(f"SELECT {keys}, count(*), {d.exact_sum('distance_km')}, "
                         f"{d.exact_rest_count('distance_km')} FROM doubles GROUP BY {keys} ORDER BY {keys}")
    groups = [(int(f), int(e), b, p, int(n), d.exact_window(w), int(r or 0)) for f, e, b, p, n, w, r in groups]
    rests = _rests(engine, groups)
    examples = engine.rows(
        "SELECT filing, earlier, basis, record_key, earlier_key FROM ("
        "SELECT *, row_number() OVER (PARTITION BY filing, earlier, basis ORDER BY row_no) AS k FROM doubles) x "
        f"WHERE k <= {EXAMPLES} ORDER BY filing, earlier, basis, row_no")
    engine.drop_tables(["doubles", "matched", *RULES, *(f"{n}_h" for n in RULES)])
    return groups, rests, examples


def _claims_sql(filings: list[ClaimsInput]) -> str:
    """Every filing's claims with its index in filing order (`filing`), its same-applicant scope
    (`app`: one number per USCC and methodology; NULL without a USCC) and methodology (`meth`)."""
    d = DIALECT
    apps = dict.fromkeys((f.uscc, f.methodology) for f in filings if f.uscc)
    meths = list(dict.fromkeys(f.methodology for f in filings))
    app = [list(apps).index((f.uscc, f.methodology)) if f.uscc else -1 for f in filings]
    meth = [meths.index(f.methodology) for f in filings]
    return (f"SELECT file_index AS filing, {_pick(app, 'file_index')} AS app, {_pick(meth, 'file_index')} AS meth, "
            f"record_key, row_no, keyed, user_id, start_s, fingerprint, coalesce(part, '') AS part, distance_km "
            f"FROM {d.indexed_parquet([f.claims for f in filings])}")


def _pick(values: list[int], index: str) -> str:
    """SQL: values[index] (a CASE; -1 as NULL), for the per-filing numbers."""
    whens = " ".join(f"WHEN {i} THEN {v}" for i, v in enumerate(values) if v >= 0)
    return f"CASE {index} {whens} END" if whens else "CAST(NULL AS BIGINT)"


# rule -> (its scope: same applicant or methodology, the key columns, which claims have the key)
RULES = {"ka": ("app", ["record_key"], "c.app IS NOT NULL AND c.keyed"),
         "kb": ("app", ["user_id", "start_s"], "c.app IS NOT NULL AND c.user_id IS NOT NULL AND c.start_s IS NOT NULL"),
         "kf": ("meth", ["fingerprint"], "c.fingerprint IS NOT NULL")}


def _keys_sql(claims: str) -> dict[str, tuple[str, str]]:
    """Per rule two work tables, each small: the key hashes held by two filings or more
    (candidates: an aggregate of 64-bit integers, which DuckDB runs at 10^8 claims in 1 GB where
    one grouping by the text keys ran out of memory), then, over the claims whose key hash is a
    candidate, the keys held by two filings or more (exact: a hash collision costs nothing), each
    with the earliest claim holding it, packed (filing·PACK + row_no). `claims`: the relation of
    every filing's claims (`_claims_sql`), read anew by each (a scan reads only the columns its
    rule needs)."""
    packed = f"filing * {PACK} + row_no"
    out = {}
    for name, (scope, key, where) in RULES.items():
        h = DIALECT.key_hash([f"c.{k}" for k in key])
        candidates = (f"SELECT s, h FROM (SELECT c.{scope} AS s, {h} AS h, c.filing FROM {claims} WHERE {where}) x "
                      f"GROUP BY s, h HAVING max(filing) > min(filing)")
        named = ", ".join([f"c.{scope} AS s"] + [f"c.{k} AS k{i}" for i, k in enumerate(key)])
        keys = (f"SELECT {named}, min({packed}) AS first FROM {claims} JOIN {name}_h x ON x.s = c.{scope} AND x.h = {h} "
                f"WHERE {where} GROUP BY {', '.join(f'c.{c}' for c in [scope] + key)} HAVING max(c.filing) > min(c.filing)")
        out[name] = (candidates, keys)
    return out


def _matched_sql(claims: str) -> str:
    """The query of `matched`: per double claim filing, row_no, record_key, part, distance_km,
    first (the earlier record, packed) and basis: the claims joined to the rules' key tables."""
    joins = " ".join(
        f"LEFT JOIN {n} ON " + " AND ".join([f"{n}.s = c.{scope}"] + [f"{n}.k{i} = c.{k}" for i, k in enumerate(key)])
        + f" AND {n}.first < c.filing * {PACK}" for n, (scope, key, _) in RULES.items())
    # the earliest same-applicant match (least skips NULL on both engines) and the fingerprint one
    matched = (f"SELECT c.filing, c.row_no, c.record_key, c.part, c.distance_km, "
               f"least(ka.first, kb.first) AS fs, kf.first AS ff FROM {claims} {joins} "
               f"WHERE ka.first IS NOT NULL OR kb.first IS NOT NULL OR kf.first IS NOT NULL")
    same = f"(fs IS NOT NULL AND (ff IS NULL OR fs - fs % {PACK} <= ff - ff % {PACK}))"
    return (f"SELECT filing, row_no, record_key, part, distance_km, CASE WHEN {same} THEN fs ELSE ff END AS first, "
            f"CASE WHEN {same} THEN {DIALECT.text(SAME)} ELSE {DIALECT.text(FINGERPRINT)} END AS basis FROM ({matched}) m")


def _rests(engine, groups) -> dict[tuple, list[tuple[int, int]]]:
    """The exact sums' rest (distances outside the window: tiny or huge) per group that has any."""
    d = DIALECT
    todo = [g for g in groups if g[6]]
    if not todo:
        return {}
    sums = {f"g{i}": f"filing = {f} AND earlier = {e} AND basis = {d.text(b)} AND part = {d.text(p)}"
            for i, (f, e, b, p, *_) in enumerate(todo)}
    rows = engine.rows(d.exact_rest("distance_km", "doubles", sums))
    return {g[:4]: [(int(r[0]), None if r[i + 1] is None else int(r[i + 1])) for r in rows] for i, g in enumerate(todo)}


# -- the block ---------------------------------------------------------------------------------
def _summarise(filings: list[ClaimsInput], groups, rests, examples) -> DoubleClaims:
    """The contract's block and the per-filing figures from the engine's groups."""
    pairs: dict[tuple, dict] = {}
    for f, e, b, p, n, window, _ in groups:
        pair = pairs.setdefault((f, e, b), {"records": {}, "window": 0, "rest": [], "parts": {}})
        pair["records"][p or None] = n
        pair["parts"][p or None] = exact.combine(window, rests.get((f, e, b, p), ()))
        pair["window"] += int(window or 0)
        pair["rest"] += rests.get((f, e, b, p), [])
    shown = {}
    for f, e, b, key, earlier_key in examples:
        shown.setdefault((int(f), int(e), b), []).append(
            {"record_key": key, "earlier_record_key": earlier_key, "basis": b})
    out, per_filing = [], {x.name: {"records": 0, "pkm": 0.0, "tco2": 0.0} for x in filings}
    by_filing: dict[int, dict] = {}
    for (f, e, b), pair in pairs.items():
        later = filings[f]
        records = sum(pair["records"].values())
        out.append({"filing": later.name, "earlier": filings[e].name, "basis": b, "records": records,
                    "pkm": round(exact.combine(pair["window"], pair["rest"]), 6),
                    "tco2": _tco2(later, pair["records"], pair["parts"]), "examples": shown.get((f, e, b), [])})
        total = by_filing.setdefault(f, {"records": {}, "window": 0, "rest": [], "parts": {}})
        for p, n in pair["records"].items():
            total["records"][p] = total["records"].get(p, 0) + n
        total["window"] += pair["window"]
        total["rest"] += pair["rest"]
    for f, total in by_filing.items():
        parts = _part_sums(groups, rests, f)
        per_filing[filings[f].name] = {"records": sum(total["records"].values()),
                                       "pkm": round(exact.combine(total["window"], total["rest"]), 6),
                                       "tco2": _tco2(filings[f], total["records"], parts)}
    block = {"pairs": out, "records": sum(p["records"] for p in out),
             "overlapping_periods": overlapping_periods(filings)}
    return DoubleClaims(block=block, per_filing=per_filing)


def _part_sums(groups, rests, f: int) -> dict[str | None, float]:
    """The exact pkm per part of the later filing `f`'s double claims (every pair together)."""
    windows: dict[str | None, int] = {}
    rest: dict[str | None, list] = {}
    for g in groups:
        if g[0] == f:
            part = g[3] or None
            windows[part] = windows.get(part, 0) + int(g[5] or 0)
            rest.setdefault(part, []).extend(rests.get(g[:4], []))
    return {p: exact.combine(w, rest[p]) for p, w in windows.items()}


def _tco2(filing: ClaimsInput, records: dict, pkm: dict) -> float | None:
    """The reduction the records stand for at the filing's factors, by its methodology's formula
    (None when a factor has no value)."""
    m = get(filing.methodology)
    v = {name: (filing.factors.get(name) or {}).get("value") for name in m.formula_factors}
    v.update(m.activity_of(records, pkm))
    value = m.emissions(v)["reduction_tco2"]
    return None if value is None or not math.isfinite(value) else round(float(value), 9)


def overlapping_periods(filings: list[ClaimsInput]) -> list[list[str]]:
    """[earlier, later] for every two filings of one USCC and methodology whose [start, end]
    periods intersect (ISO dates compare as text), in filing order of the later, then the earlier."""
    filings = filing_order(filings)
    out = []
    for j, later in enumerate(filings):
        for earlier in filings[:j]:
            if (later.uscc and earlier.uscc == later.uscc and earlier.methodology == later.methodology
                    and None not in (earlier.period_start, earlier.period_end, later.period_start, later.period_end)
                    and earlier.period_start <= later.period_end and later.period_start <= earlier.period_end):
                out.append([earlier.name, later.name])
    return out
