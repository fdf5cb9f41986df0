"""`grader template`: an empty template grades as all-missing; filled with the key's answers it
earns every auto-graded mark; its values survive each format's own parser exactly."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from grader.keys.build import build_key
from grader.cli import app as grader_app
from grader.models import Status, Submission
from grader.problemset import ProblemSet, load_problem_sets
from grader.scoring import AssignmentGrader
from grader.submission import read_submission
from grader.keys.template import guidance, render, toml_value, yaml_value

REPO = Path(__file__).resolve().parents[1]
SUFFIX = {"toml": ".toml", "yaml": ".yaml", "json": ".json"}
PARSE = {"toml": tomllib.loads, "yaml": yaml.safe_load, "json": json.loads}

TINY = '''
from grader.errors import InvalidAnswer
from grader.kinds.base import Kind, Match
from grader.problemset import ProblemSet


class Whole(Kind):
    name = "whole"
    examples = ("16", "2 + 2")

    def parse(self, raw):
        if isinstance(raw, bool) or not isinstance(raw, (int, str)) or not str(raw).strip().lstrip("-").isdigit():
            raise InvalidAnswer("expected a whole number", example="16")
        return int(raw)

    def compare(self, answer, target):
        return Match(1.0 if answer == target else 0.0)


class Pair(Kind):
    name = "pair"
    examples = ("[1, 2]", "1 2\\n3 4", 'say "hi"')

    def parse(self, raw):
        if not isinstance(raw, list) or len(raw) != 2:
            raise InvalidAnswer("expected two numbers", example="[1, 2]")
        return [float(x) for x in raw]

    def compare(self, answer, target):
        return Match(1.0 if answer == target else 0.0)


hw = ProblemSet("tiny-hw", title="Tiny homework")


@hw.part("q1", marks=2, kind=Whole(), prompt="How many parameters has nn.Linear(3, 4)?\\nCount the biases too.")
def q1():
    return 16


@hw.part("q2", marks=0.5, kind=Pair())
def q2():
    return [0.5, -1e-5]


hw.manual("q3", 1, "Explain q1.")
'''


@pytest.fixture
def problems(tmp_path: Path) -> Path:
    folder = tmp_path / "problems"
    folder.mkdir()
    (folder / "tiny.py").write_text(TINY)
    return folder


@pytest.fixture
def tiny(problems: Path) -> ProblemSet:
    return load_problem_sets(problems)["tiny-hw"]


def read(tmp_path: Path, text: str, fmt: str) -> Submission:
    path = tmp_path / f"answers{SUFFIX[fmt]}"
    path.write_text(text, encoding="utf-8")
    sub = read_submission(path)
    assert isinstance(sub, Submission), sub
    return sub


def key_answers(ps: ProblemSet) -> dict[str, Any]:
    """What a student who knows the key would write: the model answer where the problem set
    gives one (formula parts), else the reference value itself."""
    key = build_key(ps)
    answers: dict[str, Any] = {}
    for part in ps:
        if part.manual:
            answers[part.id] = "A written answer."
        elif part.solutions:
            answers[part.id] = part.solutions[0]
        else:
            answers[part.id] = key.part(part.id).reference
    return answers


@pytest.mark.parametrize("fmt", ["toml", "yaml", "json"])
def test_empty_template_grades_as_all_missing(tmp_path: Path, tiny: ProblemSet, fmt: str) -> None:
    text = render(tiny, fmt)  # type: ignore[arg-type]
    data = PARSE[fmt](text)
    assert data["assignment"] == "tiny-hw"
    assert list(data["answers"]) == ["q1", "q2", "q3"] and set(data["answers"].values()) == {""}
    report = AssignmentGrader(tiny, build_key(tiny)).grade(read(tmp_path, text, fmt))
    assert [p.status for p in report.parts] == [Status.missing] * 3
    assert report.score == 0 and report.warnings == []


@pytest.mark.parametrize("fmt", ["toml", "yaml", "json"])
def test_template_filled_with_the_key_earns_full_auto_marks(tmp_path: Path, tiny: ProblemSet, fmt: str) -> None:
    text = render(tiny, fmt, key_answers(tiny))  # type: ignore[arg-type]
    report = AssignmentGrader(tiny, build_key(tiny)).grade(read(tmp_path, text, fmt))
    assert {p.id: p.status for p in report.parts} == {"q1": Status.correct, "q2": Status.correct, "q3": Status.manual}
    assert report.score == 2.5


def test_toml_template_explains_each_part_in_comments(tiny: ProblemSet) -> None:
    lines = render(tiny, "toml").splitlines()
    at = lines.index('"q1" = ""')
    assert lines[at - 4 : at] == [
        "# q1 · 2 marks · whole",
        "# How many parameters has nn.Linear(3, 4)?",  # the whole prompt, every line
        "# Count the biases too.",
        "# Accepted forms: 16  |  2 + 2",
    ]
    q2 = lines.index('"q2" = ""')
    assert lines[q2 - 1] == '# Accepted forms: [1, 2]  |  "1 2\\n3 4"  |  "say \\"hi\\""'  # typed as TOML strings
    q3 = lines.index('"q3" = ""')
    assert lines[q3 - 3].startswith("# q3 · 1 mark · text") and "graded by course staff" in lines[q3 - 1]
    assert '# student = "your student id"   (optional)' in lines
    assert lines[0].startswith("# Answer file for tiny-hw: Tiny homework (3.5 marks)")


def test_yaml_template_comments_sit_with_their_part(tiny: ProblemSet) -> None:
    text = render(tiny, "yaml")
    assert '  # q1 · 2 marks · whole\n  # How many parameters has nn.Linear(3, 4)?\n  # Count the biases too.\n' in text


def test_json_guidance_goes_beside_the_template(tiny: ProblemSet) -> None:
    notes = guidance(tiny)
    assert "q1 · 2 marks · whole" in notes and "Accepted forms: 16" in notes


def test_template_command(tmp_path: Path, problems: Path) -> None:
    app = grader_app
    runner = CliRunner()
    result = runner.invoke(app, ["template", "tiny-hw", "--problems", str(problems)])
    assert result.exit_code == 0, result.output
    assert tomllib.loads(result.stdout)["answers"] == {"q1": "", "q2": "", "q3": ""}
    out = tmp_path / "a.yaml"
    result = runner.invoke(app, ["template", "tiny-hw", "--format", "yaml", "--problems", str(problems), "-o", str(out)])
    assert result.exit_code == 0 and yaml.safe_load(out.read_text())["assignment"] == "tiny-hw"
    result = runner.invoke(app, ["template", "nope", "--problems", str(problems)])
    assert result.exit_code != 0 and "tiny-hw" in result.output


# -- values survive their format -----------------------------------------------------------------------

values = st.recursive(
    st.text() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.booleans(),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=12,
)


@given(values)
def test_toml_values_round_trip(value: Any) -> None:
    assert tomllib.loads(f"x = {toml_value(value)}")["x"] == value


@given(values)
def test_yaml_values_round_trip(value: Any) -> None:
    assert yaml.safe_load(f"x: {yaml_value(value)}")["x"] == value


@pytest.mark.parametrize("text", ["a😀b", "\u2028\x85\ufeff", 'q"\\\n\t\x7f\x00', "—·×σ"])
def test_awkward_strings_round_trip(text: str) -> None:
    assert tomllib.loads(f"x = {toml_value(text)}")["x"] == text
    assert yaml.safe_load(f"x: {yaml_value(text)}")["x"] == text


# -- the real homeworks ------------------------------------------------------------------------------------

HOMEWORKS = ["csc321-hw4", "nyu-intro-ml-hw8", "ai6126-hw1", "nyu-dl-hw2", "assignment4"]  # shared/spec/homeworks.md


@pytest.fixture(scope="module")
def homeworks() -> dict[str, tuple[ProblemSet, AssignmentGrader, dict[str, Any]]]:
    """Each problem set in problems/ with its grader and a key-filled answer set (built once)."""
    out = {}
    for ps_id, ps in load_problem_sets(REPO / "problems").items():
        out[ps_id] = (ps, AssignmentGrader(ps, build_key(ps)), key_answers(ps))
    return out


@pytest.mark.parametrize("fmt", ["toml", "yaml", "json"])
@pytest.mark.parametrize("ps_id", HOMEWORKS)
def test_homework_template_empty_and_filled(tmp_path: Path, homeworks: dict, ps_id: str, fmt: str) -> None:
    ps, grader, answers = homeworks[ps_id]
    empty = grader.grade(read(tmp_path, render(ps, fmt), fmt))  # type: ignore[arg-type]
    assert {p.status for p in empty.parts} == {Status.missing} and empty.score == 0
    full = grader.grade(read(tmp_path, render(ps, fmt, answers), fmt))  # type: ignore[arg-type]
    auto = [p for p in full.parts if not ps.parts[p.id].manual]
    assert [(p.id, p.feedback) for p in auto if p.status is not Status.correct] == []
    assert full.score == pytest.approx(sum(p.marks for p in ps if not p.manual))


@pytest.mark.parametrize("ps_id", HOMEWORKS)
def test_homework_template_shows_every_line_of_every_prompt(homeworks: dict, ps_id: str) -> None:
    ps = homeworks[ps_id][0]
    comments = [line.removeprefix("# ") for line in render(ps, "toml").splitlines() if line.startswith("#")]
    for part in ps:
        lines = [line for line in part.prompt.splitlines() if line.strip()]
        at = comments.index(lines[0])  # the prompt's lines in order, right after its first
        assert comments[at : at + len(lines)] == lines, part.id
    if ps_id == "csc321-hw4":  # q2a's prompt runs over two lines: the second is the question
        assert "no pooling). Give the 4×4 output." in comments
