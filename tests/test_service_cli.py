"""`grader token` (a personal link, the token as the last line, revocable; roster checked) and
`grader check` (how an answer file is read, offline, without grading)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner
from _service_fixtures import course_dir  # noqa: F401 (fixture)

from grader.cli import app
from grader.course import load_course
from grader.store.repository import Store
from grader.store.service import ServiceStore

runner = CliRunner()


def principal(course: Path, db: Path, token: str):
    with Store.open(load_course(course).out, str(db)) as store:
        return ServiceStore(store).principal(token)


def test_token_prints_a_link_and_the_token_last_and_revokes(course_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "t.sqlite"
    r = runner.invoke(app, ["token", "alice", "--course", str(course_dir), "--db", str(db)])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    token = lines[-1]
    assert f"/login?token={token}" in lines[-2]
    assert principal(course_dir, db, token).model_dump() == {"subject": "alice", "role": "student"}
    staff = runner.invoke(app, ["token", "--staff", "prof", "--course", str(course_dir), "--db", str(db)]).output.strip().splitlines()[-1]
    assert principal(course_dir, db, staff).role == "staff"
    r = runner.invoke(app, ["token", "alice", "--revoke", "--course", str(course_dir), "--db", str(db)])
    assert r.exit_code == 0 and "Revoked 1 token" in r.output
    assert principal(course_dir, db, token) is None and principal(course_dir, db, staff) is not None
    assert runner.invoke(app, ["token", "--course", str(course_dir)]).exit_code == 2  # neither a student nor --staff


def test_token_needs_a_roster_entry_when_there_is_a_roster(tmp_path: Path) -> None:
    from _service_fixtures import make_course

    root = make_course(tmp_path / "c")
    (root / "roster.csv").write_text("student,name\nalice,Alice\n")
    text = (root / "grader.toml").read_text().replace('secret = "course.secret"', 'secret = "course.secret"\nroster = "roster.csv"')
    (root / "grader.toml").write_text(text)
    assert runner.invoke(app, ["token", "alice", "--course", str(root)]).exit_code == 0
    r = runner.invoke(app, ["token", "mallory", "--course", str(root)])
    assert r.exit_code == 2 and "not in the roster" in r.output


def test_check_reads_without_grading(course_dir: Path, tmp_path: Path) -> None:
    answers = tmp_path / "answers.toml"
    answers.write_text('assignment = "svc-hw"\n[answers]\nq1 = "73 * 1007"\nq2 = "[3.25, 4.5"\nzz = "1"\n')
    r = runner.invoke(app, ["check", str(answers), "--course", str(course_dir)])
    assert r.exit_code == 1  # an unreadable answer
    out = r.output
    assert "ok       q1: read as 73511" in out
    assert "invalid  q2: Could not read this answer: '[' at position 1 is never closed." in out
    assert "missing  q3: No answer given." in out
    assert "unknown  zz" in out
    assert "1 read, 1 unreadable, 1 missing" in out
    assert "correct" not in out.lower().replace("incorrect", "")  # nothing is graded
    answers.write_text('assignment = "svc-hw"\n[answers]\nq1 = "5"\nq2 = "1 2 3"\nq3 = "words"\n')
    assert runner.invoke(app, ["check", str(answers), "--course", str(course_dir)]).exit_code == 0


def test_the_test_extra_carries_the_serve_extra() -> None:
    import tomllib

    extras = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(extras["serve"]) <= set(extras["test"])  # `pip install -e ".[test]"` can run the service's tests
