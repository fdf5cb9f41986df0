"""LTI 1.3 Assignment and Grade Services (AGS) score payloads, one per student.

Each is the JSON body a tool POSTs to `<lineitem>/scores` (media type
application/vnd.ims.lis.v1.score+json): userId, scoreGiven, scoreMaximum, comment,
timestamp, activityProgress and gradingProgress. A student with free-text parts still
waiting for a person is sent as "PendingManual" so the platform does not treat the
autograded part of the score as final.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from grader.lms.comment import summary_comment
from grader.lms.format import Export, ExportText
from grader.lms.roster import Roster, entry
from grader.models import SubmissionReport
from grader.store.merge import pending_manual

ActivityProgress = Literal["Initialized", "Started", "InProgress", "Submitted", "Completed"]
GradingProgress = Literal["FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"]


class AgsScore(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    user_id: str = Field(alias="userId", min_length=1)
    score_given: float = Field(alias="scoreGiven", ge=0)
    score_maximum: float = Field(alias="scoreMaximum", gt=0)
    comment: str | None = None
    timestamp: str = Field(description="ISO 8601 with sub-second precision")
    activity_progress: ActivityProgress = Field(alias="activityProgress")
    grading_progress: GradingProgress = Field(alias="gradingProgress")


def iso_timestamp(moment: datetime) -> str:
    """ISO 8601 with milliseconds and an explicit offset, e.g. 2017-04-16T18:54:36.736+00:00."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def ags_score(report: SubmissionReport, user_id: str, timestamp: str) -> AgsScore:
    """One student's score as AGS takes it (a score below zero is sent as zero)."""
    return AgsScore(
        user_id=user_id,
        score_given=max(report.score, 0.0),
        score_maximum=report.max_score,
        comment=summary_comment(report),
        timestamp=timestamp,
        activity_progress="Completed",
        grading_progress="PendingManual" if pending_manual(report) else "FullyGraded",
    )


def ags_scores(
    reports: Iterable[SubmissionReport],
    *,
    roster: Roster | None = None,
    now: datetime | None = None,
) -> list[AgsScore]:
    """The timestamp is the export time: platforms ignore a score older than the one they hold."""
    roster = roster or {}
    stamp = iso_timestamp(now or datetime.now(timezone.utc))
    return [ags_score(r, entry(roster, r.student).lti_user_id or r.student, stamp) for r in reports]


def ags_payloads(scores: Iterable[AgsScore]) -> list[dict]:
    return [s.model_dump(by_alias=True, mode="json") for s in scores]


def render(reports: Sequence[SubmissionReport], *, roster: Roster | None = None, now: datetime | None = None, **_: object) -> ExportText:
    return ExportText(json.dumps(ags_payloads(ags_scores(reports, roster=roster, now=now)), indent=1) + "\n", [])


EXPORT = Export(
    "lti", "-lti.json", "LTI 1.3 AGS score payloads (JSON list, one per student) to POST to a line item's /scores.", render, roster=True
)
