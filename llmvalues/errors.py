"""The error raised for bad user input: files, params, command-line values."""

from __future__ import annotations


class InputError(ValueError):
    """Invalid user input, reported on one line as ``source: field: problem; fix``.

    ``source`` is the file (or ``--option``) the input came from, ``field`` the
    key, column, item or line inside it, and ``fix`` tells the user what to change.
    """

    def __init__(self, source: str, field: str | None, problem: str, fix: str | None = None):
        self.source = str(source)
        self.field = field
        self.problem = problem
        self.fix = fix
        parts = [self.source]
        if field:
            parts.append(field)
        message = ": ".join(parts) + f": {problem}"
        if fix:
            message += f"; {fix}"
        super().__init__(message)
