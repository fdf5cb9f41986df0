"""One of a few listed options (`true/false`, `smaller/larger/same`, `yes/no`).

Matching is case-insensitive; an exact option wins, otherwise any prefix that fits exactly
one option is accepted (`T`, `sm`, `Smaller`). A prefix that fits several options, or
none, is `invalid` with the options listed — never silently a wrong answer.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from grader.errors import InvalidAnswer
from grader.kinds.base import Kind, Match
from grader.parsing.text import describe_native, fold_width, short, strip_math

CHOICE_TEXT_LIMIT = 200
_TRUE_WORDS = ("true", "yes")
_FALSE_WORDS = ("false", "no")
# Decoration around a one-word answer: quotes, brackets, a final full stop, `(a)`-style bullets.
_DECORATION = re.compile(r"^[\s\"'`*_(\[]+|[\s\"'`*_)\].!]+$")


# A choice followed by its reason: `false — because ...`, `False, h_t depends on h_{t-1}`,
# `smaller (the stride halves it)`.  The option must be written out in full before the
# separator; the reason is kept as text, never graded here.
_REASON = re.compile(r"^\s*([^\W\d_]+)\s*(?:[,;:.!(—–]|\s-+\s|\s+(?=because\b|since\b|as\b))\s*(.*)$", re.S | re.I)
REASON_TEXT_LIMIT = 5_000


class Chosen(str):
    """The option chosen, with the reason the student gave after it (kept as text)."""

    reason: str = ""

    def __new__(cls, option: str, reason: str = "") -> "Chosen":
        self = super().__new__(cls, option)
        self.reason = reason
        return self

    def __reduce__(self):  # pickles with its reason (results are cached across processes)
        return (Chosen, (str(self), self.reason))


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


class Choice(Kind):
    """A choice among `options`; the target is the option string itself."""

    name = "choice"

    def __init__(self, options: Sequence[str]) -> None:
        options = tuple(options)
        if len(options) < 2:
            raise ValueError("a choice needs at least two options")
        keys = [_key(o) for o in options]
        if len(set(keys)) != len(keys):
            raise ValueError(f"choice options must differ ignoring case: {options}")
        self.options = options
        self._by_key = dict(zip(keys, options))
        self.examples = tuple(options) + tuple(  # type: ignore[misc]
            o[: self._shortest_prefix(o)] for o in options if self._shortest_prefix(o) < len(o)
        )

    def _shortest_prefix(self, option: str) -> int:
        """Length of the shortest prefix of `option` that no other option shares."""
        key = _key(option)
        for n in range(1, len(key) + 1):
            if sum(1 for k in self._by_key if k.startswith(key[:n])) == 1:
                return n
        return len(key)

    def listing(self) -> str:
        return ", ".join(f"`{o}`" for o in self.options)

    def _from_bool(self, raw: bool) -> str:
        words = _TRUE_WORDS if raw else _FALSE_WORDS
        for w in words:
            if w in self._by_key:
                return self._by_key[w]
        raise InvalidAnswer(
            f"true/false is not one of the options here: choose one of {self.listing()}",
            example=self.options[0],
        )

    def parse(self, raw: Any) -> str:
        if isinstance(raw, bool):
            return self._from_bool(raw)
        if not isinstance(raw, str):
            raise InvalidAnswer(
                f"expected one of {self.listing()}, got {describe_native(raw)}", example=self.options[0]
            )
        raw = fold_width(raw)
        if len(raw) <= REASON_TEXT_LIMIT:
            with_reason = self._with_reason(raw)
            if with_reason is not None:
                return with_reason
        if len(raw) > CHOICE_TEXT_LIMIT:
            raise InvalidAnswer(
                f"expected one of {self.listing()}, got {len(raw):,} characters of text "
                "(explanations go in the part that asks for them)",
                example=self.options[0],
            )
        text = _key(_DECORATION.sub("", strip_math(raw)))
        text = re.sub(r"^\\text\{(.*)\}$", r"\1", text)
        if not text:
            raise InvalidAnswer(f"the answer is empty: choose one of {self.listing()}", example=self.options[0])
        if text in self._by_key:
            return self._by_key[text]
        fits = [o for k, o in self._by_key.items() if k.startswith(text)]
        if len(fits) == 1:
            return fits[0]
        if fits:
            raise InvalidAnswer(
                f"{short(raw.strip())!r} could be any of " + ", ".join(f"`{o}`" for o in fits),
                expected=f"one of {self.listing()}",
                example=self.options[0],
            )
        raise InvalidAnswer(
            f"{short(raw.strip())!r} is not one of the options",
            expected=f"one of {self.listing()}",
            example=self.options[0],
        )

    def _with_reason(self, raw: str) -> Chosen | None:
        """`false — because ...`: the option written in full, then a separator and a reason
        (not itself just another option, as in `yes, no`)."""
        m = _REASON.match(strip_math(raw))
        if m is None:
            return None
        option = self._by_key.get(_key(m.group(1)))
        reason = m.group(2).strip()
        if option is None or not reason or _key(_DECORATION.sub("", reason)) in self._by_key:
            return None
        return Chosen(option, reason)

    def compare(self, answer: Any, target: Any) -> Match:
        if _key(str(answer)) == _key(str(target)):
            return Match(1.0)
        return Match(0.0, f"You chose `{answer}`.")

    def normalise(self, value: Any) -> str:
        """The instructor's option (any case, or a bool for true/false) as the listed option."""
        if isinstance(value, bool):
            return self._from_bool(value)
        key = _key(str(value))
        if key not in self._by_key:
            raise ValueError(f"reference {value!r} is not one of the options {self.options}")
        return self._by_key[key]

    def canonical(self, value: Any) -> str:
        return str(value)  # the reason is in the answer as typed, shown beside it

    def encode(self, value: Any) -> str:
        return str(value)

    def decode(self, data: Any) -> str:
        return str(data)

    def forms(self, value: Any) -> list[Any]:
        option = str(value)
        forms: list[Any] = [option, option.upper(), option.capitalize()]
        first = option[0].lower()
        if sum(o.lower().startswith(first) for o in self.options) == 1:
            forms.append(first.upper())
        return forms

    def describe(self) -> str:
        return "one of " + ", ".join(self.options)
