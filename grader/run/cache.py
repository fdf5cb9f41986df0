"""Verdicts remembered across submissions: a class gives the same answer to a part many times.

The context (the answers and verdicts of the parts a follow-through route reads) is part of
the key only where it can matter: an answer that matches the reference or an accepted
alternative is judged before follow-through is tried, so it is keyed by itself. A hit also
restores what the part leaves in the context (its parsed value and correctness), so later
parts see exactly what a fresh check would have left.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from grader.models import PartResult, Submission
from grader.scoring import AssignmentGrader, GradingContext

CACHE_ENTRIES = 50_000
CACHE_RAW_LIMIT = 4_096  # longer answers are rare and unlikely to repeat: not worth a key


class _Absent:
    """Marks 'no parsed value' (None may be a parsed value); pickles as this module's ABSENT."""

    def __reduce__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


def follow_through_state(grader: AssignmentGrader, part_id: str, ctx: GradingContext) -> tuple[Any, bool | None] | None:
    """What part `part_id` left in the context that a later route may read (None if none may)."""
    if part_id not in grader.follow_through_inputs:
        return None
    return ctx.parsed.get(part_id, ABSENT), ctx.correct.get(part_id)


def restore_state(ctx: GradingContext, part_id: str, state: tuple[Any, bool | None] | None) -> None:
    if state is None:
        return
    parsed, correct = state
    if parsed is not ABSENT:
        ctx.parsed[part_id] = parsed
    if correct is not None:
        ctx.correct[part_id] = correct


def _raw_key(raw: Any) -> str | None:
    text = json.dumps(raw, sort_keys=True, default=repr, ensure_ascii=False)
    return text if len(text) <= CACHE_RAW_LIMIT else None


class Verdicts:
    """A `VerdictCache` for `AssignmentGrader.grade`: least recently used entries go first."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self.entries = entries
        self._cache: OrderedDict[tuple, tuple[PartResult, tuple | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._cache)

    def __call__(self, grader: AssignmentGrader, index: int, sub: Submission, ctx: GradingContext) -> PartResult:
        pid = grader.graders[index].id
        raw = _raw_key(sub.answers.get(pid))
        if raw is None:
            return grader.grade_part(index, sub, ctx)
        # The variant too: classmates with other numbers may type the same answer (a copied one).
        variant = grader.key.variant.code if grader.key.variant is not None else None
        plain = (sub.assignment, variant, pid, raw)
        deps = grader.inputs[index]
        dep_keys = tuple((u, _raw_key(sub.answers.get(u)), ctx.correct.get(u), u in ctx.parsed) for u in deps)
        full = (*plain, dep_keys) if deps and all(d[1] is not None for d in dep_keys) else None
        for key in (plain, full):
            hit = self._cache.get(key) if key is not None else None
            if hit is not None:
                self._cache.move_to_end(key)
                result, state = hit
                if state is not None:
                    restore_state(ctx, pid, state)
                return result
        result = grader.grade_part(index, sub, ctx)
        context_free = not deps or result.matched == "reference" or (result.matched or "").startswith("alternative")
        key = plain if context_free else full
        if key is not None:
            self._cache[key] = (result, follow_through_state(grader, pid, ctx))
            if len(self._cache) > self.entries:
                self._cache.popitem(last=False)
        return result
