"""A tiny self-made problem set and a class of graded reports, for the store/manual/export tests.

The problem set uses its own exact-number kind, so these tests depend only on the core
(problem-set API, keys, scoring), not on any particular parser. Also the store's backends:
`store_url` (SQLite, then PostgreSQL) and `pg_url` (a fresh PostgreSQL database).
"""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from grader.keys.build import build_key, write_key
from grader.models import Submission, SubmissionReport
from grader.problemset import load_problem_sets
from grader.scoring import AssignmentGrader

ASSIGNMENT = "tiny-hw"

PROBLEM_SOURCE = textwrap.dedent(
    '''
    from grader.errors import InvalidAnswer
    from grader.kinds.base import Kind, Match
    from grader.problemset import ProblemSet


    class Exact(Kind):
        name = "exact"

        def parse(self, raw):
            try:
                return float(str(raw).strip())
            except ValueError:
                raise InvalidAnswer("not a number", example="3")

        def compare(self, answer, target):
            return Match(1.0 if abs(answer - target) < 1e-9 else 0.0)

        def canonical(self, value):
            return f"{value:g}"


    hw = ProblemSet("tiny-hw", title="Tiny homework")


    @hw.part("q1", marks=2, kind=Exact())
    def q1():
        return Q1


    @hw.part("q2", marks=3, kind=Exact())
    def q2():
        return 7.0


    hw.manual("q3", 5, "Explain why convolution layers share weights.")
    '''
)

# Students and their answers: q3 is free text (manual); dan leaves q3 out.
ANSWERS = {
    "ann": {"q1": "3", "q2": "7", "q3": "Weights are shared so features are detected anywhere."},
    "bob": {"q1": "4", "q2": "7", "q3": "Fewer parameters."},
    "cat": {"q1": "4", "q2": "5", "q3": "<script>alert('x')</script> & more"},
    "dan": {"q1": "3", "q2": "seven"},
}


def write_problem(folder: Path, q1: float = 3.0) -> Path:
    """The problem set in `folder` (Q1's reference is `q1`, to simulate a key edit)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny_hw.py"
    path.write_text(f"Q1 = {q1!r}\n" + PROBLEM_SOURCE)
    return path


def grade_class(problems: Path, answers: dict[str, dict[str, str]] = ANSWERS, reference: Path | None = None) -> list[SubmissionReport]:
    ps = load_problem_sets(problems)[ASSIGNMENT]
    key = build_key(ps)
    if reference is not None:
        write_key(key, reference)
    grader = AssignmentGrader(ps, key)
    return [
        grader.grade(Submission(assignment=ASSIGNMENT, student=s, answers=a, source=f"{s}.toml"))
        for s, a in sorted(answers.items())
    ]


def write_submissions(folder: Path, answers: dict[str, dict[str, str]] = ANSWERS) -> Path:
    """Submission files as students hand them in: one TOML per student."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    for student, ans in answers.items():
        lines = [f'assignment = "{ASSIGNMENT}"', f'student = "{student}"', "", "[answers]"]
        lines += [f'"{k}" = {json.dumps(v)}' for k, v in ans.items()]
        (folder / f"{student}.toml").write_text("\n".join(lines) + "\n")
    return folder


# -- the store's backends: SQLite, and the machine's PostgreSQL ------------------------------
# PostgreSQL is a first-class store, so the store-level tests run on both. On a machine
# without PostgreSQL set GRADER_TEST_PG=0: those tests are then skipped, saying why; otherwise
# an unreachable server fails them (CI has one: a silent skip would hide a broken store).
PG_SERVER = os.environ.get("GRADER_TEST_PG_SERVER", "postgresql://root@127.0.0.1")
PG_OPT_OUT = "GRADER_TEST_PG"


def _pg_admin():
    if os.environ.get(PG_OPT_OUT, "1") == "0":
        pytest.skip(f"PostgreSQL tests switched off ({PG_OPT_OUT}=0)")
    import psycopg

    try:
        return psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.fail(f"no PostgreSQL at {PG_SERVER} ({exc}); set {PG_OPT_OUT}=0 to skip the PostgreSQL tests", pytrace=False)


@contextmanager
def pg_database(prefix: str = "grader_test") -> Iterator[str]:
    """A fresh, uniquely named database on the machine's PostgreSQL (its SQLAlchemy URL),
    dropped afterwards even if connections to it are still open."""
    admin = _pg_admin()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG_SERVER.split('://', 1)[1]}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test."""
    with pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """The grade store's URL on each backend in turn: a SQLite file in the test's folder, and
    a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("pg_url")
