"""Metro fare table: distance -> full fare, and full fare -> the distance band it implies.

Used by the ``transit.fare_band`` check: a metro trip whose claimed distance lies outside the
distance band of the full fare paid (``fare_fen``, the exit tap's ``deal_value``) is flagged.

A band is the half-open interval ``(min_km_exclusive, max_km_inclusive]``; the first band starts
at 0 km and also covers a distance of exactly 0 (a same-station exit pays the minimum fare).
Fares are integers in fen (1 yuan = 100 fen).

File formats accepted by :meth:`FareTable.load` (``--fares FILE``):

YAML (``.yaml``/``.yml``; JSON works too), either a rule::

    name: ...
    source: ...               # where the rule is published or reported (required)
    base: {max_km: 4, fare_fen: 200}
    steps:                    # each step adds add_fen per started every_km up to up_to_km
      - {up_to_km: 12, every_km: 4, add_fen: 100}
      - {up_to_km: 24, every_km: 6, add_fen: 100}
      - {up_to_km: null, every_km: 8, add_fen: 100}   # null: no upper limit (last step only)

or explicit bands (the same as the CSV form)::

    source: ...
    bands:
      - {min_km: 0, max_km: 4, fare_fen: 200}
      - {min_km: 4, max_km: 8, fare_fen: 300}
      - {min_km: 8, max_km: null, fare_fen: 400}      # null: no upper limit (a flat top fare)

CSV (``.csv``, UTF-8, BOM allowed): columns ``min_km,max_km,fare_fen``, one band per row, in
distance order, contiguous from 0; an empty ``max_km`` on the last row means no upper limit.
(A CSV table carries no ``source``; state it in the workpaper.)

Bands must be contiguous from 0 km and their fares non-decreasing; adjacent bands with the same
fare are merged (so :meth:`FareTable.band_for_fare` has one answer). A rule's step range must be a
whole number of ``every_km``. Anything else raises :class:`verifier.errors.InputError`.

The shipped default, ``fares_shenzhen.yaml``, encodes the distance rule *reported* for the
Shenzhen Metro (see its ``source``): 2 yuan up to 4 km; +1 yuan per 4 km up to 12 km; +1 yuan per
6 km up to 24 km; +1 yuan per 8 km beyond. The operator prices each station pair on the shortest
path and kept some older, lower station-pair fares, so a band mismatch is a ``warn``, not proof.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from verifier.errors import InputError

DEFAULT_PATH = Path(__file__).with_name("fares_shenzhen.yaml")

_INF = math.inf
_EPS = 1e-9


@dataclass(frozen=True)
class FareBand:
    min_km: float  # exclusive (0 for the first band, which also covers 0 km)
    max_km: float  # inclusive; math.inf for no upper limit
    fare_fen: int


@dataclass(frozen=True)
class FareTail:
    """Open-ended periodic step after the last explicit band: +add_fen per started every_km."""

    every_km: float
    add_fen: int


@dataclass
class FareTable:
    bands: list[FareBand]
    tail: FareTail | None = None
    name: str = ""
    source: str = ""
    path: str = ""
    notes: str = ""
    _merged: list[FareBand] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._validate()
        merged: list[FareBand] = []
        for b in self.bands:
            if merged and merged[-1].fare_fen == b.fare_fen:
                merged[-1] = FareBand(merged[-1].min_km, b.max_km, b.fare_fen)
            else:
                merged.append(b)
        self._merged = merged

    # ------------------------------------------------------------------ construction
    @classmethod
    def default(cls) -> "FareTable":
        """The shipped Shenzhen Metro table (the reported distance rule)."""
        return cls.load(DEFAULT_PATH)

    @classmethod
    def load(cls, path: str | Path) -> "FareTable":
        from verifier.submission import option_file

        path = option_file(path, "--fares")  # a regular file, checked before it is opened
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise InputError(str(path), None, f"not valid UTF-8 ({e.reason} at byte {e.start})")
        if path.suffix.lower() == ".csv":
            return cls._from_csv(text, str(path))
        try:
            data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except (yaml.YAMLError, json.JSONDecodeError) as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise InputError(str(path), None, f"unparseable fare table: {msg}")
        if not isinstance(data, dict):
            raise InputError(str(path), None, "fare table must be a mapping (bands or base/steps)")
        return cls._from_mapping(data, str(path))

    @classmethod
    def _from_mapping(cls, data: dict, path: str) -> "FareTable":
        meta = dict(
            name=str(data.get("name") or ""),
            source=str(data.get("source") or "").strip(),
            notes=str(data.get("notes") or "").strip(),
            path=path,
        )
        has_bands = "bands" in data
        has_rule = "base" in data or "steps" in data
        if has_bands == has_rule:
            raise InputError(path, "bands", "give either 'bands' or a 'base' + 'steps' rule")
        if not meta["source"]:
            raise InputError(path, "source", "missing: say where the fares are published")
        if has_bands:
            rows = data["bands"]
            if not isinstance(rows, list) or not rows:
                raise InputError(path, "bands", "must be a non-empty list")
            bands = [_band_from_row(r, path, f"bands[{i}]") for i, r in enumerate(rows)]
            return cls._build(bands, None, meta)
        base = data.get("base")
        if not isinstance(base, dict):
            raise InputError(path, "base", "must be a mapping {max_km, fare_fen}")
        base_km = _num(base.get("max_km"), path, "base.max_km", positive=True)
        base_fare = _fen(base.get("fare_fen"), path, "base.fare_fen")
        bands = [FareBand(0.0, base_km, base_fare)]
        tail = None
        steps = data.get("steps") or []
        if not isinstance(steps, list):
            raise InputError(path, "steps", "must be a list")
        lo, fare = base_km, base_fare
        for i, st in enumerate(steps):
            where = f"steps[{i}]"
            if not isinstance(st, dict):
                raise InputError(path, where, "must be a mapping {up_to_km, every_km, add_fen}")
            every = _num(st.get("every_km"), path, f"{where}.every_km", positive=True)
            add = _fen(st.get("add_fen"), path, f"{where}.add_fen", positive=True)
            up_to = st.get("up_to_km")
            if up_to is None:
                if i != len(steps) - 1:
                    raise InputError(path, f"{where}.up_to_km", "only the last step may be open-ended")
                tail = FareTail(every, add)
                break
            up_to = _num(up_to, path, f"{where}.up_to_km", positive=True)
            if up_to <= lo:
                raise InputError(path, f"{where}.up_to_km", f"must exceed the previous limit {lo:g} km")
            n = (up_to - lo) / every
            if abs(n - round(n)) > 1e-9:
                raise InputError(
                    path, f"{where}.every_km", f"{lo:g}-{up_to:g} km is not a whole number of {every:g} km steps"
                )
            for _ in range(int(round(n))):
                fare += add
                bands.append(FareBand(lo, lo + every, fare))
                lo += every
            lo = up_to  # absorb float drift
            bands[-1] = FareBand(bands[-1].min_km, up_to, bands[-1].fare_fen)
        return cls._build(bands, tail, meta)

    @classmethod
    def _from_csv(cls, text: str, path: str) -> "FareTable":
        reader = csv.DictReader(io.StringIO(text))
        cols = [c.strip() for c in (reader.fieldnames or [])]
        for c in ("min_km", "max_km", "fare_fen"):
            if c not in cols:
                raise InputError(path, c, "required column absent (min_km, max_km, fare_fen)")
        bands = []
        for i, row in enumerate(reader, start=1):
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            if not any(row.values()):
                continue
            bands.append(_band_from_row(row, path, "bands", row_no=i))
        if not bands:
            raise InputError(path, "bands", "no fare bands")
        return cls._build(bands, None, dict(name="", source="", notes="", path=path))

    @classmethod
    def _build(cls, bands, tail, meta) -> "FareTable":
        try:
            return cls(bands=bands, tail=tail, **meta)
        except ValueError as e:
            raise InputError(meta["path"], "bands", str(e))

    def _validate(self) -> None:
        if not self.bands:
            raise ValueError("no fare bands")
        prev_hi, prev_fare = 0.0, None
        for i, b in enumerate(self.bands):
            if abs(b.min_km - prev_hi) > 1e-9:
                raise ValueError(f"band {i + 1} starts at {b.min_km:g} km, expected {prev_hi:g} km (contiguous from 0)")
            if not b.max_km > b.min_km:
                raise ValueError(f"band {i + 1}: max_km must exceed min_km")
            if b.max_km == _INF and i != len(self.bands) - 1:
                raise ValueError(f"band {i + 1}: only the last band may be open-ended")
            if b.fare_fen <= 0:
                raise ValueError(f"band {i + 1}: fare must be positive")
            if prev_fare is not None and b.fare_fen < prev_fare:
                raise ValueError(f"band {i + 1}: fares must not decrease with distance")
            prev_hi, prev_fare = b.max_km, b.fare_fen
        if self.tail is not None and self.bands[-1].max_km == _INF:
            raise ValueError("an open-ended last band cannot be followed by a step")

    # ------------------------------------------------------------------ queries
    @property
    def merged_bands(self) -> list[FareBand]:
        """Bands with adjacent equal fares merged (one band per fare)."""
        return list(self._merged)

    def fare_for_distance(self, km: float) -> int | None:
        """Full fare (fen) for a trip of ``km``; None beyond a finite table's last band."""
        km = float(km)
        if math.isnan(km) or km < 0:
            raise ValueError(f"distance must be >= 0 km, got {km!r}")
        for b in self._merged:
            if km <= b.max_km:
                return b.fare_fen
        if self.tail is None:
            return None
        last = self._merged[-1]
        k = math.ceil((km - last.max_km) / self.tail.every_km - _EPS)
        return last.fare_fen + max(k, 1) * self.tail.add_fen

    def band_for_fare(self, fen: float) -> tuple[float, float] | None:
        """``(min_km_exclusive, max_km_inclusive)`` of distances consistent with the full fare
        ``fen``; ``max_km`` is ``math.inf`` for an open-ended top fare; None when no distance
        gives that fare."""
        if fen is None:
            return None
        f = float(fen)
        if math.isnan(f) or f != int(f):
            return None
        f = int(f)
        for b in self._merged:
            if b.fare_fen == f:
                return (b.min_km, b.max_km)
        if self.tail is None:
            return None
        last = self._merged[-1]
        d = f - last.fare_fen
        if d <= 0 or d % self.tail.add_fen:
            return None
        k = d // self.tail.add_fen
        every = self.tail.every_km
        return (last.max_km + (k - 1) * every, last.max_km + k * every)

    def sql_band_case(self, fare_col: str) -> tuple[str, str]:
        """Two SQL CASE expressions ``(lo_sql, hi_sql)`` giving, per row, the band of the full fare
        in ``fare_col`` (any numeric SQL expression): NULL when no distance gives that fare;
        ``hi`` is ``'Infinity'::DOUBLE`` for an open-ended top fare. Check a distance with
        ``d > lo AND d <= hi`` (for the first band, ``lo`` is 0; a 0 km distance is left to
        ``records.validity``)."""
        f = f"({fare_col})"
        lo_parts, hi_parts = [], []
        for b in self._merged:
            lo_parts.append(f"WHEN {f} = {b.fare_fen} THEN {_lit(b.min_km)}")
            hi_parts.append(f"WHEN {f} = {b.fare_fen} THEN {_lit(b.max_km)}")
        if self.tail is not None:
            last = self._merged[-1]
            add, every = self.tail.add_fen, self.tail.every_km
            cond = f"{f} > {last.fare_fen} AND ({f} - {last.fare_fen}) % {add} = 0"
            k = f"(CAST({f} AS DOUBLE) - {last.fare_fen}) / {add}"
            lo_parts.append(f"WHEN {cond} THEN {_lit(last.max_km)} + ({k} - 1) * {_lit(every)}")
            hi_parts.append(f"WHEN {cond} THEN {_lit(last.max_km)} + {k} * {_lit(every)}")
        lo = "CASE " + " ".join(lo_parts) + " ELSE NULL END"
        hi = "CASE " + " ".join(hi_parts) + " ELSE NULL END"
        return lo, hi


# ---------------------------------------------------------------------- helpers
def _lit(x: float) -> str:
    from verifier.data.dialect import DIALECT

    return DIALECT.double(x)


def _num(v, path: str, fld: str, positive: bool = False, allow_none: bool = False) -> float | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        if allow_none:
            return None
        raise InputError(path, fld, "missing number")
    if isinstance(v, bool):
        raise InputError(path, fld, f"not a number: {v!r}")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise InputError(path, fld, f"not a number: {v!r}")
    if math.isnan(x) or math.isinf(x) or x < 0 or (positive and x <= 0):
        raise InputError(path, fld, f"must be a {'positive' if positive else 'non-negative'} finite number, got {v!r}")
    return x


def _fen(v, path: str, fld: str, positive: bool = True) -> int:
    x = _num(v, path, fld, positive=positive)
    if x != int(x):
        raise InputError(path, fld, f"fares are whole fen, got {v!r}")
    return int(x)


def _band_from_row(r, path: str, where: str, row_no: int | None = None) -> FareBand:
    if not isinstance(r, dict):
        raise InputError(path, where, "each band must be a mapping {min_km, max_km, fare_fen}", row=row_no)
    try:
        lo = _num(r.get("min_km"), path, f"{where}.min_km")
        hi = _num(r.get("max_km"), path, f"{where}.max_km", positive=True, allow_none=True)
        fare = _fen(r.get("fare_fen"), path, f"{where}.fare_fen")
    except InputError as e:
        if row_no is not None:
            e.row = row_no
            e.args = (str(e),)
        raise
    return FareBand(lo, _INF if hi is None else hi, fare)
