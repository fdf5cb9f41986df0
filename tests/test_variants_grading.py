"""Per-student variants, graded: each student against their own numbers; a classmate's numbers
are wrong for them and named for staff only; variants and keys reproduce from code and cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import grader.keys.variants as variant_keys
from grader.keys.build import read_key
from grader.models import Status, Submission
from grader.problemset import load_problem_file
from grader.scoring import AssignmentGrader
from grader.keys.variants import VariantKeys, student_prompts
from grader.run.matches import find_matches, matches_markdown

REPO = Path(__file__).resolve().parent.parent
SECRET = bytes(range(100, 132))
ASSIGNMENT = "csc321-hw4-variants"


@pytest.fixture(scope="module")
def hw4():
    ps = load_problem_file(REPO / "problems" / "csc321_hw4.py")["csc321-hw4"]
    return ps, read_key(REPO / "reference" / "csc321-hw4.json")


@pytest.fixture
def keys(hw4, tmp_path):
    ps, base = hw4
    return VariantKeys(ps, base, assignment=ASSIGNMENT, secret=SECRET, cache_dir=tmp_path / "cache")


def answers_from(key, parts):
    """A model student: the references of the given parts as answers (lists, as a file holds them)."""
    return {p.id: p.reference for p in key.parts if p.id in parts}


def grade(keys, student, answers):
    key = keys.key_of_student(student)
    sub = Submission(assignment=ASSIGNMENT, student=student, answers=answers, source=f"{student}/answers.toml")
    return sub, AssignmentGrader(keys.ps, key).grade(sub)


def test_two_students_get_different_numbers_and_each_is_graded_against_their_own(keys):
    varying = keys.ps.varying_parts()
    a, b = keys.key_of_student("s1001"), keys.key_of_student("s1002")
    assert a.variant.code != b.variant.code and a.variant.values != b.variant.values
    for part in varying:
        assert a.part(part).reference != b.part(part).reference, part
    # each student's prompt shows their own numbers
    x_a = a.variant.values["x"]
    assert f"x = [{', '.join(map(str, x_a))}]" in a.part("q3a.conv").prompt
    # the references are the sheet's computations on the student's numbers (independently here)
    X, K, bias = (np.array(a.variant.values[n], dtype=float) for n in ("X", "K", "bias"))
    padded = np.pad(X, 1)
    by_hand = [[float((padded[i:i + 3, j:j + 3] * K).sum() + bias) for j in range(4)] for i in range(4)]
    assert a.part("q2a").reference == by_hand
    for student, key in (("s1001", a), ("s1002", b)):
        _, report = grade(keys, student, answers_from(key, varying))
        assert all(r.status is Status.correct and r.matched == "reference" for r in report.parts if r.id in varying)
        assert report.variant == key.variant


def test_a_classmates_answers_are_wrong_and_named_for_staff_only(keys):
    varying = keys.ps.varying_parts()
    students = [f"s{1000 + i}" for i in range(12)]
    class_keys = {s: keys.key_of_student(s) for s in students}
    graded = []
    for s in students:
        source = "s1003" if s == "s1007" else s  # s1007 hands in s1003's answers
        graded.append(grade(keys, s, answers_from(class_keys[source], varying)))
    copier = dict((r.student, r) for _, r in graded)["s1007"]
    by_id = {r.id: r for r in copier.parts}
    for part in ("q2a", "q2b", "q3a.conv", "q3b"):
        assert by_id[part].status is not Status.correct and by_id[part].score < by_id[part].max_score, part
    matches = find_matches(graded, class_keys, varying)
    assert [(m.student, m.other) for m in matches] == [("s1007", "s1003")]
    assert {"q2a", "q3a.conv", "q3b"} <= set(matches[0].parts)
    assert "matches the variant of student s1003" in matches_markdown(ASSIGNMENT, {}, matches)
    # the student's own report never names the classmate
    assert "s1003" not in copier.model_dump_json() and "variant of student" not in copier.model_dump_json()


def test_honest_mistakes_are_not_findings(keys):
    varying = keys.ps.varying_parts()
    students = [f"s{2000 + i}" for i in range(12)]
    class_keys = {s: keys.key_of_student(s) for s in students}
    graded = [grade(keys, s, {p: "0" for p in varying} | {"q2b": [[1, 1], [1, 1]]}) for s in students]
    assert find_matches(graded, class_keys, varying) == []


def test_a_variant_is_reproduced_byte_for_byte_from_its_code(keys, hw4):
    ps, base = hw4
    variant = keys.variant_for("s1001")
    assert ps.deal(variant.code).model_dump_json() == variant.model_dump_json()
    fresh = VariantKeys(ps, base, assignment=ASSIGNMENT)  # no secret, no cache: the code is enough
    assert fresh.key_for(fresh.variant_of(variant.code)).model_dump_json() == keys.key_for(variant).model_dump_json()


def test_keys_come_from_the_cache_and_a_report_grades_against_its_stored_numbers(keys, hw4, tmp_path, monkeypatch):
    ps, base = hw4
    first = keys.key_of_student("s1001")
    files = list((tmp_path / "cache").rglob("*.json"))
    assert len(files) == 1 and files[0].parent.name == ps.source_hash()

    def no_torch(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(variant_keys, "compute_parts", no_torch)
    again = VariantKeys(ps, base, assignment=ASSIGNMENT, secret=SECRET, cache_dir=tmp_path / "cache")
    assert again.key_of_student("s1001").model_dump_json() == first.model_dump_json()
    # a worker grading from the cache never imports the problem set (nor torch)
    unimported = VariantKeys(no_torch, base, assignment=ASSIGNMENT, secret=SECRET, cache_dir=tmp_path / "cache", source=ps.source_hash())
    assert unimported.key_of_student("s1001").model_dump_json() == first.model_dump_json()
    monkeypatch.undo()

    # a report made before the problem file changed keeps its numbers: its key is theirs
    stored = first.variant.model_copy(update={"values": {**first.variant.values, "bias": 2 if first.variant.values["bias"] != 2 else 1}})
    key = keys.key_for(stored)
    assert key.variant == stored and key.part("q2a").reference != first.part("q2a").reference
    # a damaged cache file is computed again
    files[0].write_text("{ not json")
    third = VariantKeys(ps, base, assignment=ASSIGNMENT, secret=SECRET, cache_dir=tmp_path / "cache")
    assert third.key_of_student("s1001").model_dump_json() == first.model_dump_json()


def test_the_printed_variant_computes_the_committed_key(hw4):
    ps, base = hw4
    key = VariantKeys(ps, base).key_for(ps.printed())
    assert [p.model_dump() for p in key.parts] == [p.model_dump() for p in base.parts]


def test_reports_without_variants_have_no_variant_field(keys):
    _, report = grade(keys, "s1001", {})
    assert json.loads(report.model_dump_json())["variant"]["code"] == report.variant.code
    plain = report.model_copy(update={"variant": None})
    assert "variant" not in json.loads(plain.model_dump_json())


def test_the_service_gets_a_students_prompts_with_their_numbers(keys):
    sheet = student_prompts(keys, "s1001")
    variant = keys.variant_for("s1001")
    assert sheet["variant"] == variant.code
    assert {i["name"]: i["value"] for i in sheet["inputs"]} == variant.values
    prompt = next(p["prompt"] for p in sheet["parts"] if p["id"] == "q3a.conv")
    assert f"x = [{', '.join(map(str, variant.values['x']))}]" in prompt
    printed = student_prompts(keys, None)
    assert printed["variant"] is None
    assert next(p["prompt"] for p in printed["parts"] if p["id"] == "q3a.conv").startswith("Forward pass for x = [1, 3, 2, 1, 1, 0, 1], t = 0")


def test_key_check_self_tests_a_sample_of_variants(hw4):
    from grader.keys.check import check_variants

    ps, base = hw4
    findings, checked = check_variants(ps, base)
    assert checked >= 10 and findings == []


def test_key_check_finds_a_variant_whose_named_mistake_equals_the_reference():
    from grader.keys.check import check_variants
    from grader.keys.build import build_key
    from grader.kinds import Int
    from grader.problemset import ProblemSet
    from grader.variants import Integer

    hw = ProblemSet("bias-sheet")
    hw.given(bias=Integer(-2, 2, printed=1))

    @hw.part("out", 1, Int())
    def out(bias):
        return 3 + bias

    @out.mistake("bias left out")
    def _():
        return 3

    @hw.require("the bias is below 5")
    def _(bias):
        return bias < 5

    findings, checked = check_variants(hw, build_key(hw), count=30)
    assert checked == 30
    assert findings and all("the named mistake 'bias left out' equals the reference" in f.problem for f in findings)
    assert all(f.problem.startswith("variant 1-") for f in findings)  # each names the code that reproduces it


def test_the_verdict_cache_tells_variants_apart(keys):
    """One worker's verdict cache, two students with other numbers and the same (copied)
    answers: the second is graded against their own numbers, not served the first's verdict."""
    from grader.run.cache import Verdicts

    verdicts = Verdicts()
    copied = answers_from(keys.key_of_student("s1001"), {"q2a"})
    results = {}
    for student in ("s1001", "s1002"):
        sub = Submission(assignment=ASSIGNMENT, student=student, answers=copied, source=f"{student}/answers.toml")
        report = AssignmentGrader(keys.ps, keys.key_of_student(student)).grade(sub, verdicts=verdicts)
        results[student] = next(p for p in report.parts if p.id == "q2a").status
    assert results["s1001"] is Status.correct and results["s1002"] is not Status.correct
