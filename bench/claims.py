"""Benchmark: the double-claim pass (verifier.batch.double_claims) at 10^8 claims rows.

    python bench/claims.py                       # 20 filings x 5*10^6 rows, DuckDB, default budget
    python bench/claims.py --filings 4 --rows 1e6 --memory-limit 2GB --threads 2

The claims files are synthesised directly by a DuckDB query (no verify run: the pass reads only
claims.parquet), in --workdir (default bench/work/claims, git-ignored), reused while their
parameters are the same. Filing i (0-based) is operator i % 5, year 2020 + i // 5 (periods do not
overlap), every row a distinct trip except the planted double claims:
  - every row with row_no % 1000 == 0 of filing i >= 1 carries filing 0's fingerprint of that
    row: a fingerprint double claim against filing 0 (it matches every earlier filing; counted
    once, against the earliest);
  - every row with row_no % 1000 == 500 of filing i >= 5 carries the record key of filing i % 5
    (the same operator's first year): a same_applicant double claim against that filing.
So (filings - 1) * rows / 1000 + (filings - 5) * rows / 1000 double claims, which the run checks.
The pass runs in a child process: its wall seconds and peak RSS (ru_maxrss of the child) are
printed and, with --record, appended to bench/results.md under "Batch: double claims".
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def synthesise(folder: Path, filings: int, rows: int) -> list[dict]:
    """The claims files and their ClaimsInput fields (written once per parameter set)."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "manifest.json"
    params = {"filings": filings, "rows": rows, "version": 1}
    if manifest.exists() and json.loads(manifest.read_text())["params"] == params:
        return json.loads(manifest.read_text())["filings"]
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    out = []
    for i in range(filings):
        path = folder / f"f{i:02d}.parquet"
        fp_from = f"CASE WHEN {i} >= 1 AND r % 1000 = 0 THEN 0 ELSE {i} END"
        key_from = f"CASE WHEN {i} >= 5 AND r % 1000 = 500 THEN {i % 5} ELSE {i} END"
        con.execute(f"""
            COPY (SELECT 'F' || {key_from} || '-' || r AS record_key, r AS row_no, true AS keyed,
                         'U' || (r % 1000003) AS user_id, CAST(1500000000 AS BIGINT) + {i} * 100000000 + r * 7 AS start_s,
                         '10:' || (CAST(1500000000 AS BIGINT) + {fp_from} * 100000000 + r * 7) || '|14:' || (1130000 + r % 9000)
                           || ',' || (225000 + r % 7000) || '|x' || {fp_from} || '-' || r AS fingerprint,
                         CAST(NULL AS VARCHAR) AS part, 0.5 + (r % 97) / 10.0 AS distance_km
                  FROM range(1, {rows} + 1) t(r) ORDER BY r)
            TO '{path}' (FORMAT parquet)""")
        year = 2020 + i // 5
        out.append({"name": f"op{i % 5}-{year}-{i:02d}", "claims": str(path), "uscc": f"USCC-{i % 5}",
                    "methodology": "shenzhen-bike-sharing", "period_start": f"{year}-01-01",
                    "period_end": f"{year}-12-31", "factors": {"Eb": {"value": 0.05}}})
    con.close()
    manifest.write_text(json.dumps({"params": params, "filings": out}))
    return out


def child(spec: str) -> None:
    """Run the pass (in the child process) and print its result as JSON."""
    from verifier.batch.double_claims import ClaimsInput, find_double_claims
    from verifier.data.engine import EngineOptions

    args = json.loads(spec)
    inputs = [ClaimsInput(**{**f, "claims": Path(f["claims"])}) for f in args["filings"]]
    t0 = time.perf_counter()
    found = find_double_claims(inputs, Path(args["csv"]), EngineOptions(
        memory_limit=args["memory_limit"], threads=args["threads"], temp_dir=args["temp_dir"]))
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "records": found.block["records"], "pairs": len(found.block["pairs"])}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--filings", type=int, default=20)
    ap.add_argument("--rows", type=float, default=5e6)
    ap.add_argument("--workdir", type=Path, default=ROOT / "bench" / "work" / "claims")
    ap.add_argument("--memory-limit", default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--record", action="store_true", help="append the row to bench/results.md")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a.child)
    rows = int(a.rows)
    t0 = time.perf_counter()
    filings = synthesise(a.workdir / f"{a.filings}x{rows}", a.filings, rows)
    made = time.perf_counter() - t0
    spec = {"filings": filings, "csv": str(a.workdir / "double_claims.csv"), "memory_limit": a.memory_limit,
            "threads": a.threads, "temp_dir": str(a.workdir / "tmp")}
    (a.workdir / "tmp").mkdir(parents=True, exist_ok=True)
    run = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    if run.returncode:
        sys.exit(run.stderr[-3000:])
    result = json.loads(run.stdout.strip().splitlines()[-1])
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    expected = (a.filings - 1) * (rows // 1000) + max(0, a.filings - 5) * (rows // 1000)
    ok = result["records"] == expected
    line = (f"| {a.filings} x {rows:,} = {a.filings * rows:,} | DuckDB | {a.memory_limit or 'default (1GB)'} | "
            f"{a.threads or 'all'} | {result['seconds']:.1f} | {rss_mb:,.0f} | {result['records']:,} "
            f"({'= planted' if ok else f'planted {expected:,}'}) | {result['pairs']} |")
    print(f"synthesised/reused in {made:.1f} s")
    print(line)
    if a.record:
        _record(line)
    if not ok:
        sys.exit(f"found {result['records']} double claims, planted {expected}")


def _record(line: str) -> None:
    path = ROOT / "bench" / "results.md"
    text = path.read_text(encoding="utf-8")
    head = "## Batch: double claims"
    if head not in text:
        text += (f"\n{head}\n\n`python bench/claims.py` (bench/claims.py: claims files synthesised by DuckDB, "
                 "the pass in a child process; peak RSS is the child's).\n\n"
                 "| claims rows | engine | memory limit | threads | seconds | peak RSS MB | double claims found | pairs |\n"
                 "|---|---|---|---|---|---|---|---|\n")
    start = text.index(head)
    end = text.find("\n## ", start + len(head))
    end = len(text) if end < 0 else end
    text = text[:end].rstrip("\n") + "\n" + line + "\n" + ("\n" + text[end:].lstrip("\n") if end < len(text) else "")
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
