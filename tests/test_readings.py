"""Issue 10 §5 (fair credit on what students really type) and §4's last bullet, end to end.

A class folder of hand-ins to the demo course's own problem sets is graded by the real batch
(`grade_directory`, committed keys) and the JSON and Markdown reports are read back:
- a caret under an unreadable answer points at the character that broke, in the answer as
  typed (full-width text, a zero-width space, LaTeX, a combining accent, a matrix entry),
  whatever the report puts in front of the message;
- answers a fair TA reads are read (σ(Z) and dU[i][j][m] in an index formula, a unit after a
  number, an equation chain), and a TOML date is not a number;
- an int part gives full marks only to an exact integer.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from grader.models import Status, SubmissionReport
from grader.run.batch import grade_directory

ROOT = Path(__file__).resolve().parents[1]

CSC321 = '''assignment = "csc321-hw4"

[answers]
"q1.conv1.out_units" = "３＊６４＋＊１"
"q1.conv1.params" = "61\u200b706 + * 2"
"q1.conv1.connections" = 'Total: $\\frac{5}{2} \\cdot 4 + \\foo$'
"q1.conv2.out_units" = "exp(-1000)"
"q1.conv2.params" = "3*3*64 + 64 = 576 + 64 = 640 parameters."
"q2b" = "[[2, 1], [1, 2*/3]]"
"q3a.z" = 2020-01-01
"q3d.params" = "−(y\u0302 + 3V) +* 1"
'''

HW8 = '''assignment = "nyu-intro-ml-hw8"

[answers]
"q3a" = "σ(Z)(1 − σ(Z)) dU[i][j][m]"
'''

# part id -> the piece of the answer whose first character is where it broke
BROKE_AT = {
    "q1.conv1.out_units": "＊１",  # full-width: '*' after '+'
    "q1.conv1.params": "* 2",  # after a zero-width space the cleaning drops
    "q1.conv1.connections": "\\foo",  # an unknown LaTeX command inside $...$
    "q2b": "/3]]",  # inside one matrix entry, shown in the whole answer
    "q3d.params": "* 1",  # after a decomposed ŷ (two code points, one column)
}


def width(text: str) -> int:
    """Monospace columns: combining marks take none, East Asian wide and full-width take two."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[dict[str, dict], Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("class")
    out = tmp_path_factory.mktemp("out")
    for assignment, text in (("csc321-hw4", CSC321), ("nyu-intro-ml-hw8", HW8)):
        folder = root / assignment / "r9001"
        folder.mkdir(parents=True)
        (folder / "answers.toml").write_text(text, encoding="utf-8")
    summary = grade_directory(root, out, problems_dir=ROOT / "problems", reference_dir=ROOT / "reference", budget=None)
    parts: dict[str, dict] = {}
    markdown: dict[str, str] = {}
    for entry in summary.reports:
        report = SubmissionReport.model_validate_json((out / entry.file).read_bytes())
        parts |= {p.id: p for p in report.parts}
        markdown[entry.assignment] = (out / entry.file).with_suffix(".md").read_text(encoding="utf-8")
    return parts, out, markdown


@pytest.mark.parametrize("part_id", sorted(BROKE_AT))
def test_the_caret_points_at_the_character_that_broke_in_the_answer_as_typed(graded, part_id):
    parts = graded[0]
    p = parts[part_id]
    assert p.status is Status.invalid
    lines = p.feedback.split("\n")
    assert lines[0].startswith("Could not read this answer: ")
    excerpt, caret = lines[-2], lines[-1]
    assert caret.strip() == "^" and excerpt.startswith("    ") and caret.startswith("    ")
    shown, column = excerpt[4:], len(caret) - 1 - 4
    typed = "".join(c if c.isprintable() else "?" for c in p.answer)  # invisible characters show as '?'
    assert shown in typed  # the text as typed, not a normalised copy
    broke = p.answer.index(BROKE_AT[part_id])
    assert width(shown) >= column and width(p.answer[:broke]) == column  # excerpts start at the answer here
    assert f"at column {broke + 1}" in lines[0]


def test_the_markdown_report_keeps_the_caret_under_that_character(graded):
    parts, _, markdown = graded
    p = parts["q1.conv1.out_units"]
    pointer = "\n".join(p.feedback.split("\n")[-2:])
    assert pointer in markdown["csc321-hw4"]  # inside a code block, layout kept


def test_answers_a_fair_ta_reads_are_read(graded):
    parts = graded[0]
    q3a = parts["q3a"]  # σ(Z) is σ(Z[i, j, m]) in a formula for the entry at (i, j, m)
    assert q3a.status is Status.correct and q3a.canonical == "sigmoid(Z[i, j, m])*(1 - sigmoid(Z[i, j, m]))*dU[i, j, m]"
    params = parts["q1.conv2.params"]  # a chain of equalities ending in a unit and a full stop
    assert params.status is not Status.invalid and params.canonical == "640"


def test_an_int_part_needs_an_exact_integer(graded):
    p = graded[0]["q1.conv2.out_units"]  # exp(-1000) is a tiny positive number, never 0
    assert p.status is Status.incorrect and p.score == 0 and "not exactly whole" in p.feedback


def test_a_toml_date_is_not_a_number(graded):
    p = graded[0]["q3a.z"]  # `2020-01-01` unquoted: a date, not 2020 - 1 - 1
    assert p.status is Status.invalid and "read as a date" in p.feedback and p.answer == "2020-01-01"


def test_a_submission_keeps_a_native_date_in_its_answers_only(tmp_path):
    import datetime

    from grader.submission import read_submission

    path = tmp_path / "r1.toml"
    path.write_text('assignment = "a"\nstudent = 2020-01-01\n[answers]\nq = 2020-01-01\nt = 1979-05-27T07:32:00Z\n')
    sub = read_submission(path)
    assert sub.answers["q"] == datetime.date(2020, 1, 1)  # not the text "2020-01-01" (2020 - 1 - 1)
    # the student is who handed it in (the file name); the typed name field still reads as
    # written, in the warning that it disagrees
    assert sub.student == "r1" and any("2020-01-01" in w for w in sub.warnings)
    from grader.kinds import Text

    assert Text().parse(sub.answers["t"]) == "1979-05-27T07:32:00+00:00"
