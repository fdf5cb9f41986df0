"""Answers computed from another student's numbers: found in a class, shown to staff only.

With per-student variants an answer copied from a classmate is wrong for its author and right
for the classmate's variant. After a class is graded, every answer to a part that varies which
did not earn its marks from the student's own numbers is compared with the other variants'
references. One small number may fit many variants by chance, so evidence is counted in bits:
an answer that fits k of the n other variants says log2(n / k) bits about whose they are, and
the classmate whose variant gathers clearly the most is named for staff ("matches the variant of
student s1001 (q2a, q3a.conv)"). Findings never enter a student's report or feedback.

Comparing each answer with every variant would cost a class of 500 a quarter of a million
checks, so references are indexed by a coarse fingerprint (values to 3 significant digits) and
only the variants in the answer's bucket are checked with the kind itself; kinds whose targets
have no fingerprint (a location among a mask) are checked against every other variant.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Iterable, Sequence

import numpy as np
from pydantic import BaseModel, Field

from grader.errors import InvalidAnswer
from grader.kinds.base import Kind
from grader.kinds.spec import kind_from_spec
from grader.models import AnswerKey, Status, Submission, SubmissionReport

SIGNIFICANT = 3
#: Beyond this many variants, a part without fingerprints is not searched (it would be slow).
BRUTE_FORCE_LIMIT = 5000
#: An answer that fits k of the class's n other variants says log2(n / k) bits about whose numbers
#: were used. The student whose variant gathers the most bits over all the answers is named when
#: that is at least log2(n) + MARGIN_BITS: the chance that an honest mistake, or a classmate's
#: coincidence, gathers as much is about 2**-MARGIN_BITS for the whole class.
MARGIN_BITS = 6.0


class VariantMatch(BaseModel):
    """Answers of one student that are right for another student's numbers."""

    student: str
    source: str | None = None
    other: str = Field(description="The student whose variant the answers are right for.")
    parts: list[str]

    def text(self) -> str:
        return f"matches the variant of student {self.other} ({', '.join(self.parts)})"


def fingerprint(value: Any) -> tuple | None:
    """Coarse, hashable: numbers to 3 significant digits with their shape; None if not numeric."""
    if isinstance(value, str):
        return ("text", value.strip().lower())
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if array.dtype == object or array.size > 10_000 or not np.isfinite(array).all():
        return None
    return (array.shape, tuple(float(f"{x:.{SIGNIFICANT}g}") for x in array.ravel()))


def _earned_from_own_numbers(matched: str | None) -> bool:
    return matched == "reference" or (matched or "").startswith("alternative")


def find_matches(
    graded: Iterable[tuple[Submission, SubmissionReport]], keys: dict[str, AnswerKey], varying: Sequence[str]
) -> list[VariantMatch]:
    """Every answer in `graded` that is right for another student's variant.

    `keys` maps each student (who handed it in: `Submission.identity`) to the key of their
    variant (all students of the class, so an answer copied from anyone in it is found);
    `varying` names the parts whose values differ.
    """
    graded = list(graded)
    if not keys or not varying:
        return []
    any_key = next(iter(keys.values()))
    kinds: dict[str, Kind] = {p.id: kind_from_spec(p.kind_spec) for p in any_key.parts if p.id in set(varying)}
    targets: dict[str, dict[str, Any]] = {pid: {} for pid in kinds}
    for student, key in keys.items():
        for part in key.parts:
            if part.id in kinds and part.reference is not None:
                targets[part.id][student] = kinds[part.id].decode(part.reference)
    index: dict[str, dict[tuple, list[str]] | None] = {}
    for pid, by_student in targets.items():
        buckets: dict[tuple, list[str]] | None = defaultdict(list)
        for student, target in by_student.items():
            fp = fingerprint(target)
            if fp is None:
                buckets = None
                break
            buckets[fp].append(student)  # type: ignore[index]
        index[pid] = buckets

    others = max(1, len(keys) - 1)
    found: list[VariantMatch] = []
    for sub, report in graded:
        own = sub.identity
        fits: dict[str, list[str]] = defaultdict(list)  # other student -> parts right for their numbers
        bits: dict[str, float] = defaultdict(float)
        for result in report.parts:
            kind = kinds.get(result.id)
            if kind is None or _earned_from_own_numbers(result.matched):
                continue
            if result.status in (Status.missing, Status.invalid, Status.manual, Status.error):
                continue
            hits = _fitting(kind, sub.answers.get(result.id), own, targets[result.id], index[result.id])
            for other in hits:
                fits[other].append(result.id)
                bits[other] += math.log2(others / len(hits))
        if bits:
            best = max(bits.values())
            leaders = [o for o in sorted(bits) if bits[o] == best]
            if len(leaders) == 1 and best >= math.log2(others) + MARGIN_BITS:
                found.append(VariantMatch(student=own, source=sub.source, other=leaders[0], parts=fits[leaders[0]]))
    return found


def _fitting(kind: Kind, raw: Any, own: str, targets: dict[str, Any], buckets: dict[tuple, list[str]] | None) -> list[str]:
    """The other students whose reference this answer matches (and whose numbers are not the
    student's own: the same reference is no evidence)."""
    try:
        answer = kind.parse(raw)
    except InvalidAnswer:
        return []
    if buckets is not None:
        fp = fingerprint(answer)
        candidates = buckets.get(fp, []) if fp is not None else []
    else:
        candidates = list(targets) if len(targets) <= BRUTE_FORCE_LIMIT else []
    mine = targets.get(own)
    hits = []
    for other in candidates:
        target = targets[other]
        if other == own or (mine is not None and _same(target, mine)):
            continue
        try:
            if kind.compare(answer, target).full:
                hits.append(other)
        except Exception:  # a check that fails here is the grader's business, not a finding
            continue
    return hits


def _same(a: Any, b: Any) -> bool:
    fa, fb = fingerprint(a), fingerprint(b)
    if fa is not None and fb is not None:
        return fa == fb and np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-9, atol=1e-12)
    return False


def matches_markdown(assignment: str, codes: dict[str, str], matches: list[VariantMatch]) -> str:
    """OUT/<assignment>/variants.md: for staff only, every student's variant code and the findings."""
    by_student: dict[str, list[VariantMatch]] = defaultdict(list)
    for m in matches:
        by_student[m.student].append(m)
    lines = [f"# {assignment}: variants (staff only)", ""]
    lines += ["Every student has their own numbers. Answers right for another student's numbers are listed here and",
              "never in a student's report.", ""]
    if matches:
        lines += ["## Answers that match another student's variant", "", "| student | finding |", "| --- | --- |"]
        for student in sorted(by_student):
            lines.append(f"| {student} | " + "; ".join(m.text() for m in by_student[student]) + " |")
        lines.append("")
    else:
        lines += ["No answer matches another student's variant.", ""]
    lines += ["## Variant codes", "", "| student | variant |", "| --- | --- |"]
    lines += [f"| {student} | `{code}` |" for student, code in sorted(codes.items())]
    return "\n".join(lines) + "\n"


class StaffView(BaseModel):
    """OUT/<assignment>/variants.json: every student's variant code and the findings (staff only)."""

    assignment: str
    codes: dict[str, str] = Field(default_factory=dict, description="Student (who handed it in) -> variant code.")
    matches: list[VariantMatch] = Field(default_factory=list)


def staff_view(assignment: str, graded: Sequence[tuple[Submission, SubmissionReport]], key_of: Any) -> StaffView:
    """The findings of a class graded with per-student numbers; `key_of(variant)` is the key of
    a report's stored variant (cached: no torch for a class whose keys are computed)."""
    with_variant = [(sub, r) for sub, r in graded if r.variant is not None]
    keys = {sub.identity: key_of(r.variant) for sub, r in with_variant}
    codes = {sub.identity: r.variant.code for sub, r in with_variant}  # type: ignore[union-attr]
    if not keys:
        return StaffView(assignment=assignment)
    first = next(iter(keys.values()))
    varying = [p.id for p in first.parts if any(k.part(p.id).reference != p.reference for k in keys.values())]
    return StaffView(assignment=assignment, codes=codes, matches=find_matches(with_variant, keys, varying))
