"""Exceptions that cross module boundaries.

`InvalidAnswer` is the one every parser raises: an unreadable answer is not a wrong answer,
it earns status ``invalid`` and the message is shown to the student, so it must say what
broke, where, and show a form that is accepted.
"""

from __future__ import annotations


class InvalidAnswer(Exception):
    """A student's answer could not be read (or is too large/complex to check safely)."""

    def __init__(
        self,
        message: str,
        *,
        position: int | None = None,
        expected: str | None = None,
        example: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.expected = expected
        self.example = example

    def feedback(self) -> str:
        """One readable paragraph for the report."""
        text = self.message.rstrip(".") + "."
        if self.expected:
            text += f" Expected {self.expected}."
        if self.example:
            text += f" An accepted form: `{self.example}`."
        return text


class TooComplex(InvalidAnswer):
    """The answer is syntactically fine but exceeds a size/time cap."""


class StoreError(Exception):
    """The grade store cannot be opened or written (a bad `--db` URL, a database that is down,
    a full disk): one line for the user, never a traceback."""
