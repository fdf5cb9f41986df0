"""What every reader does to an answer's text before and after reading it: cap its length,
strip a maths-mode wrapper, quote it in a message, attach an accepted form to an error."""

from __future__ import annotations

import unicodedata
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterator

from grader.errors import InvalidAnswer, TooComplex

# Maths-mode wrappers students paste from LaTeX: `$...$`, `$$...$$`, `\(...\)`, `\[...\]`.
MATH_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


# Compatibility variants that mean the plain character (full-width `６１７０６`, half-width
# forms, mathematical italic `𝑥` pasted from an equation editor): NFKC folds each to one
# character.  Other compatibility mappings are meaningful here and stay (`²` is a power, `½`
# is not `1⁄2` inside `3½`).
_FOLDED_TAGS = ("<wide>", "<narrow>", "<font>")


@lru_cache(maxsize=4096)
def folded_char(ch: str) -> str:
    """`ch` as its plain character when it is a width or font variant, else `ch`."""
    if ch.isascii():
        return ch
    if unicodedata.decomposition(ch).startswith(_FOLDED_TAGS):
        plain = unicodedata.normalize("NFKC", ch)
        if len(plain) == 1:
            return plain
    return ch


def fold_width(text: str) -> str:
    """`text` with width and font variants folded (NFKC on those only); same length, so
    every position in the result is the same position in `text`."""
    if text.isascii():
        return text
    return "".join(folded_char(c) for c in text)


def check_length(text: str, limit: int, what: str = "answer", example: str | None = None) -> None:
    """Refuse before doing any work on text longer than `limit`."""
    if len(text) > limit:
        raise TooComplex(
            f"the {what} is {len(text):,} characters long; at most {limit:,} are read",
            expected=f"a {what} of at most {limit:,} characters",
            example=example,
        )


def unwrap_math(text: str) -> tuple[str, int]:
    """`text` inside its maths-mode wrappers (`$...$`, `\\[...\\]`, nested ones too) and the
    offset in `text` where that starts; `text` itself at offset 0 when it has none."""
    inner, offset = text, 0
    while True:
        stripped = inner.strip()
        if not stripped.startswith(("$", "\\")):
            return inner, offset
        lead = len(inner) - len(inner.lstrip())
        for left, right in MATH_WRAPPERS:
            if len(stripped) >= len(left) + len(right) and stripped.startswith(left) and stripped.endswith(right):
                inner, offset = stripped[len(left) : len(stripped) - len(right)], offset + lead + len(left)
                break
        else:
            return inner, offset


def strip_math(text: str) -> str:
    """`text` without surrounding whitespace and maths-mode wrappers."""
    return unwrap_math(text)[0].strip()


def count_native(value: Any, limit: int) -> int:
    """Number of leaves in a nested native list; refuses past `limit` before walking further."""
    leaves = nodes = 0
    stack = [value]
    while stack:
        item = stack.pop()
        nodes += 1
        if isinstance(item, (list, tuple)):
            if len(item) > limit or nodes > 2 * limit + 16:
                leaves = limit + 1
                break
            stack.extend(item)
        else:
            leaves += 1
            if leaves > limit:
                break
    if leaves > limit:
        raise TooComplex(f"the answer has more than {limit:,} entries", expected=f"at most {limit:,} entries")
    return leaves


def describe_native(raw: Any) -> str:
    """What kind of native value a student gave, for messages."""
    if isinstance(raw, bool):
        return "true/false"
    if isinstance(raw, (list, tuple)):
        return f"a list of {len(raw)} item{'s' if len(raw) != 1 else ''}"
    if isinstance(raw, dict):
        return "a table"
    if hasattr(raw, "isoformat"):
        return f"a date or time ({raw.isoformat()})"
    return type(raw).__name__


def short(text: str, limit: int = 30) -> str:
    """A piece of the student's text, cut for quoting in a message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def point_into(exc: InvalidAnswer, whole: Any) -> InvalidAnswer:
    """An error located in one piece of `whole` (a matrix entry, a shape's dimension) pointed
    at the same character of `whole` instead, when that piece occurs in it exactly once (so
    the place is certain); otherwise it keeps pointing into the piece, which is typed text too.
    The piece may come from `fold_width(whole)` (same positions)."""
    piece = exc.source
    if not (isinstance(whole, str) and exc.is_located and piece and len(piece) < len(whole)):
        return exc
    text = fold_width(whole)
    at = text.find(piece)
    if at >= 0 and text.find(piece, at + 1) < 0:
        exc.relocate(whole, at + exc.position)  # type: ignore[operator]
    return exc


@contextmanager
def example_for(example: str) -> Iterator[None]:
    """Give any InvalidAnswer raised inside (e.g. an unclosed bracket) an accepted form."""
    try:
        yield
    except InvalidAnswer as exc:
        if exc.example is None:
            exc.example = example
        raise
