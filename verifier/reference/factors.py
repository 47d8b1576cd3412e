"""Reference numbers from the regulator: the factor table and the materiality bands.

Both are YAML files with a cited source. The shipped factor table holds published values only;
the verifier supplies the regulator's table with `--factors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from verifier.errors import InputError
from verifier.resources import package_file, read_yaml
from verifier.submission import parse_number

SHIPPED = package_file("reference", "factors.yaml")
MATERIALITY = package_file("reference", "materiality.yaml")


@dataclass(frozen=True)
class Factor:
    methodology: str
    parameter: str
    year: int
    value: float
    unit: str
    source: str
    data_year: int | None = None


@dataclass(frozen=True)
class FactorUse:
    """One factor of a filing: the value its report states, the published entry on file for
    the claim year, and the value a recalculation uses (the published one where on file)."""

    parameter: str
    reported: float | None
    published: Factor | None

    @property
    def value(self) -> float | None:
        return self.published.value if self.published is not None else self.reported

    @property
    def origin(self) -> str:
        return "published" if self.published is not None else "reported"


@dataclass(frozen=True)
class FactorTable:
    path: Path
    entries: tuple[Factor, ...]

    @classmethod
    def load(cls, path: Path | str | None) -> FactorTable:
        from verifier.submission import option_file

        path = option_file(path, "--factors") if path else SHIPPED  # a regular file: a pipe would block
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
        except OSError as exc:
            raise InputError(path, "--factors", f"cannot read: {exc.strerror or exc}") from None
        except yaml.YAMLError:
            raise InputError(path, "--factors", "not valid YAML") from None
        items = raw.get("factors") if isinstance(raw, dict) else raw
        if not isinstance(items, list):
            raise InputError(path, "--factors", "expected a list of factors (or a 'factors:' list)")
        return cls(path, tuple(_entry(path, i, item) for i, item in enumerate(items, start=1)))

    def lookup(self, methodology: str, parameter: str, year: int | None) -> Factor | None:
        for entry in self.entries:
            if (entry.methodology, entry.parameter, entry.year) == (methodology, parameter, year):
                return entry
        return None

    def use(self, methodology: str, parameter: str, year: int | None, reported: float | None) -> FactorUse:
        """The factor `parameter` as a filing uses it: its reported value beside the entry on file."""
        return FactorUse(parameter, reported, self.lookup(methodology, parameter, year))


def _entry(path: Path, index: int, item: Any) -> Factor:
    if not isinstance(item, dict):
        raise InputError(path, "--factors", "each factor must be a mapping", row=index)
    for name in ("methodology", "parameter", "year", "value", "unit", "source"):
        if item.get(name) in (None, ""):
            raise InputError(path, f"--factors: {name}", "missing", row=index)
    value = parse_number(item["value"])
    if value is None:
        raise InputError(path, "--factors: value", f"not a number: {item['value']!r}", row=index)
    try:
        year = int(item["year"])
        data_year = int(item["data_year"]) if item.get("data_year") is not None else None
    except (TypeError, ValueError):
        raise InputError(path, "--factors: year", "not a year", row=index) from None
    return Factor(str(item["methodology"]), str(item["parameter"]), year, value,
                  str(item["unit"]), str(item["source"]), data_year)


def default_materiality(claimed_tco2: float | None) -> tuple[float, str]:
    """The materiality for a claimed reduction, and the source it comes from."""
    raw = read_yaml(MATERIALITY)
    claimed = abs(claimed_tco2 or 0.0)
    for band in raw["bands"]:
        if ("below" in band and claimed < band["below"]) or ("up_to" in band and claimed <= band["up_to"]) \
                or "above" in band:
            return float(band["materiality"]), raw["source"]
    raise AssertionError("materiality bands must end with an 'above' band")
