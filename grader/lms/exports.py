"""Exports of the one result model (`SubmissionReport`) to LMS gradebooks and data files.

canvas: Canvas gradebook import CSV · moodle: Moodle grade import CSV · long_csv: one row per
part · lti: LTI 1.3 AGS score payloads · json: the reports themselves.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from grader.lms.canvas import canvas_rows
from grader.lms.lti import ags_payloads, ags_scores
from grader.lms.long_csv import long_rows
from grader.lms.moodle import IdField, moodle_rows
from grader.lms.roster import Roster
from grader.models import SubmissionReport

Format = Literal["canvas", "moodle", "csv", "lti", "json"]
SUFFIX: dict[str, str] = {"canvas": "-canvas.csv", "moodle": "-moodle.csv", "csv": "-parts.csv", "lti": "-lti.json", "json": "-reports.json"}


def csv_text(rows: Sequence[Sequence[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue()


def reports_json(reports: Sequence[SubmissionReport]) -> str:
    return json.dumps([r.model_dump(mode="json") for r in reports], indent=1) + "\n"


def render(
    fmt: Format,
    reports: Sequence[SubmissionReport],
    *,
    title: str,
    roster: Roster | None = None,
    canvas_id: str | None = None,
    moodle_id: IdField = "idnumber",
    feedback: bool = False,
    now: datetime | None = None,
) -> tuple[str, list[str]]:
    """The export's text and any warnings (e.g. students the roster cannot identify)."""
    warnings: list[str] = []
    if fmt == "canvas":
        points = max((r.max_score for r in reports), default=0.0)
        text = csv_text(canvas_rows(reports, title=title, points_possible=points, roster=roster, canvas_id=canvas_id))
    elif fmt == "moodle":
        rows, skipped = moodle_rows(reports, title=title, id_field=moodle_id, roster=roster, feedback=feedback)
        warnings += [f"{s}: no {moodle_id} in the roster; left out" for s in skipped]
        text = csv_text(rows)
    elif fmt == "csv":
        text = csv_text(long_rows(reports))
    elif fmt == "lti":
        text = json.dumps(ags_payloads(ags_scores(reports, roster=roster, now=now)), indent=1) + "\n"
    elif fmt == "json":
        text = reports_json(reports)
    else:  # pragma: no cover - typer restricts the choices
        raise ValueError(f"unknown export format {fmt!r}")
    pending = [r.student for r in reports if any(p.status.value == "manual" for p in r.parts)]
    if pending and fmt in ("canvas", "moodle"):
        warnings.append(f"{len(pending)} student(s) still have free-text parts awaiting a grader (`grader manual`): " + ", ".join(pending[:10]) + ("…" if len(pending) > 10 else ""))
    return text, warnings
