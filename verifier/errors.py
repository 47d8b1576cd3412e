"""The errors users see: one line on stderr, never a traceback.

`InputError` (exit 2): the package or an option cannot be read. `EnvironmentFailure` (exit 3):
the machine failed the run (memory, disk, a missing font or library), not the applicant.
"""

from __future__ import annotations


class InputError(Exception):
    """A submission file, field or option that cannot be read.

    Rendered as ``<file>: <field>[, row N]: <message>`` on one line.
    """

    exit_code = 2

    def __init__(self, file: str, field: str | None, message: str, row: int | None = None):
        self.file = str(file)
        self.field = field
        self.row = row
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file
        if self.field:
            where += f": {self.field}"
        if self.row is not None:
            where += f", row {self.row}"
        return f"{where}: {self.message}"


class EnvironmentFailure(Exception):
    """Out of memory, disk full, a missing font or system library: exit 3, one line saying what
    ran out and what helps (an option, a package to install)."""

    exit_code = 3

    def __init__(self, what: str, hint: str):
        self.what = what
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.what}; {self.hint}"
