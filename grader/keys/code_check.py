"""`grader key check` for code parts: can every named mistake be named, and is the reference right?

A code part's self-test is not a typed model answer (grader.keys.check skips it there) but:

- function and module parts: on every probe the reference and every named mistake are told
  apart, by the outputs or by the gradients (`grader.code.check.separation`); a pair that
  agrees on some probe could never be named, or would name a right answer;
- training parts: the reference training step, run under the fixture, gives a curve that
  passes the part's rules, every named mistake's curve is told apart from it (and from each
  other), so a right fix is never called a mistake.

The probes come from the committed key (what students are graded against); staleness is
checked apart (a fresh build must equal the key).
"""

from __future__ import annotations

from itertools import combinations

from grader.code.check import separation
from grader.code.expectations import decode_code, decode_curve
from grader.code.grade import curve_checks
from grader.code.spec import KnownCurve, reproducible_steps, run_fixture
from grader.models import AnswerKey
from grader.problemset import CodePart, ProblemSet
from grader.references import one_thread


def code_findings(ps: ProblemSet, key: AnswerKey) -> tuple[list[tuple[str, str]], int]:
    """(part id, problem) for every code part of `key` that fails its self-test, and how many
    named mistakes were checked."""
    found: list[tuple[str, str]] = []
    checked = 0
    for part_key in key.parts:
        part = ps.parts.get(part_key.id)
        if part_key.kind != "code" or not isinstance(part, CodePart) or not isinstance(part_key.reference, dict):
            continue
        data = part_key.reference
        checked += len(part_key.mistakes)
        if data.get("form") != "training":
            spec, probes = decode_code(data)
            found += [(part.id, problem) for problem in separation(spec, probes)]
            continue
        curve_spec, curves = decode_curve(data)
        with one_thread():
            reference = run_fixture(curve_spec, part.reference)  # type: ignore[arg-type]
            reference_steps = reproducible_steps(curve_spec, part.reference, reference)  # type: ignore[arg-type]
        failed = [c.message for c in curve_checks(curve_spec, reference) if not c.passed]
        if failed:
            found.append((part.id, f"the reference training step fails the part's own rules: {failed[0]}"))
        # over the steps both curves reproduce: the steps a student's curve is matched on
        named = {"reference": KnownCurve(reference, reference_steps), **curves}
        for a, b in combinations(named, 2):
            x, y = named[a], named[b]
            if KnownCurve(x.losses, min(x.steps, y.steps)).matches(y.losses, curve_spec.rtol):
                found.append((part.id, f"the loss curves of {a!r} and {b!r} cannot be told apart (over the {min(x.steps, y.steps)} steps both reproduce)"))
    return found, checked
