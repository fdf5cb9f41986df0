"""Canvas gradebook import CSV.

The layout is the one Canvas itself exports and re-imports: the header
`Student,ID,SIS User ID,SIS Login ID,Section,<Assignment name (id)>`, then a row whose first
cell is "    Points Possible" (Canvas matches /Points Possible/ and skips it as a student), then
one row per student. Canvas matches students by ID, SIS User ID or SIS Login ID; without a
roster our student id is offered as the SIS User ID. An assignment column without "(id)"
makes Canvas create a new assignment of that name on import.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from grader.lms.comment import format_score
from grader.lms.format import Export, ExportText, Option, pending_warnings
from grader.report.csv_cells import csv_text
from grader.lms.roster import Roster, entry
from grader.models import SubmissionReport

STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
POINTS_POSSIBLE = "    Points Possible"  # as Canvas writes it, four leading spaces included


def assignment_header(title: str, canvas_id: str | None = None) -> str:
    return f"{title} ({canvas_id})" if canvas_id else title


def canvas_rows(
    reports: Iterable[SubmissionReport],
    *,
    title: str,
    points_possible: float,
    roster: Roster | None = None,
    canvas_id: str | None = None,
) -> list[list[str]]:
    roster = roster or {}
    rows = [
        STUDENT_COLUMNS + [assignment_header(title, canvas_id)],
        [POINTS_POSSIBLE, "", "", "", "", format_score(points_possible)],
    ]
    for report in reports:
        who = entry(roster, report.student)
        rows.append(
            [
                who.name or report.student,
                who.canvas_id,
                who.sis_user_id or ("" if who.canvas_id or who.sis_login_id else report.student),
                who.sis_login_id,
                who.section,
                format_score(report.score),
            ]
        )
    return rows


def render(reports: Sequence[SubmissionReport], *, title: str, roster: Roster | None = None, canvas_id: str | None = None, **_: object) -> ExportText:
    points = max((r.max_score for r in reports), default=0.0)
    text = csv_text(canvas_rows(reports, title=title, points_possible=points, roster=roster, canvas_id=canvas_id))
    return ExportText(text, pending_warnings(reports))


EXPORT = Export(
    "canvas",
    "-canvas.csv",
    "Canvas gradebook import CSV (Student, ID, SIS User ID, SIS Login ID, Section, assignment).",
    render,
    title=True,
    roster=True,
    options=(Option("--canvas-id", "Canvas assignment id: the column becomes 'Title (id)'."),),
)
