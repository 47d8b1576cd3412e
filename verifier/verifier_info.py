"""The verification body's own fields (`verify --verifier-info FILE`): report number, body,
accreditation number, team, reviewer, site-visit date and report version.

A small YAML the verifier writes (`samples/verifier-info.example.yaml`). It is read strictly:
an unknown key, a value of the wrong kind or a bad date is exit 2 naming the file and the key.
The fields go into findings.json as the `verification` block, so a report rendered again from
findings.json keeps them; a field left out is null there and a blank line on the cover.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from verifier.errors import InputError, quoted
from verifier.findings import Findings

OPTION = "--verifier-info"
MAX_BYTES = 64 * 1024  # a dozen lines; anything larger is not this file
TEXT_FIELDS = ("report_number", "verification_body", "accreditation_number", "team_leader", "reviewer")
VERSIONS = ("initial", "final")
FIELDS = TEXT_FIELDS + ("members", "site_visit_date", "report_version")
MAX_TEXT = 200  # characters in one field: a name or a number, not a document


def load_verifier_info(path: Path | str) -> dict:
    """The `verification` block from FILE: every field, None where left out (InputError when
    the file is unreadable or a field is wrong)."""
    from verifier.submission import _load_yaml, option_file

    path = option_file(path, OPTION)
    raw = _load_yaml(path, _read_text(path))
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError(path, OPTION, "expected a mapping of fields (see samples/verifier-info.example.yaml)")
    unknown = [k for k in raw if k not in FIELDS]
    if unknown:
        raise InputError(path, f"{OPTION}: {quoted(unknown[0], 80)}",
                         f"unknown key; expected any of {', '.join(FIELDS)}")
    info: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        info[name] = _text(path, name, raw.get(name))
    info["members"] = _members(path, raw.get("members"))
    info["site_visit_date"] = _date(path, raw.get("site_visit_date"))
    info["report_version"] = _version(path, raw.get("report_version"))
    return {name: info[name] for name in FIELDS}


def apply_verifier_info(findings: Findings, info: dict | None) -> Findings:
    """`findings` with the `verification` block; the report number it gives replaces the
    generated one (which stays the default)."""
    if info is None:
        return findings
    report = dict(findings.report)
    if info.get("report_number"):
        report["number"] = info["report_number"]
    return replace(findings, verification=info, report=report)


def _read_text(path: Path) -> str:
    """The file's text (a regular file: option_file checked it), at most MAX_BYTES."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise InputError(path, OPTION, f"larger than {MAX_BYTES // 1024} KiB (a dozen lines are expected)")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, OPTION, "not UTF-8 text") from None
    except OSError as exc:
        raise InputError(path, OPTION, f"cannot read: {exc.strerror or exc}") from None


def _field(name: str) -> str:
    return f"{OPTION}: {name}"


def _text(path: Path, name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(path, _field(name), f"expected text, got {quoted(value, 60)}")
    text = str(value).strip()
    if len(text) > MAX_TEXT:
        raise InputError(path, _field(name), f"longer than {MAX_TEXT} characters")
    return text or None


def _members(path: Path, value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):  # one member written as text
        value = [value]
    if not isinstance(value, list):
        raise InputError(path, _field("members"), "expected a list of names")
    names = [_text(path, f"members[{i}]", v) for i, v in enumerate(value)]
    return [n for n in names if n] or None


def _date(path: Path, value: Any) -> str | None:
    from verifier.submission import parse_date

    if value is None:
        return None
    parsed = parse_date(value) if isinstance(value, (str, date)) else None
    if parsed is None or (isinstance(value, str) and parsed.isoformat() != value.strip()):
        raise InputError(path, _field("site_visit_date"), f"not a date YYYY-MM-DD: {quoted(value, 60)}")
    return parsed.isoformat()


def _version(path: Path, value: Any) -> str | None:
    if value is None:
        return None
    if value not in VERSIONS:
        raise InputError(path, _field("report_version"), f"expected initial or final, got {quoted(value, 60)}")
    return value
