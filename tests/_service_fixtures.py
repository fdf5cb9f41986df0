"""A small course for the service's tests: real kinds (no torch), one free-text part with a
rubric, a due date in the future (the default policy: no reference before it) and one in the
past; keys built in the fixture; tokens for two students and one member of staff."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from _store_fixtures import pg_database

PROBLEMS = '''
from grader.kinds.integer import Int
from grader.kinds.array import Vector
from grader.problemset import ProblemSet

svc = ProblemSet("svc-hw", title="Service homework")


@svc.part("q1", 2, Int(), prompt="How many parameters has a layer of $73 \\\\times 1007$ weights plus 8 biases? ($a_1 * b_2$ stays maths.)")
def q1():
    return 73 * 1007 + 8


@q1.mistake("forgot the biases", marks=1)
def _():
    return 73 * 1007


@svc.part("q2", 1, Vector(3), prompt="The vector.")
def q2():
    return [3.25, 4.5, 6.75]


svc.manual("q3", 2, "Explain why in a sentence.", rubric=[("names the cause", 1), ("gives an example", 1)], comments=["Good."])
'''

COURSE = '''
[course]
title = "Service test course"
secret = "course.secret"

[assignments.svc-hw]
title = "Service homework"
due = 2999-01-01T00:00:00Z

[assignments.svc-past]
problem_set = "svc-hw"
title = "Service homework, already due"
due = 2001-01-01T00:00:00Z
late = { per_day = 0.5, cutoff_days = 100000 }

[assignments.svc-once]
problem_set = "svc-hw"
title = "One attempt"
due = 2999-01-01T00:00:00Z
attempts = 1
'''

#: The references of svc-hw (computed here independently of the key).
Q1 = 73 * 1007 + 8  # 73519
Q2 = "3.25"


def make_course(root: Path) -> Path:
    from conftest import build_keys_without_torch

    (root / "problems").mkdir(parents=True)
    (root / "problems" / "svc_hw.py").write_text(textwrap.dedent(PROBLEMS))
    (root / "grader.toml").write_text(textwrap.dedent(COURSE))
    build_keys_without_torch(root / "problems", root / "reference")
    return root


@dataclass
class Service:
    root: Path
    courseware: object
    client: TestClient
    tokens: dict[str, str]

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_course(tmp_path_factory.mktemp("course"))


def start(course_dir: Path, db_url: str | None = None, **limits: object) -> Iterator[Service]:
    """The service over a store of its own (a new SQLite file unless `db_url` is given)."""
    from grader.course import load_course
    from grader.service.app import create_app
    from grader.service.courseware import Courseware

    import uuid

    db = db_url or str(course_dir / f"service-{uuid.uuid4().hex[:8]}.sqlite")
    cw = Courseware(load_course(course_dir), db, budget=None)
    tokens = {
        "alice": cw.service.issue_token("alice", "student"),
        "bob": cw.service.issue_token("bob", "student"),
        "prof": cw.service.issue_token("prof", "staff"),
    }
    app = create_app(cw, identity_ttl=0.0, **limits)
    with TestClient(app) as client:
        yield Service(course_dir, cw, client, tokens)
    cw.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def svc(course_dir: Path, request: pytest.FixtureRequest) -> Iterator[Service]:
    """The service on each store backend in turn: SQLite, and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield from start(course_dir)
    else:
        with pg_database("grader_service") as url:
            yield from start(course_dir, url)


# -- a course with code parts: nyu-dl-hw2-code as the repository has it -------------------------
REPO = Path(__file__).resolve().parents[1]
CODE_COURSE = '''
[course]
title = "Service code course"
secret = "course.secret"

[assignments.nyu-dl-hw2-code]
title = "HW2 implementation"
due = 2999-01-01T00:00:00Z
'''


def make_code_course(root: Path) -> Path:
    """nyu-dl-hw2-code's problem set and committed key, due in the future (the default policy)."""
    import shutil

    (root / "problems").mkdir(parents=True)
    (root / "reference").mkdir()
    shutil.copy(REPO / "problems" / "nyu_dl_hw2_code.py", root / "problems")
    shutil.copy(REPO / "reference" / "nyu-dl-hw2-code.json", root / "reference")
    (root / "grader.toml").write_text(textwrap.dedent(CODE_COURSE))
    return root


def demo_sections(student: str) -> dict[str, str]:
    """A demo student's .py file of submissions/nyu-dl-hw2-code cut at its `# grader: ID` lines
    (read here with a plain split, not the grader's reader): part id -> the section's code with
    the file's shared imports in front, as a student pastes one part into its text area."""
    text = (REPO / "submissions" / "nyu-dl-hw2-code" / student / "hw2_impl.py").read_text()
    chunks = re.split(r"^# grader: (\S+)\n", text, flags=re.M)
    sections = dict(zip(chunks[1::2], chunks[2::2]))
    common = sections.pop("common", "")
    return {part: common + code for part, code in sections.items()}
