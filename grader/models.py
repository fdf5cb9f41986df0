"""Pydantic models at the boundaries: every file the grader reads or writes.

A submission (what a student handed in), a report (what the grader says about it), an answer
key (reference/<assignment>.json) and a run's record (OUT/run.json). Reports and run.json are
the public contract of answer-format.md ("What comes out"); fields may be added, never
renamed or removed.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from grader import __version__
from grader.variants.variant import Variant


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _sorted_keys(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value


class Status(str, Enum):
    correct = "correct"
    partial = "partial"
    incorrect = "incorrect"
    invalid = "invalid"
    missing = "missing"
    manual = "manual"
    error = "error"


class Submission(BaseModel):
    """One student's answers to one assignment, as read from disk (step 1 of the data flow)."""

    model_config = ConfigDict(frozen=True)

    assignment: str
    student: str
    answers: dict[str, Any]
    submitted_at: datetime | None = None
    source: str = Field(description="Path of the file the answers were read from.")
    warnings: list[str] = Field(default_factory=list)
    handed_in_by: str | None = Field(
        None,
        description="Who handed it in: the student's folder or file name, or the account of an upload. "
        "Per-student variants use it, never a student line typed in the file.",
    )
    variant: Variant | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="The numbers to grade against when they were given before (a regrade keeps a "
        "report's stored numbers); None: the numbers dealt to whoever handed it in.",
    )

    @property
    def identity(self) -> str:
        return self.handed_in_by or self.student


class FeedbackLevel(str, Enum):
    """How much of a graded report a student sees, from least to most."""

    score = "score"  # the total only
    verdicts = "verdicts"  # + each part's score and status
    mistakes = "mistakes"  # + each part's feedback: what was read, named mistakes, hints
    reference = "reference"  # + the reference answers and the solution

    @property
    def rank(self) -> int:
        return list(FeedbackLevel).index(self)

    def allows(self, other: "FeedbackLevel") -> bool:
        """Whether this level shows everything `other` shows."""
        return self.rank >= other.rank


class PartResult(BaseModel):
    """The verdict on one part."""

    id: str
    score: float
    max_score: float
    status: Status
    feedback: str
    answer: str | None = Field(None, description="The student's answer as typed (truncated).")
    canonical: str | None = Field(None, description="How the grader read the answer.")
    kind: str = ""
    matched: str | None = Field(
        None, description="What the answer matched: reference, an alternative, follow-through or a named mistake."
    )
    details: dict[str, Any] = Field(default_factory=dict, description="Method, seed, sample points, ...")
    reveals: str | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="Feedback that states the reference (the expected value or formula): shown to a "
        "student only at the `reference` feedback level.",
    )

    @field_validator("details", mode="after")
    @classmethod
    def _keys_sorted(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Kinds fill `details` freely; sorted keys keep reports byte-identical run to run.
        return _sorted_keys(value)


class Late(BaseModel):
    """A submission handed in after its due date, and what the course's late policy made of it."""

    due: datetime
    submitted_at: datetime
    hours_late: float
    days: int = Field(description="Started days late (after any grace period): what the policy counts.")
    factor: float = Field(description="The score is the raw score times this (0 after the cut-off).")
    refused: bool = Field(False, description="After the cut-off: nothing is credited.")
    raw_score: float = Field(description="The score before the late policy.")
    note: str = Field(description="The line reports show, e.g. 'submitted 26 h late: × 0.8'.")

    def applied(self, raw: float) -> float:
        return round(raw * self.factor, 6)


class SubmissionReport(BaseModel):
    """One submission, graded. Serialised as the per-student JSON report."""

    assignment: str
    student: str
    score: float
    max_score: float
    parts: list[PartResult]
    warnings: list[str] = Field(default_factory=list)
    submitted_at: datetime | None = None
    source: str | None = None
    key_hash: str | None = Field(None, description="Hash of the answer key used, for reproducibility.")
    grader_version: str | None = None
    variant: Variant | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="The student's own numbers (per-student variants): the code on their sheet and the values graded against.",
    )
    late: Late | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="Handed in after the due date: the late policy applied (`score` is the late-adjusted score, `late.raw_score` the one before).",
    )

    @property
    def has_error(self) -> bool:
        return any(p.status is Status.error for p in self.parts)


class BrokenSubmission(BaseModel):
    """A file that could not be read as a submission at all (bad TOML, unknown assignment...)."""

    source: str
    reason: str
    assignment: str | None = Field(None, description="The assignment the file names, when it could be read that far.")


# -- answer keys (reference/<assignment>.json, built by grader.keys.build) ----------------------
class VariantKey(BaseModel):
    name: str
    value: Any
    marks: float
    note: str = ""


class RubricItem(BaseModel):
    """One line of a manual part's rubric: what a grader ticks, and the marks it is worth
    (negative for a deduction)."""

    text: str
    marks: float


class PartKey(BaseModel):
    id: str
    kind: str
    kind_spec: dict[str, Any] = Field(description="The kind's constructor call (grader.kinds.spec).")
    marks: float
    prompt: str = ""
    reference: Any = None
    alternatives: list[VariantKey] = Field(default_factory=list)
    mistakes: list[VariantKey] = Field(default_factory=list)
    uses: list[str] = Field(default_factory=list)
    follow_through: list[list[str]] = Field(default_factory=list, description="Routes of part ids.")
    seed: int | None = Field(None, description="Seed of the sample points (formula parts).")
    has_hints: bool = Field(False, description="The problem set has hints that test wrong answers.")
    # Left out of the JSON when empty, so keys of sets without rubrics stay as they were.
    rubric: list[RubricItem] = Field(default_factory=list, exclude_if=lambda v: not v, description="Manual parts: the items a grader picks by number.")
    comments: list[str] = Field(default_factory=list, exclude_if=lambda v: not v, description="Manual parts: reusable comments for graders.")
    model_answer: str = Field("", exclude_if=lambda v: not v, description="Manual parts: a model answer for graders (never shown to students before the policy allows).")

    @property
    def manual(self) -> bool:
        """Graded by a person (free text)."""
        return self.kind == "text"


class AnswerKey(BaseModel):
    assignment: str
    title: str
    total: float
    source_hash: str
    source_file: str = Field("", description="File name of the problem set in the problems folder.")
    torch_version: str
    grader_version: str
    parts: list[PartKey]
    variant: Variant | None = Field(
        None, exclude_if=lambda v: v is None, description="The student's numbers this key was computed for (none: the printed ones)."
    )

    def part(self, part_id: str) -> PartKey:
        for p in self.parts:
            if p.id == part_id:
                return p
        raise KeyError(part_id)


# -- a run's record (OUT/run.json, written by grader.run.writer) --------------------------------
class ReportEntry(BaseModel):
    assignment: str
    student: str
    file: str = Field(description="The JSON report, relative to OUT; the Markdown report is beside it.")
    source: str | None = None
    score: float
    max_score: float
    error_parts: int = 0


class AssignmentSummary(BaseModel):
    assignment: str
    title: str
    max_score: float
    graded: int
    broken: int
    mean: float | None = None
    median: float | None = None
    min: float | None = None
    max: float | None = None
    error_parts: int = 0


class Superseded(BaseModel):
    """A submission not graded because the same student handed in a later one for the same assignment."""

    source: str
    assignment: str
    student: str
    submitted_at: datetime | None = None
    graded: str = Field(description="The source of the student's submission that was graded instead (the latest).")


class RunSummary(BaseModel):
    """OUT/run.json: what a run did, without timestamps so reruns are byte-identical."""

    grader_version: str = __version__
    graded: int = 0
    broken: list[BrokenSubmission] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list, description="Failures of the grader itself, outside a part.")
    assignments: list[AssignmentSummary] = Field(default_factory=list)
    reports: list[ReportEntry] = Field(default_factory=list)
    superseded: list[Superseded] = Field(
        default_factory=list,
        exclude_if=lambda v: not v,
        description="Earlier submissions of students who handed in more than one for an assignment: listed, not graded.",
    )

    @property
    def error_parts(self) -> int:
        return sum(r.error_parts for r in self.reports)

    @property
    def exit_code(self) -> int:
        """1 when the grader failed somewhere (an `error` part or a run error), else 0."""
        return 1 if self.errors or self.error_parts else 0
