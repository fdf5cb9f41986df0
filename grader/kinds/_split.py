"""Splitting structured answers at top level: brackets, separators and wrappers.

Matrix rows, shape dimensions and location indices are all lists written with separators,
and an entry may itself contain brackets (`(5*5*1+1)*6`, `10^{-3}`, `⌊(H-K)/S⌋`). These
helpers split only outside brackets, so a separator inside an entry never splits it.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Iterator

from grader.errors import InvalidAnswer, TooComplex

OPENERS = {"(": ")", "[": "]", "{": "}", "⌊": "⌋", "⌈": "⌉"}
CLOSERS = {v: k for k, v in OPENERS.items()}
# LaTeX delimiters that bracket like a character would (`\left(` already contains `(`).
LATEX_OPENERS = {"\\lfloor": "\\rfloor", "\\lceil": "\\rceil", "\\langle": "\\rangle"}
LATEX_CLOSERS = {v: k for k, v in LATEX_OPENERS.items()}
_LATEX_DELIM = re.compile(r"\\(?:lfloor|rfloor|lceil|rceil|langle|rangle)(?![A-Za-z])")

# Maths-mode wrappers students paste from LaTeX: `$...$`, `$$...$$`, `\(...\)`, `\[...\]`.
_MATH_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


def check_length(text: str, limit: int, what: str = "answer", example: str | None = None) -> None:
    """Refuse before doing any work on text longer than `limit`."""
    if len(text) > limit:
        raise TooComplex(
            f"the {what} is {len(text):,} characters long; at most {limit:,} are read",
            expected=f"a {what} of at most {limit:,} characters",
            example=example,
        )


def strip_math(text: str) -> str:
    """Drop surrounding whitespace and maths-mode delimiters (`$...$`, `\\[...\\]`)."""
    text = text.strip()
    changed = True
    while changed:
        changed = False
        for left, right in _MATH_WRAPPERS:
            if len(text) >= len(left) + len(right) and text.startswith(left) and text.endswith(right):
                text = text[len(left) : len(text) - len(right)].strip()
                changed = True
                break
    return text


def _tokens(text: str) -> list[tuple[int, str, int]]:
    """Bracket events (position, bracket, length) in order; LaTeX delimiters count once."""
    events: list[tuple[int, str, int]] = []
    latex_spans = [(m.start(), m.group(0)) for m in _LATEX_DELIM.finditer(text)]
    skip_until = -1
    li = 0
    for i, ch in enumerate(text):
        if i < skip_until:
            continue
        while li < len(latex_spans) and latex_spans[li][0] < i:
            li += 1
        if li < len(latex_spans) and latex_spans[li][0] == i:
            word = latex_spans[li][1]
            events.append((i, word, len(word)))
            skip_until = i + len(word)
            continue
        if ch in OPENERS or ch in CLOSERS:
            if ch in "{}" and i > 0 and text[i - 1] == "\\":  # `\{` is a literal brace
                continue
            events.append((i, ch, 1))
    return events


def depths(text: str) -> list[int]:
    """Bracket depth of every character (an opening bracket is at the outer depth).

    Raises InvalidAnswer for a bracket that is never closed or closes the wrong kind.
    """
    out = [0] * len(text)
    stack: list[tuple[str, int]] = []
    events = _tokens(text)
    ei = 0
    depth = 0
    i = 0
    while i < len(text):
        if ei < len(events) and events[ei][0] == i:
            _, tok, length = events[ei]
            ei += 1
            if tok in OPENERS or tok in LATEX_OPENERS:
                for k in range(i, i + length):
                    out[k] = depth
                stack.append((tok, i))
                depth += 1
            else:
                want = CLOSERS.get(tok) or LATEX_CLOSERS.get(tok)
                if not stack:
                    raise InvalidAnswer(
                        f"'{tok}' at position {i + 1} closes a bracket that was never opened", position=i
                    )
                opened, where = stack.pop()
                if opened != want:
                    raise InvalidAnswer(
                        f"'{tok}' at position {i + 1} does not match '{opened}' at position {where + 1}",
                        position=i,
                    )
                depth -= 1
                for k in range(i, i + length):
                    out[k] = depth
            i += length
            continue
        out[i] = depth
        i += 1
    if stack:
        opened, where = stack[-1]
        raise InvalidAnswer(f"'{opened}' at position {where + 1} is never closed", position=where)
    return out


def split_top(text: str, separator: re.Pattern[str]) -> list[str]:
    """Split `text` at matches of `separator` that lie outside every bracket."""
    depth = depths(text)
    parts: list[str] = []
    start = 0
    pos = 0
    while pos < len(text):
        if depth[pos] == 0:
            m = separator.match(text, pos)
            if m and m.end() > pos:
                parts.append(text[start:pos])
                start = pos = m.end()
                continue
        pos += 1
    parts.append(text[start:])
    return parts


def has_top(text: str, separator: re.Pattern[str]) -> bool:
    return len(split_top(text, separator)) > 1


def enclosed(text: str, pairs: str = "([") -> str | None:
    """The opening bracket if one pair of `pairs` encloses all of `text` (`(1, 2)`), else None.

    `(1+2)*(3)` starts and ends with brackets but is not enclosed: the first closes early.
    """
    if len(text) < 2 or text[0] not in pairs or text[-1] != OPENERS[text[0]]:
        return None
    depth = depths(text)
    if all(d >= 1 for d in depth[1:-1]):
        return text[0]
    return None


def unwrap(text: str, pairs: str = "([") -> str:
    """Remove one pair of brackets enclosing all of `text`, if there is one."""
    return text[1:-1].strip() if enclosed(text, pairs) else text


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


def short(text: str, limit: int = 30) -> str:
    """A piece of the student's text, cut for quoting in a message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@contextmanager
def example_for(example: str) -> Iterator[None]:
    """Give any InvalidAnswer raised inside (e.g. an unclosed bracket) an accepted form."""
    try:
        yield
    except InvalidAnswer as exc:
        if exc.example is None:
            exc.example = example
        raise
