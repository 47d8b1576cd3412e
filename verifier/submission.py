"""The submission package: `report.yaml` / `report.json` and the files it names.

Only what makes the package unreadable raises `InputError` (exit 2). A missing or malformed
report field is kept as found and judged by the `report.completeness` check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from verifier.errors import InputError
from verifier.methodology import ENCODINGS, METHODOLOGIES, TRANSIT, canonical_columns

REPORT_NAMES = ("report.yaml", "report.yml", "report.json")


def parse_date(value: Any) -> date | None:
    """A date from YAML (already a date, or a quoted ISO string) or JSON; None if not one."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def parse_number(value: Any) -> float | None:
    """A finite number, or None (booleans are not numbers here)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


@dataclass
class Parameter:
    name: str
    unit: Any
    value: Any  # as written; `number` is the parsed value
    text: str  # the value as written in the report, for its rounding

    @property
    def number(self) -> float | None:
        return parse_number(self.value)


@dataclass
class Submission:
    root: Path
    report_path: Path
    raw: dict
    methodology: str
    data_files: dict[str, list[Path]] = field(default_factory=dict)

    # -- report fields -------------------------------------------------------------------
    def section(self, name: str) -> dict:
        value = self.raw.get(name)
        return value if isinstance(value, dict) else {}

    @property
    def applicant(self) -> dict:
        return self.section("applicant")

    @property
    def project(self) -> dict:
        return self.section("project")

    @property
    def results(self) -> dict:
        return self.section("results")

    @property
    def data(self) -> dict:
        return self.section("data")

    @property
    def period_start(self) -> date | None:
        return parse_date(self.project.get("period_start"))

    @property
    def period_end(self) -> date | None:
        return parse_date(self.project.get("period_end"))

    @property
    def claim_year(self) -> int | None:
        end = self.period_end
        return end.year if end else None

    def parameters(self, section: str) -> dict[str, Parameter]:
        """`default_data` or `monitored_data` as name -> Parameter (first of a repeated name)."""
        out: dict[str, Parameter] = {}
        items = self.raw.get(section)
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                name = item["name"]
                value = item.get("value")
                out.setdefault(name, Parameter(name, item.get("unit"), value, _written(value)))
        return out

    @property
    def encoding(self) -> str:
        return str(self.data.get("encoding") or "utf-8").lower().replace("_", "-")

    @property
    def timezone(self) -> str:
        return str(self.data.get("timezone") or "Asia/Shanghai")

    @property
    def crs(self) -> str:
        return str(self.data.get("crs") or "").lower()

    @property
    def column_map(self) -> dict[str, str]:
        cols = self.data.get("columns")
        return {str(k): str(v) for k, v in cols.items()} if isinstance(cols, dict) else {}

    @property
    def uses_taps(self) -> bool:
        return self.methodology == TRANSIT and not self.data.get("trips") and bool(self.data.get("taps"))


def half_unit(written: Any) -> float:
    """Half a unit in the last written decimal of a reported figure (its rounding)."""
    from decimal import Decimal, InvalidOperation

    text = written if isinstance(written, str) else _written(written)
    try:
        exponent = Decimal(text.strip()).as_tuple().exponent
    except (InvalidOperation, AttributeError):
        return 0.0
    return 0.5 * 10.0 ** exponent if isinstance(exponent, int) else 0.0


def _written(value: Any) -> str:
    """The number as written (for 'the rounding of the reported figure'); YAML and JSON parse
    numbers before we see them, so trailing zeros are lost: the tolerance errs on leniency."""
    return repr(value) if isinstance(value, float) else str(value)


def find_report(root: Path) -> Path:
    if not root.exists():
        raise InputError(root, None, "submission folder not found")
    if root.is_file():
        return root
    for name in REPORT_NAMES:
        if (root / name).is_file():
            return root / name
    raise InputError(root, "report.yaml", "no report.yaml or report.json in the submission folder")


def load_submission(path: Path | str) -> Submission:
    """Read and resolve the package; `InputError` for anything that makes it unreadable."""
    report_path = find_report(Path(path))
    root = report_path.parent
    raw = _read_report(report_path)
    methodology = raw.get("methodology")
    if methodology not in METHODOLOGIES:
        raise InputError(report_path, "methodology",
                         f"unknown methodology {methodology!r}; expected one of {', '.join(METHODOLOGIES)}")
    sub = Submission(root=root, report_path=report_path, raw=raw, methodology=methodology)
    _check_data_section(sub)
    return sub


def _read_report(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, None, f"cannot read the report: {exc}") from None
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        line = exc.lineno if isinstance(exc, json.JSONDecodeError) else (line + 1 if line is not None else None)
        raise InputError(path, None, f"not valid {'JSON' if path.suffix == '.json' else 'YAML'}"
                         + (f" (line {line})" if line else "")) from None
    if not isinstance(raw, dict):
        raise InputError(path, None, "the report must be a mapping of sections")
    return raw


def _check_data_section(sub: Submission) -> None:
    data = sub.raw.get("data")
    where = sub.report_path
    if not isinstance(data, dict):
        raise InputError(where, "data", "no data section naming the trip data")
    key = "trips" if data.get("trips") or sub.methodology != TRANSIT else "taps"
    if not data.get(key):
        raise InputError(where, "data.trips" if sub.methodology != TRANSIT else "data.trips / data.taps",
                         "no trip data named")
    if sub.encoding not in ENCODINGS:
        raise InputError(where, "data.encoding", f"unsupported encoding {data.get('encoding')!r}; use utf-8 or gbk")
    unknown = sorted(set(sub.column_map) - set(canonical_columns(sub.methodology)))
    if unknown:
        raise InputError(where, "data.columns", f"unknown canonical column(s): {', '.join(unknown)}")
    named = data.get(key)
    sub.data_files[key] = [_resolve(sub, f"data.{key}", p) for p in (named if isinstance(named, list) else [named])]
    for role in ("users", "station_distances"):
        if data.get(role):
            sub.data_files[role] = [_resolve(sub, f"data.{role}", data[role])]


def _resolve(sub: Submission, field_name: str, value: Any) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise InputError(sub.report_path, field_name, f"expected a file name, got {value!r}")
    path = (sub.root / value).resolve()
    if not path.exists():
        raise InputError(path, field_name, "file not found")
    if path.is_file():
        try:
            with path.open("rb") as fh:
                fh.read(1)
        except OSError as exc:
            raise InputError(path, field_name, f"cannot read: {exc.strerror}") from None
    return path
