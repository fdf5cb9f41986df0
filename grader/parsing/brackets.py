"""The one bracket matcher, and splitting text at separators outside brackets.

Every reader asks the same question of a different sequence: is each bracket closed, by its
own partner, and not nested too deep?  The formula lexer asks it of its tokens, the table,
shape and location readers of raw characters (where `\\lfloor` counts once and `\\{` is a
literal brace), the equation splitter of the text before it is tokenized.  :func:`match`
answers it for any sequence of (position, bracket) events; each caller words the message.

Matrix rows, shape dimensions and location indices are lists written with separators, and an
entry may itself contain brackets (`(5*5*1+1)*6`, `10^{-3}`, `⌊(H-K)/S⌋`): :func:`split_top`
splits only outside brackets, so a separator inside an entry never splits it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from grader.errors import InvalidAnswer


class Pairs:
    """Opening brackets and their partners, looked up both ways."""

    def __init__(self, closing_of: Mapping[str, str]) -> None:
        self.closing_of = dict(closing_of)
        self.opening_of = {v: k for k, v in self.closing_of.items()}


#: Brackets in raw text: characters, and LaTeX delimiters that bracket as one (`\left(`
#: already contains `(`).
PAIRS = Pairs({
    "(": ")", "[": "]", "{": "}", "⌊": "⌋", "⌈": "⌉",
    "\\lfloor": "\\rfloor", "\\lceil": "\\rceil", "\\langle": "\\rangle",
})
# A LaTeX delimiter, or one bracket character.
_BRACKET = re.compile(r"\\(?:lfloor|rfloor|lceil|rceil|langle|rangle)(?![A-Za-z])|[()\[\]{}⌊⌋⌈⌉]")


class Event(NamedTuple):
    """A bracket at `pos` in the text (`length` characters long)."""

    pos: int
    bracket: str
    length: int = 1


class Unbalanced(Exception):
    """Why brackets do not match: `problem` is "unopened" or "mismatched" (at `event`, with
    the open `opener` for a mismatch), "unclosed" (the innermost `opener` left open) or
    "too deep" (at `event`)."""

    def __init__(self, problem: str, event: Event | None, opener: Event | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.event = event
        self.opener = opener


def match(events: Sequence[Event], pairs: Pairs, max_depth: int | None = None) -> list[int]:
    """The depth outside each bracket event (an opener and its closer share a depth).

    Raises :class:`Unbalanced` at the first bracket that breaks the nesting.
    """
    closing_of, opening_of = pairs.closing_of, pairs.opening_of
    stack: list[Event] = []
    out: list[int] = []
    for ev in events:
        if ev.bracket in closing_of:
            out.append(len(stack))
            stack.append(ev)
            if max_depth is not None and len(stack) > max_depth:
                raise Unbalanced("too deep", ev, None)
        elif ev.bracket in opening_of:
            if not stack:
                raise Unbalanced("unopened", ev, None)
            top = stack.pop()
            if top.bracket != opening_of[ev.bracket]:
                raise Unbalanced("mismatched", ev, top)
            out.append(len(stack))
    if stack:
        raise Unbalanced("unclosed", None, stack[-1])
    return out


def bracket_events(text: str, *, escaped_braces: bool = False) -> list[Event]:
    """The brackets of raw text, in order; a LaTeX delimiter is one event.  `\\{` is a literal
    brace unless `escaped_braces` (in a formula, where it is LaTeX for a brace)."""
    events: list[Event] = []
    for m in _BRACKET.finditer(text):
        i, word = m.start(), m.group(0)
        if word in "{}" and not escaped_braces and i > 0 and text[i - 1] == "\\":
            continue
        events.append(Event(i, word, len(word)))
    return events


def depths(text: str, *, escaped_braces: bool = False) -> list[int]:
    """Bracket depth of every character (an opening bracket is at the outer depth).

    Raises InvalidAnswer for a bracket that is never closed or closes the wrong kind.
    """
    events = bracket_events(text, escaped_braces=escaped_braces)
    try:
        levels = match(events, PAIRS)
    except Unbalanced as exc:
        raise _message(exc) from None
    out: list[int] = []
    depth = 0
    for ev, level in zip(events, levels):
        out += [depth] * (ev.pos - len(out))
        out += [level] * ev.length
        depth = level + 1 if ev.bracket in PAIRS.closing_of else level
    out += [depth] * (len(text) - len(out))
    return out


def _message(exc: Unbalanced) -> InvalidAnswer:
    ev, opener = exc.event, exc.opener
    if exc.problem == "unopened":
        assert ev is not None
        return InvalidAnswer(
            f"'{ev.bracket}' at position {ev.pos + 1} closes a bracket that was never opened", position=ev.pos
        )
    if exc.problem == "mismatched":
        assert ev is not None and opener is not None
        return InvalidAnswer(
            f"'{ev.bracket}' at position {ev.pos + 1} does not match '{opener.bracket}' at position {opener.pos + 1}",
            position=ev.pos,
        )
    assert opener is not None
    return InvalidAnswer(f"'{opener.bracket}' at position {opener.pos + 1} is never closed", position=opener.pos)


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
    if len(text) < 2 or text[0] not in pairs or text[-1] != PAIRS.closing_of[text[0]]:
        return None
    depth = depths(text)
    if all(d >= 1 for d in depth[1:-1]):
        return text[0]
    return None
