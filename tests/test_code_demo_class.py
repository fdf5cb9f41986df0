"""The code demo class (submissions/nyu-dl-hw2-code) graded as `grader run` grades it: the worker
pool, one sandbox per worker, from the committed key.

Each submission's header says what it is; these tests pin that: the right ones (a .py file and
a notebook with the same code) earn full marks, each named mistake of the problem set is named
where a student made it, and each hostile submission (a crash, an infinite loop, a memory bomb,
reading the answer key, a socket, a fork) ends non-correct within its limit, changes nothing
outside its working directory, connects nowhere and never opens the key (an inotify watch on
the committed key, which is readable by every user, sees every open by any process).
"""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from _code_fixtures import OpenWatch

from grader.course import read_course_file
from grader.models import Status, Submission, SubmissionReport
from grader.run.batch import class_folder, write_class
from grader.submission import read_submission

ROOT = Path(__file__).resolve().parents[1]
CLASS = ROOT / "submissions" / "nyu-dl-hw2-code"
KEY = ROOT / "reference" / "nyu-dl-hw2-code.json"
PARTS = ("2.1.forward", "2.1.backward", "2.2", "2.3")

# What each submission's header says it holds (independent of the grader's output).
NAMED = {
    ("c6003", "2.1.forward"): "kernel flipped",
    ("c6003", "2.1.backward"): "backward of a stride-1 convolution",
    ("c6003", "2.2"): "gates swapped",
    ("c6003", "2.3"): "no fix: plain SGD",
    ("c6004", "2.1.forward"): "stride ignored",
    ("c6004", "2.1.backward"): "gradients swapped",
    ("c6004", "2.2"): "recurrent term missing",
    ("c6004", "2.3"): "zero_grad forgotten",
    ("c6005", "2.1.forward"): "channels summed before the kernel",
}
HOSTILE = {"c6006": "ran longer than its 5 s limit", "c6007": "ran out of memory", "c6008": "FileNotFoundError", "c6009": "PermissionError", "c6010": "PermissionError"}


def _snapshot(*roots: Path) -> dict[str, tuple[int, float]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime) for root in roots for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The class through the worker pool (two workers, 2 s part budget: the CLI's defaults),
    with the key watched from the moment the catalog has read it."""
    out = tmp_path_factory.mktemp("code_demo")
    klass = class_folder(CLASS, out, problems_dir=ROOT / "problems", reference_dir=ROOT / "reference", budget=2.0, workers=2,
                         course=read_course_file(ROOT / "grader.toml"))
    before = _snapshot(ROOT / "submissions", ROOT / "reference", ROOT / "problems")
    try:  # port 9 (discard) on 127.0.0.1, where c6009 connects: a connection would be accepted here
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 9))
        listener.listen(8)
        listener.setblocking(False)
    except OSError:
        listener = None
    watch = OpenWatch(KEY)
    started = time.monotonic()
    summary = write_class(klass, out)
    elapsed = time.monotonic() - started
    opened = watch.events()
    connections = 0
    if listener is not None:
        try:
            while listener.accept():
                connections += 1
        except BlockingIOError:
            pass
        listener.close()
    reports = {e.student: SubmissionReport.model_validate_json((out / e.file).read_bytes()) for e in summary.reports}
    return {"summary": summary, "reports": reports, "opened": opened, "connections": connections if listener else None,
            "changed": before != _snapshot(ROOT / "submissions", ROOT / "reference", ROOT / "problems"), "elapsed": elapsed}


def part(run, student: str, part_id: str):
    return {p.id: p for p in run["reports"][student].parts}[part_id]


def test_every_submission_is_graded_without_a_grader_error(run):
    summary = run["summary"]
    assert sorted(run["reports"]) == sorted(p.name for p in CLASS.iterdir() if p.is_dir())
    assert not summary.broken and not summary.errors and summary.error_parts == 0


@pytest.mark.parametrize("student", ["c6001", "c6002"])
def test_right_code_earns_full_marks(run, student):
    report = run["reports"][student]
    assert report.score == report.max_score == 50, [(p.id, p.feedback) for p in report.parts]
    for p in report.parts:
        assert p.status is Status.correct and p.matched == "reference"
        assert p.kind == "code" and "gradients: passed" in p.details["checks"] or p.id == "2.3"


@pytest.mark.parametrize(("student", "part_id"), sorted(NAMED))
def test_each_named_mistake_is_named(run, student, part_id):
    result = part(run, student, part_id)
    assert result.status is Status.incorrect and result.score == 0
    assert result.matched == f"mistake: {NAMED[(student, part_id)]}", result.feedback
    assert NAMED[(student, part_id)] in result.feedback


def test_every_named_mistake_of_the_problem_set_is_in_the_demo_class():
    key = json.loads(KEY.read_text())
    declared = {(p["id"], m["name"]) for p in key["parts"] for m in p["mistakes"]}
    assert declared == {(part_id, name) for (_, part_id), name in NAMED.items()}


def test_a_right_backward_counts_even_when_the_forward_is_wrong(run):
    result = part(run, "c6005", "2.1.backward")
    assert result.status is Status.correct, result.feedback
    assert "values: failed" in result.details["checks"] and "gradients: passed" in result.details["checks"]
    assert "gradcheck: failed" in result.details["checks"]  # held to their own (wrong) forward, and not counted


def test_a_crash_costs_its_part_only(run):
    crashed = part(run, "c6005", "2.2")
    assert crashed.status is Status.incorrect and "SIGSEGV" in crashed.feedback
    assert part(run, "c6005", "2.3").status is Status.missing


@pytest.mark.parametrize("student", sorted(HOSTILE))
def test_hostile_code_ends_non_correct_with_its_reason(run, student):
    result = part(run, student, "2.1.forward")
    assert result.status is Status.incorrect and result.score == 0
    assert HOSTILE[student] in result.feedback, result.feedback
    assert [part(run, student, p).status for p in PARTS[1:]] == [Status.missing] * 3


def test_nothing_changes_nothing_connects_and_the_key_is_never_opened(run):
    assert not run["changed"]
    assert run["opened"] == [], "the answer key was opened while the class was graded"
    if run["connections"] is None:
        pytest.skip("port 9 on 127.0.0.1 is taken: no listener to prove it")
    assert run["connections"] == 0


def test_hostile_submissions_end_within_their_limits():
    """Graded alone, in this process: each hostile submission takes its part's limit (5 s for a
    test) plus the sandbox's margins, not more."""
    from grader.keys.catalog import Catalog

    catalog = Catalog(ROOT / "problems", ROOT / "reference", read_course_file(ROOT / "grader.toml"))
    grader = catalog.grader("nyu-dl-hw2-code")
    grader.grade(read_submission(CLASS / "c6001" / "answers.toml", root=CLASS))  # the zygote starts here, not below
    for student in sorted(HOSTILE):
        started = time.monotonic()
        report = grader.grade(read_submission(CLASS / student / "answers.toml", root=CLASS))
        assert time.monotonic() - started < 5 + 10, student  # the limit, and ZYGOTE_MARGIN at most
        assert report.parts[0].status is Status.incorrect


def _as_notebook(py: str) -> str:
    """A .py submission's sections as notebook cells, each tagged in its metadata (the test's
    own splitting, not the grader's reader)."""
    sections = re.split(r"^# grader: (\S+)\n", py, flags=re.M)[1:]
    cells = [new_code_cell(code, metadata={"tags": [f"grader:{tag}"]}) for tag, code in zip(sections[::2], sections[1::2])]
    cells.insert(1, new_code_cell("raise SystemExit('untagged: never run')"))
    notebook = new_notebook(cells=cells)
    nbformat.validate(notebook)
    return nbformat.writes(notebook)


@pytest.mark.parametrize("student", ["c6003", "c6004"])
def test_a_notebook_grades_as_its_py_file(run, tmp_path, student):
    from grader.keys.catalog import Catalog

    folder = tmp_path / student
    folder.mkdir()
    (folder / "answers.toml").write_text((CLASS / student / "answers.toml").read_text())
    (folder / "hw2_impl.ipynb").write_text(_as_notebook((CLASS / student / "hw2_impl.py").read_text()))
    sub = read_submission(folder / "answers.toml", root=tmp_path)
    assert isinstance(sub, Submission) and list(sub.code) == ["hw2_impl.ipynb"]
    grader = Catalog(ROOT / "problems", ROOT / "reference", read_course_file(ROOT / "grader.toml")).grader("nyu-dl-hw2-code")
    mine = grader.grade(sub)
    theirs = run["reports"][student]
    assert [(p.id, p.status, p.score, p.matched) for p in mine.parts] == [(p.id, p.status, p.score, p.matched) for p in theirs.parts]


def test_notebook_and_py_forms_of_the_right_code_grade_alike(run):
    py, nb = run["reports"]["c6001"], run["reports"]["c6002"]
    assert [(p.id, p.status, p.score, p.details["checks"]) for p in py.parts] == [(p.id, p.status, p.score, p.details["checks"]) for p in nb.parts]
    assert nb.parts[0].answer == "hw2_impl.ipynb (cells 2, 3)" and py.parts[0].answer == "hw2_impl.py (lines 3, 9)"
    assert nb.parts[1].answer == "hw2_impl.ipynb (cells 2, 3, 5)"  # the backward runs the forward's cell first
