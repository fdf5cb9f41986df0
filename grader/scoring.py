"""Score one submission: parse each answer, try the targets in order, award marks.

Order of targets for a part (the first full match wins):
  1. the reference;
  2. accepted alternatives (conventions, other readings), named in the feedback;
  3. follow-through: the reference recomputed from the student's own earlier answers;
  4. named mistakes, which earn their stated marks and are named in the feedback.
Otherwise the best partial match (e.g. per-entry credit) stands. Any exception inside one
part marks that part `error`; the rest of the submission is still graded.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from grader import __version__
from grader.errors import InvalidAnswer
from grader.keys import AnswerKey, PartKey
from grader.kinds.base import Kind, Match
from grader.kinds.spec import kind_from_spec
from grader.models import PartResult, Status, Submission, SubmissionReport
from grader.problemset import Part, ProblemSet
from grader.sampling import Sample
from grader.variants import Variant

ANSWER_ECHO_LIMIT = 500


def echo(raw: Any) -> str:
    """The answer as typed, cut to a readable length for reports."""
    text = raw if isinstance(raw, str) else repr(raw)
    text = text.replace("\x00", "\\0")
    return text if len(text) <= ANSWER_ECHO_LIMIT else text[:ANSWER_ECHO_LIMIT] + f"… ({len(text)} characters)"


def fmt_marks(x: float) -> str:
    return f"{x:g}"


@dataclass
class GradingContext:
    """What one submission's grading remembers between parts (for follow-through)."""

    parsed: dict[str, Any] = field(default_factory=dict)
    correct: dict[str, bool] = field(default_factory=dict)


class ProblemSource:
    """The problem set behind a key, imported only when first needed.

    Grading reads the answer key alone; the problem set (and torch with it) is imported only
    when follow-through must recompute a reference or a part's hint must test an answer.
    """

    def __init__(self, problem: "ProblemSet | Callable[[], ProblemSet] | None") -> None:
        self._problem = problem

    @property
    def loaded(self) -> bool:
        return isinstance(self._problem, ProblemSet)

    def get(self) -> ProblemSet | None:
        if self._problem is not None and not isinstance(self._problem, ProblemSet):
            self._problem = self._problem()
        return self._problem

    def part(self, part_id: str) -> Part | None:
        ps = self.get()
        return ps.parts.get(part_id) if ps is not None else None

    def inputs(self, variant: Variant | None) -> dict[str, Any]:
        """The sheet's inputs for follow-through: the variant's numbers, or the printed ones."""
        ps = self.get()
        return ps.delivered(variant) if ps is not None else {}


class PartGrader:
    """Grades one part against its key."""

    def __init__(self, key: PartKey, assignment: str, source: ProblemSource, variant: Variant | None = None) -> None:
        self.key = key
        self.id = key.id
        self.marks = key.marks
        self.assignment = assignment
        self.source = source
        self.variant = variant
        self.kind: Kind = self._kind()
        self.reference = self.kind.decode(key.reference) if key.reference is not None else None
        self.alternatives = [(v, self._target(v.value)) for v in key.alternatives]
        self.mistakes = [(v, self._target(v.value)) for v in key.mistakes]

    def _target(self, data: Any) -> Any:
        """A decoded variant; a sampled one shares the reference's points (one object), so a
        formula evaluated there once serves every target (see IndexExpr.compare)."""
        target = self.kind.decode(data)
        ref = self.reference
        if isinstance(target, Sample) and isinstance(ref, Sample) and target.env.keys() == ref.env.keys():
            if all(np.array_equal(target.env[k], ref.env[k]) for k in ref.env):
                target = Sample(env=ref.env, value=target.value, meta=target.meta)
        return target

    def _kind(self) -> Kind:
        try:
            return kind_from_spec(self.key.kind_spec)
        except KeyError:  # a kind defined in the problem set itself: import it from there
            return self.part.kind

    @property
    def part(self) -> Part:
        """The problem-set part (imports the problem set)."""
        part = self.source.part(self.id)
        if part is None:
            raise LookupError(f"part {self.id} is not in the problem set")
        return part

    def result(self, status: Status, score: float, feedback: str, raw: Any = None, **extra: Any) -> PartResult:
        return PartResult(
            id=self.id,
            score=round(score, 6),
            max_score=self.marks,
            status=status,
            feedback=feedback,
            answer=None if raw is None else echo(raw),
            kind=self.kind.name,
            **extra,
        )

    def grade(self, raw: Any, ctx: GradingContext) -> PartResult:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return self.result(Status.missing, 0.0, "No answer given.", raw)
        if self.kind.manual:
            return self.result(Status.manual, 0.0, "Awaiting a grader's score (free-text part).", raw)
        try:
            answer = self.kind.parse(raw)
        except InvalidAnswer as exc:
            return self.result(Status.invalid, 0.0, "Could not read this answer: " + exc.feedback(), raw)
        ctx.parsed[self.id] = answer
        canonical = self.kind.canonical(answer)
        verdict = self.judge(answer, ctx)
        # Only an answer equal to the reference makes follow-through pointless downstream; one
        # right by follow-through itself still carries the earlier error along a chain (conv → h → z).
        ctx.correct[self.id] = verdict.matched == "reference"
        return self.result(
            verdict.status,
            verdict.fraction * self.marks,
            verdict.feedback,
            raw,
            canonical=canonical,
            matched=verdict.matched,
            details=verdict.details,
        )

    # -- the order of targets ----------------------------------------------------------------
    def judge(self, answer: Any, ctx: GradingContext) -> "Verdict":
        best = self.kind.compare(answer, self.reference)
        if best.full:
            return Verdict(Status.correct, 1.0, join("Correct.", best.feedback), "reference", best.details)
        for variant, target in self.alternatives:
            m = self.kind.compare(answer, target)
            if m.full:
                note = f"Correct: matches the accepted {variant.name} reading." + (f" {variant.note}" if variant.note else "")
                return Verdict(Status.correct, 1.0, join(note, m.feedback), f"alternative: {variant.name}", m.details)
            if m.fraction > best.fraction:
                best = m
        ft = self.follow_through(answer, ctx)
        if ft is not None:
            return ft
        for variant, target in self.mistakes:
            m = self.kind.compare(answer, target)
            if m.full:
                # A named mistake earns what the marking scheme states for it (0 unless stated),
                # not per-entry credit for entries that happen to coincide.
                credit = variant.marks / self.marks if self.marks else 0.0
                text = f"Not quite: this is the answer you get with a known mistake — {variant.name}."
                if variant.note:
                    text += f" {variant.note}"
                if credit > 0:
                    text += f" Earns {fmt_marks(credit * self.marks)} of {fmt_marks(self.marks)}."
                status = Status.partial if credit > 0 else Status.incorrect
                return Verdict(status, credit, text, f"mistake: {variant.name}", m.details)
        status = Status.partial if best.fraction > 0 else Status.incorrect
        lead = "Partly correct." if best.fraction > 0 else "Incorrect."
        part = self.source.part(self.id) if self.key.has_hints else None
        hints = [text for test, text in part.hints if test(answer)] if part is not None else []
        return Verdict(status, best.fraction, join(lead, best.feedback, *hints), None, best.details)

    def follow_through(self, answer: Any, ctx: GradingContext) -> "Verdict | None":
        """Full marks when the answer is right *given* the student's own wrong earlier answers."""
        for number, uses in enumerate(self.key.follow_through):
            if not uses or any(u not in ctx.parsed for u in uses):
                continue
            wrong = [u for u in uses if not ctx.correct.get(u, False)]
            if not wrong:
                continue  # earlier answers were right: the reference already covers this route
            try:
                route = self.part.routes[number]  # the first import of the problem set happens here
                target = self.part.compute_route(route, [ctx.parsed[u] for u in route.uses], self.source.inputs(self.variant))
            except Exception:  # the student's values may not fit the computation at all
                continue
            m = self.kind.compare(answer, target)
            if m.full:
                text = (
                    f"Correct by follow-through: consistent with your own answer to {', '.join(wrong)}, "
                    f"which differ{'s' if len(wrong) == 1 else ''} from the reference."
                )
                return Verdict(Status.correct, 1.0, text, f"follow-through: {', '.join(uses)}", m.details)
        return None


@dataclass
class Verdict:
    status: Status
    fraction: float
    feedback: str
    matched: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def join(*texts: str) -> str:
    return " ".join(t.strip() for t in texts if t and t.strip())


class AssignmentGrader:
    """Grades submissions for one assignment from its answer key.

    `problem` is the problem set, a function that imports it, or None; it is only used for
    follow-through and hints, so most submissions are graded without importing it.
    """

    def __init__(self, problem: "ProblemSet | Callable[[], ProblemSet] | None", key: AnswerKey) -> None:
        self.key = key
        self.source = ProblemSource(problem)
        self.graders = [PartGrader(part_key, key.assignment, self.source, key.variant) for part_key in key.parts]
        self.part_ids = {pk.id for pk in key.parts}

    @property
    def ps(self) -> ProblemSet | None:
        return self.source.get()

    def grade(self, sub: Submission) -> SubmissionReport:
        ctx = GradingContext()
        results = [self.grade_part(i, sub, ctx) for i in range(len(self.graders))]
        return self.assemble(sub, results)

    def grade_part(self, index: int, sub: Submission, ctx: GradingContext) -> PartResult:
        """Grade part number `index`; a grader bug costs this part only and is reported as ours."""
        pg = self.graders[index]
        raw = sub.answers.get(pg.id)
        try:
            return pg.grade(raw, ctx)
        except Exception as exc:
            reason = traceback.format_exception_only(type(exc), exc)[-1].strip()
            return pg.result(
                Status.error,
                0.0,
                f"The grader itself failed on this part ({reason}). This is not your mistake; course staff will look at it.",
                raw,
            )

    def assemble(self, sub: Submission, results: list[PartResult]) -> SubmissionReport:
        """The report from per-part results (in problem-set order)."""
        warnings = list(sub.warnings)
        for unknown in sorted(set(map(str, sub.answers)) - self.part_ids):
            warnings.append(f"unknown part id {unknown!r} ignored")
        return SubmissionReport(
            assignment=self.key.assignment,
            student=sub.student,
            score=round(sum(r.score for r in results), 6),
            max_score=self.key.total,
            parts=results,
            warnings=warnings,
            submitted_at=sub.submitted_at,
            source=sub.source,
            key_hash=self.key.source_hash,
            grader_version=__version__,
            variant=self.key.variant,
        )
