"""Moodle grade import CSV: one identifier column, one grade column, optionally feedback.

Moodle's CSV import asks which column identifies the user ("Map from") and which user field it
matches ("Map to": email address, ID number, username), then which grade item each other
column feeds. The headers here are named after those fields so the mapping is obvious.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from grader.lms.comment import format_score, summary_comment
from grader.lms.format import Export, ExportText, Option, pending_warnings
from grader.report.csv_cells import csv_text
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


def render(
    reports: Sequence[SubmissionReport],
    *,
    title: str,
    roster: Roster | None = None,
    id_field: IdField = "idnumber",
    feedback: bool = False,
    **_: object,
) -> ExportText:
    rows, skipped = moodle_rows(reports, title=title, id_field=id_field, roster=roster, feedback=feedback)
    warnings = [f"{s}: no {id_field} in the roster; left out" for s in skipped]
    return ExportText(csv_text(rows), warnings + pending_warnings(reports))


EXPORT = Export(
    "moodle",
    "-moodle.csv",
    "Moodle grade import CSV (identifier column + grade column).",
    render,
    title=True,
    roster=True,
    options=(
        Option("--id-field", "Identify students by idnumber, email or username.", "idnumber", ("idnumber", "email", "username")),
        Option("--feedback", "Add a Feedback column (a summary of lost marks).", False),
    ),
)
