"""What a student may see of a graded report: the feedback policy applied to one report.

Every student-facing output (the JSON and Markdown reports, Gradescope's results.json, the
service's pages and API) passes a report through `visible_report` at the level the course
file sets for that moment (`Assignment.feedback_level(now)`); staff outputs keep the whole
report. The levels, from least to most (grader.models.FeedbackLevel):

* `score`: the total only, no parts;
* `verdicts`: each part's score and status, a neutral sentence per status, what was read;
* `mistakes`: each part's feedback as the kind wrote it (named mistakes, hints, where an answer
  disagrees), but nothing that states the reference;
* `reference`: everything, the reference-revealing text (`PartResult.reveals`) included.

Kinds keep reference-revealing text out of `feedback` and put it in `reveals`, so this filter
never has to read feedback text.
"""

from __future__ import annotations

from grader.models import FeedbackLevel, PartResult, Status, SubmissionReport

#: `details` entries that state a reference value; kept only at the `reference` level.
REVEALING_DETAILS = frozenset({"expected", "reference", "model_answer", "truth", "truths"})

#: What a part's verdict says at the `verdicts` level, when its feedback is withheld.
VERDICT_SENTENCES: dict[Status, str] = {
    Status.correct: "Correct.",
    Status.partial: "Partly correct.",
    Status.incorrect: "Not correct.",
    Status.missing: "No answer was given.",
    Status.manual: "Graded by a person.",
}


def visible_report(report: SubmissionReport, level: FeedbackLevel) -> SubmissionReport:
    """The report as a student may see it at `level` (a copy; the report itself is untouched)."""
    if level is FeedbackLevel.reference:
        return report
    if level is FeedbackLevel.score:
        return report.model_copy(update={"parts": []})
    return report.model_copy(update={"parts": [visible_part(p, level) for p in report.parts]})


def visible_part(part: PartResult, level: FeedbackLevel) -> PartResult:
    """One part at `verdicts`, `mistakes` or `reference` level (see the module's docstring);
    at `score` a student sees no part at all (`visible_report` drops them)."""
    if level is FeedbackLevel.reference:
        return part
    if level is FeedbackLevel.mistakes:
        if part.reveals is None and REVEALING_DETAILS.isdisjoint(part.details):
            return part  # nothing to withhold (most parts): no copy, two per submission and part
        details = {k: v for k, v in part.details.items() if k not in REVEALING_DETAILS}
        return part.model_copy(update={"details": details, "reveals": None})
    # verdicts: an unreadable answer keeps its message (it is about the student's own text,
    # not the key); every other verdict is one neutral sentence.
    keeps_message = part.status in (Status.invalid, Status.error)
    return part.model_copy(
        update={
            "feedback": part.feedback if keeps_message else VERDICT_SENTENCES.get(part.status, ""),
            "matched": None,
            "details": {},
            "reveals": None,
        }
    )
