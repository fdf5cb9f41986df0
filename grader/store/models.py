"""Pydantic records the store hands out and takes in (the store's boundary)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class RunInfo(BaseModel):
    """One grading run: enough to reproduce every grade it produced."""

    id: int
    started_at: datetime
    finished_at: datetime | None = None
    grader_version: str
    key_hashes: dict[str, str] = Field(default_factory=dict, description="assignment -> answer-key source hash")
    command: str = ""
    kind: str = "run"


class RubricPick(BaseModel):
    """A rubric item a grader picked, as it read when picked (number from 1, text, marks)."""

    number: int
    text: str
    marks: float


class ManualScore(BaseModel):
    """A person's score for one free-text part, with the comment the student sees and the
    rubric items picked (none when the score was typed)."""

    assignment: str
    student: str
    part_id: str
    score: float
    comment: str = ""
    grader: str = ""
    at: datetime
    items: list[RubricPick] = Field(default_factory=list)


class Override(BaseModel):
    """An instructor's replacement score for any part (e.g. after a regrade request)."""

    assignment: str
    student: str
    part_id: str
    score: float
    reason: str = ""
    grader: str = ""
    at: datetime


class RegradeRecord(BaseModel):
    """How one student's total moved when a regrade run replaced an earlier result."""

    run_id: int
    previous_run_id: int | None
    assignment: str
    student: str
    old_score: float | None
    new_score: float
    delta: float
    parts_changed: list[str]
    at: datetime
