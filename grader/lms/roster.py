"""Who a student is in the LMS: an optional class list mapping our student ids to LMS ids.

A roster is a CSV with a `student` column (the id used in submissions) and any of: name,
canvas_id, sis_user_id, sis_login_id, section, email, idnumber, username, lti_user_id.
Headers are case-insensitive; other columns are ignored.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel

from grader.notices import listed


class RosterEntry(BaseModel):
    student: str
    name: str = ""
    canvas_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    email: str = ""
    idnumber: str = ""
    username: str = ""
    lti_user_id: str = ""


Roster = dict[str, RosterEntry]


def read_roster(path: Path | None) -> Roster:
    if path is None:
        return {}
    with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: spreadsheets often add a BOM
        reader = csv.DictReader(f)
        if reader.fieldnames is None or "student" not in [h.strip().lower() for h in reader.fieldnames]:
            raise ValueError(f"{path}: a roster needs a 'student' column")
        fields = set(RosterEntry.model_fields)
        roster: Roster = {}
        for row in reader:
            data = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            entry = RosterEntry(**{k: v for k, v in data.items() if k in fields})
            if entry.student:
                roster[entry.student] = entry
        return roster


def entry(roster: Roster, student: str) -> RosterEntry:
    """The roster's entry, or one that knows only the student id."""
    return roster.get(student) or RosterEntry(student=student)


def roster_mismatches(roster: Roster, students: Iterable[str]) -> list[str]:
    """What an export must say when the roster and the graded students disagree: students on
    the roster with no graded submission (they get no grade), and graded students the roster
    does not list (the LMS may not know them). Empty without a roster."""
    if not roster:
        return []
    graded = set(students)
    missing = sorted(set(roster) - graded)
    unknown = sorted(graded - set(roster))
    out = []
    if missing:
        out.append(f"{len(missing)} roster entr{'y' if len(missing) == 1 else 'ies'} without a submission: {listed(missing, quoted=False)}")
    if unknown:
        out.append(f"{len(unknown)} submission(s) without a roster entry: {listed(unknown, quoted=False)}")
    return out
