"""No leak: under the default policy, nothing a student is shown before the due date (API
responses and pages) contains the reference value of a part they got wrong. The demo class's
csc321-hw4 answers (and the per-student-numbers assignment) are handed in through the service
of a course whose due dates are in the future, and every response is scanned."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from grader.models import Status
from grader.submission import read_submission

REPO = Path(__file__).resolve().parents[1]
COURSE = """
[course]
title = "leak scan"
secret = "course.secret"

[assignments.csc321-hw4]
due = 2999-01-01T00:00:00Z

[assignments.csc321-hw4-variants]
problem_set = "csc321-hw4"
variants = true
due = 2999-01-01T00:00:00Z
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    from grader.course import load_course
    from grader.service.app import create_app
    from grader.service.courseware import Courseware

    root = tmp_path_factory.mktemp("leak")
    (root / "problems").mkdir()
    (root / "reference").mkdir()
    shutil.copy(REPO / "problems" / "csc321_hw4.py", root / "problems")
    shutil.copy(REPO / "reference" / "csc321-hw4.json", root / "reference")
    (root / "grader.toml").write_text(COURSE)
    cw = Courseware(load_course(root), budget=None)
    with TestClient(create_app(cw, identity_ttl=0.0, check_rate=_many(), submit_rate=_many())) as client:
        yield cw, client
    cw.close()


def _many():
    from grader.service.limits import Rate

    return Rate(1000.0, 1000.0)


def reference_texts(cw, assignment: str, student: str) -> dict[str, str]:
    """Each part's reference as the grader writes it (its canonical echo), for this student."""
    from grader.keys.variants import VariantGraders
    from grader.models import Submission

    grader = cw.catalog.grader(assignment)
    if isinstance(grader, VariantGraders):
        grader = grader.grader_for(Submission(assignment=assignment, student=student, answers={}, source="scan", handed_in_by=student))
    out = {}
    for pg in grader.graders:
        if pg.reference is None or pg.kind.manual:
            continue
        try:
            out[pg.id] = pg.kind.canonical(pg.reference)
        except Exception:  # a reference without a canonical echo (sampled formulas): nothing to scan for
            continue
    return out


@pytest.mark.parametrize("assignment", ["csc321-hw4", "csc321-hw4-variants"])
def test_nothing_shown_before_the_due_date_reveals_a_wrong_parts_reference(served, assignment: str) -> None:
    cw, client = served
    folder = REPO / "submissions" / assignment
    scanned = 0
    for path in sorted(folder.glob("*/answers.toml")):
        student = path.parent.name
        sub = read_submission(path, assignment_default=assignment)
        token = cw.service.issue_token(student, "student")
        h = {"Authorization": f"Bearer {token}"}
        shown: list[str] = []
        sheet_page = client.get(f"/assignments/{assignment}", headers=h).text  # what is public: the sheet
        assert "Question 2: the 4×4 input X" in sheet_page  # the sheet's given numbers are on the page
        shown.append(client.get(f"/api/v1/assignments/{assignment}", headers=h).text)
        for part, answer in sub.answers.items():
            shown.append(client.post(f"/api/v1/assignments/{assignment}/check", json={"part": part, "answer": answer}, headers=h).text)
        r = client.post(f"/api/v1/assignments/{assignment}/submissions", json={"answers": sub.answers}, headers=h)
        assert r.status_code == 201
        shown.append(r.text)
        sid = r.json()["id"]
        shown += [
            client.get(f"/api/v1/submissions/{sid}", headers=h).text,
            client.get(f"/submissions/{sid}", headers=h).text,
            client.get("/api/v1/submissions", headers=h).text,
            client.get("/history", headers=h).text,
            client.get("/", headers=h).text,
            client.get(f"/assignments/{assignment}", headers=h).text,
        ]
        staff_report = cw.service.submission(sid).report
        wrong = {p.id for p in staff_report.parts if p.status is not Status.correct}
        answers_text = " ".join(str(a) for a in sub.answers.values())
        for part, ref in reference_texts(cw, assignment, student).items():
            if part not in wrong or len(ref) < 3:
                continue
            # a value the sheet itself prints, or that the student typed, is not the key leaking
            if ref in sheet_page or ref in answers_text or re.escape(ref) in answers_text:
                continue
            scanned += 1
            for text in shown:
                assert ref not in text, f"{assignment} {student}: the reference of {part} ({ref}) is shown"
    assert scanned >= 10  # the scan looked at real wrong answers
