"""A re-submitted filing against the earlier verification (`verify --previous DIR`).

DIR is an earlier run's output folder; its findings.json is read (strictly: a missing,
unreadable or foreign file is exit 2) and compared with this run's findings: which earlier
non-conformities (failing checks) are now closed (the check passes), still open, unconfirmed
(the check can no longer judge it) or new; what changed in the counts (population, eligible
records, records each check affects) and amounts (reported, recalculated, verified tCO2e); and
which input files changed (SHA-256, by role and path). The result is findings.json's optional `previous` block; the report's section
is drawn from it alone (verifier/report/previous.py), so a report rendered again keeps it.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any, Mapping

from verifier.errors import InputError, quoted
from verifier.findings import STATUSES, Findings

OPTION = "--previous"
FINDINGS = "findings.json"
MAX_BYTES = 256 * 1024 * 1024  # findings.json holds five examples per check: megabytes at most

# (name, block, key): the counts and amounts compared, in the order the report lists them.
COUNTS = (("population", "sampling", "population"), ("eligible_records", "recalculation", "eligible_records"),
          ("eligible_pkm", "recalculation", "eligible_pkm"), ("sample_size", "sampling", "size"),
          ("sample_deviations", "sampling", "deviations"))
AMOUNTS = (("reported_reduction_tco2", "recalculation", "reported_reduction_tco2"),
           ("recalculated_reduction_tco2", "recalculation", "recalculated_reduction_tco2"),
           ("verified_reduction_tco2", "recalculation", "verified_reduction_tco2"))


def load_previous(folder: Path | str, methodology: str) -> tuple[dict, str]:
    """The earlier run's findings document and its SHA-256 (InputError when DIR holds no
    readable findings.json of a run of `methodology`)."""
    path = Path(folder) / FINDINGS
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputError(path, OPTION, "not found: name an earlier run's output folder") from None
    except OSError as exc:
        raise InputError(path, OPTION, f"cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
        raise InputError(path, OPTION, "not a findings.json written by verifier")
    try:
        data = path.read_bytes()
        doc = json.loads(data.decode("utf-8"))
    except OSError as exc:
        raise InputError(path, OPTION, f"cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InputError(path, OPTION, "not valid JSON: not a findings.json written by verifier") from None
    _check_document(path, doc)
    if doc["methodology"] != methodology:
        raise InputError(path, f"{OPTION}: methodology", f"the earlier run verified {quoted(doc['methodology'], 60)}, "
                                                         f"this package {quoted(methodology)}: they do not compare")
    return doc, hashlib.sha256(data).hexdigest()


def _check_document(path: Path, doc: Any) -> None:
    """The fields the comparison reads, of the kinds it reads them as."""
    def bad(field: str) -> InputError:
        return InputError(path, f"{OPTION}: {field}", "missing or malformed: not a findings.json written by verifier")

    if not isinstance(doc, dict):
        raise bad("(document)")
    if not isinstance(doc.get("methodology"), str):
        raise bad("methodology")
    for block in ("report", "sampling", "recalculation"):
        if not isinstance(doc.get(block), dict):
            raise bad(block)
    if not isinstance(doc.get("inputs"), list) or not all(
            isinstance(i, dict) and isinstance(i.get("path"), str) and isinstance(i.get("sha256"), str)
            for i in doc["inputs"]):
        raise bad("inputs")
    checks = doc.get("checks")
    if not isinstance(checks, list) or not checks:
        raise bad("checks")
    for n, c in enumerate(checks):
        if not (isinstance(c, dict) and isinstance(c.get("id"), str) and c.get("status") in STATUSES
                and (c.get("affected") is None or _is_int(c.get("affected")))):
            raise bad(f"checks[{n}]")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def compare(earlier: Mapping, earlier_sha256: str, now: Findings) -> dict:
    """The `previous` block: the earlier report, its non-conformities tracked to now, the counts,
    amounts and inputs compared."""
    current = now.to_dict()
    return {
        "findings_sha256": earlier_sha256,
        "report": {"number": (earlier.get("report") or {}).get("number"),
                   "date": (earlier.get("report") or {}).get("date")},
        "conclusion": earlier.get("conclusion"),
        "tool_version": (earlier.get("tool") or {}).get("version"),
        "checks": _checks(earlier["checks"], current["checks"]),
        "counts": _figures(COUNTS, earlier, current),
        "amounts": _figures(AMOUNTS, earlier, current),
        "inputs": _inputs(earlier["inputs"], current["inputs"]),
    }


CLOSING = ("pass", "warn")  # statuses that show an earlier failure corrected


def nc_state(previous_status: str | None, status: str | None) -> str | None:
    """An earlier non-conformity is `closed` once its check passes (or only warns), `open` while
    it fails, and `unconfirmed` when the check can no longer judge it (`not_evaluated`, `manual`,
    `not_applicable`: leaving out the users file must not close an authorisation finding); a
    failing check that did not fail before is `new`."""
    if previous_status == "fail":
        return "open" if status == "fail" else "closed" if status in CLOSING else "unconfirmed"
    return "new" if status == "fail" else None


def _checks(earlier: list, current: list) -> list[dict]:
    """Every check (in this run's order, then checks only the earlier run had) that failed in
    either run, or whose status or affected records changed."""
    before = {c["id"]: c for c in earlier}
    now = {c["id"]: c for c in current}
    rows = []
    for cid in [c["id"] for c in current] + [c["id"] for c in earlier if c["id"] not in now]:
        b, n = before.get(cid) or {}, now.get(cid) or {}
        row = {"id": cid, "previous_status": b.get("status"), "status": n.get("status"),
               "previous_affected": b.get("affected"), "affected": n.get("affected"),
               "nc": nc_state(b.get("status"), n.get("status"))}
        if row["nc"] or row["previous_status"] != row["status"] or row["previous_affected"] != row["affected"]:
            rows.append(row)
    return rows


def _figures(spec, earlier: Mapping, current: Mapping) -> list[dict]:
    def value(doc, block, key):
        v = (doc.get(block) or {}).get(key)
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    return [{"name": name, "previous": value(earlier, block, key), "current": value(current, block, key)}
            for name, block, key in spec]


def _inputs(earlier: list, current: list) -> list[dict]:
    """Each input file by (role, path): unchanged, changed (another SHA-256), added or removed."""
    def key(i):
        return (str(i.get("role")), i["path"])

    before = {key(i): i["sha256"] for i in earlier}
    now = {key(i): i["sha256"] for i in current}
    rows = []
    for k in list(now) + [k for k in before if k not in now]:
        old, new = before.get(k), now.get(k)
        change = ("added" if old is None else "removed" if new is None
                  else "unchanged" if old == new else "changed")
        rows.append({"role": k[0], "path": k[1], "previous_sha256": old, "sha256": new, "change": change})
    return rows
