"""The demo class in submissions/: all five sets graded by `grader.run.batch.grade_directory` from the
committed answer keys (torch is imported only for follow-through), once for the module.

Each submission's header comment says what it is meant to show; these tests pin the intended
verdicts of chosen parts (right forms correct, alternatives recognised, named mistakes named,
follow-through recognised, unreadable answers invalid with a useful hint) and that no part of
any submission is an `error`.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from grader.models import Status, SubmissionReport
from grader.models import RunSummary
from grader.course import read_course_file
from grader.run.batch import grade_directory

ROOT = Path(__file__).resolve().parents[1]
CLASS = ROOT / "submissions"
ASSIGNMENTS = ("ai6126-hw1", "assignment4", "csc321-hw4", "csc321-hw4-variants", "nyu-dl-hw2", "nyu-dl-hw2-code", "nyu-intro-ml-hw8")


def demo_folders() -> dict[str, list[str]]:
    return {a: sorted(p.parent.name for p in (CLASS / a).glob("*/answers.toml")) for a in ASSIGNMENTS}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[RunSummary, Path]:
    out = tmp_path_factory.mktemp("demo_out")
    summary = grade_directory(
        CLASS, out, problems_dir=ROOT / "problems", reference_dir=ROOT / "reference", budget=None,
        course=read_course_file(ROOT / "grader.toml"),  # as `grader run submissions/` finds it
    )
    return summary, out


@pytest.fixture(scope="module")
def reports(run) -> dict[tuple[str, str], SubmissionReport]:
    summary, out = run
    return {
        (e.assignment, e.student): SubmissionReport.model_validate_json((out / e.file).read_bytes()) for e in summary.reports
    }


def part(reports, assignment: str, student: str, part_id: str):
    return {p.id: p for p in reports[(assignment, student)].parts}[part_id]


# -- the run as a whole ------------------------------------------------------------------------------
def test_every_submission_is_graded_from_the_committed_keys(run):
    summary, out = run
    folders = demo_folders()
    assert all(5 <= len(folders[a]) <= 10 for a in ASSIGNMENTS), folders
    assert not summary.broken and not summary.errors
    assert not [w for w in summary.warnings if "stale" in w or "no answer key" in w], summary.warnings
    assert {a.assignment: a.graded for a in summary.assignments} == {a: len(s) for a, s in folders.items()}
    assert summary.graded == sum(len(s) for s in folders.values())
    assert summary.exit_code == 0
    for a in ASSIGNMENTS:
        assert (out / a / "gradebook.csv").is_file() and (out / a / "summary.md").is_file()


def test_no_part_anywhere_is_an_error(run, reports):
    summary, _ = run
    assert summary.error_parts == 0
    errors = [(a, s, p.id, p.feedback) for (a, s), r in reports.items() for p in r.parts if p.status is Status.error]
    assert errors == []


def test_each_file_names_its_assignment_and_student(reports):
    for a, students in demo_folders().items():
        for s in students:
            data = tomllib.loads((CLASS / a / s / "answers.toml").read_text(encoding="utf-8"))
            assert data["assignment"] == a
            assert data.get("student", s) == s
            assert (a, s) in reports


# -- students who got every auto-graded part right ---------------------------------------------------
ALL_RIGHT = [
    ("nyu-intro-ml-hw8", "n2001"),  # canonical forms
    ("nyu-intro-ml-hw8", "n2002"),  # LaTeX, subscripts, σ(·), other max/min/zero locations
    ("ai6126-hw1", "a3001"),
    ("ai6126-hw1", "a3002"),  # products, separators, bmatrix, \hat{y}, exact expression
    ("nyu-dl-hw2", "d4001"),
    ("nyu-dl-hw2", "d4002"),  # \lfloor \frac, squeezed shapes, numerator layout
    ("nyu-dl-hw2", "d4007"),  # ceil form, reordered factors, implicit sum limits
    ("assignment4", "b5001"),
    ("assignment4", "b5002"),  # \frac{\partial R}{...} =, 2(z-y), shifted sum index
    ("csc321-hw4", "s1001"),
    ("csc321-hw4", "s1002"),
]

@pytest.mark.parametrize("assignment,student", ALL_RIGHT)
def test_all_right_students_get_every_auto_graded_part(reports, assignment, student):
    report = reports[(assignment, student)]
    auto = [p for p in report.parts if p.kind != "text"]
    wrong = [(p.id, p.status.value, p.feedback) for p in auto if p.status is not Status.correct]
    assert wrong == []
    assert sum(p.score for p in auto) == pytest.approx(sum(p.max_score for p in auto))
    assert all(p.status is Status.manual for p in report.parts if p.kind == "text" and p.answer)


# -- chosen parts: (assignment, student, part, status, what it matched) ------------------------------
MATCHED = [
    # nyu-intro-ml-hw8
    ("nyu-intro-ml-hw8", "n2002", "q1c.where", "correct", "reference"),  # Z[3,3]: another maximum
    ("nyu-intro-ml-hw8", "n2003", "q1a.kmax", "incorrect", "mistake: kernel size instead of the last index"),
    ("nyu-intro-ml-hw8", "n2003", "q1b", "incorrect", "mistake: size of X"),
    ("nyu-intro-ml-hw8", "n2003", "q1c.where", "incorrect", "mistake: kernel flipped"),
    ("nyu-intro-ml-hw8", "n2003", "q1d.where", "incorrect", "mistake: kernel flipped"),
    ("nyu-intro-ml-hw8", "n2003", "q2a", "incorrect", "mistake: padded to keep the size"),
    ("nyu-intro-ml-hw8", "n2003", "q2d", "incorrect", "mistake: bias forgotten"),
    ("nyu-intro-ml-hw8", "n2003", "q3c", "incorrect", "mistake: indices not reversed"),
    ("nyu-intro-ml-hw8", "n2003", "q3b", "incorrect", "mistake: kernel flipped"),  # X[i-k1, j-k2, n]
    ("nyu-intro-ml-hw8", "n2004", "q3a", "incorrect", "mistake: upstream gradient missing"),
    ("nyu-intro-ml-hw8", "n2004", "q3b", "incorrect", "mistake: sigmoid derivative missing"),
    ("nyu-intro-ml-hw8", "n2004", "q3c", "incorrect", "mistake: sigmoid derivative missing"),
    ("nyu-intro-ml-hw8", "n2007", "q3a", "incorrect", "mistake: sigmoid derivative missing"),
    ("nyu-intro-ml-hw8", "n2007", "q3b", "correct", "reference"),
    ("nyu-intro-ml-hw8", "n2007", "q3c", "correct", "reference"),
    # ai6126-hw1
    ("ai6126-hw1", "a3003", "q1.conv1", "incorrect", "mistake: bias forgotten"),
    ("ai6126-hw1", "a3003", "q1.linear9", "incorrect", "mistake: bias forgotten"),
    ("ai6126-hw1", "a3003", "q1.total", "correct", "follow-through: q1.conv1, q1.conv4, q1.conv7, q1.linear9, q1.linear11"),
    ("ai6126-hw1", "a3003", "q3.ii", "incorrect", "mistake: sign missing"),
    ("ai6126-hw1", "a3003", "q3.iii", "incorrect", "mistake: summed instead of averaged"),
    ("ai6126-hw1", "a3003", "q3.iv", "incorrect", None),
    ("ai6126-hw1", "a3004", "q2.matrix", "partial", "mistake: kernel flipped"),  # named, and its right entries keep their share
    ("ai6126-hw1", "a3004", "q2.result", "correct", "follow-through: q2.matrix"),
    ("ai6126-hw1", "a3004", "q2.output", "correct", "follow-through: q2.result"),
    ("ai6126-hw1", "a3004", "q3.ii", "incorrect", "mistake: negative-class term missing"),
    ("ai6126-hw1", "a3007", "q1.total", "incorrect", None),  # an addition slip: the layers are right
    ("ai6126-hw1", "a3007", "q2.matrix", "partial", None),
    ("ai6126-hw1", "a3007", "q2.result", "correct", "follow-through: q2.matrix"),
    ("ai6126-hw1", "a3007", "q2.output", "correct", "follow-through: q2.result"),
    ("ai6126-hw1", "a3007", "q3.ii", "correct", "reference"),  # unicode −, ·, ŷ, ln
    ("ai6126-hw1", "a3005", "q2.result", "correct", "reference"),  # graded although q2.matrix is unreadable
    # nyu-dl-hw2
    ("nyu-dl-hw2", "d4002", "q1.1c.i.shape", "correct", "alternative: single output channel left out"),
    ("nyu-dl-hw2", "d4002", "q1.1c.ii.shape", "correct", "alternative: size-1 dimensions squeezed"),
    ("nyu-dl-hw2", "d4002", "q1.2c.shape", "correct", "alternative: numerator layout"),
    ("nyu-dl-hw2", "d4003", "q1.1a", "incorrect", "mistake: stride ignored"),
    ("nyu-dl-hw2", "d4003", "q1.1b", "partial", "mistake: floor missing"),
    ("nyu-dl-hw2", "d4003", "q1.1c.i.expr", "incorrect", "mistake: kernel flipped"),
    ("nyu-dl-hw2", "d4003", "q1.1c.ii.expr", "incorrect", None),  # stride-1 offset
    ("nyu-dl-hw2", "d4003", "q1.1c.iii.expr", "incorrect", None),  # wrong offset
    ("nyu-dl-hw2", "d4003", "q1.1c.iv.expr", "incorrect", "mistake: stride ignored"),
    ("nyu-dl-hw2", "d4004", "q1.1b", "partial", "mistake: dilation ignored"),
    ("nyu-dl-hw2", "d4004", "q1.1c.i.expr", "correct", "reference"),  # kernel index shifted to start at 0
    ("nyu-dl-hw2", "d4004", "q1.1c.iv.expr", "correct", "reference"),  # the sum over j written out
    ("nyu-dl-hw2", "d4004", "q1.2b", "correct", "alternative: column vector"),
    ("nyu-dl-hw2", "d4005", "q1.1b", "correct", "reference"),  # unicode ⌊ ⌋ and −
    # assignment4
    ("assignment4", "b5002", "q2b", "correct", "alternative: side length only"),
    ("assignment4", "b5003", "q1b", "incorrect", "mistake: factor 2 missing"),
    ("assignment4", "b5003", "q1c", "incorrect", "mistake: factor 2 missing"),
    ("assignment4", "b5003", "q2a", "incorrect", "mistake: bias forgotten"),
    ("assignment4", "b5003", "q2b", "correct", "alternative: with the 20 maps, channels last"),
    ("assignment4", "b5004", "q1a", "incorrect", "mistake: weights not shared"),
    ("assignment4", "b5004", "q1b", "incorrect", "mistake: sign flipped"),
    ("assignment4", "b5004", "q1c", "incorrect", "mistake: sign flipped"),
    ("assignment4", "b5004", "q2b", "correct", "alternative: with the 20 maps, channels first"),
    ("assignment4", "b5004", "q3a.answer", "incorrect", None),
    ("assignment4", "b5005", "q1b", "correct", "reference"),  # unicode −, ·
    ("assignment4", "b5005", "q1c", "incorrect", "mistake: sigmoid derivative missing"),
    # csc321-hw4 (the existing demo folder)
    ("csc321-hw4", "s1006", "q3a.loss", "correct", "follow-through: q3a.y"),
    ("csc321-hw4", "s1004", "q2b", "incorrect", "mistake: average pooling"),
]


@pytest.mark.parametrize("assignment,student,part_id,status,matched", MATCHED)
def test_intended_verdicts(reports, assignment, student, part_id, status, matched):
    p = part(reports, assignment, student, part_id)
    assert (p.status.value, p.matched) == (status, matched), p.feedback
    if matched and matched.startswith("mistake: "):
        assert matched.removeprefix("mistake: ") in p.feedback
    if matched and matched.startswith("follow-through"):
        assert "follow-through" in p.feedback


def test_every_named_mistake_appears_in_the_demo(reports):
    """Each set's named mistakes (from its answer key) are shown by at least one student, except
    the one no student can write (see UNREACHABLE)."""
    keys = {a: json.loads((ROOT / "reference" / f"{a}.json").read_text()) for a in ASSIGNMENTS if a not in ("csc321-hw4", "csc321-hw4-variants")}
    shown = {(a, p.id, p.matched) for (a, _), r in reports.items() for p in r.parts if p.matched}
    missing = []
    for a, key in keys.items():
        for entry in key["parts"]:
            for name in mistake_names(entry):
                if (a, entry["id"], f"mistake: {name}") not in shown and (a, entry["id"], name) not in UNREACHABLE:
                    missing.append((a, entry["id"], name))
    assert missing == []


# Every named mistake of every key is shown by some demo submission.
UNREACHABLE: set[tuple[str, str, str]] = set()


def mistake_names(entry: dict) -> list[str]:
    names = []
    for variant in entry.get("mistakes", []) or []:
        names.append(variant["name"] if isinstance(variant, dict) else variant)
    return names


# -- unreadable answers: invalid, 0 marks, and feedback that says what to do --------------------------
INVALID = [
    ("nyu-intro-ml-hw8", "n2005", "q1c.where", "(6, 2)"),  # "row 1, column 3": an accepted form is shown (a neutral one: (1, 3) is the answer)
    ("nyu-intro-ml-hw8", "n2005", "q3a", "primes are not supported"),
    ("nyu-intro-ml-hw8", "n2005", "q3b", "unknown indexed name 'delta"),
    ("nyu-intro-ml-hw8", "n2005", "q3c", "'dZ' takes 3 indices, got 2"),
    ("ai6126-hw1", "a3005", "q2.matrix", "row 1 has 15 entries"),  # the published matrix, copied
    ("ai6126-hw1", "a3005", "q3.ii", "unknown name 'p'"),
    ("ai6126-hw1", "a3005", "q3.iii", "decimal comma"),
    ("ai6126-hw1", "a3005", "q3.iv", "could be any of `smaller`, `same`"),
    ("nyu-dl-hw2", "d4005", "q1.1c.i.expr", "unknown name 'b'"),
    ("nyu-dl-hw2", "d4005", "q1.1c.iii.expr", "'W' takes 3 indices, got 2"),
    ("nyu-dl-hw2", "d4005", "q1.1c.iv.expr", "unknown name 'dl'"),
    ("nyu-dl-hw2", "d4005", "q1.2c.shape", "unknown name 'K'"),
    ("nyu-dl-hw2", "d4005", "q1.2d.answer", "Expected one of `yes`, `no`"),
    ("assignment4", "b5006", "q1b", "this part accepts symbols: h_i, y, z"),  # ŷ for z
    ("assignment4", "b5006", "q1c", "primes are not supported"),
    ("csc321-hw4", "s1007", "q3a.y", "decimal comma"),
]


@pytest.mark.parametrize("assignment,student,part_id,hint", INVALID)
def test_unreadable_answers_are_invalid_with_a_hint(reports, assignment, student, part_id, hint):
    p = part(reports, assignment, student, part_id)
    assert p.status is Status.invalid and p.score == 0
    assert hint in p.feedback


# Answers a fair TA reads that were refused before issue 10 (§5): a unit after the number, a
# shape in words, a choice followed by its reason, `x` as a multiplication sign.
READ_AS_A_TA_READS = [
    ("nyu-intro-ml-hw8", "n2005", "q1b", "5×4"),  # "5 by 4"
    ("nyu-intro-ml-hw8", "n2005", "q2b.in", "10"),  # "10 channels"
    ("assignment4", "b5006", "q2a", "520"),  # "520 weights"
    ("assignment4", "b5006", "q2b", "24×24"),  # "24 by 24"
    ("assignment4", "b5006", "q3a.answer", "false"),  # "False, h_t depends on h_{t-1}"
    ("csc321-hw4", "s1007", "q1.fc1.in_units", "9216"),  # "6x6x256"
]


@pytest.mark.parametrize("assignment,student,part_id,read_as", READ_AS_A_TA_READS)
def test_answers_a_ta_reads_are_read(reports, assignment, student, part_id, read_as):
    p = part(reports, assignment, student, part_id)
    assert p.status is not Status.invalid and p.canonical == read_as


def test_the_rest_of_an_unreadable_submission_is_graded(reports):
    for key in [("nyu-intro-ml-hw8", "n2005"), ("ai6126-hw1", "a3005"), ("nyu-dl-hw2", "d4005"), ("assignment4", "b5006")]:
        statuses = {p.status for p in reports[key].parts}
        assert Status.invalid in statuses and Status.correct in statuses, key
        assert reports[key].score > 0


# -- near-empty hand-ins ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "assignment,student,answered",
    [
        ("nyu-intro-ml-hw8", "n2006", {"q1a.kmin", "q1a.kmax"}),  # q1b is an empty string: missing
        ("ai6126-hw1", "a3006", {"q1.conv1", "q4"}),
        ("nyu-dl-hw2", "d4006", {"q1.1a"}),
        ("assignment4", "b5007", set()),  # an empty [answers] table
        ("csc321-hw4", "s1008", {"q1.conv1.out_units", "q3c"}),
    ],
)
def test_near_empty_submissions(reports, assignment, student, answered):
    report = reports[(assignment, student)]
    assert {p.id for p in report.parts if p.status is not Status.missing} == answered
    assert all(p.score == 0 for p in report.parts if p.status is Status.missing)


def test_manual_parts_wait_for_a_person(reports):
    p = part(reports, "nyu-dl-hw2", "d4001", "q1.3.4")
    assert p.status is Status.manual and p.score == 0 and "ln 4" in (p.answer or "")


def test_markdown_reports_name_mistakes_and_follow_through(run):
    _, out = run
    n2003 = (out / "nyu-intro-ml-hw8" / "n2003.md").read_text(encoding="utf-8")
    assert "known mistake — kernel flipped" in n2003 and "**Score: 5.5 / 15**" in n2003
    a3003 = (out / "ai6126-hw1" / "a3003.md").read_text(encoding="utf-8")
    assert "Correct by follow-through" in a3003
    d4003 = (out / "nyu-dl-hw2" / "d4003.md").read_text(encoding="utf-8")
    assert "floor missing" in d4003 and "Earns 1.5 of 3" in d4003


# -- the variant edition: csc321-hw4 with each student's own numbers ------------------------------------
VARYING = ("q2a", "q2b", "q3a.conv", "q3a.h", "q3a.z", "q3a.y", "q3a.loss", "q3b")


def test_the_variant_edition_grades_each_student_against_their_own_numbers(reports):
    codes = {s: reports[("csc321-hw4-variants", s)].variant.code for s in ("v1001", "v1002", "v1003", "v1004", "v1005")}
    assert len(set(codes.values())) == 5
    for s in ("v1001", "v1005"):
        assert all(part(reports, "csc321-hw4-variants", s, p).matched == "reference" for p in VARYING), s
    assert part(reports, "csc321-hw4-variants", "v1002", "q2a").matched == "mistake: kernel flipped"
    assert part(reports, "csc321-hw4-variants", "v1002", "q3b").matched == "mistake: ReLU derivative ignored"
    assert part(reports, "csc321-hw4-variants", "v1004", "q3a.conv").status is Status.incorrect
    assert part(reports, "csc321-hw4-variants", "v1004", "q3a.h").matched == "follow-through: q3a.conv"
    # the same answers as v1001's are wrong for v1003, whose numbers differ
    for p in ("q2a", "q3a.conv", "q3b"):
        assert part(reports, "csc321-hw4-variants", "v1003", p).score == 0, p


def test_answers_from_a_classmates_numbers_are_named_for_staff_only(run):
    _, out = run
    staff = json.loads((out / "csc321-hw4-variants" / "variants.json").read_text())
    assert [(m["student"], m["other"]) for m in staff["matches"]] == [("v1003", "v1001")]
    assert "v1003 | matches the variant of student v1001" in (out / "csc321-hw4-variants" / "variants.md").read_text()
    for suffix in (".json", ".md"):
        assert "v1001" not in (out / "csc321-hw4-variants" / f"v1003{suffix}").read_text()
    assert "variant `1-" in (out / "csc321-hw4-variants" / "v1003.md").read_text()


def test_late_demo_submissions_carry_the_course_late_policy(reports):
    # grader.toml: 10 % per started day late. Exactly these demo submissions are after their due date.
    late = {(a, s): (r.late.days, r.late.factor, r.late.raw_score) for (a, s), r in reports.items() if r.late is not None}
    assert late == {
        ("csc321-hw4", "s1008"): (1, 0.9, 0.4),
        ("csc321-hw4-variants", "v1004"): (1, 0.9, 25.0),
        ("nyu-dl-hw2", "d4006"): (1, 0.9, 2.0),
        ("assignment4", "b5006"): (1, 0.9, 5.0),  # 21 minutes late (520 weights, 24 by 24 and False, ... read as a TA reads them)
        ("assignment4", "b5007"): (1, 0.9, 0.0),
        ("nyu-intro-ml-hw8", "n2005"): (1, 0.9, 7.5),  # 5 by 4 and 10 channels read
        ("nyu-intro-ml-hw8", "n2006"): (2, 0.8, 1.0),  # 33.5 h late: two started days
    }
    for (a, s), r in reports.items():
        if r.late is not None:
            assert r.score == round(r.late.raw_score * r.late.factor, 6)
    assert reports[("ai6126-hw1", "a3005")].late is None  # handed in at the due date's very second
