"""Exceptions that cross module boundaries.

`InvalidAnswer` is the one every parser raises: an unreadable answer is not a wrong answer,
it earns status ``invalid`` and the message is shown to the student, so it must say what
broke, where, and show a form that is accepted.

Where: ``position`` indexes ``source``, the text as the student typed it (or the piece of it a
reader was given, e.g. one matrix entry), never a normalised copy: readers map positions back
before raising.  ``message`` quotes an excerpt with a caret under ``position`` on its own;
``feedback()`` puts the excerpt and caret on lines of their own at the end, so that whatever
a report puts in front of the feedback, the caret stays under the character that broke.
"""

from __future__ import annotations

import unicodedata

# bidi controls never reach an excerpt as themselves (they would reorder the line)
_UNSHOWN = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
EXCERPT_WIDTH = 30
POINTER_INDENT = "    "


def _shown(c: str) -> str:
    return c if c == " " or (c.isprintable() and c not in _UNSHOWN) else "?"


def _width(text: str) -> int:
    """Columns `text` takes in a monospace font: wide characters 2, combining marks 0."""
    cols = 0
    for c in text:
        if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me"):
            continue
        cols += 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
    return cols


def excerpt(text: str, pos: int, width: int = EXCERPT_WIDTH) -> tuple[str, int]:
    """A one-line window of ``text`` around ``pos`` and the caret's column inside it."""
    pos = max(0, min(pos, len(text)))
    start = max(0, pos - width)
    end = min(len(text), pos + width)
    pre = "…" if start > 0 else ""
    post = "…" if end < len(text) else ""
    window = "".join(_shown(c) for c in text[start:end])
    before = "".join(_shown(c) for c in text[start:pos])
    return pre + window + post, len(pre) + _width(before)


def located(what: str, text: str, pos: int) -> str:
    """``what at column N: <excerpt>`` plus a caret line under the offending character."""
    pos = max(0, min(pos, len(text)))
    snippet, caret = excerpt(text, pos)
    head = f"{what} at column {pos + 1}: "
    return f"{head}{snippet}\n{' ' * (_width(head) + caret)}^"


class InvalidAnswer(Exception):
    """A student's answer could not be read (or is too large/complex to check safely)."""

    def __init__(
        self,
        message: str,
        *,
        position: int | None = None,
        expected: str | None = None,
        example: str | None = None,
        source: str | None = None,
    ) -> None:
        super().__init__(message)
        #: what broke, in one line, without the location
        self.what = message
        self.position = position
        self.expected = expected
        self.example = example
        #: the text `position` indexes, as typed; None when the message points nowhere
        self.source = source

    @property
    def is_located(self) -> bool:
        return self.source is not None and self.position is not None

    @property
    def message(self) -> str:
        """What broke, with the column, an excerpt and a caret line when it is located."""
        if self.is_located:
            return located(self.what, self.source, self.position)  # type: ignore[arg-type]
        return self.what

    @message.setter
    def message(self, value: str) -> None:
        self.what = value

    def __str__(self) -> str:
        return self.message

    def pointer(self) -> str:
        """Two lines: the excerpt of the source and a caret under the character that broke."""
        if not self.is_located:
            return ""
        snippet, caret = excerpt(self.source, self.position)  # type: ignore[arg-type]
        return f"{POINTER_INDENT}{snippet}\n{POINTER_INDENT}{' ' * caret}^"

    def relocate(self, source: str, position: int | None) -> "InvalidAnswer":
        """Point into `source` (the larger text the piece that broke came from) instead."""
        self.source, self.position = source, position
        return self

    def feedback(self) -> str:
        """One readable paragraph for the report, then the excerpt and the caret."""
        text = self.what
        if text.endswith(".") and not text.endswith(".."):  # keep an ellipsis
            text = text[:-1]
        if self.is_located:
            text += f" at column {self.position + 1}"  # type: ignore[operator]
        if not text.endswith("."):
            text += "."
        if self.expected:
            text += f" Expected {self.expected}."
        if self.example:
            text += f" An accepted form: `{self.example}`."
        if self.is_located:
            text += "\n" + self.pointer()
        return text


class TooComplex(InvalidAnswer):
    """The answer is syntactically fine but exceeds a size/time cap."""
