"""The engine's order of targets and its part loop, on a small problem set with kinds of its own.

For each part the first full match wins, in this order: the reference; accepted alternatives;
follow-through (the reference recomputed from the student's own wrong earlier answers);
named mistakes (their stated marks, not per-entry credit). Otherwise the best partial match
over the reference and the alternatives stands, with the part's hints. Then the loop: its
guard, on_part and resume hooks, a grader bug costing one part, and reading without grading.
"""

from __future__ import annotations

from contextlib import nullcontext

import pytest

from grader.errors import InvalidAnswer
from grader.keys.build import build_key
from grader.kinds.base import Kind, Match
from grader.models import PartResult, Status, Submission
from grader.problemset import ProblemSet
from grader.scoring import AssignmentGrader, GradingContext, GradingState, PartTimeout, Setback


class Num(Kind):
    """An exact number; "boom" makes the check itself fail (a grader bug)."""

    name = "num"

    def parse(self, raw):
        if str(raw).strip() == "boom":
            return "boom"
        try:
            return float(str(raw).strip())
        except ValueError:
            raise InvalidAnswer("not a number", position=0, example="3") from None

    def normalise(self, value):
        return float(value)

    def compare(self, answer, target):
        if answer == "boom":
            raise RuntimeError("kaboom")
        return Match(1.0 if answer == target else 0.0)

    def canonical(self, value):
        return value if isinstance(value, str) else f"{value:g}"


class Vec(Kind):
    """Three numbers with per-entry credit."""

    name = "vec"

    def parse(self, raw):
        items = str(raw).replace(",", " ").split()
        if len(items) != 3:
            raise InvalidAnswer(f"expected 3 numbers, got {len(items)}", example="1 2 3")
        return [float(x) for x in items]

    def normalise(self, value):
        return [float(x) for x in value]

    def compare(self, answer, target):
        right = sum(a == t for a, t in zip(answer, target))
        return Match(right / 3, f"{right} of 3 entries right.")

    def canonical(self, value):
        return " ".join(f"{x:g}" for x in value)


hw = ProblemSet("order", title="Order of targets")


@hw.part("a", 2, Num())
def a():
    return 3.0


@a.alternative("in tenths", note="Tenths are accepted too.")
def _():
    return 30.0


@a.alternative("same as the reference")
def _():
    return 3.0


@a.mistake("sign flipped", marks=1, note="Mind the sign.")
def _():
    return -3.0


@a.mistake("in tenths, again")  # the alternative's value: the alternative is tried first
def _():
    return 30.0


@hw.part("b", 1, Num(), uses=["a"])
def b(a):
    return a * 10


@b.mistake("forty")  # what a student with a = 4 gets by follow-through: follow-through first
def _(a):
    return 40.0


@hw.part("c", 1, Num(), uses=["b"])
def c(b):
    return b + 1


@hw.part("v", 3, Vec())
def v():
    return [1.0, 2.0, 3.0]


@v.alternative("reversed")
def _():
    return [3.0, 2.0, 1.0]


@v.mistake("last entry off")  # two entries equal the reference's: still 0 marks, as stated
def _():
    return [1.0, 2.0, 4.0]


@v.mistake("all negated", marks=1)
def _():
    return [-1.0, -2.0, -3.0]


@v.hint("Every entry is positive.")
def _(answer):
    return any(x <= 0 for x in answer)


hw.manual("essay", 2, "Explain.")


@pytest.fixture(scope="module")
def grader() -> AssignmentGrader:
    return AssignmentGrader(hw, build_key(hw))


def grade(grader: AssignmentGrader, **answers: object):
    report = grader.grade(Submission(assignment="order", student="s", answers=answers, source="s.toml"))
    return report, {p.id: p for p in report.parts}


# -- the order of targets -----------------------------------------------------------------------
def test_the_reference_comes_first(grader: AssignmentGrader) -> None:
    # 3 is also the value of an alternative: the reference wins and is what the report says
    _, parts = grade(grader, a="3")
    assert (parts["a"].status, parts["a"].score, parts["a"].matched) == (Status.correct, 2, "reference")
    assert parts["a"].feedback == "Correct."


def test_an_alternative_earns_full_marks_and_is_named(grader: AssignmentGrader) -> None:
    _, parts = grade(grader, a="30")  # also the value of a named mistake: the alternative is tried first
    assert (parts["a"].status, parts["a"].score, parts["a"].matched) == (Status.correct, 2, "alternative: in tenths")
    assert parts["a"].feedback == "Correct: matches the accepted in tenths reading. Tenths are accepted too."


def test_a_named_mistake_earns_its_stated_marks(grader: AssignmentGrader) -> None:
    _, parts = grade(grader, a="-3")
    assert (parts["a"].status, parts["a"].score, parts["a"].matched) == (Status.partial, 1, "mistake: sign flipped")
    assert parts["a"].feedback == (
        "Not quite: this is the answer you get with a known mistake — sign flipped. Mind the sign. Earns 1 of 2."
    )


def test_a_named_mistake_never_scores_below_the_same_answers_partial_credit(grader: AssignmentGrader) -> None:
    _, parts = grade(grader, v="1 2 4")  # 2 of 3 entries equal the reference's; the mistake earns 0
    assert (parts["v"].status, parts["v"].score, parts["v"].matched) == (Status.partial, 2, "mistake: last entry off")
    assert parts["v"].feedback == (
        "Not quite: this is the answer you get with a known mistake — last entry off. 2 of 3 entries right. Earns 2 of 3."
    )
    _, parts = grade(grader, v="-1 -2 -3")  # no entry right: the mistake's stated mark stands
    assert (parts["v"].status, parts["v"].score, parts["v"].matched) == (Status.partial, 1, "mistake: all negated")


def test_a_zero_mark_mistake_with_nothing_right_is_incorrect(grader: AssignmentGrader) -> None:
    _, parts = grade(grader, a="30", b="40")  # b = 40 is b's mistake "forty" (a = 30 is an alternative)
    assert (parts["b"].status, parts["b"].score, parts["b"].matched) == (Status.incorrect, 0, "mistake: forty")
    assert "Earns" not in parts["b"].feedback


def test_a_mistake_declared_for_one_part_never_touches_another(grader: AssignmentGrader) -> None:
    # -3 is a's named mistake; typed into c it is just wrong there, and a's mistake costs c nothing:
    _, parts = grade(grader, a="-3", b="-30", c="-29")  # b and c follow from a's mistaken value
    assert (parts["a"].score, parts["a"].matched) == (1, "mistake: sign flipped")
    assert (parts["b"].status, parts["b"].score, parts["b"].matched) == (Status.correct, 1, "follow-through: a")
    assert (parts["c"].status, parts["c"].matched) == (Status.correct, "follow-through: b")
    _, parts = grade(grader, c="-3")
    assert (parts["c"].status, parts["c"].matched) == (Status.incorrect, None)
    # a mistake can never earn more than its own part's marks (it would take them from others)
    other = ProblemSet("bounds")
    part = other.part("p", 1, Num())(lambda: 1.0)
    part.mistake("too generous", marks=2)(lambda: 2.0)  # `grader key check` reports it; scoring bounds it
    report = AssignmentGrader(other, build_key(other)).grade(Submission(assignment="bounds", student="s", answers={"p": "2"}, source="s"))
    assert (report.parts[0].score, report.score, report.parts[0].matched) == (1, 1, "mistake: too generous")


def test_follow_through_comes_before_named_mistakes(grader: AssignmentGrader) -> None:
    # a = 4 is wrong; b = 40 is 4 × 10 (follow-through) and also the named mistake "forty"
    _, parts = grade(grader, a="4", b="40", c="41")
    assert parts["a"].status is Status.incorrect
    assert (parts["b"].status, parts["b"].score, parts["b"].matched) == (Status.correct, 1, "follow-through: a")
    assert parts["b"].feedback == "Correct by follow-through: consistent with your own answer to a, which differs from the reference."
    # b right only by follow-through still carries a's error along the chain: c follows from b = 40
    assert (parts["c"].status, parts["c"].matched) == (Status.correct, "follow-through: b")


def test_no_follow_through_from_a_right_missing_or_unreadable_answer(grader: AssignmentGrader) -> None:
    for a_answer in ("3", None, "three"):
        answers = {"b": "40"} if a_answer is None else {"a": a_answer, "b": "40"}
        _, parts = grade(grader, **answers)
        # only the named mistake is left to explain 40
        assert (parts["b"].status, parts["b"].matched) == (Status.incorrect, "mistake: forty"), a_answer


def test_a_part_right_by_the_reference_ends_the_chain(grader: AssignmentGrader) -> None:
    _, parts = grade(grader, a="4", b="30", c="41")  # b is simply right; c = 41 follows from nothing
    assert parts["b"].matched == "reference"
    assert (parts["c"].status, parts["c"].matched) == (Status.incorrect, None)


def test_the_best_partial_match_stands_over_reference_and_alternatives(grader: AssignmentGrader) -> None:
    _, parts = grade(grader, v="1 2 9")  # 2 of 3 against the reference, 1 of 3 against "reversed"
    assert (parts["v"].status, parts["v"].score, parts["v"].matched) == (Status.partial, 2, None)
    assert parts["v"].feedback == "Partly correct. 2 of 3 entries right."
    _, parts = grade(grader, v="3 2 5")  # 2 of 3 against "reversed", 1 of 3 against the reference
    assert (parts["v"].status, parts["v"].score) == (Status.partial, 2)


def test_hints_come_only_when_nothing_named_explains_the_answer(grader: AssignmentGrader) -> None:
    _, parts = grade(grader, v="3 2 -5")
    assert parts["v"].feedback == "Partly correct. 2 of 3 entries right. Every entry is positive."
    _, parts = grade(grader, v="-1 -2 -3")  # the hint's test holds, but a named mistake explains it
    assert parts["v"].matched == "mistake: all negated" and "positive" not in parts["v"].feedback
    _, parts = grade(grader, v="7 8 9")  # nothing right, test false: no hint
    assert parts["v"].feedback == "Incorrect. 0 of 3 entries right."


def test_missing_manual_and_unreadable_answers(grader: AssignmentGrader) -> None:
    report, parts = grade(grader, a="  ", essay="Because.", v="1 2")
    assert (parts["a"].status, parts["a"].feedback) == (Status.missing, "No answer given.")
    assert parts["b"].status is Status.missing and parts["b"].answer is None
    assert (parts["essay"].status, parts["essay"].score) == (Status.manual, 0)
    assert parts["v"].status is Status.invalid
    # the kind's example `1 2 3` is this part's reference: an unreadable answer is not told the key
    assert parts["v"].feedback == "Could not read this answer: expected 3 numbers, got 2."
    assert [p.id for p in report.parts] == ["a", "b", "c", "v", "essay"]  # problem-set order


def test_a_grader_bug_costs_that_part_only(grader: AssignmentGrader) -> None:
    report, parts = grade(grader, a="boom", b="30", v="1 2 3")
    assert parts["a"].status is Status.error and parts["a"].score == 0
    assert parts["a"].feedback == (
        "The grader itself failed on this part (RuntimeError: kaboom). This is not your mistake; course staff will look at it."
    )
    assert parts["b"].status is Status.correct and parts["v"].status is Status.correct
    assert report.score == 4 and report.has_error


# -- the loop's hooks ---------------------------------------------------------------------------
SUB = Submission(assignment="order", student="s", answers={"a": "4", "b": "40", "c": "41", "v": "1 2 3"}, source="s.toml")


def test_a_guard_that_stops_a_part_makes_it_too_complex_and_forgets_it(grader: AssignmentGrader) -> None:
    guarded: list[int] = []

    def guard(index: int):
        guarded.append(index)
        if index == 0:
            raise PartTimeout(1.5)
        return None if index % 2 else nullcontext()  # nothing to wrap, or a context to run in

    report = grader.grade(SUB, guard=guard)
    a_result, b_result = report.parts[0], report.parts[1]
    assert (a_result.status, a_result.score) == (Status.invalid, 0)
    assert a_result.feedback == "Too complex to check within 1.5 s: checking this answer was stopped. Write it in a simpler form."
    assert b_result.matched == "mistake: forty"  # a stopped half-way is no basis for follow-through
    assert guarded == [0, 0, 1, 2, 3, 4, 5]  # part 0 twice (stopped, graded once more), every part, then the report's assembly


def test_a_part_stopped_once_by_its_guard_is_graded_again(grader: AssignmentGrader) -> None:
    # A stop can be the machine's doing (the alarm of an in-process driver, e.g. Gradescope):
    # one more try before the answer is called too complex.
    stops: list[int] = []

    def guard(index: int):
        if index == 0 and not stops:
            stops.append(index)
            raise PartTimeout(1.5)
        return None

    report = grader.grade(SUB, guard=guard)
    assert stops == [0] and report.parts[0].status is not Status.invalid
    assert report.parts[0] == grader.grade(SUB).parts[0]


def test_on_part_sees_every_verdict_in_order_before_the_report(grader: AssignmentGrader) -> None:
    seen: list[tuple[int, str, str | None]] = []
    report = grader.grade(SUB, on_part=lambda i, result, ctx: seen.append((i, result.id, result.matched)))
    assert seen == [(i, p.id, p.matched) for i, p in enumerate(report.parts)]
    assert seen[1] == (1, "b", "follow-through: a")


def test_resume_carries_on_with_the_context_and_the_lost_parts(grader: AssignmentGrader) -> None:
    # a worker graded a and b, reported them, then was killed on c
    first: list[tuple[int, PartResult, GradingContext]] = []
    grader.grade(SUB, on_part=lambda i, r, ctx: first.append((i, r, ctx)))
    ctx = first[1][2]
    state = GradingState(start=2, ctx=ctx, results=[first[0][1], first[1][1]], lost={2: Setback.timed_out(2)})
    report = grader.grade(SUB, resume=state)
    assert [p.status for p in report.parts] == [Status.incorrect, Status.correct, Status.invalid, Status.correct, Status.missing]
    assert report.parts[1].matched == "follow-through: a" and "within 2 s" in report.parts[2].feedback
    assert report.score == 1 + 3


def test_a_resumed_context_still_drives_follow_through(grader: AssignmentGrader) -> None:
    ctx = GradingContext(parsed={"a": 4.0, "b": 40.0}, correct={"a": False, "b": False})
    placeholder = [PartResult(id=i, score=0, max_score=1, status=Status.incorrect, feedback="") for i in ("a", "b")]
    report = grader.grade(SUB, resume=GradingState(start=2, ctx=ctx, results=placeholder))
    assert report.parts[2].matched == "follow-through: b"


def test_the_verdict_hook_is_asked_for_every_part(grader: AssignmentGrader) -> None:
    asked: list[int] = []

    def verdicts(g: AssignmentGrader, index: int, sub: Submission, ctx: GradingContext) -> PartResult:
        asked.append(index)
        return g.grade_part(index, sub, ctx)

    assert grader.grade(SUB, verdicts=verdicts).parts == grader.grade(SUB).parts
    assert asked == [0, 1, 2, 3, 4]


# -- reading without grading ----------------------------------------------------------------------
def test_read_says_how_an_answer_is_read_without_grading_it(grader: AssignmentGrader) -> None:
    ok = grader.read("v", "1, 2,  9")
    assert (ok.status, ok.read_as, ok.value) == ("ok", "1 2 9", [1.0, 2.0, 9.0])
    bad = grader.read("v", "1 2")
    assert bad.status == "invalid" and "expected 3 numbers, got 2" in bad.message
    assert "`1 2 3`" not in bad.message  # the kind's example is this part's reference: withheld
    assert grader.read("a", "x").position == 0  # where the kind said the answer broke
    assert grader.read("a", "").status == "missing"
    assert grader.read("essay", "Because.").status == "ok"
    with pytest.raises(LookupError):
        grader.read("nope", "1")


# -- follow-through needs a usable earlier answer ------------------------------------------------
from grader.kinds import Number, Vector  # noqa: E402

ft = ProblemSet("usable", title="Follow-through from usable answers")


@ft.part("x", 1, Vector(3))
def x():
    return [1.0, 2.0, 3.0]


@ft.part("total", 1, Number(), uses=["x"])
def total(x):
    return x.sum()


@ft.part("double", 1, Vector(3), uses=["x"])
def double(x):
    return 2 * x


@ft.part("mean", 1, Vector(3), uses=["x"])  # one constant by construction
def mean(x):
    return x.mean() * (x * 0 + 1)


@ft.part("y", 1, Number())  # accepted within 0.5%
def y():
    return 2 / 3


@ft.part("y3000", 1, Number(rel_tol=1e-6), uses=["y"])  # a tight tolerance downstream
def y3000(y):
    return 3000 * y


@pytest.fixture(scope="module")
def ft_grader() -> AssignmentGrader:
    return AssignmentGrader(ft, build_key(ft))


def ft_parts(grader: AssignmentGrader, **answers: object):
    report = grader.grade(Submission(assignment="usable", student="s", answers=answers, source="s.toml"))
    return {p.id: p for p in report.parts}


def test_follow_through_needs_the_earlier_answers_shape(ft_grader: AssignmentGrader) -> None:
    parts = ft_parts(ft_grader, x="1 2 4", total="7")  # a usable wrong x: 7 follows from it
    assert (parts["total"].status, parts["total"].matched) == (Status.correct, "follow-through: x")
    parts = ft_parts(ft_grader, x="7", total="7")  # one number where three are asked: 7 sums to 7
    assert parts["x"].status is Status.incorrect
    assert (parts["total"].status, parts["total"].matched) == (Status.incorrect, None)


def test_follow_through_refuses_one_constant_typed_into_every_part(ft_grader: AssignmentGrader) -> None:
    parts = ft_parts(ft_grader, x="0 0 0", double="0 0 0", mean="0 0 0")  # 0s typed everywhere
    assert (parts["double"].status, parts["double"].matched) == (Status.incorrect, None)  # 2x has structure
    # where the part's own values are one constant, a chain of one value is real work carried forward
    assert (parts["mean"].status, parts["mean"].matched) == (Status.correct, "follow-through: x")
    parts = ft_parts(ft_grader, x="1 0 0", double="2 0 0")  # not a constant: carried forward
    assert (parts["double"].status, parts["double"].matched) == (Status.correct, "follow-through: x")


def test_follow_through_from_an_answer_accepted_within_the_tolerance(ft_grader: AssignmentGrader) -> None:
    parts = ft_parts(ft_grader, y="0.6667", y3000="2000.1")  # 3000 × 0.6667, not 3000 × 2/3 (2000)
    assert (parts["y"].status, parts["y"].matched) == (Status.correct, "reference")
    assert (parts["y3000"].status, parts["y3000"].matched) == (Status.correct, "follow-through: y")
    assert parts["y3000"].feedback == "Correct by follow-through: consistent with your own rounded answer to y."
    parts = ft_parts(ft_grader, y="2/3", y3000="2000.1")  # y exactly right: nothing to recompute from
    assert (parts["y3000"].status, parts["y3000"].matched) == (Status.incorrect, None)
    parts = ft_parts(ft_grader, y="0.6667", y3000="2000")  # the reference itself is still right
    assert parts["y3000"].matched == "reference"
