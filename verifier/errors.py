"""The errors users see: one line on stderr, never a traceback.

`InputError` (exit 2): the package or an option cannot be read. `EnvironmentFailure` (exit 3):
the machine failed the run (memory, disk, a missing font or library), not the applicant.

A submitter controls file names, report keys and cell values. Every such value is shown quoted,
repr-style (`quoted`, `field_path`; a file given as a `Path` is quoted by `InputError` itself), so
that a newline or a ': ' inside it cannot forge a second line or another field; and `one_line`
escapes whatever control character is left, as the last line of defence.
"""

from __future__ import annotations

import unicodedata
from pathlib import PurePath
from typing import Any

# Characters that must never reach the terminal raw: controls (newline, escape, ...), format
# characters (bidirectional overrides, zero-width), surrogates, private use, unassigned, and the
# Unicode line and paragraph separators.
_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def escape_hidden(text: Any, keep: str = "") -> str:
    """`text` with every control, format or other unseen character (but those in `keep`) written
    as its Python escape (`\\n`, `\\x00`, `\\u202e`): what a terminal, the report and the
    workpaper show of a submitted value."""
    text = str(text)
    if text.isprintable():  # the usual case
        return text
    return "".join(repr(ch)[1:-1] if ch not in keep and unicodedata.category(ch) in _UNSAFE else ch
                   for ch in text)


def one_line(text: Any) -> str:
    """`text` as exactly one line that cannot rewrite the terminal (line breaks escaped too)."""
    return escape_hidden(text)


def quoted(value: Any, limit: int | None = None) -> str:
    """A value from the submission, quoted repr-style: `'trips.csv'`, `'a\\nb'`; with `limit`, at
    most that many characters (a 4 MiB value is no message)."""
    text = repr(str(value)) if isinstance(value, PurePath) else repr(value)
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."


def field_path(*parts: Any) -> str:
    """A dotted field path (`documents.application_form`, `monitored_data[0].value`): keys that
    are not plain identifiers are quoted, list indices (ints) are shown as `[i]`."""
    out = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
            continue
        text = part if isinstance(part, str) and part.isidentifier() and len(part) <= 80 else quoted(part, 80)
        out += ("." if out else "") + text
    return out


class InputError(Exception):
    """A submission file, field or option that cannot be read.

    Rendered as ``<file>: <field>[, row N]: <message>`` on one line. A `file` given as a `Path`
    is a file name and is shown quoted; a `str` is a label of ours ("command line"). Callers
    quote submission values inside `field` and `message` (`quoted`, `field_path`, ``!r``)."""

    exit_code = 2

    def __init__(self, file: str | PurePath, field: str | None, message: str, row: int | None = None):
        self.file = str(file)
        self._file_quoted = isinstance(file, PurePath)
        self.field = field
        self.row = row
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = quoted(self.file) if self._file_quoted else self.file
        if self.field:
            where += f": {self.field}"
        if self.row is not None:
            where += f", row {self.row}"
        return one_line(f"{where}: {self.message}")

    def __reduce__(self):  # pickled whole, as it crosses from a worker or the report helper
        return _restored, (type(self), self.__dict__)


class EnvironmentFailure(Exception):
    """Out of memory, disk full, a missing font or system library: exit 3, one line saying what
    ran out and what helps (an option, a package to install)."""

    exit_code = 3
    engine_threads = False  # the engine's worker threads were running: leave without a shutdown

    def __init__(self, what: str, hint: str):
        self.what = what
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        return one_line(f"{self.what}; {self.hint}")

    def __reduce__(self):
        return _restored, (type(self), self.__dict__)


def _restored(cls, state: dict) -> Exception:
    """An error of ours as it was pickled: its fields (its constructor wants them apart)."""
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, str(err))
    return err
