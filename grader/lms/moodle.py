"""Moodle grade import CSV: one identifier column, one grade column, optionally feedback.

Moodle's CSV import asks which column identifies the user ("Map from") and which user field it
matches ("Map to": email address, ID number, username), then which grade item each other
column feeds. The headers here are named after those fields so the mapping is obvious.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from grader.lms.comment import format_score, summary_comment
from grader.lms.roster import Roster, entry
from grader.models import SubmissionReport

IdField = Literal["idnumber", "email", "username"]
ID_HEADERS: dict[str, str] = {"idnumber": "ID number", "email": "Email address", "username": "Username"}


def moodle_rows(
    reports: Iterable[SubmissionReport],
    *,
    title: str,
    id_field: IdField = "idnumber",
    roster: Roster | None = None,
    feedback: bool = False,
) -> tuple[list[list[str]], list[str]]:
    """The CSV rows and the students left out because the roster lacks their identifier."""
    roster = roster or {}
    header = [ID_HEADERS[id_field], title] + (["Feedback"] if feedback else [])
    rows, skipped = [header], []
    for report in reports:
        who = entry(roster, report.student)
        ident = getattr(who, id_field)
        if not ident and id_field == "idnumber":
            ident = report.student  # our student id is usually the institution's ID number
        if not ident:
            skipped.append(report.student)
            continue
        row = [ident, format_score(report.score)]
        if feedback:
            row.append(summary_comment(report))
        rows.append(row)
    return rows, skipped
