"""A tiny self-made problem set and a class of graded reports, for the store/manual/export tests.

The problem set uses its own exact-number kind, so these tests depend only on the core
(problem-set API, keys, scoring), not on any particular parser.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

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
