"""The one error users see for input the tool cannot read: exit code 2, one line, no traceback."""

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
