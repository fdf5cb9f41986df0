"""Does anything a student sees before the due date state the key? A lint for `grader key check`.

A student sees, whatever the feedback policy: the examples of accepted forms (in templates and
in the hint of an unreadable answer), the notes of named mistakes and the hints. None of them may
be an answer of the problem set (issue 10, item 3). Checked by meaning, not by spelling: a text
"states" a target when some piece of it, read as a part's answer, earns full marks against it —
so `3V weights, plus one bias` is caught for a part whose answer is 3V + 1, however it is written.

* Each example a part's kind shows (its `examples`, and those of the hints its readers give for
  a few malformed answers) against every reference, accepted alternative and named mistake of
  every part: an example is a neutral value, never an answer.
* Each named-mistake note and hint of a part against the part's reference and alternatives, and
  against those of the other parts (a formula, or a value written with at least
  `DISTINCT_CHARS` characters: a lone `1` in a sentence is no leak of another part's `1`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from grader.errors import InvalidAnswer
from grader.kinds import Choice
from grader.kinds.base import Kind
from grader.models import AnswerKey
from grader.problemset import ProblemSet
from grader.scoring import AssignmentGrader, PartGrader

#: Longest run of words of a note read as an answer.
MAX_WORDS = 8
#: A value of another part is looked for in a note only if its echo is at least this long.
DISTINCT_CHARS = 3
#: Malformed answers whose "an accepted form" hints are checked as well as a kind's examples.
PROBES: tuple[Any, ...] = (
    "", "?", "abc", "1,23", "1__2", "2 3", "1 ; ; 2", "(1, 2", "[[1, 2], [3]]", "x =", "a = b = c",
    "\\foo{1}", "\\(1\\) \\(", "sum_{} x", "10^", "1,2,3,4,5,6,7,8,9", "1e999", "yes", True, [1, [2]],
)
_PIECE_SEPARATORS = re.compile(r"\s*(?:[:;=]|\bso\b|\bnot\b|\bis\b|\bthen\b)\s*")
_EDGE_PUNCTUATION = " \t.,;:!?\"'`“”‘’"

Target = tuple[str, Any]  # (what it is, the decoded target)


def leak_findings(ps: ProblemSet, key: AnswerKey) -> list[tuple[str | None, str]]:
    """(part id, problem) for every example, note or hint that states an answer of the set."""
    graders = [pg for pg in AssignmentGrader(ps, key).graders if _answerable(pg)]
    findings: list[tuple[str | None, str]] = []
    examples: dict[str, list[str]] = {}
    for pg in graders:
        spec = json.dumps(pg.key.kind_spec, sort_keys=True)
        if spec not in examples:
            examples[spec] = shown_examples(pg.kind)
        for example in examples[spec]:
            for other, what in answers_stated(example, graders, right_only=False, own=None):
                findings.append((pg.id, f"the example {example!r} shown for this part is {what} of {other}"))
        part = ps.parts.get(pg.id)
        texts = [(f"the note of the named mistake '{m.name}'", m.note) for m in part.mistakes] if part else []
        texts += [("a hint", text) for _, text in part.hints] if part else []
        for label, text in texts:
            seen = set()
            for piece in pieces(text):
                for other, what in answers_stated(piece, graders, right_only=True, own=pg.id):
                    if (other, what) not in seen:
                        seen.add((other, what))
                        findings.append((pg.id, f"{label} states {what} of {other} ({piece!r}): {text!r}"))
    return findings


def _answerable(pg: PartGrader) -> bool:
    """Parts with an answer to leak: not free text, not a choice among printed options."""
    return not pg.kind.manual and not isinstance(pg.kind, Choice) and pg.reference is not None


def _targets(pg: PartGrader, right_only: bool) -> list[Target]:
    found: list[Target] = [("the reference", pg.reference)]
    found += [(f"the accepted '{v.name}' reading", t) for v, t in pg.alternatives]
    if not right_only:
        found += [(f"the named mistake '{v.name}'", t) for v, t in pg.mistakes]
    return found


def _distinct(kind: Kind, target: Any) -> bool:
    try:
        return kind.sampled or len(kind.canonical(target).strip()) >= DISTINCT_CHARS
    except Exception:  # noqa: BLE001 - a target this kind cannot echo: look for it anyway
        return True


def answers_stated(text: str, graders: list[PartGrader], right_only: bool, own: str | None) -> Iterator[tuple[str, str]]:
    """(part id, which target) for every target `text`, read as that part's answer, matches."""
    parsed: dict[str, Any] = {}  # parts of one kind (30 int cells) read the text once
    for pg in graders:
        answer = _parse(pg, text, parsed)
        if answer is None:
            continue
        for what, target in _targets(pg, right_only):
            if own is not None and pg.id != own and not _distinct(pg.kind, target):
                continue
            if _matches(pg.kind, answer, target):
                yield pg.id, what


_UNREAD = object()


def _parse(pg: PartGrader, text: str, cache: dict[str, Any]) -> Any:
    spec = json.dumps(pg.key.kind_spec, sort_keys=True)
    if spec not in cache:
        try:
            cache[spec] = pg.kind.parse(text)
        except Exception:  # noqa: BLE001 - unreadable as this kind: it states nothing here
            cache[spec] = _UNREAD
    value = cache[spec]
    return None if value is _UNREAD else value


def _matches(kind: Kind, answer: Any, target: Any) -> bool:
    try:
        return kind.compare(answer, target).full
    except Exception:  # noqa: BLE001 - an answer of another shape is no match
        return False


def pieces(text: str) -> Iterator[str]:
    """Every run of up to MAX_WORDS words of `text` that could be an answer, within the clauses
    that `:`, `;`, `=`, `so`, `not`, `is` and `then` separate (`d/dz (y − z)² = −2(y − z).`
    yields `−2(y − z)`)."""
    seen: set[str] = set()
    for clause in _PIECE_SEPARATORS.split(text):
        words = clause.split()
        for i in range(len(words)):
            for j in range(i + 1, min(i + MAX_WORDS, len(words)) + 1):
                piece = " ".join(words[i:j]).strip(_EDGE_PUNCTUATION)
                if piece and piece not in seen and any(c.isalnum() for c in piece):
                    seen.add(piece)
                    yield piece


def shown_examples(kind: Kind) -> list[str]:
    """Every example a student may be shown for a part of this kind: its accepted forms, and
    the forms the hints of its readers suggest for malformed answers."""
    found = [e for e in kind.examples if isinstance(e, str)]
    for probe in PROBES:
        try:
            kind.parse(probe)
        except InvalidAnswer as exc:
            if exc.example:
                found += [e.strip() for e in exc.example.split("  or  ") if e.strip()]
        except Exception:  # noqa: BLE001 - a reader's own failure is not this lint's business
            continue
    return list(dict.fromkeys(found))
