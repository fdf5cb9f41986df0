"""`grader key check`: is a committed key current, and does every part grade its own answer?

Three questions, as a careful instructor would ask them before publishing:
1. Staleness: the key's problem-source hash matches the source, and the stored values equal
   a fresh computation (so a hand-edited reference is caught).
2. Self-test, every part of every kind: the part's model answers (its `solutions`) and the
   reference written in each syntax its kind accepts (`Kind.forms`) earn full marks; each
   named mistake differs from the reference and, typed, earns its declared marks under its
   own name; each alternative differs from the reference and earns full marks under its name;
   the reference fits the size the kind declares (`Kind.mismatch`); the marks add up to the
   declared total; formula parts have enough valid (finite) sample points.
3. Leaks: no example, note or hint a student sees states an answer (grader.keys.leaks).

An authoring error is a `Finding`: one line naming the assignment, the part and the file:line
of its function (`Finding.line`), never a traceback (unless `debug`).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from grader.errors import InvalidAnswer
from grader.keys.build import PartBuildError, build_key, where, where_file
from grader.keys.leaks import leak_findings
from grader.keys.code_check import code_findings
from grader.kinds import LocationTarget
from grader.kinds.base import Kind
from grader.models import AnswerKey, PartResult, Status, Submission
from grader.problemset import ProblemSet
from grader.sampling import Sample
from grader.scoring import AssignmentGrader

MIN_SAMPLE_POINTS = 3


class Finding(BaseModel):
    """One thing wrong with a key or its problem set, said in one line."""

    part: str | None
    problem: str
    where: str | None = Field(None, description="file:line of the part's (or named answer's) function in the problem set.")

    def line(self, assignment: str) -> str:
        """`hw1, part q2 (problems/hw1.py:14): the model answer '11' is graded incorrect ...`"""
        at = f" ({self.where})" if self.where else ""
        return f"{assignment}, part {self.part}{at}: {self.problem}" if self.part else f"{assignment}{at}: {self.problem}"


class KeyCheckReport(BaseModel):
    assignment: str
    stale: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    forms_checked: int = 0
    mistakes_checked: int = 0
    variants_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.stale and not self.findings


#: Drift is a difference larger than this, relative to the largest magnitude in the same
#: tensor: float64 sums differ in the 13th digit between machines (thread count, BLAS), and a
#: per-entry relative test would call a tiny entry next to large ones stale.
DRIFT_TOLERANCE = 1e-9


def _numbers(data: Any) -> np.ndarray | None:
    """A JSON list of numbers (nested to any depth, rectangular) as an array, else None."""
    stack, count = [data], 0
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, bool) or not isinstance(item, (int, float)):
            return None
        count += 1
    try:
        return np.asarray(data, dtype=np.float64)
    except (ValueError, OverflowError):  # ragged
        return None


def _index(position: tuple[int, ...]) -> str:
    return "".join(f"[{i}]" for i in position)


def drift(stored: Any, fresh: Any, where: str = "") -> list[str]:
    """Where two JSON trees of key data differ beyond platform noise, one line per place.

    Numbers are compared a tensor at a time: the largest difference against the largest
    magnitude of that tensor, with its position; everything else must be equal.
    """
    if _is_measured_curve(stored) and _is_measured_curve(fresh):
        return _curve_drift(stored, fresh, where)
    a, b = _numbers(stored), _numbers(fresh)
    if a is not None and b is not None and (isinstance(stored, list) == isinstance(fresh, list)):
        if a.shape != b.shape:
            return [f"{where or 'value'} has shape {list(b.shape)} now, {list(a.shape)} in the key"]
        finite = np.isfinite(a) & np.isfinite(b)
        if not np.array_equal(np.where(finite, 0, a), np.where(finite, 0, b), equal_nan=True):
            return [f"{where or 'value'}: infinite or NaN entries differ"]
        if a.size == 0:
            return []
        diff = np.where(finite, np.abs(a - b), 0.0)
        scale = float(np.max(np.where(finite, np.maximum(np.abs(a), np.abs(b)), 0.0)))
        worst = int(np.argmax(diff))
        largest = float(diff.flat[worst])
        if largest > DRIFT_TOLERANCE * scale:
            at = where + (_index(np.unravel_index(worst, a.shape)) if a.ndim else "")
            return [
                f"{at or 'value'} differs by {largest:.3g} ({float(a.flat[worst])!r} in the key, {float(b.flat[worst])!r} now; "
                f"largest magnitude {scale:.3g}, tolerance {DRIFT_TOLERANCE * scale:.3g})"
            ]
        return []
    if isinstance(stored, dict) and isinstance(fresh, dict):
        lines = []
        for k in sorted(set(stored) | set(fresh), key=str):
            if k not in stored or k not in fresh:
                lines.append(f"{where}.{k} is {'new' if k not in stored else 'gone'}".lstrip("."))
            else:
                lines += drift(stored[k], fresh[k], f"{where}.{k}".lstrip("."))
        return lines
    if isinstance(stored, list) and isinstance(fresh, list) and len(stored) == len(fresh):
        lines = []
        for i, (x, y) in enumerate(zip(stored, fresh)):
            lines += drift(x, y, f"{where}[{i}]")
        return lines
    return [] if stored == fresh else [f"{where or 'value'} differs ({_short(stored)} in the key, {_short(fresh)} now)"]


def _is_measured_curve(data: Any) -> bool:
    return isinstance(data, dict) and {"shape", "values", "steps", "rtol"} <= set(data)


def _curve_drift(stored: dict[str, Any], fresh: dict[str, Any], where: str) -> list[str]:
    """A training curve (grader.code.expectations) is a measurement, not a formula: after its
    reproducible steps it depends on the CPU's kernels. It drifts when a fresh run leaves it,
    beyond the tolerance a student's curve is matched with, within the steps the key says any
    machine reproduces; its other fields must be equal (the number of steps is measured anew
    on each machine and is not compared)."""
    a, b = np.asarray(stored["values"], dtype=np.float64), np.asarray(fresh["values"], dtype=np.float64)
    if stored["shape"] != fresh["shape"] or a.shape != b.shape:
        return [f"{where} has shape {fresh['shape']} now, {stored['shape']} in the key"]
    n, rtol = int(stored["steps"]), float(stored["rtol"])
    lines = drift({k: v for k, v in stored.items() if k not in ("values", "steps")}, {k: v for k, v in fresh.items() if k not in ("values", "steps")}, where)
    departed = ~np.isclose(b[:n], a[:n], rtol=rtol, atol=1e-8, equal_nan=True)
    if departed.any():
        i = int(np.argmax(departed))
        lines.append(f"{where}.values[{i}] differs ({a[i]!r} in the key, {b[i]!r} now; tolerance {rtol:g} relative, over the first {n} steps, which any machine reproduces)")
    return lines


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def staleness(ps: ProblemSet, stored: AnswerKey, fresh: AnswerKey) -> list[str]:
    problems = []
    if stored.source_hash != fresh.source_hash:
        problems.append("the problem source changed since the key was built (hash mismatch)")
    if stored.torch_version != fresh.torch_version:
        problems.append(f"built with torch {stored.torch_version}, this machine has {fresh.torch_version}")
    fresh_parts = {p.id: p for p in fresh.parts}
    for part in stored.parts:
        other = fresh_parts.pop(part.id, None)
        if other is None:
            problems.append(f"part {part.id} is in the key but not in the problem set")
            continue
        differences = drift(part.model_dump(mode="json"), other.model_dump(mode="json"))
        if differences:
            more = f" (and {len(differences) - 1} more)" if len(differences) > 1 else ""
            problems.append(f"part {part.id}: stored values differ from a fresh computation: {differences[0]}{more}")
    for missing in fresh_parts:
        problems.append(f"part {missing} is in the problem set but not in the key")
    return problems


def same_target(kind: Kind, a: Any, b: Any) -> bool:
    """Whether two targets (e.g. a named mistake and the reference) cannot be told apart."""
    if isinstance(a, Sample):
        return a.value.shape == b.value.shape and bool(np.allclose(a.value, b.value, rtol=1e-9, atol=1e-12))
    if isinstance(a, LocationTarget):
        return bool(np.array_equal(a.mask, b.mask))
    return kind.compare(a, b).full


def _graded(grader: AssignmentGrader, key: AnswerKey, index: int, part_id: str, answer: Any) -> PartResult:
    """`answer` graded as a submission of its own (the other parts left empty), through the same
    part loop as a student's, so it earns exactly what a student typing it would."""
    model = Submission(assignment=key.assignment, student="model answer", answers={part_id: answer}, source="model answer")
    return grader.grade(model).parts[index]


def part_where(ps: ProblemSet, part_id: str, fn: Any = None) -> str:
    """Where a part (or one of its named answers, `fn`) is defined, as `file:line`."""
    part = ps.parts.get(part_id)
    target = fn if fn is not None else (part.reference if part is not None else None)
    if target is None:
        return _module(ps) or "?"
    return where(target)


def self_test(ps: ProblemSet, key: AnswerKey, typed: bool = True, debug: bool = False) -> tuple[list[Finding], int, int]:
    """Every part tests itself, as a careful instructor would before publishing the key:

    - each model answer (`solutions=`) and the reference written in each syntax its kind reads
      (`Kind.forms`) earns full marks;
    - each named mistake differs from the reference and, typed, earns exactly the marks it
      declares and is named; each alternative differs from the reference and earns full marks,
      named;
    - the reference (and each alternative) fits the size the kind declares (`Kind.mismatch`).

    `typed=False`: leave out the typed model answers of parts that are not formulas (they are
    the printed numbers' answers, not a variant's)."""
    grader = AssignmentGrader(ps, key)
    findings: list[Finding] = []
    forms = mistakes = 0
    problem_parts = ps.parts

    def finding(part_id: str, problem: str, fn: Any = None) -> None:
        findings.append(Finding(part=part_id, problem=problem, where=part_where(ps, part_id, fn)))

    def named_fn(part_id: str, answers: str, name: str) -> Any:
        part = problem_parts.get(part_id)
        for answer in getattr(part, answers, ()) if part is not None else ():
            if answer.name == name:
                return answer.compute
        return None

    def test_part(index: int, pg: Any) -> None:
        nonlocal forms, mistakes
        part, kind = pg.part, pg.kind
        if kind.manual or pg.code:  # a code part self-tests by running (grader.keys.code_check)
            return
        wrong_size = kind.mismatch(pg.reference)
        if wrong_size:
            finding(part.id, f"{wrong_size}: the declared size or the reference is wrong")
        candidates = [*(part.solutions if typed or kind.sampled else ()), *kind.forms(pg.reference)]
        if kind.sampled:
            sample = pg.reference
            finite = int(np.isfinite(np.asarray(sample.value)).reshape(sample.n_points, -1).all(axis=1).sum())
            if finite < MIN_SAMPLE_POINTS:
                finding(part.id, f"only {finite} valid sample points")
        if not candidates:
            finding(part.id, "no model answer to self-test (add solutions=...)")
        if kind.sampled and isinstance(pg.reference, Sample) and pg.reference.meta.get("blocks"):
            for found in whole_pool(part.id, kind, pg.reference, part.solutions):
                finding(part.id, found.problem)
        for form in candidates:
            forms += 1
            result = _graded(grader, key, index, part.id, form)
            if result.status is not Status.correct or result.score < pg.marks:
                source = "the model answer" if form in part.solutions else "the reference written as"
                finding(part.id, f"{source} {form!r} is graded {result.status.value} ({result.score:g} of {pg.marks:g} marks): {result.feedback}")
        for variant, target in pg.alternatives:
            fn = named_fn(part.id, "alternatives", variant.name)
            if same_target(kind, target, pg.reference):
                finding(part.id, f"the alternative '{variant.name}' equals the reference", fn)
                continue
            wrong_size = kind.mismatch(target)
            if wrong_size:
                finding(part.id, f"the alternative '{variant.name}': {wrong_size.replace('the reference', 'it')}", fn)
                continue
            for form in kind.forms(target)[:1]:  # one typed form: the reference's forms test the syntaxes
                forms += 1
                result = _graded(grader, key, index, part.id, form)
                if result.matched == "reference":
                    continue  # as for mistakes below: one answer of a set-valued target, shared with the reference
                if result.score < pg.marks or result.matched != f"alternative: {variant.name}":
                    finding(part.id, f"the alternative '{variant.name}' typed as {form!r} is graded {_verdict(result)}, not full marks as that alternative", fn)
        for variant, target in pg.mistakes:
            mistakes += 1
            fn = named_fn(part.id, "mistakes", variant.name)
            if same_target(kind, target, pg.reference):
                finding(part.id, f"the named mistake '{variant.name}' equals the reference", fn)
                continue
            if not 0 <= variant.marks <= pg.marks:
                finding(part.id, f"the named mistake '{variant.name}' declares {variant.marks:g} marks, outside 0 to the part's {pg.marks:g}", fn)
                continue
            for form in kind.forms(target)[:1]:
                result = _graded(grader, key, index, part.id, form)
                if result.matched == "reference":
                    continue  # a target of several answers (locations) typed as one the reference has too: inconclusive
                # a named mistake earns its marks, or the same answer's partial credit where higher
                earns = max(variant.marks, kind.compare(kind.parse(form), pg.reference).fraction * pg.marks)
                if abs(result.score - earns) > 1e-6 or result.matched != f"mistake: {variant.name}":
                    finding(
                        part.id,
                        f"the named mistake '{variant.name}' typed as {form!r} is graded {_verdict(result)}, not as that mistake ({earns:g} marks)",
                        fn,
                    )

    for index, pg in enumerate(grader.graders):
        try:
            test_part(index, pg)
        except Exception as exc:  # a kind or a named answer that fails on its own key: that part's finding
            if debug:
                raise
            finding(pg.id, exc.feedback() if isinstance(exc, InvalidAnswer) else f"the self-test failed: {type(exc).__name__}: {exc}")
    return findings, forms, mistakes


def _verdict(result: PartResult) -> str:
    how = f" as {result.matched}" if result.matched else ""
    return f"{result.status.value}{how} ({result.score:g} of {result.max_score:g} marks)"


def total_findings(ps: ProblemSet) -> list[Finding]:
    """The parts' marks must add up to the total the problem set declares."""
    if ps.expected_total is None or math.isclose(ps.total, ps.expected_total, rel_tol=0, abs_tol=1e-9):
        return []
    marks = " + ".join(f"{p.marks:g}" for p in ps)
    return [Finding(part=None, problem=f"the parts' marks add up to {ps.total:g} ({marks}), not the declared total={ps.expected_total:g}", where=_module(ps))]


def _module(ps: ProblemSet) -> str | None:
    return where_file(ps.module_file) if ps.module_file is not None else None


def whole_pool(part_id: str, kind: Kind, sample: Sample, solutions: tuple[str, ...]) -> list[Finding]:
    """Each model answer agrees with the truth at every point of the pool, not only at those an
    answer is checked at: the first is the reference's symbolic form in a proof."""
    everywhere = Sample(sample.env, sample.value, {k: v for k, v in sample.meta.items() if k not in ("blocks", "formula")})
    findings = []
    for text in solutions:
        try:
            match = kind.compare(kind.parse(text), everywhere)
        except InvalidAnswer as exc:
            findings.append(Finding(part=part_id, problem=f"the model answer {text!r} cannot be read: {exc.feedback()}"))
            continue
        if not match.full:
            findings.append(Finding(part=part_id, problem=f"the model answer {text!r} disagrees with the truth in the pool: {match.feedback}"))
    return findings


def check_key(ps: ProblemSet, stored: AnswerKey | None, debug: bool = False) -> KeyCheckReport:
    """Staleness and the self-test of every part. An authoring error (a reference that cannot
    be computed, a model answer that cannot be read) becomes a finding naming the part and where
    it is defined; with `debug` it is raised instead, traceback and all."""
    report = KeyCheckReport(assignment=ps.id)
    report.findings += total_findings(ps)
    try:
        fresh = build_key(ps)
    except PartBuildError as exc:
        if debug:
            raise
        report.findings.append(Finding(part=exc.part, problem=f"cannot compute the key: {type(exc.cause).__name__}: {exc.cause}", where=exc.where))
        return report
    if stored is None:
        report.stale.append("no committed key: run `grader key build`")
        stored = fresh
    else:
        report.stale = staleness(ps, stored, fresh)
    try:
        found, report.forms_checked, report.mistakes_checked = self_test(ps, stored, debug=debug)
        report.findings += found
        found, report.variants_checked = check_variants(ps, stored)
        report.findings += found
        report.findings += [Finding(part=part, problem=problem) for part, problem in leak_findings(ps, stored)]
        code, checked = code_findings(ps, stored)  # code parts self-test by running (grader.keys.code_check)
        report.findings += [Finding(part=p, problem=m) for p, m in code]
        report.mistakes_checked += checked
    except InvalidAnswer as exc:  # a model answer the instructor wrote cannot be read
        if debug:
            raise
        report.findings.append(Finding(part=None, problem=exc.feedback(), where=_module(ps)))
    return report


#: Variants `grader key check` deals and self-tests for a problem set whose inputs vary.
VARIANTS_CHECKED = 12


def check_variants(ps: ProblemSet, key: AnswerKey, count: int = VARIANTS_CHECKED) -> tuple[list[Finding], int]:
    """Self-test a sample of variants: the printed numbers and every dealt variant meet the
    constraints, and in each the references earn full marks and no named mistake equals them.

    The sample is the same every time (codes from fixed seeds), so a failure can be reproduced
    with `ProblemSet.deal(code)`; only the parts that vary are tested again.
    """
    from grader.references import one_thread
    from grader.variants import variant_code

    findings = [Finding(part=None, problem=f"the printed numbers fail the constraint {c!r}") for c in ps.violated()]
    if not ps.varies:
        return findings, 0
    varying = set(ps.varying_parts())
    checked = 0
    for i in range(count):
        code = variant_code(int.from_bytes(hashlib.sha256(f"key check/{ps.id}/{i}".encode()).digest()[:5], "big"))
        try:
            variant = ps.deal(code)
            with one_thread():
                variant_key = build_key(ps, variant, base=key)
        except Exception as exc:  # a constraint or a reference that fails for these numbers
            findings.append(Finding(part=None, problem=f"variant {code}: {type(exc).__name__}: {exc}"))
            continue
        checked += 1
        findings += [Finding(part=None, problem=f"variant {code} fails the constraint {c!r}") for c in ps.violated(variant)]
        only = variant_key.model_copy(update={"parts": [p for p in variant_key.parts if p.id in varying]})
        own, _, _ = self_test(ps, only, typed=False)
        findings += [Finding(part=f.part, problem=f"variant {code}: {f.problem}", where=f.where) for f in own]
    return findings, checked
