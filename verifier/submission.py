"""The submission package: `report.yaml` / `report.json` and the files it names.

Only what makes the package unreadable raises `InputError` (exit 2). A missing or malformed
report field is kept as found and judged by the `report.completeness` check.

The report is read defensively (it comes from the applicant):
- at most REPORT_MAX_BYTES (4 MiB; a report is a few kilobytes), checked before reading;
- YAML with a loader that refuses aliases (`*name`: a report repeats nothing by reference, and
  refusing them stops alias bombs before anything is expanded), duplicate keys (YAML and JSON)
  and nesting deeper than REPORT_MAX_DEPTH (32 levels; a report is 4 deep);
- a scalar YAML cannot build (an impossible date such as `2024-13-45`, an integer of thousands
  of digits) stays the text it is, for `report.completeness` to judge; JSON NaN/Infinity load
  as floats and are judged there too.
Each refusal is exit 2 naming the report file and the field path (`applicant.business_model`,
`monitored_data[0].value`; list positions count from 0).

Every file the report names (`data.trips` in all its forms, `data.users`,
`data.station_distances`, `data.taps`, `documents.*`) goes through `package_file`: named
relative to the package folder, it must resolve (symbolic links included) to a regular file
inside that folder, and is checked with `os.stat` before anything opens it (opening a named
pipe blocks). The one exception: `data.trips` written as a URI (`file://`, `hdfs://`, `s3a://`:
verifier.data.uris), which names data a cluster reads where it lives; only the Spark engine
accepts one. Option files (`--factors`, `--boundary`, `--fares`) are the verifier's own and may
live anywhere, but must be regular files too (`option_file`).
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from verifier.data.uris import DataUri, as_uri
from verifier.errors import InputError, field_path, quoted
from verifier.constants import ENCODINGS
from verifier.methodologies import REGISTRY, Methodology, get

REPORT_NAMES = ("report.yaml", "report.yml", "report.json")
REPORT_MAX_BYTES = 4 * 1024 * 1024
REPORT_MAX_DEPTH = 32
# The zone the records are read in when data.timezone names no known zone (a
# report.completeness finding): the methodologies' city, Shenzhen.
CITY_TIMEZONE = "Asia/Shanghai"
# Dates outside these years are no filing's dates (and 9999-12-31 has no next day).
PLAUSIBLE_YEARS = (1900, 2999)

_DATE_TEXT = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt]|[ \t]+)\d{1,2}:\d{2}:\d{2}(?:\.\d*)?"
                        r"(?:[ \t]*(?:Z|[-+]\d{1,2}(?::?\d{2})?))?)?")


def parse_date(value: Any, plausible: bool = True) -> date | None:
    """A date from YAML (already a date, or text YAML could not build) or JSON (ISO text, a
    YAML-style timestamp allowed); None if not one, or (`plausible`) outside PLAUSIBLE_YEARS."""
    if isinstance(value, datetime):
        found = value.date()
    elif isinstance(value, date):
        found = value
    elif isinstance(value, str):
        found = _date_of_text(value.strip())
    else:
        found = None
    if found is not None and plausible and not PLAUSIBLE_YEARS[0] <= found.year <= PLAUSIBLE_YEARS[1]:
        return None
    return found


def _date_of_text(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    match = _DATE_TEXT.fullmatch(text)
    if not match:
        return None
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def parse_number(value: Any) -> float | None:
    """A finite number, or None (booleans are not numbers here)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def known_timezone(name: Any) -> bool:
    """`name` is a time zone of the IANA database (as Python's zoneinfo knows it). Where
    zoneinfo has no database at all, every name passes (the engine still checks it)."""
    from zoneinfo import ZoneInfo

    def known(key) -> bool:
        try:
            ZoneInfo(key)
            return True
        except (KeyError, ValueError, TypeError, OSError, UnicodeError):
            return False

    return isinstance(name, str) and (known(name) or not known(CITY_TIMEZONE))


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
    data_files: dict[str, list[Path | DataUri]] = field(default_factory=dict)  # data.trips: also URIs
    documents: dict[Any, Path] = field(default_factory=dict)  # listed documents that exist: id -> file

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
    def timezone_declared(self) -> Any:
        """data.timezone as written (default Asia/Shanghai)."""
        declared = self.data.get("timezone")
        return CITY_TIMEZONE if declared in (None, "") else declared

    @property
    def timezone(self) -> str:
        """The zone naive timestamps are read in: data.timezone when it is a known zone, else
        CITY_TIMEZONE (report.completeness reports the unknown one)."""
        declared = self.timezone_declared
        return declared if known_timezone(declared) else CITY_TIMEZONE

    @property
    def crs(self) -> str:
        return str(self.data.get("crs") or "").lower()

    @property
    def column_map(self) -> dict[str, str]:
        cols = self.data.get("columns")
        return {str(k): str(v) for k, v in cols.items()} if isinstance(cols, dict) else {}

    @property
    def method(self) -> Methodology:
        """The methodology the report names (registered: load_submission refuses any other)."""
        return get(self.methodology)

    @property
    def uses_taps(self) -> bool:
        return "taps" in self.method.input_forms and not self.data.get("trips") and bool(self.data.get("taps"))


def half_unit(written: Any) -> float:
    """Half a unit in the last written decimal of a reported figure (its rounding)."""
    from decimal import Decimal, InvalidOperation

    text = written if isinstance(written, str) else _written(written)
    try:
        exponent = Decimal(text.strip()).as_tuple().exponent
    except (InvalidOperation, AttributeError, ValueError):
        return 0.0
    return 0.5 * 10.0 ** exponent if isinstance(exponent, int) else 0.0


def _written(value: Any) -> str:
    """The number as written (for 'the rounding of the reported figure'); YAML and JSON parse
    numbers before we see them, so trailing zeros are lost: the tolerance errs on leniency."""
    return repr(value) if isinstance(value, float) else str(value)


# -- the package folder -----------------------------------------------------------------------
def find_report(root: Path) -> Path:
    """The report: SUBMISSION itself when it is a file, else the first of REPORT_NAMES in it
    (a regular file inside the folder)."""
    try:
        mode = os.stat(root).st_mode
    except FileNotFoundError:
        raise InputError(root, None, "submission folder not found") from None
    except OSError as exc:
        raise InputError(root, None, f"cannot read: {exc.strerror}") from None
    if stat.S_ISREG(mode):
        return root
    if not stat.S_ISDIR(mode):
        raise InputError(root, None, f"{_kind(mode)}, not a package folder or a report file")
    for name in REPORT_NAMES:
        if os.path.lexists(root / name):
            package_file(root, None, name)
            return root / name
    raise InputError(root, "report.yaml", "no report.yaml or report.json in the submission folder")


def package_file(root: Path, field_name: str | None, value: Any, *, report: Path | None = None,
                 folder_ok: bool = False) -> Path:
    """The real path of the file `value` names, relative to the package folder `root`.

    InputError (naming `field_name`) unless it resolves, symbolic links included, inside the
    real package folder to a regular, readable file (with `folder_ok`: or to a folder whose
    .parquet members all are). Nothing is opened before os.stat says it is a regular file."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(report or root, field_name, f"expected a file name, got {quoted(value, 80)}")
    if "\x00" in value:
        raise InputError(report or root, field_name, f"not a file name: {quoted(value, 80)}")
    if Path(value).is_absolute():
        raise InputError(Path(value), field_name, "an absolute path; name files relative to the package folder")
    shown = root / value
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(shown))
    _require_inside(real, real_root, shown, field_name)
    mode = _mode(real, shown, field_name)
    if stat.S_ISDIR(mode) and folder_ok:
        _check_members(real, real_root, shown, field_name)
        return real
    _require_regular(mode, shown, field_name)
    try:
        with open(real, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise InputError(shown, field_name, f"cannot read: {exc.strerror}") from None
    return real


def _check_members(folder: Path, real_root: Path, shown: Path, field_name: str | None) -> None:
    """Every .parquet member of a trips folder: a regular file inside the package folder."""
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        raise InputError(shown, field_name, f"cannot read the folder: {exc.strerror}") from None
    for name in names:
        if Path(name).suffix.lower() != ".parquet":
            continue
        member = Path(os.path.realpath(folder / name))
        _require_inside(member, real_root, shown / name, field_name)
        _require_regular(_mode(member, shown / name, field_name), shown / name, field_name)


def option_file(path: Path | str, option: str) -> Path:
    """An option's file (--factors, --boundary, --fares): anywhere, but a regular file; checked
    with os.stat before it is opened (a named pipe would block the run)."""
    path = Path(path)
    _require_regular(_mode(path, path, option), path, option)
    return path


def _require_inside(real: Path, real_root: Path, shown: Path, field_name: str | None) -> None:
    if not real.is_relative_to(real_root):
        raise InputError(shown, field_name, f"resolves to {quoted(real)}, outside the package folder; "
                                            "a package names only files inside its folder")


def _mode(real: Path, shown: Path, field_name: str | None) -> int:
    """The file's mode from os.stat, which opens nothing (opening a named pipe would block)."""
    try:
        return os.stat(real).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(shown, field_name, "file not found") from None
    except OSError as exc:
        raise InputError(shown, field_name, f"cannot read: {exc.strerror}") from None


def _require_regular(mode: int, shown: Path, field_name: str | None) -> None:
    if not stat.S_ISREG(mode):
        raise InputError(shown, field_name, f"{_kind(mode)}, not a regular file")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file"


# -- loading ----------------------------------------------------------------------------------
def load_submission(path: Path | str) -> Submission:
    """Read and resolve the package; `InputError` for anything that makes it unreadable."""
    report_path = find_report(Path(path))
    root = report_path.parent
    raw = _read_report(report_path)
    methodology = raw.get("methodology")
    if not isinstance(methodology, str) or methodology not in REGISTRY:
        raise InputError(report_path, "methodology",
                         f"unknown methodology {quoted(methodology, 80)}; expected one of {', '.join(REGISTRY)}")
    sub = Submission(root=root, report_path=report_path, raw=raw, methodology=methodology)
    _check_data_section(sub)
    _check_documents(sub)
    return sub


def _read_report(path: Path) -> dict:
    data = _report_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(path, None, f"not UTF-8 text (line {line}); save the report as UTF-8") from None
    duplicates: dict[int, tuple] = {}
    raw = _load_json(path, text, duplicates) if path.suffix.lower() == ".json" else _load_yaml(path, text)
    if not isinstance(raw, dict):
        raise InputError(path, None, "the report must be a mapping of sections")
    _check_tree(path, raw, duplicates)
    return raw


def _report_bytes(path: Path) -> bytes:
    """The report's bytes: a regular file of at most REPORT_MAX_BYTES, checked before reading."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InputError(path, None, f"cannot read the report: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(path, None, f"{_kind(info.st_mode)}, not a regular file")
    too_big = InputError(path, None, f"the report is larger than {REPORT_MAX_BYTES // (1024 * 1024)} MiB "
                                     "(a report is a few kilobytes; the data go in the files it names)")
    if info.st_size > REPORT_MAX_BYTES:
        raise too_big
    try:
        with open(path, "rb") as fh:
            data = fh.read(REPORT_MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(path, None, f"cannot read the report: {exc.strerror}") from None
    if len(data) > REPORT_MAX_BYTES:
        raise too_big
    return data


def _too_deep(path: Path, where: list | tuple | None) -> InputError:
    shown = None
    if where:
        shown = field_path(*where[:4]) + ("…" if len(where) > 4 else "")
    return InputError(path, shown, f"nested deeper than {REPORT_MAX_DEPTH} levels (a report is 4 deep)")


# YAML: the C loader where PyYAML has it (the pure-Python composer is 10x slower).
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ReportLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """SafeLoader whose scalars never fail to build: a timestamp or an integer it cannot make
    (2024-13-45, thousands of digits) stays the text it is. Aliases, duplicate keys and depth
    are checked on the composed nodes (`_check_nodes`) before anything is constructed."""


def _lenient(construct):
    def build(loader, node):
        try:
            return construct(loader, node)
        except (ValueError, OverflowError):
            return loader.construct_scalar(node)
    return build


ReportLoader.add_constructor("tag:yaml.org,2002:timestamp", _lenient(yaml.SafeLoader.construct_yaml_timestamp))
ReportLoader.add_constructor("tag:yaml.org,2002:int", _lenient(yaml.SafeLoader.construct_yaml_int))


def _yaml_failure(path: Path, exc: yaml.YAMLError, text: str) -> InputError:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        line, problem = text[: max(exc.position, 0)].count("\n"), f"{exc.reason} ({char!r})"
    else:
        line = mark.line if mark is not None else None
    where = f" (line {line + 1})" if line is not None else ""
    return InputError(path, None, f"not valid YAML{where}" + (f": {problem}" if problem else ""))


def _load_yaml(path: Path, text: str) -> Any:
    loader = ReportLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:  # the pure-Python composer, thousands of levels deep
            raise _too_deep(path, _yaml_path_at_depth(text)) from None
        except yaml.YAMLError as exc:
            if "nesting depth" in str(exc):  # libyaml stops at 1000 levels
                raise _too_deep(path, _yaml_path_at_depth(text)) from None
            raise _yaml_failure(path, exc, text) from None
        if node is None:
            return None
        _check_nodes(path, node)
        try:
            return loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise _yaml_failure(path, exc, text) from None
    finally:
        loader.dispose()


def _check_nodes(path: Path, root: yaml.Node) -> None:
    """Refuse aliases (a node reached twice), duplicate keys and nesting deeper than
    REPORT_MAX_DEPTH, naming the field; in document order."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, tuple, int]] = [(root, (), 1)]
    while stack:
        node, where, depth = stack.pop()
        if id(node) in seen:
            raise InputError(path, field_path(*where) or None,
                             "a YAML alias (*name): a report repeats no value by reference; write the value out")
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            continue
        if depth > REPORT_MAX_DEPTH:
            raise _too_deep(path, list(where))
        children = []
        if isinstance(node, yaml.MappingNode):
            keys: set = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    name = key.value
                    if (key.tag, name) in keys:
                        raise InputError(path, field_path(*where, name),
                                         "given twice (a duplicate key); give each field once")
                    keys.add((key.tag, name))
                else:
                    name = "?"
                    children.append((key, where + ("?",), depth + 1))
                children.append((value, where + (name,), depth + 1))
        else:
            children = [(item, where + (i,), depth + 1) for i, item in enumerate(node.value)]
        stack.extend(reversed(children))


def _yaml_path_at_depth(text: str) -> list | None:
    """The field path where the nesting first exceeds REPORT_MAX_DEPTH (from the event stream:
    only on the failure path, when the composer gave up)."""
    frames: list[dict] = []
    try:  # the pure-Python parser: libyaml refuses to scan that deep before it yields an event
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionEndEvent):
                frames.pop()
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue
            name: Any = None
            if frames:
                parent = frames[-1]
                if parent["map"] and parent["expect_key"]:
                    parent["expect_key"] = False
                    parent["key"] = event.value if isinstance(event, yaml.ScalarEvent) else "?"
                    if not isinstance(event, yaml.CollectionStartEvent):
                        continue
                    name = "?"
                elif parent["map"]:
                    parent["expect_key"] = True
                    name = parent["key"]
                else:
                    name = parent["index"]
                    parent["index"] += 1
            if isinstance(event, yaml.CollectionStartEvent):
                frames.append({"map": isinstance(event, yaml.MappingStartEvent), "expect_key": True,
                               "key": None, "index": 0, "name": name})
                if len(frames) > REPORT_MAX_DEPTH:
                    return [f["name"] for f in frames[1:]]
    except yaml.YAMLError:
        pass
    return None


def _load_json(path: Path, text: str, duplicates: dict[int, tuple]) -> Any:
    def pairs(items):
        out: dict = {}
        for key, value in items:
            if key in out and id(out) not in duplicates:
                duplicates[id(out)] = (key, out)  # the mapping kept alive: its id stays its own
            out[key] = value
        return out

    def integer(digits: str):
        try:
            return int(digits)
        except ValueError:  # beyond Python's digit limit: text, judged by report.completeness
            return digits

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_int=integer)
    except json.JSONDecodeError as exc:
        raise InputError(path, None, f"not valid JSON (line {exc.lineno}): {exc.msg}") from None
    except RecursionError:
        raise _too_deep(path, _json_path_at_depth(text)) from None


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]')


def _json_path_at_depth(text: str) -> list | None:
    """The field path where JSON nesting first exceeds REPORT_MAX_DEPTH (failure path only)."""
    frames: list[dict] = []
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        parent = frames[-1] if frames else None
        if token in "{[":
            name = None if parent is None else (parent["key"] if parent["map"] else parent["index"])
            frames.append({"map": token == "{", "key": None, "index": 0, "name": name, "expect_key": True})
            if len(frames) > REPORT_MAX_DEPTH:
                return [f["name"] for f in frames[1:]]
        elif token in "}]":
            if frames:
                frames.pop()
        elif parent is None:
            continue
        elif token == ",":
            parent["index"] += 1
            parent["expect_key"] = True
        elif token == ":":
            parent["expect_key"] = False
        elif parent["map"] and parent["expect_key"]:
            try:
                parent["key"] = json.loads(token)
            except ValueError:
                parent["key"] = "?"
    return None


def _check_tree(path: Path, raw: Any, duplicates: dict[int, tuple]) -> None:
    """The loaded report: no duplicate key (JSON), no nesting beyond REPORT_MAX_DEPTH, no text
    that is not Unicode (a lone surrogate escape cannot be written to findings.json)."""
    stack: list[tuple[Any, tuple, int]] = [(raw, (), 1)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            if not _encodable(value):
                raise InputError(path, field_path(*where) or None, "text with a lone surrogate (\\ud800-\\udfff); "
                                                                   "not Unicode text")
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > REPORT_MAX_DEPTH:
            raise _too_deep(path, list(where))
        if isinstance(value, dict):
            if id(value) in duplicates:
                raise InputError(path, field_path(*where, duplicates[id(value)][0]),
                                 "given twice (a duplicate key); give each field once")
            children = []
            for key, item in value.items():
                if isinstance(key, str) and not _encodable(key):
                    raise InputError(path, field_path(*where) or None, "a key with a lone surrogate; not Unicode text")
                children.append((item, where + (key,), depth + 1))
        else:
            children = [(item, where + (i,), depth + 1) for i, item in enumerate(value)]
        stack.extend(reversed(children))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


# -- the data section and the documents ----------------------------------------------------
def _check_data_section(sub: Submission) -> None:
    data = sub.raw.get("data")
    where = sub.report_path
    if not isinstance(data, dict):
        raise InputError(where, "data", "no data section naming the trip data")
    forms = sub.method.input_forms  # "trips" first: a package naming both reads the trips
    key = next((k for k in forms if data.get(k)), forms[0])
    if not data.get(key):
        raise InputError(where, " / ".join(f"data.{k}" for k in forms), "no trip data named")
    if sub.encoding not in ENCODINGS:
        raise InputError(where, "data.encoding", f"unsupported encoding {quoted(data.get('encoding'), 80)}; use utf-8 or gbk")
    unknown = sorted(set(sub.column_map) - set(sub.method.columns))
    if unknown:
        raise InputError(where, "data.columns", f"unknown canonical column(s): {', '.join(quoted(c, 80) for c in unknown)}")
    named = data.get(key)
    items = named if isinstance(named, list) else [named]
    sub.data_files[key] = [
        _trips_uri(where, name, value) if key == "trips" and as_uri(value) else
        package_file(sub.root, name, value, report=where, folder_ok=key == "trips")
        for i, value in enumerate(items)
        for name in [field_path("data", key, i) if isinstance(named, list) else f"data.{key}"]]
    for role in ("users", "station_distances"):
        if data.get(role):
            sub.data_files[role] = [package_file(sub.root, f"data.{role}", data[role], report=where)]


def _trips_uri(report: Path, field_name: str, value: str) -> DataUri:
    """`data.trips` written as a URI (verifier.data.uris): kept as written, for an engine that
    reads URIs (the run refuses it on any other). A `file://` URI must name a local file or
    folder; another scheme's data is checked where it lives, by the cluster."""
    uri = as_uri(value)
    if "\x00" in uri or uri.scheme == "file" and uri.local is None:
        raise InputError(report, field_name, f"not a URI the engine can read: {quoted(value, 200)}")
    if uri.local is not None:
        mode = _mode(uri.local, uri.local, field_name)
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            raise InputError(uri.local, field_name, f"{_kind(mode)}, not a Parquet file or folder")
    return uri


def _check_documents(sub: Submission) -> None:
    """`documents` (id -> file): a file that does not exist is left to documents.materials (it
    reports it missing); one that resolves outside the package folder, or to anything but a
    regular file, is exit 2 naming `documents.<id>`."""
    docs = sub.raw.get("documents")
    if not isinstance(docs, dict):
        return
    for doc_id, value in docs.items():
        if not isinstance(value, str) or not value.strip():
            continue  # not a file name: documents.materials reports it missing
        try:
            sub.documents[doc_id] = package_file(sub.root, field_path("documents", doc_id), value,
                                                 report=sub.report_path)
        except InputError as err:
            if err.message != "file not found":
                raise
