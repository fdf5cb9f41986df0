"""`grader gradescope` and `grader export gradescope`: results.json is always written, always valid.

Every run is checked twice: against the pydantic model of Gradescope's format and against
plain type checks written here (so a mistake in the model cannot hide a mistake in the file).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
import tomllib
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from grader.models import AnswerKey
from grader.cli import app as grader_app
from grader.lms.gradescope.results import GradescopeResults, GradescopeTest, write_results
from grader.lms.gradescope.package import REQUIREMENTS, build_zip

REPO = Path(__file__).resolve().parents[1]
ALLOWED_VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}

# A self-contained problem set: its own tiny kind (so these tests need no other kind), two
# auto-graded parts, a manual part, and parts that misbehave on purpose.
TINY = '''
import time
from grader.errors import InvalidAnswer
from grader.kinds.base import Kind, Match
from grader.problemset import ProblemSet


class Whole(Kind):
    name = "whole"
    examples = ("16", "-3")

    def parse(self, raw):
        if raw == "spin":  # a pathological answer: Python-level work that never ends
            while True:
                pass
        if raw == "sleep":
            time.sleep(60)
        if raw == "crash":
            raise RuntimeError("kind bug")
        if isinstance(raw, bool) or not isinstance(raw, (int, str)):
            raise InvalidAnswer("expected a whole number", example="16")
        text = str(raw).strip()
        if len(text) > 30 or not text.lstrip("-").isdigit():
            raise InvalidAnswer("expected a whole number", example="16")
        return int(text)

    def compare(self, answer, target):
        return Match(1.0) if answer == target else Match(0.0, f"Your answer was read as {answer}.")

    def describe(self):
        return "a whole number"


hw = ProblemSet("tiny-hw", title="Tiny homework")


@hw.part("q1", marks=2, kind=Whole(), prompt="How many parameters has nn.Linear(3, 4)?")
def q1():
    return 3 * 4 + 4


@hw.part("q2", marks=1, kind=Whole(), prompt="2 + 2?")
def q2():
    return 4


hw.manual("q3", 1.5, "Explain your count in q1.")
'''

RIGHT = 'assignment = "tiny-hw"\nstudent = "s1"\n[answers]\nq1 = "16"\nq2 = 4\nq3 = "Twelve weights and four biases."\n'


@pytest.fixture
def problems(tmp_path: Path) -> Path:
    folder = tmp_path / "problems"
    folder.mkdir()
    (folder / "tiny.py").write_text(TINY)
    return folder


@pytest.fixture
def root(tmp_path: Path, problems: Path) -> Path:
    """A folder shaped like /autograder, with an empty submission."""
    ag = tmp_path / "autograder"
    shutil.copytree(problems, ag / "source" / "problems")
    (ag / "source" / "reference").mkdir()
    (ag / "submission").mkdir()
    return ag


def cli() -> typer.Typer:
    return grader_app


def grade(root: Path, *args: str) -> dict:
    result = CliRunner().invoke(cli(), ["gradescope", "--root", str(root), "--assignment", "tiny-hw", *args])
    assert result.exit_code == 0, result.output
    return check_results(root / "results" / "results.json")


def check_results(path: Path) -> dict:
    """Validate results.json by the model and by hand; return it."""
    data = json.loads(path.read_text(encoding="utf-8"))
    GradescopeResults.model_validate(data)
    assert isinstance(data["score"], (int, float)) and not isinstance(data["score"], bool)
    assert isinstance(data["output"], str) and data["output"]
    assert isinstance(data.get("execution_time", 0), int)
    assert data.get("visibility", "visible") in ALLOWED_VISIBILITY
    assert data.get("stdout_visibility", "visible") in ALLOWED_VISIBILITY
    assert isinstance(data["tests"], list)
    for test in data["tests"]:
        assert isinstance(test["number"], str) and test["number"]
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["output"], str)
        for field in ("score", "max_score"):
            assert isinstance(test[field], (int, float)) and not isinstance(test[field], bool)
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in {"passed", "failed"}
        assert test.get("visibility", "visible") in ALLOWED_VISIBILITY
        assert all(isinstance(t, str) for t in test.get("tags", []))
    leftovers = [p.name for p in path.parent.iterdir() if p.name != "results.json"]
    assert leftovers == [], f"temporary files left behind: {leftovers}"
    return data


def submit(root: Path, text: str | bytes, name: str = "answers.toml") -> None:
    path = root / "submission" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())


def by_number(data: dict) -> dict[str, dict]:
    return {t["number"]: t for t in data["tests"]}


# -- right and wrong answers -------------------------------------------------------------------------


def test_right_answers_score_the_auto_graded_total(root: Path) -> None:
    submit(root, RIGHT)
    data = grade(root)
    tests = by_number(data)
    assert list(tests) == ["q1", "q2", "q3"]
    assert data["score"] == 3.0  # q1 + q2; the manual q3 is not the autograder's to award
    assert tests["q1"] == tests["q1"] | {"score": 2.0, "max_score": 2.0, "status": "passed", "name": "q1 (whole)"}
    assert "Your answer: 16" in tests["q1"]["output"]
    assert tests["q2"]["status"] == "passed" and tests["q2"]["score"] == 1.0
    assert data["visibility"] == "visible" and tests["q1"]["visibility"] == "visible"
    assert "Auto-graded: 3 / 3 marks" in data["output"]


def test_manual_part_is_pending_with_its_marks_as_maximum(root: Path) -> None:
    submit(root, RIGHT)
    q3 = by_number(grade(root))["q3"]
    assert q3["score"] == 0 and q3["max_score"] == 1.5
    assert q3["output"].startswith("Pending: graded by course staff")
    assert "Twelve weights and four biases." in q3["output"]  # staff see the answer
    assert "manual" in q3["tags"]


def test_wrong_and_unreadable_answers_cost_their_part_only(root: Path) -> None:
    submit(root, 'assignment = "tiny-hw"\n[answers]\nq1 = "15"\nq2 = "four"\n')
    data = grade(root)
    tests = by_number(data)
    assert data["score"] == 0.0
    assert tests["q1"]["status"] == "failed" and "read as 15" in tests["q1"]["output"]
    assert tests["q2"]["status"] == "failed" and "Could not read" in tests["q2"]["output"]
    assert "Your answer: four" in tests["q2"]["output"]
    assert "No answer given" in tests["q3"]["output"] and tests["q3"]["status"] == "failed"


def test_partly_right_submission_scores_its_correct_parts(root: Path) -> None:
    submit(root, 'assignment = "tiny-hw"\n[answers]\nq1 = "16"\nq2 = "5"\n')
    data = grade(root)
    assert data["score"] == 2.0
    assert [t["status"] for t in data["tests"]] == ["passed", "failed", "failed"]


def test_assignment_line_may_be_left_out(root: Path) -> None:
    submit(root, '[answers]\nq1 = "16"\nq2 = "4"\n')
    assert grade(root)["score"] == 3.0


def test_any_single_answer_file_name_is_found(root: Path) -> None:
    submit(root, json.dumps({"assignment": "tiny-hw", "answers": {"q1": 16, "q2": "4"}}), name="my-hw.json")
    assert grade(root)["score"] == 3.0


def test_visibility_option_reaches_every_test(root: Path) -> None:
    submit(root, RIGHT)
    data = grade(root, "--visibility", "after_due_date")
    assert data["visibility"] == "after_due_date"
    assert {t["visibility"] for t in data["tests"]} == {"after_due_date"}


# -- broken uploads: score 0 and a reason ---------------------------------------------------------------


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"answers.toml": 'assignment = "tiny-hw"\n[answers\nq1 = 16\n'}, "invalid TOML"),
        ({}, "No answer file was found"),
        ({"notes.txt": "I did it on paper"}, "You uploaded: notes.txt"),
        ({"answers.toml": bytes(range(256)) * 64}, "not UTF-8"),
        ({"answers.toml": 'assignment = "other-hw"\n[answers]\nq1 = "16"\n'}, "'other-hw'"),
        ({"a.toml": RIGHT, "b.json": "{}"}, "several possible answer files"),
        ({"answers.toml": 'assignment = "tiny-hw"\nq1 = "16"\n'}, "no [answers] table"),
    ],
    ids=["bad-toml", "empty-folder", "no-answer-file", "binary-junk", "wrong-assignment", "ambiguous", "no-answers-table"],
)
def test_broken_upload_gets_zero_and_an_explanation(root: Path, files: dict, expected: str) -> None:
    for name, content in files.items():
        submit(root, content, name)
    data = grade(root)
    assert data["score"] == 0
    assert expected in data["output"]
    assert data["tests"] == []


def test_missing_submission_folder(root: Path) -> None:
    shutil.rmtree(root / "submission")
    data = grade(root)
    assert data["score"] == 0 and "No submission folder" in data["output"]


def test_wrong_assignment_id_names_both(root: Path) -> None:
    submit(root, 'assignment = "csc321-hw3"\n[answers]\nq1 = "16"\n')
    output = grade(root)["output"]
    assert "csc321-hw3" in output and "tiny-hw" in output


def test_misconfigured_autograder_still_writes_results(root: Path) -> None:
    submit(root, RIGHT)
    result = CliRunner().invoke(cli(), ["gradescope", "--root", str(root), "--assignment", "no-such-hw"])
    assert result.exit_code == 0
    data = check_results(root / "results" / "results.json")
    assert data["score"] == 0 and "misconfigured" in data["output"] and "no-such-hw" in data["output"]


def test_problem_set_that_fails_to_import_still_writes_results(root: Path) -> None:
    (root / "source" / "problems" / "tiny.py").write_text("raise ImportError('no torch here')\n")
    submit(root, RIGHT)
    data = grade(root)
    assert data["score"] == 0 and "ImportError" in data["output"] and "not your fault" in data["output"]


# -- hostile answers ---------------------------------------------------------------------------------------


def test_megabyte_answer_costs_one_part(root: Path) -> None:
    submit(root, 'assignment = "tiny-hw"\n[answers]\nq1 = "' + "9" * 1_000_000 + '"\nq2 = "4"\n')
    data = grade(root)
    tests = by_number(data)
    assert tests["q1"]["status"] == "failed" and tests["q2"]["status"] == "passed"
    assert data["score"] == 1.0
    assert len((root / "results" / "results.json").read_bytes()) < 100_000  # answers are echoed cut short


@pytest.mark.parametrize(
    "payload",
    [
        "__import__('os').system('touch PWNED')",
        "'; import os; os.system(\"touch PWNED\") #",
        "$(touch PWNED)",
        "{{7*7}} ${7*7} <script>alert(1)</script>",
        "\u202e\x00\x1b[31m",
    ],
)
def test_code_injection_strings_are_just_wrong_answers(root: Path, payload: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root)
    submit(root, json.dumps({"assignment": "tiny-hw", "answers": {"q1": payload, "q2": "4", "q3": payload}}), "answers.json")
    data = grade(root)
    tests = by_number(data)
    assert not list(root.rglob("PWNED"))
    assert data["score"] == 1.0
    assert tests["q1"]["status"] == "failed" and tests["q1"]["output_format"] == "text"
    assert "\x00" not in (root / "results" / "results.json").read_text(encoding="utf-8")


# -- failures inside the grader ---------------------------------------------------------------------------


def test_part_that_crashes_the_grader_costs_that_part(root: Path) -> None:
    submit(root, 'assignment = "tiny-hw"\n[answers]\nq1 = "crash"\nq2 = "4"\n')
    data = grade(root)
    tests = by_number(data)
    assert tests["q1"]["score"] == 0 and "grader itself failed" in tests["q1"]["output"]
    assert tests["q2"]["status"] == "passed" and data["score"] == 1.0
    assert "q1" in data["output"]  # the summary names the part course staff must look at


def test_part_over_its_budget_is_stopped_and_the_rest_graded(root: Path) -> None:
    submit(root, 'assignment = "tiny-hw"\n[answers]\nq1 = "spin"\nq2 = "4"\n')
    started = time.monotonic()
    data = grade(root, "--part-budget", "0.5")
    assert time.monotonic() - started < 20
    tests = by_number(data)
    assert "Too complex to check within 0.5 s" in tests["q1"]["output"] and tests["q1"]["score"] == 0
    assert "invalid" in tests["q1"]["tags"]  # as `grader run` classes an answer stopped at its budget
    assert tests["q2"]["status"] == "passed" and data["score"] == 1.0


def test_crash_after_grading_keeps_the_parts_graded(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.scoring import AssignmentGrader

    def broken_assemble(self, sub, results):
        raise RuntimeError("report bug")

    monkeypatch.setattr(AssignmentGrader, "assemble", broken_assemble)
    submit(root, RIGHT)
    data = grade(root)
    assert "report bug" in data["output"] and "not your fault" in data["output"]
    tests = by_number(data)
    assert tests["q1"]["score"] == 2.0 and data["score"] == 3.0  # graded parts keep their marks
    assert tests["q3"]["output"].startswith("Pending")
    assert "keep their marks" in data["output"]


def _start_grading(root: Path) -> subprocess.Popen:
    code = (
        "from pathlib import Path; from grader.lms.gradescope.driver import AutograderConfig, run; "
        f"run(AutograderConfig(root=Path({str(root)!r}), assignment='tiny-hw', part_budget=0))"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE)


def _wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(encoding="utf-8"):
            return
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}")


def test_killed_mid_grading_leaves_valid_partial_results(root: Path) -> None:
    """SIGKILL (Gradescope's timeout, the OOM killer) cannot be caught: the file written before
    each part is what Gradescope finds."""
    submit(root, 'assignment = "tiny-hw"\n[answers]\nq1 = "16"\nq2 = "sleep"\n')
    results = root / "results" / "results.json"
    proc = _start_grading(root)
    try:
        _wait_for(results, '"number": "q2"', proc)
        _wait_for(results, "Your answer: 16", proc)  # q1 done, q2 in progress
        time.sleep(0.2)
    finally:
        proc.kill()
        proc.wait()
    data = check_results(results)
    assert "did not finish" in data["output"]
    assert data["score"] == 2.0  # q1 was graded before the kill
    assert "Not graded" in by_number(data)["q2"]["output"]


def test_sigterm_unwinds_and_writes_final_results(root: Path) -> None:
    submit(root, 'assignment = "tiny-hw"\n[answers]\nq1 = "16"\nq2 = "sleep"\n')
    results = root / "results" / "results.json"
    proc = _start_grading(root)
    try:
        _wait_for(results, "Your answer: 16", proc)
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    data = check_results(results)
    assert "stopped before it finished" in data["output"]
    assert data["score"] == 2.0 and data["execution_time"] >= 0


# -- the model and the writer ---------------------------------------------------------------------------


def test_model_refuses_what_gradescope_would_not_read() -> None:
    with pytest.raises(ValueError):
        GradescopeResults.model_validate({"score": 1, "tests": [{"visibility": "sometimes"}]})
    with pytest.raises(ValueError):
        GradescopeResults.model_validate({"score": 1, "grade": 3})  # not a Gradescope field
    with pytest.raises(ValueError):
        GradescopeTest.model_validate({"score": float("nan"), "max_score": 1})
    with pytest.raises(ValueError):
        GradescopeTest.model_validate({"status": "partial"})


def test_writer_replaces_atomically_and_cleans_text(tmp_path: Path) -> None:
    path = tmp_path / "results" / "results.json"
    path.parent.mkdir()
    path.write_text("old, not JSON")
    write_results(GradescopeResults(score=1.0, output="lone \udc80 surrogate\x00", tests=[]), path)
    data = check_results(path)
    assert data["output"] == "lone \ufffd surrogate\\0"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


# -- the zip -----------------------------------------------------------------------------------------------


def _unpack(zip_path: Path, ag: Path) -> Path:
    """Unzip as Gradescope does (into ag/source) and keep the scripts' executable bits."""
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(ag / "source")
        for info in zf.infolist():
            mode = info.external_attr >> 16
            if mode & 0o111:
                os.chmod(ag / "source" / info.filename, 0o755)
    (ag / "submission").mkdir()
    (ag / "results").mkdir()
    return ag


def _python_on_path(tmp_path: Path, script: str | None = None) -> dict[str, str]:
    """PATH with `python3` = this interpreter (or a stand-in script); PYTHONPATH dropped, so
    the package must come from the zip.

    The stand-in execs the interpreter by its own path: a symlink elsewhere would lose a
    virtualenv (Python finds `pyvenv.cfg` beside the path it was started by), and with it the
    grader's dependencies."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    python3 = bin_dir / "python3"
    python3.write_text(script if script is not None else f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    python3.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_zip_holds_scripts_package_problem_and_key(tmp_path: Path, problems: Path) -> None:
    summary = build_zip("tiny-hw", tmp_path / "autograder.zip", problems, None)
    with zipfile.ZipFile(summary.path) as zf:
        names = zf.namelist()
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
        key = AnswerKey.model_validate_json(zf.read("reference/tiny-hw.json"))
        setup = zf.read("setup.sh").decode()
        run = zf.read("run_autograder").decode()
        requirements = zf.read("requirements.txt").decode().split()
    assert {"setup.sh", "run_autograder", "requirements.txt", "problems/tiny.py", "reference/tiny-hw.json"} <= set(names)
    assert {"grader/__init__.py", "grader/__main__.py", "grader/lms/gradescope/driver.py", "grader/scoring.py"} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755 and modes["grader/scoring.py"] == 0o644
    assert key.assignment == "tiny-hw" and [p.id for p in key.parts] == ["q1", "q2", "q3"]
    assert "--no-deps \"$torch_pin\" --index-url https://download.pytorch.org/whl/cpu" in setup and "constraints.txt" in names
    assert "--assignment tiny-hw" in run and "-m grader gradescope" in run
    assert requirements == list(REQUIREMENTS)
    for script in ("setup.sh", "run_autograder"):
        (tmp_path / script).write_text(setup if script == "setup.sh" else run)
        subprocess.run(["bash", "-n", str(tmp_path / script)], check=True)  # syntax only: nothing runs


def test_zip_is_reproducible(tmp_path: Path, problems: Path) -> None:
    a = build_zip("tiny-hw", tmp_path / "a.zip", problems, None).path.read_bytes()
    b = build_zip("tiny-hw", tmp_path / "b.zip", problems, None).path.read_bytes()
    assert a == b


def test_requirements_match_pyproject() -> None:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert sorted(d for d in deps if not d.startswith("torch")) == sorted(REQUIREMENTS)


def test_export_command_writes_the_zip(tmp_path: Path, problems: Path) -> None:
    out = tmp_path / "ag.zip"
    result = CliRunner().invoke(cli(), ["export", "gradescope", "tiny-hw", "-o", str(out), "--problems", str(problems), "--reference", str(tmp_path / "ref")])
    assert result.exit_code == 0, result.output
    assert zipfile.is_zipfile(out)
    bad = CliRunner().invoke(cli(), ["export", "gradescope", "nope", "-o", str(out), "--problems", str(problems)])
    assert bad.exit_code != 0 and "tiny-hw" in bad.output


@pytest.mark.parametrize("from_root", [False, True], ids=["source/run_autograder", "root copy"])
def test_unzipped_autograder_grades_like_gradescope(tmp_path: Path, problems: Path, from_root: bool) -> None:
    ag = _unpack(build_zip("tiny-hw", tmp_path / "autograder.zip", problems, None).path, tmp_path / "autograder")
    (ag / "submission" / "answers.toml").write_text(RIGHT)
    script = ag / "source" / "run_autograder"
    if from_root:  # Gradescope copies run_autograder to /autograder and runs it there
        shutil.copy(script, ag / "run_autograder")
        script = ag / "run_autograder"
    proc = subprocess.run(["bash", str(script)], cwd=ag, env=_python_on_path(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = check_results(ag / "results" / "results.json")
    assert data["score"] == 3.0, data["output"]
    assert [t["status"] for t in data["tests"]] == ["passed", "passed", "passed"]


def test_unzipped_autograder_reports_a_broken_upload(tmp_path: Path, problems: Path) -> None:
    ag = _unpack(build_zip("tiny-hw", tmp_path / "autograder.zip", problems, None).path, tmp_path / "autograder")
    (ag / "submission" / "answers.toml").write_bytes(b"\xff\xfe\x00junk")
    proc = subprocess.run(["bash", str(ag / "source" / "run_autograder")], cwd=ag, env=_python_on_path(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0
    data = check_results(ag / "results" / "results.json")
    assert data["score"] == 0 and "could not be read" in data["output"]


def test_run_autograder_writes_results_even_if_python_cannot_start(tmp_path: Path, problems: Path) -> None:
    ag = _unpack(build_zip("tiny-hw", tmp_path / "autograder.zip", problems, None).path, tmp_path / "autograder")
    (ag / "submission" / "answers.toml").write_text(RIGHT)
    env = _python_on_path(tmp_path, "#!/bin/sh\necho 'python3: broken' >&2\nexit 3\n")
    proc = subprocess.run(["bash", str(ag / "source" / "run_autograder")], cwd=ag, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    data = check_results(ag / "results" / "results.json")
    assert data["score"] == 0 and "could not start (exit status 3)" in data["output"]


# -- the real homework ----------------------------------------------------------------------------------------

HW4 = REPO / "problems"


def hw4_answers() -> dict:
    """A strong csc321-hw4 submission: model answers where the problem set gives them, the
    key's reference values elsewhere, one deliberate slip (q2b) and prose for the written parts."""
    from grader.keys.build import load_or_build_key
    from grader.problemset import load_problem_sets

    ps = load_problem_sets(HW4)["csc321-hw4"]
    key, _ = load_or_build_key(ps, REPO / "reference")
    answers = {}
    for part in ps:
        if part.manual:
            answers[part.id] = "Each output unit sums the products of the kernel and the 3×3 patch, plus the bias."
        elif part.solutions:
            answers[part.id] = part.solutions[0]
        else:
            answers[part.id] = key.part(part.id).reference
    answers["q2b"] = [[9, 9], [9, 9]]
    return answers


def test_csc321_hw4_through_the_zip(tmp_path: Path) -> None:
    from grader.problemset import load_problem_sets
    from grader.keys.template import render

    ps = load_problem_sets(HW4)["csc321-hw4"]
    ag = _unpack(build_zip("csc321-hw4", tmp_path / "autograder.zip", HW4, REPO / "reference").path, tmp_path / "autograder")
    (ag / "submission" / "answers.toml").write_text(render(ps, "toml", hw4_answers()))
    proc = subprocess.run(["bash", str(ag / "source" / "run_autograder")], cwd=ag, env=_python_on_path(tmp_path), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = check_results(ag / "results" / "results.json")
    tests = by_number(data)
    assert list(tests) == [p.id for p in ps]
    manual = [p for p in ps if p.manual]
    auto_total = sum(p.marks for p in ps if not p.manual)
    assert data["score"] == pytest.approx(auto_total - 1.5)  # all but the slipped q2b
    assert tests["q2b"]["status"] == "failed" and tests["q2b"]["max_score"] == 1.5
    for p in manual:
        assert tests[p.id]["score"] == 0 and tests[p.id]["max_score"] == p.marks and "manual" in tests[p.id]["tags"]
    assert all(tests[p.id]["status"] == "passed" for p in ps if p.id != "q2b")
    assert tests["q2a"]["name"] == "q2a (matrix)"


# -- pinned versions: constraints.txt in the zip, setup.sh and the Dockerfile ---------------------
def _pins(text: str) -> dict[str, str]:
    """{lower-case name: version} of a constraints file, read here without the grader's code."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line!r}"
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_zip_pins_exactly_the_installed_versions(tmp_path: Path, problems: Path) -> None:
    import mpmath
    import numpy
    import pydantic_core
    import sympy
    import torch

    summary = build_zip("tiny-hw", tmp_path / "autograder.zip", problems, None)
    with zipfile.ZipFile(summary.path) as zf:
        pins = _pins(zf.read("constraints.txt").decode())
        requirements = zf.read("requirements.txt").decode().split()
    assert pins["torch"] == torch.__version__
    assert pins["numpy"] == numpy.__version__ and pins["sympy"] == sympy.__version__
    # the closure: dependencies of dependencies too (sympy -> mpmath, pydantic -> pydantic-core)
    assert pins["mpmath"] == mpmath.__version__ and pins["pydantic-core"] == pydantic_core.__version__
    for requirement in requirements:  # every runtime requirement is pinned ...
        assert re.split(r"[<>=~!]", requirement)[0].lower().replace("_", "-") in pins
    assert not {"pytest", "hypothesis", "grader"} & set(pins)  # ... and nothing the runtime does not need


def test_setup_sh_installs_cpu_torch_alone_then_the_rest_pinned(tmp_path: Path, problems: Path) -> None:
    """setup.sh run for real, with apt-get and python3 standing in (they log their arguments):
    the pinned CPU torch is installed first with --no-deps from the CPU index, then everything
    with -c constraints.txt."""
    ag = _unpack(build_zip("tiny-hw", tmp_path / "autograder.zip", problems, None).path, tmp_path / "autograder")
    log = tmp_path / "calls.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python3 = textwrap.dedent(f"""\
        #!/bin/sh
        echo "python $*" >> {shlex.quote(str(log))}
        if [ "$1" = -m ] && [ "$2" = venv ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi
        exit 0
        """)
    for name, text in (("python3", python3), ("apt-get", f"#!/bin/sh\necho \"apt-get $*\" >> {shlex.quote(str(log))}\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"}
    proc = subprocess.run(["bash", str(ag / "source" / "setup.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    pips = [line.split(" -m pip install ", 1)[1] for line in log.read_text().splitlines() if " -m pip install " in line]
    import torch

    source = ag / "source"
    assert pips[1] == f"--no-deps torch=={torch.__version__} --index-url https://download.pytorch.org/whl/cpu"
    assert pips[2] == f"-c {source}/constraints.txt -r {source}/requirements.txt torch=={torch.__version__}"
    assert all("torch" not in p or "torch==" in p for p in pips)  # never a bare torch requirement


def test_dockerfile_installs_with_the_committed_constraints() -> None:
    from grader.lms.gradescope.constraints import runtime_pins

    dockerfile = (REPO / "Dockerfile").read_text()
    steps = [line for line in dockerfile.splitlines() if line.startswith(("COPY", "RUN"))]
    copy = steps.index("COPY constraints.txt ./")
    torch_step = next(i for i, s in enumerate(steps) if "torch" in s)
    grader_step = next(i for i, s in enumerate(steps) if s.endswith("pip install ."))
    assert copy < torch_step < grader_step
    assert steps[torch_step] == """RUN pip install --no-deps "$(grep -i '^torch==' constraints.txt)" --index-url https://download.pytorch.org/whl/cpu"""
    assert "PIP_CONSTRAINT=/build/constraints.txt" in steps[grader_step]
    committed = _pins((REPO / "constraints.txt").read_text())
    # the torch the committed keys were built with, and every runtime dependency, pinned
    built_with = {AnswerKey.model_validate_json(p.read_text()).torch_version for p in (REPO / "reference").glob("*.json")}
    assert built_with == {committed["torch"]}
    assert {n.lower().replace("_", "-") for n in runtime_pins()} <= set(committed)


def test_markers_and_extras_decide_what_is_pinned() -> None:
    from grader.lms.gradescope.constraints import pinned_versions

    import pydantic

    pins = {n.lower().replace("_", "-"): v for n, v in pinned_versions(["pydantic", "numpy; sys_platform == 'no-such-os'"]).items()}
    assert pins["pydantic"] == pydantic.VERSION and "annotated-types" in pins
    assert "numpy" not in pins  # its marker is false here
    assert "email-validator" not in pins  # only pydantic[email] needs it
    assert pinned_versions(["no-such-distribution-here"]) == {}


def test_export_constraints_command(tmp_path: Path) -> None:
    import torch

    out = tmp_path / "constraints.txt"
    result = CliRunner().invoke(cli(), ["export", "constraints", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert _pins(out.read_text())["torch"] == torch.__version__
    stdout = CliRunner().invoke(cli(), ["export", "constraints", "-o", "-"])
    assert stdout.output == out.read_text()


def test_pip_reads_the_pins_and_finds_them_installed(tmp_path: Path, problems: Path) -> None:
    """setup.sh's second pip line, as a dry run without an index here: pip accepts the file,
    the pins agree with the requirements and with each other, and nothing would be installed."""
    import torch

    ag = _unpack(build_zip("tiny-hw", tmp_path / "autograder.zip", problems, None).path, tmp_path / "autograder") / "source"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-index", "--dry-run", "--disable-pip-version-check",
         "-c", str(ag / "constraints.txt"), "-r", str(ag / "requirements.txt"), f"torch=={torch.__version__}"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Would install" not in proc.stdout, proc.stdout
