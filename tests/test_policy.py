"""The feedback policy (grader.report.policy): what each level lets a student see."""

from __future__ import annotations

from grader.models import FeedbackLevel, PartResult, Status, SubmissionReport
from grader.report.policy import visible_report


def _report() -> SubmissionReport:
    parts = [
        PartResult(id="q1", score=2, max_score=2, status=Status.correct, feedback="Right.", canonical="61706",
                   matched="reference", details={"method": "exact"}),
        PartResult(id="q2", score=0.5, max_score=2, status=Status.partial,
                   feedback="This is the mistake 'bias not counted'.", canonical="61700",
                   matched="mistake: bias not counted", details={"expected": 61706, "seed": 3},
                   reveals="The expected value is 61706."),
        PartResult(id="q3", score=0, max_score=1, status=Status.invalid,
                   feedback="Could not read 'abc' as a number; an accepted form: 12.5", answer="abc"),
    ]
    return SubmissionReport(assignment="hw", student="s1", score=2.5, max_score=5, parts=parts)


def test_reference_level_shows_everything() -> None:
    report = _report()
    assert visible_report(report, FeedbackLevel.reference) == report


def test_mistakes_level_keeps_feedback_but_drops_what_states_the_reference() -> None:
    shown = visible_report(_report(), FeedbackLevel.mistakes)
    q2 = shown.parts[1]
    assert q2.feedback == "This is the mistake 'bias not counted'."
    assert q2.reveals is None and "expected" not in q2.details and q2.details["seed"] == 3
    assert "61706" not in q2.model_dump_json()


def test_verdicts_level_gives_a_neutral_sentence_but_keeps_an_unreadable_answers_message() -> None:
    shown = visible_report(_report(), FeedbackLevel.verdicts)
    assert [p.feedback for p in shown.parts[:2]] == ["Correct.", "Partly correct."]
    assert shown.parts[1].matched is None and shown.parts[1].details == {}
    assert shown.parts[2].feedback.startswith("Could not read 'abc'")
    assert [p.score for p in shown.parts] == [2, 0.5, 0] and shown.score == 2.5


def test_score_level_shows_only_the_total() -> None:
    shown = visible_report(_report(), FeedbackLevel.score)
    assert shown.parts == [] and (shown.score, shown.max_score) == (2.5, 5)


def test_the_original_report_is_never_changed() -> None:
    report = _report()
    before = report.model_dump_json()
    for level in FeedbackLevel:
        visible_report(report, level)
    assert report.model_dump_json() == before
