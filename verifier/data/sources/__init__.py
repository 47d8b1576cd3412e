"""The input layer: a submission's records, whatever their form, staged into the engine.

An adapter per input form, behind one interface (`InputForm.stage`): trip files (CSV, Parquet, a
folder of Parquet files; `TripFiles`) and raw tap files (`TapFiles`, whose pairing into trips is
its derivation step, verifier.data.sources.taps). They share the text handling (encodings, GBK
transcoding, line-accurate errors: verifier.data.sources.text), the CSV dialect and the one time
parser (the dialect's `local_time`: naive times are local in data.timezone, explicit offsets are
honoured).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from verifier.data.sources.base import TripSource
from verifier.data.sources.csv import CsvSource
from verifier.data.sources.parquet import ParquetSource
from verifier.data.uris import DataUri
from verifier.data.sources.text import csv_read_error, duckdb_reason, locate_csv_problem
from verifier.errors import InputError

__all__ = ["TripSource", "CsvSource", "ParquetSource", "InputSpec", "Staged", "open_source", "stage_input",
           "csv_read_error", "duckdb_reason", "locate_csv_problem"]


def open_source(paths: list[Path], encoding: str, engine, field_name: str = "data.trips") -> TripSource:
    """Classify the named file(s) (transcoding GBK CSV into the engine's work folder) and read
    the column names."""
    files: list[Path] = []
    kinds: set[type[TripSource]] = set()
    for path in paths:
        if isinstance(path, DataUri):  # a Parquet file or folder the engine reads where it lives
            files.append(path)
            kinds.add(ParquetSource)
        elif path.is_dir():
            parts = sorted(p for p in path.iterdir() if p.suffix.lower() == ".parquet")
            if not parts:
                raise InputError(path, field_name, "folder holds no .parquet files")
            files += parts
            kinds.add(ParquetSource)
        elif path.suffix.lower() == ".parquet":
            files.append(path)
            kinds.add(ParquetSource)
        elif path.suffix.lower() in (".csv", ".txt"):
            files.append(path)
            kinds.add(CsvSource)
        else:
            raise InputError(path, field_name, "unsupported file type; use .csv, .parquet or a folder of .parquet files")
    if len(kinds) > 1:
        raise InputError(paths[0], field_name, "mixes CSV and Parquet files")
    source = kinds.pop().prepare(files, list(paths), encoding, engine.workdir, field_name)
    source.types = engine.describe(source)
    source.columns = list(source.types)
    source.check_columns()
    return source


@dataclass(frozen=True)
class InputSpec:
    """What staging needs to know of the submission and its methodology."""

    files: dict[str, list[Path]]  # role (trips, taps, users, station_distances) -> files
    encoding: str
    timezone: str
    canonical: dict[str, Any]  # the methodology's canonical columns: name -> methodologies.Column
    required: tuple[str, ...]
    column_map: dict[str, str]
    coordinates: bool = False  # the records carry points (start/end lon, lat)
    boundary: Any = None  # test the points against it (with coordinates)
    districts: Any = None  # locate the start points in them (geo.districts.Districts, the data's crs)
    derived: dict[str, str] | None = None  # columns the record checks derive (name -> SQL)
    tap_format: str = "shenzhen-tong"
    form: str = "trips"  # the adapter: a key of FORMS


@dataclass(frozen=True)
class Staged:
    """The staged records: the canonical column -> file column map, the count, and what the
    form tells the checks."""

    columns: dict[str, str | None]
    population: int
    source: TripSource | None = None  # the trip files (None for taps)
    tap_stats: Any = None  # taps: verifier.data.sources.taps.PairingStats
    has_fares: bool = False  # the records carry the fare paid (tap data)
    station_table: bool = False


class TripFiles:
    """Trip records as submitted (CSV, Parquet, a folder of Parquet files)."""

    def stage(self, engine, spec: InputSpec) -> Staged:
        source = open_source(spec.files["trips"], spec.encoding, engine)
        columns = source.resolve(spec.column_map, tuple(spec.canonical), spec.required)
        population = engine.stage(source, columns, spec.timezone, spec.boundary, _users(spec), spec.encoding,
                                  derived=spec.derived, canonical=spec.canonical, coordinates=spec.coordinates,
                                  districts=spec.districts)
        return Staged(columns, population, source=source)


class TapFiles:
    """Raw tap records, paired into trips in the engine (the derivation step) and staged."""

    def stage(self, engine, spec: InputSpec) -> Staged:
        from verifier.data.sources.taps import TAP_TABLE, stage_trips

        engine.set_timezone(spec.timezone)  # the tap times are read in it
        stats = stage_trips(engine, spec.files["taps"], encoding=spec.encoding, tap_format=spec.tap_format)
        columns = {c: c for c in spec.canonical}
        relation = _tap_records(TAP_TABLE)
        population = engine.stage(None, columns, spec.timezone, spec.boundary, _users(spec), spec.encoding,
                                  relation=relation, extra_columns=("fare_fen",), derived=spec.derived,
                                  canonical=spec.canonical, coordinates=spec.coordinates, districts=spec.districts)
        return Staged(columns, population, tap_stats=stats, has_fares=True)


def _tap_records(table: str) -> str:
    """The paired trips with row_no, their order by (source_file, source_row): a file's offset
    (trips in the files before it) plus the row's number within its file, so the numbering is
    one window per file, in parallel on Spark, not one window over every trip in one task."""
    return (f"(SELECT t.*, CAST(o.row0 + row_number() OVER (PARTITION BY t.source_file ORDER BY t.source_row) "
            f"AS BIGINT) AS row_no FROM {table} t JOIN (SELECT source_file, coalesce(sum(n) OVER (ORDER BY "
            f"source_file ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS row0 FROM (SELECT source_file, "
            f"count(*) AS n FROM {table} GROUP BY source_file) c) o ON t.source_file = o.source_file)")


FORMS = {"trips": TripFiles(), "taps": TapFiles()}


def stage_input(engine, spec: InputSpec) -> Staged:
    """Stage the records by the adapter of their form, then the station table."""
    staged = FORMS[spec.form].stage(engine, spec)
    stations = spec.files.get("station_distances")
    if stations:
        engine.attach_station_distances(stations[0], spec.encoding, fill_missing=spec.form == "taps")
        staged = replace(staged, station_table=True)
    return staged


def _users(spec: InputSpec) -> Path | None:
    return spec.files.get("users", [None])[0]
