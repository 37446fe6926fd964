"""The one exception type users see: what is wrong, and what to do about it."""

from __future__ import annotations


class FinebenchError(Exception):
    """A problem with the user's input or environment, with the fix spelled out.

    The CLI prints ``str(error)`` without a traceback and exits with status 2, so the
    message must stand on its own: name the file or value, then the remedy.
    """

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = problem
        self.fix = fix
        super().__init__(problem if fix is None else f"{problem}\n  fix: {fix}")
