"""Gradescope's results.json: a model of the format, an atomic writer, and a report as results.

Marks: one Gradescope test per question part (`number` = part id). Free-text parts are listed
with score 0 and max_score = their marks, tagged `manual`, "Pending: graded by course staff".
The top-level score is the sum of the auto-graded parts only: set the assignment's autograder
points to the auto-graded total and grade the written parts as Gradescope manual questions.
Every write is validated against `GradescopeResults` and goes to a temporary file renamed over
results.json, so no reader ever sees half a file.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Annotated, Any, Iterable, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from grader import __version__
from grader.models import AnswerKey, PartResult, Status, SubmissionReport
from grader.scoring import NOT_YOUR_MISTAKE, fmt_marks

# -- Gradescope's results.json, as a model ---------------------------------------------------------

Visibility = Literal["hidden", "after_due_date", "after_published", "visible"]
TextFormat = Literal["text", "html", "simple_format", "md", "ansi"]

#: Longest text we put in one field: a report is for reading, not for storing a 1 MB answer.
TEXT_LIMIT = 20_000


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text every JSON reader accepts: lone surrogates (undecodable bytes) replaced, NULs shown, capped."""
    text = _SURROGATE.sub("\ufffd", text).replace("\x00", "\\0")
    if len(text) > TEXT_LIMIT:
        text = text[:TEXT_LIMIT] + f"\n… (cut: {len(text)} characters)"
    return text


SafeText = Annotated[str, AfterValidator(clean_text)]
Points = Annotated[float, Field(allow_inf_nan=False)]


class GradescopeTest(BaseModel):
    """One entry of `tests`: here, one question part."""

    model_config = ConfigDict(extra="forbid")

    score: Points | None = None
    max_score: Points | None = None
    status: Literal["passed", "failed"] | None = None
    name: SafeText = ""
    name_format: TextFormat = "text"
    number: str | None = None
    output: SafeText = ""
    output_format: TextFormat = "text"
    tags: list[str] = Field(default_factory=list)
    visibility: Visibility = "visible"
    extra_data: dict[str, Any] = Field(default_factory=dict)


class GradescopeResults(BaseModel):
    """The whole results.json. Field names are Gradescope's; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    score: Points | None = None
    execution_time: int | None = Field(None, ge=0, description="Seconds.")
    output: SafeText = ""
    output_format: TextFormat = "text"
    test_output_format: TextFormat = "text"
    test_name_format: TextFormat = "text"
    visibility: Visibility = "visible"
    stdout_visibility: Visibility = "hidden"
    extra_data: dict[str, Any] = Field(default_factory=dict)
    tests: list[GradescopeTest] = Field(default_factory=list)


def write_results(results: GradescopeResults, path: Path) -> None:
    """Validate, then replace `path` atomically (temporary file in the same folder + rename)."""
    data = GradescopeResults.model_validate(results.model_dump()).model_dump(mode="json", exclude_none=True)
    # No indent: the C encoder is ~10x faster, which matters as the file is rewritten per part.
    text = json.dumps(data, ensure_ascii=False, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".results-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: What every message about our own failure ends with (the student can do nothing about it).
NOT_YOUR_FAULT = "This is not your fault: please tell course staff."

#: Written (raw, no model) only if even validating or serialising our own results failed.
LAST_RESORT = {"score": 0.0, "output": f"The autograder failed before it could report. {NOT_YOUR_FAULT}", "tests": []}


# -- report -> results.json ------------------------------------------------------------------------

PENDING = "Pending: graded by course staff."
NOT_REACHED = "Not graded: the autograder stopped before it reached this part."
STATUS_WORDS = {
    Status.correct: "correct",
    Status.partial: "partly correct",
    Status.incorrect: "incorrect",
    Status.invalid: "unreadable",
    Status.missing: "missing",
    Status.manual: "awaiting staff",
    Status.error: "grader error",
}


def _answer_lines(result: PartResult) -> str:
    lines = []
    if result.answer is not None:
        sep = "\n" if "\n" in result.answer.strip() else " "
        lines.append(f"Your answer:{sep}{result.answer.strip()}")
    if result.canonical and result.canonical.strip() != (result.answer or "").strip():
        sep = "\n" if "\n" in result.canonical else " "
        lines.append(f"Read as:{sep}{result.canonical}")
    return "\n".join(lines)


def part_test(result: PartResult, manual: bool, visibility: Visibility) -> GradescopeTest:
    """One part's verdict as a Gradescope test."""
    name = f"{result.id} ({result.kind})" if result.kind else result.id
    tags = [result.kind] if result.kind else []
    if manual:
        tags.append("manual")
        if result.status is Status.manual:  # answered: nothing for the autograder to object to
            head, status, tags = PENDING, "passed", tags + ["pending"]
        else:
            head, status, tags = f"{result.feedback} This written part is graded by course staff.", "failed", tags + [result.status.value]
    else:
        head, status, tags = result.feedback, ("passed" if result.status is Status.correct else "failed"), tags + [result.status.value]
    output = "\n\n".join(t for t in (head.strip(), _answer_lines(result)) if t)
    return GradescopeTest(
        score=0.0 if manual else result.score,
        max_score=result.max_score,
        status=status,  # type: ignore[arg-type]
        name=name,
        number=result.id,
        output=output,
        tags=tags,
        visibility=visibility,
    )


def not_reached_test(part_id: str, kind: str, marks: float, visibility: Visibility) -> GradescopeTest:
    return GradescopeTest(
        score=0.0, max_score=marks, status="failed", name=f"{part_id} ({kind})", number=part_id,
        output=NOT_REACHED, tags=[kind, "not-graded"], visibility=visibility,
    )


def marks_total(values: Iterable[float]) -> float:
    """A sum of marks without float dust (30 × 0.4 is 12, not 12.000000000000002)."""
    return round(math.fsum(values), 6)


def summary(key: AnswerKey, results: list[PartResult], warnings: list[str], source: str | None) -> str:
    """The top-level output: the score, what is left to course staff, and anything odd."""
    parts = {p.id: p for p in key.parts}
    manual_ids = [p.id for p in key.parts if p.manual]
    auto_max = marks_total(p.marks for p in key.parts if not p.manual)
    auto_score = marks_total(r.score for r in results if not parts[r.id].manual)
    lines = [f"{key.title} ({key.assignment})", f"Auto-graded: {fmt_marks(round(auto_score, 4))} / {fmt_marks(auto_max)} marks."]
    counts: dict[Status, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    lines.append("Parts: " + ", ".join(f"{n} {STATUS_WORDS[s]}" for s, n in counts.items()) + ".")
    if manual_ids:
        manual_max = marks_total(parts[i].marks for i in manual_ids)
        lines.append(
            f"Written parts ({', '.join(manual_ids)}; {fmt_marks(manual_max)} marks) are graded by course staff "
            "and show 0 here until then."
        )
    errors = [r.id for r in results if r.status is Status.error]
    if errors:
        lines.append(f"The grader itself failed on {', '.join(errors)}: {NOT_YOUR_MISTAKE}.")
    if source:
        lines.append(f"Answers read from {Path(source).name}.")
    lines += [f"Warning: {w}" for w in warnings]
    return "\n".join(lines)


def results_from_report(report: SubmissionReport, key: AnswerKey, visibility: Visibility = "visible", notes: list[str] | None = None) -> GradescopeResults:
    """A finished report as results.json."""
    parts = {p.id: p for p in key.parts}
    tests = [part_test(r, parts[r.id].manual, visibility) for r in report.parts]
    auto = [r for r in report.parts if not parts[r.id].manual]
    score = marks_total(r.score for r in auto)
    output = summary(key, report.parts, report.warnings, report.source)
    if report.late is not None:  # the course's late policy, from Gradescope's created_at
        output += f"\nLate: {report.late.note}; the auto-graded score {fmt_marks(score)} counts as {fmt_marks(report.late.applied(score))}."
        score = report.late.applied(score)
    return GradescopeResults(
        score=score,
        output=output,
        visibility=visibility,
        tests=tests,
        extra_data={
            "assignment": report.assignment,
            "student": report.student,
            "auto_max_score": marks_total(p.marks for p in key.parts if not p.manual),
            "manual_max_score": marks_total(p.marks for p in key.parts if p.manual),
            "statuses": {r.id: r.status.value for r in report.parts},
            "key_hash": report.key_hash,
            "grader_version": report.grader_version,
            "notes": notes or [],
            **({"late": report.late.model_dump(mode="json")} if report.late is not None else {}),
        },
    )


def failure_results(message: str, visibility: Visibility = "visible", tests: list[GradescopeTest] | None = None) -> GradescopeResults:
    """A results.json for a run that could not finish: the auto-graded parts done so far (if
    any) still count, and the output says why the rest is missing."""
    tests = tests or []
    done = [t for t in tests if "manual" not in t.tags and "not-graded" not in t.tags]
    return GradescopeResults(
        score=marks_total(t.score or 0.0 for t in done),
        output=message,
        visibility=visibility,
        tests=tests,
        extra_data={"grader_version": __version__, "failed": True},
    )
