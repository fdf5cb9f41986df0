"""The engine: score one submission, part by part, from the answer key.

Order of targets for a part (the first full match wins):
  1. the reference;
  2. accepted alternatives (conventions, other readings), named in the feedback;
  3. follow-through: the reference recomputed from the student's own earlier answers;
  4. named mistakes, which earn their stated marks and are named in the feedback.
Otherwise the best partial match (e.g. per-entry credit) stands, with the part's hints. Any
exception inside one part marks that part `error`; the rest of the submission is still graded.

`AssignmentGrader.grade` is the one loop over a submission's parts; every driver calls it
(`grader run` in-process and in its worker pool, Gradescope, `grader key check`) and adapts
it with hooks instead of copying it: `guard(index)` bounds one part (the pool's kill
deadline, the container's alarm), `on_part` receives each verdict as it is given (progress,
provisional results), `resume` carries on after a killed worker, `verdicts` remembers verdicts
on identical answers. `PartGrader.read` reads an answer without grading it (a live preview).
What a student is told when grading itself goes wrong is written once, here (`Setback`).
"""

from __future__ import annotations

import importlib
import re
import sys
import traceback
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any, Callable, Literal, NamedTuple, Protocol, TypeVar

import numpy as np

from grader import __version__
from grader.errors import InvalidAnswer
from grader.kinds.base import Kind, numeric_value
from grader.kinds.spec import kind_from_spec
from grader.kinds.symbolic import IMPORT_SETUP as SYMPY_IMPORT_SETUP
from grader.kinds.text import TEXT_LIMIT
from grader.models import AnswerKey, PartKey, PartResult, Status, Submission, SubmissionReport
from grader.notices import Warnings, shown
from grader.problemset import Part, ProblemSet
from grader.sampling import Sample
from grader.variants import Variant

ANSWER_ECHO_LIMIT = 500
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # from a JSON escape (a service body): no UTF-8 form


def echo(raw: Any, limit: int = ANSWER_ECHO_LIMIT) -> str:
    """The answer as typed, cut to a readable length for reports."""
    text = raw if isinstance(raw, str) else raw.isoformat() if isinstance(raw, (date, time)) else repr(raw)
    text = _LONE_SURROGATE.sub("\ufffd", text.replace("\x00", "\\0"))  # every report must encode as UTF-8
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


def fmt_marks(x: float) -> str:
    return f"{x:g}"


@dataclass
class GradingContext:
    """What one submission's grading remembers between parts (for follow-through)."""

    parsed: dict[str, Any] = field(default_factory=dict)
    correct: dict[str, bool] = field(default_factory=dict)

    def forget(self, part_id: str) -> None:
        """A part stopped half-way is never a basis for follow-through."""
        self.parsed.pop(part_id, None)
        self.correct.pop(part_id, None)


# -- what a student is told when grading itself goes wrong -------------------------------------
#: How every report owns up to a failure of ours, in a part or in a summary.
NOT_YOUR_MISTAKE = "not your mistake; course staff will look at it"


@dataclass(frozen=True)
class Setback:
    """A part that could not be graded normally: its status and what the student is told."""

    status: Status
    feedback: str

    @classmethod
    def timed_out(cls, seconds: float) -> "Setback":
        """Checking took longer than the part's budget: the answer is too costly to check."""
        return cls(
            Status.invalid,
            f"Too complex to check within {seconds:g} s: checking this answer was stopped. Write it in a simpler form.",
        )

    @classmethod
    def grader_failed(cls, reason: str) -> "Setback":
        """A bug or crash of ours (an exception, a worker that died): never the student's fault."""
        return cls(Status.error, f"The grader itself failed on this part ({reason}). This is {NOT_YOUR_MISTAKE}.")


#: A part stopped by its budget is graded this many times in all before it is called too complex.
ATTEMPTS_AT_THE_BUDGET = 2


class PartTimeout(BaseException):
    """Raised by a guard when a part overruns its budget (a BaseException, so the per-part
    `except Exception` of `grade_part` does not swallow it); the loop gives the part
    `Setback.timed_out` and goes on."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"part stopped after {seconds:g} s")
        self.seconds = seconds


def describe(exc: BaseException) -> str:
    """An exception as one line: `ValueError: bad value`."""
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


# -- the problem set behind a key ----------------------------------------------------------------
T = TypeVar("T")


def _no_setup(load: Callable[[], T]) -> T:
    return load()


class ProblemSource:
    """The problem set behind a key, imported only when first needed.

    Grading reads the answer key alone; the problem set is imported only when a part's hint
    must test an answer or a kind is defined in it, and torch with it only when
    follow-through must recompute a reference (`ready_to_compute`). `setup` is the hook a
    driver sets to run such an import outside a part's budget (the pool worker gives it the
    start-up allowance): it is called with the function that imports. A code part runs each
    sandboxed test (and the sandbox's start, which imports torch in the zygote) through the
    same hook: those have limits of their own (grader.sandbox.Limits), so the part's budget
    must not stop them.
    """

    def __init__(self, problem: "ProblemSet | Callable[[], ProblemSet] | None") -> None:
        self._problem = problem
        self.setup: Callable[[Callable[[], Any]], Any] = _no_setup

    @property
    def loaded(self) -> bool:
        return isinstance(self._problem, ProblemSet)

    def get(self) -> ProblemSet | None:
        if self._problem is None or self.loaded:
            return self._problem  # type: ignore[return-value]
        return self.setup(self._load)

    def ready_to_compute(self) -> ProblemSet | None:
        """The problem set with torch imported: everything a recomputed reference needs."""
        if "torch" in sys.modules:
            return self.get()
        return self.setup(lambda: (self._load(), importlib.import_module("torch"))[0])

    def _load(self) -> ProblemSet | None:
        if callable(self._problem) and not self.loaded:
            self._problem = self._problem()
        return self._problem  # type: ignore[return-value]

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
        #: A code part (kind `code`): answered by the submission's code, run in the sandbox.
        self.code = self.kind.name == "code"
        self.reference = self.kind.decode(key.reference) if key.reference is not None else None
        self.alternatives = [(v, self._target(v.value)) for v in key.alternatives]
        self.mistakes = [(v, self._target(v.value)) for v in key.mistakes]
        #: The graders of the other parts of the assignment (set by AssignmentGrader): what a
        #: follow-through route reads is judged usable against that part's own key.
        self.peers: dict[str, PartGrader] = {}
        #: Whether an accepted form is this part's answer (`_is_reference`), by its text: the
        #: same few examples come with every unreadable answer, and reading one is a parse.
        self._example_is_reference: dict[str, bool] = {}

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
            # A free-text answer is kept whole (as far as the kind reads it): a person grades it
            # from the report, and it states nothing of the key.
            answer=None if raw is None else echo(raw, TEXT_LIMIT if self.kind.manual else ANSWER_ECHO_LIMIT),
            kind=self.kind.name,
            **extra,
        )

    def setback(self, setback: Setback, raw: Any = None) -> PartResult:
        """The result of a part that could not be graded normally (no marks)."""
        return self.result(setback.status, 0.0, setback.feedback, raw)

    def read(self, raw: Any) -> "Reading":
        """How the answer is read, without grading it: what a student sees while typing."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return Reading("missing", message="No answer given.")
        if self.kind.manual:
            return Reading("ok", message="Awaiting a grader's score (free-text part).")
        if self.code:
            return Reading("ok", message="Code: run in the sandbox when the submission is graded.")
        try:
            answer = self.kind.parse(raw)
        except InvalidAnswer as exc:
            self._example_without_key(exc, raw)
            return Reading("invalid", message="Could not read this answer: " + exc.feedback(), position=exc.position)
        # tuple.__new__: the C constructor (this runs for every part graded)
        return tuple.__new__(Reading, ("ok", self.kind.canonical(answer), "", answer, None))

    def _example_without_key(self, exc: InvalidAnswer, raw: Any) -> None:
        """An accepted form shown with an unreadable answer must not be this part's answer
        (a kind's generic example can coincide with a reference); then another of the kind's
        examples is shown, or none. A form that only rewrites the student's own numbers
        (`0,8026` -> `0.8026`, `row 1, column 3` -> `(1, 3)`) reveals nothing and stays."""
        if not exc.example or self.reference is None:
            return
        if _numbers(exc.example) == _numbers(str(raw)) or not self._is_reference(exc.example):
            return
        exc.example = next((e for e in self.kind.examples if e != exc.example and not self._is_reference(e)), None)

    def _is_reference(self, text: str) -> bool:
        known = self._example_is_reference.get(text)
        if known is not None:
            return known
        try:
            full = self.kind.compare(self.kind.parse(text), self.reference).full
        except Exception:  # an example the kind cannot compare is no answer at all
            return False
        self._example_is_reference[text] = full
        return full

    def answer(self, sub: Submission) -> Any:
        """What `sub` gives for this part: the typed answer, or a code part's code files."""
        return sub.code if self.code else sub.answers.get(self.id)

    def grade(self, raw: Any, ctx: GradingContext) -> PartResult:
        if self.code:
            return self.grade_code(raw)
        reading = self.read(raw)
        if reading.status == "missing":
            return self.result(Status.missing, 0.0, reading.message, raw)
        if self.kind.manual:
            return self.result(Status.manual, 0.0, reading.message, raw)
        if reading.status == "invalid":
            return self.result(Status.invalid, 0.0, reading.message, raw)
        answer = reading.value
        ctx.parsed[self.id] = answer
        verdict = self.judge(answer, ctx)
        # Only an answer equal to the reference makes follow-through pointless downstream; one
        # right by follow-through itself still carries the earlier error along a chain (conv → h → z).
        ctx.correct[self.id] = verdict.matched == "reference"
        return self.result(
            verdict.status,
            verdict.fraction * self.marks,
            verdict.feedback,
            raw,
            canonical=reading.read_as,
            matched=verdict.matched,
            details=verdict.details,
            reveals=verdict.reveals or None,
        )

    def grade_code(self, files: dict[str, str] | None) -> PartResult:
        """A code part: the student's cells run in this process's sandbox, each test through the
        driver's `setup` hook (a sandboxed test has limits of its own, not the part's budget)."""
        from grader.code.part import layers_summary, run_code_part  # the sandbox: only for code parts

        verdict, ran, notes = run_code_part(self.id, self.reference, files or {}, self.source.setup)
        raw = ran or None
        verdict.feedback = verdict.feedback[:1].upper() + verdict.feedback[1:]
        if verdict.status in ("missing", "invalid"):
            return self.result(Status(verdict.status), 0.0, verdict.feedback, raw)
        if verdict.status == "error":
            return self.result(Status.error, 0.0, Setback.grader_failed(verdict.feedback).feedback, raw)
        details: dict[str, Any] = {"checks": [f"{c.name}: {'passed' if c.passed else 'failed'}" for c in verdict.checks], "tests": len(verdict.tests)}
        if (layers := layers_summary()) is not None:
            details["sandbox"] = layers
        if verdict.console:
            details["console"] = verdict.console[-2000:]
        if notes:
            details["notes"] = notes[:10]
        if verdict.status == "correct":
            return self.result(Status.correct, self.marks, join("Correct.", verdict.feedback), raw, matched="reference", details=details)
        named = next((v for v in self.key.mistakes if v.name == verdict.mistake), None)
        credit = named.marks if named is not None else 0.0
        text = join("Incorrect.", verdict.feedback, f"Earns {fmt_marks(credit)} of {fmt_marks(self.marks)}." if credit > 0 else "")
        status = Status.partial if credit > 0 else Status.incorrect
        return self.result(status, credit, text, raw, matched=f"mistake: {verdict.mistake}" if verdict.mistake else None, details=details)

    # -- the order of targets ----------------------------------------------------------------
    def judge(self, answer: Any, ctx: GradingContext) -> "Verdict":
        if "sympy" not in sys.modules and isinstance(self.reference, Sample) and self.reference.meta.get("formula"):
            # a formula's proof may need sympy: imported, if it is, outside the part's budget
            token = SYMPY_IMPORT_SETUP.set(self.source.setup)
            try:
                return self._judge(answer, ctx)
            finally:
                SYMPY_IMPORT_SETUP.reset(token)
        return self._judge(answer, ctx)

    def _judge(self, answer: Any, ctx: GradingContext) -> "Verdict":
        best = self.kind.compare(answer, self.reference)
        if best.full:
            return Verdict(Status.correct, 1.0, join("Correct.", best.feedback), "reference", best.details)
        for named, target in self.alternatives:
            m = self.kind.compare(answer, target)
            if m.full:
                note = f"Correct: matches the accepted {named.name} reading." + (f" {named.note}" if named.note else "")
                return Verdict(Status.correct, 1.0, join(note, m.feedback), f"alternative: {named.name}", m.details)
            if m.fraction > best.fraction:
                best = m
        ft = self.follow_through(answer, ctx)
        if ft is not None:
            return ft
        for named, target in self.mistakes:
            m = self.kind.compare(answer, target)
            if m.full:
                # A named mistake earns what the marking scheme states for it (0 unless stated),
                # bounded by this part's own marks, and never less than the same answer's ordinary
                # partial credit (the entries that are right keep their share): the higher stands.
                credit = min(max(named.marks, 0.0), self.marks) / self.marks if self.marks else 0.0
                fraction = max(credit, best.fraction)
                text = f"Not quite: this is the answer you get with a known mistake — {named.name}."
                if named.note:
                    text += f" {named.note}"
                if best.fraction > credit and best.feedback:
                    text += f" {best.feedback}"
                if fraction > 0:
                    text += f" Earns {fmt_marks(fraction * self.marks)} of {fmt_marks(self.marks)}."
                status = Status.partial if fraction > 0 else Status.incorrect
                details = m.details if fraction == credit else best.details
                return Verdict(status, fraction, text, f"mistake: {named.name}", details)
        status = Status.partial if best.fraction > 0 else Status.incorrect
        lead = "Partly correct." if best.fraction > 0 else "Incorrect."
        part = self.source.part(self.id) if self.key.has_hints else None
        hints = [text for test, text in part.hints if test(answer)] if part is not None else []
        return Verdict(status, best.fraction, join(lead, best.feedback, *hints), None, best.details, best.reveals)

    def follow_through(self, answer: Any, ctx: GradingContext) -> "Verdict | None":
        """Full marks when the answer is right *given* the student's own wrong earlier answers."""
        for number, uses in enumerate(self.key.follow_through):
            if not uses or any(u not in ctx.parsed for u in uses):
                continue
            wrong = [u for u in uses if not ctx.correct.get(u, False)]
            # accepted within a tolerance but not the reference's own value: recompute from it
            rounded = [u for u in uses if ctx.correct.get(u, False) and not self._exact(u, ctx.parsed[u])]
            if not wrong and not rounded:
                continue  # earlier answers were exactly right: the reference already covers this route
            if not self._usable(uses, answer, ctx):
                continue
            try:
                self.source.ready_to_compute()  # the first import of the problem set and torch happens here
                route = self.part.routes[number]
                target = self.part.compute_route(route, [ctx.parsed[u] for u in route.uses], self.source.inputs(self.variant))
            except Exception:  # the student's values may not fit the computation at all
                continue
            m = self.kind.compare(answer, target)
            if m.full:
                if wrong:
                    text = (
                        f"Correct by follow-through: consistent with your own answer to {', '.join(wrong)}, "
                        f"which differ{'s' if len(wrong) == 1 else ''} from the reference."
                    )
                else:
                    text = f"Correct by follow-through: consistent with your own rounded answer to {', '.join(rounded)}."
                return Verdict(Status.correct, 1.0, text, f"follow-through: {', '.join(uses)}", m.details)
        return None

    def _exact(self, part_id: str, value: Any) -> bool:
        """Whether an earlier answer is its part's reference value itself (not just within the
        tolerance), so recomputing from it would only give the reference again."""
        peer = self.peers.get(part_id)
        return True if peer is None else peer.kind.exactly(value, peer.reference)

    def _usable(self, uses: list[str], answer: Any, ctx: GradingContext) -> bool:
        """Follow-through needs earlier answers a fair TA would carry forward: each of the shape
        its own part asks for (a 4×4 matrix, not a 1×1 that would broadcast), and not one
        constant typed into every part (a layer maps 0s to 0s: that is no work carried forward)."""
        for u in uses:
            peer = self.peers.get(u)
            if peer is not None and not peer.kind.usable(ctx.parsed[u], peer.reference):
                return False
        typed = constant_of(answer)
        if typed is None or any(constant_of(ctx.parsed[u]) != typed for u in uses):
            return True
        # One constant here and in every answer it follows from: usable only where this part's
        # own values are one constant too (a chain of -40s), not where the work has structure
        # (0s typed into a convolution and its pooling). It depends on nothing but these
        # answers and the key, so a remembered verdict stays right (grader.run.cache).
        reference = numeric_value(self.reference)
        return reference is None or reference.size <= 1 or constant_of(reference) is not None


class Reading(NamedTuple):  # a tuple: made for every part graded, it must cost next to nothing
    """An answer as read, not graded. `read_as` is the canonical echo of a readable answer;
    `message` says why one is missing or unreadable (pointing at the place, with an accepted
    form); `value` is the parsed answer. Status "error" is a bug of ours while reading."""

    status: Literal["ok", "invalid", "missing", "error"]
    read_as: str | None = None
    message: str = ""
    value: Any = None
    position: int | None = None  # where an unreadable answer broke (0-based, as InvalidAnswer says)


@dataclass
class Verdict:
    status: Status
    fraction: float
    feedback: str
    matched: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    reveals: str = ""  # what states the reference (PartResult.reveals): shown only at the `reference` level


_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def _numbers(text: str) -> list[str]:
    """The numbers written in a text, decimal commas read as points."""
    return [n.replace(",", ".") for n in _NUMBER.findall(text[:ANSWER_ECHO_LIMIT])]


def constant_of(value: Any) -> float | None:
    """The one number every entry of a numeric answer equals (`0`, a matrix of 0s), else None."""
    arr = numeric_value(value)
    if arr is None or arr.size == 0 or not np.all(np.isfinite(arr)):
        return None
    first = float(arr.flat[0])
    return first if bool(np.all(arr == first)) else None


def join(*texts: str) -> str:
    return " ".join(t.strip() for t in texts if t and t.strip())


# -- hooks of the part loop ----------------------------------------------------------------------
class Guard(Protocol):
    """Bounds one step of grading: `guard(i)` is called before part i, and `guard(len(parts))`
    before the report is put together. It returns a context manager to run the step in (an
    alarm that raises `PartTimeout`), or None when bounding needs nothing around the step
    (a deadline a parent enforces by killing the process; no limit at all: `no_guard`)."""

    def __call__(self, index: int) -> AbstractContextManager[Any] | None: ...


def no_guard(index: int) -> None:
    return None


#: Receives each part's verdict as soon as it is given: (index, result, context so far).
OnPart = Callable[[int, PartResult, GradingContext], None]


class VerdictCache(Protocol):
    """Grades part `index` like `AssignmentGrader.grade_part`, or recalls an earlier verdict."""

    def __call__(self, grader: "AssignmentGrader", index: int, sub: Submission, ctx: GradingContext) -> PartResult: ...


@dataclass
class GradingState:
    """How far a submission's grading got: the results of the parts before `start`, the
    follow-through context built from them, and the verdicts of parts lost on the way (a
    worker killed or dead on part i: `lost[i]`). `grade(..., resume=state)` carries on."""

    start: int = 0
    ctx: GradingContext = field(default_factory=GradingContext)
    results: list[PartResult] = field(default_factory=list)
    lost: dict[int, Setback] = field(default_factory=dict)


class AssignmentGrader:
    """Grades submissions for one assignment from its answer key.

    `problem` is the problem set, a function that imports it, or None; it is only used for
    follow-through and hints, so most submissions are graded without importing it.
    """

    def __init__(self, problem: "ProblemSet | Callable[[], ProblemSet] | ProblemSource | None", key: AnswerKey) -> None:
        self.key = key
        # graders of one problem set may share its source (per-student variants: one import, one set-up hook)
        self.source = problem if isinstance(problem, ProblemSource) else ProblemSource(problem)
        self.graders = [PartGrader(part_key, key.assignment, self.source, key.variant) for part_key in key.parts]
        peers = {pg.id: pg for pg in self.graders}
        for pg in self.graders:
            pg.peers = peers
        self.part_ids = {pk.id for pk in key.parts}
        #: Per part, the parts its follow-through routes read; and every part some route reads
        #: (their parsed value and correctness are what a resumed grading must carry over).
        self.inputs: list[tuple[str, ...]] = [
            tuple(sorted({u for route in pk.follow_through for u in route})) for pk in key.parts
        ]
        self.follow_through_inputs: frozenset[str] = frozenset(u for uses in self.inputs for u in uses)

    @property
    def ps(self) -> ProblemSet | None:
        return self.source.get()

    def grade(
        self,
        sub: Submission,
        *,
        guard: Guard = no_guard,
        on_part: OnPart | None = None,
        resume: GradingState | None = None,
        verdicts: VerdictCache | None = None,
    ) -> SubmissionReport:
        """Grade every part of `sub` in problem-set order (from `resume.start` on) and assemble
        the report. This is the one loop over a submission's parts."""
        state = resume if resume is not None else GradingState()
        ctx, results, lost = state.ctx, state.results, state.lost
        for index in range(state.start, len(self.graders)):
            if index in lost:
                pg = self.graders[index]
                result = pg.setback(lost[index], sub.answers.get(pg.id))
            else:
                stops = 0
                while True:
                    try:
                        bound = guard(index)
                        if bound is None:  # nothing to enter, the common case: no context-manager calls
                            result = self.grade_part(index, sub, ctx) if verdicts is None else verdicts(self, index, sub, ctx)
                        else:
                            with bound:
                                result = self.grade_part(index, sub, ctx) if verdicts is None else verdicts(self, index, sub, ctx)
                        break
                    except PartTimeout as stop:
                        pg = self.graders[index]
                        ctx.forget(pg.id)
                        stops += 1
                        if stops < ATTEMPTS_AT_THE_BUDGET:
                            continue  # once more before it is called too complex (grader.run.guard)
                        result = pg.setback(Setback.timed_out(stop.seconds), sub.answers.get(pg.id))
                        break
            results.append(result)
            state.start = index + 1
            if on_part is not None:
                on_part(index, result, ctx)
        with guard(len(self.graders)) or nullcontext():
            return self.assemble(sub, results)

    def grade_part(self, index: int, sub: Submission, ctx: GradingContext) -> PartResult:
        """Grade part number `index`; a grader bug costs this part only and is reported as ours."""
        pg = self.graders[index]
        raw = pg.answer(sub)
        try:
            return pg.grade(raw, ctx)
        except Exception as exc:
            return pg.setback(Setback.grader_failed(describe(exc)), raw)

    def read(self, part_id: str, raw: Any) -> Reading:
        """How one answer to `part_id` is read, never raising (a bug is status "error");
        LookupError for a part the assignment does not have."""
        for pg in self.graders:
            if pg.id == part_id:
                try:
                    return pg.read(raw)
                except Exception as exc:
                    return Reading("error", message=Setback.grader_failed(describe(exc)).feedback)
        raise LookupError(f"{self.key.assignment} has no part {part_id!r}")

    def assemble(self, sub: Submission, results: list[PartResult]) -> SubmissionReport:
        """The report from per-part results (in problem-set order)."""
        notes = Warnings(sub.warnings)
        for unknown in sorted(set(map(str, sub.answers)) - self.part_ids):
            notes.repeated("unknown part ids", f"unknown part id {shown(unknown)} ignored")
        warnings = notes.closed()
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
