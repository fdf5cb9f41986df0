"""No answer key in anything a student sees (issue 10, item 3).

The scan: the demo course's five problem sets, a class of wrong answers to every part (named
mistakes typed as a student would, values a little off, formulas with `+ 1`, malformed answers
that draw "an accepted form" hints), graded by `grader run`'s own path with a course file whose
due dates are in the future, so the default policy before the due date (`mistakes`) is in force.
Every student-visible output — the JSON and Markdown reports, Gradescope's results.json (the
tests a student sees before the due date), the answer templates and their guidance — is
searched for the reference of every part of its assignment that some student got wrong, in
every rendering the grader can print: each
`Kind.forms` text and the canonical echo of the reference (all qualifying locations), decimal
roundings that would still earn full marks, a formula part's model answers and their echo, and
the true values at its sample points (less those that are the student's own values or a
symbol's value there, which feedback may print). Renderings shorter than three characters
(`7`, `-6`, `10`) are not searched: they occur in any text (scores, positions, examples); the
per-kind feedback tests cover them. (That no example shown anywhere in the course is another
assignment's answer is tested on its own, by meaning.) The same scan over the reports at the `reference` level
must find the reference (so it can fail), and results.json must carry it after the due date.

The lint (grader.keys.leaks, run by `grader key check`) is tested on the demo course (clean)
and on the values and notes that leaked before (it finds each).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from grader.course import read_course_file
from grader.keys.catalog import Catalog
from grader.keys.leaks import answers_stated, leak_findings, pieces, shown_examples
from grader.keys.template import guidance, render
from grader.kinds import Choice, Expr, IndexExpr, Int, Location, Matrix, Number, Shape, ShapeFormula, Vector
from grader.kinds.index_eval import IndexEvaluator
from grader.kinds.sampled import evaluate
from grader.lms.gradescope.results import results_from_report
from grader.models import FeedbackLevel, Status, SubmissionReport
from grader.parsing import fmt_number
from grader.problemset import load_problem_sets
from grader.report.format import escape_inline, one_line
from grader.report.markdown import render_report
from grader.report.policy import visible_report
from grader.run.batch import class_folder, write_class
from grader.sampling import Sample
from grader.scoring import AssignmentGrader, PartGrader

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ("ai6126-hw1", "assignment4", "csc321-hw4", "nyu-dl-hw2", "nyu-intro-ml-hw8")
MIN_NEEDLE = 3
MALFORMED = ("1,23", "??", "(1, 2", "[[1, 2], [3]]", "x = = 2", "2 3 ;; 4", "\\foo{1}", "sum_{} x", "61_70")
COURSE = "[course]\ntitle = \"leak scan\"\n" + "".join(
    f"\n[assignments.{a}]\ndue = 2999-01-01T00:00:00Z\n" for a in ASSIGNMENTS
)


# -- the class of wrong answers ---------------------------------------------------------------------
def off_by_a_little(pg: PartGrader, solutions: tuple[str, ...]) -> Any:
    """An answer of the right form that is wrong: the reference nudged, a formula plus one."""
    kind, ref = pg.kind, pg.reference
    if isinstance(kind, Int):
        return str(ref + 1)
    if isinstance(kind, Number):
        return repr(ref * 1.25 + 0.5)
    if isinstance(kind, (Vector, Matrix)):
        nudged = np.array(ref, dtype=float)
        nudged.flat[0] += 1
        return kind.forms(nudged)[0]
    if isinstance(kind, Shape):
        return "x".join(str(d + (i == 0)) for i, d in enumerate(ref)) if ref else "1"
    if isinstance(kind, Location):
        spots = np.argwhere(~kind.normalise(ref).mask)
        return "(" + ", ".join(str(int(i) + kind.base) for i in spots[0]) + ")" if len(spots) else None
    if isinstance(kind, Choice):
        return next(o for o in kind.options if o != ref)
    if isinstance(kind, (Expr, IndexExpr)) and solutions:
        return f"({solutions[0]}) + 1"
    if isinstance(kind, ShapeFormula) and solutions:
        return f"{solutions[0]} + 1"  # the last size, plus one
    return None


def named_mistake(pg: PartGrader) -> Any:
    """A named mistake typed as a student would (value kinds: its first accepted form)."""
    for _, target in pg.mistakes:
        forms = [f for f in pg.kind.forms(target) if isinstance(f, str)]
        if forms:
            return forms[0]
    return None


def wrong_submissions(ps, grader: AssignmentGrader) -> dict[str, dict[str, Any]]:
    auto = [pg for pg in grader.graders if not pg.kind.manual]
    subs: dict[str, dict[str, Any]] = {"off": {}, "named": {}}
    for pg in auto:
        off = off_by_a_little(pg, ps.parts[pg.id].solutions)
        if off is not None:
            subs["off"][pg.id] = off
        named = named_mistake(pg)
        if named is not None:
            subs["named"][pg.id] = named
    for shift in (0, 3, 5):
        subs[f"malformed{shift}"] = {pg.id: MALFORMED[(i + shift) % len(MALFORMED)] for i, pg in enumerate(auto)}
    return subs


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    sets = load_problem_sets(ROOT / "problems")
    keys = Catalog(ROOT / "problems", ROOT / "reference").keys
    graders = {a: AssignmentGrader(sets[a], keys[a]) for a in ASSIGNMENTS}
    return {"sets": sets, "keys": keys, "graders": graders}


@pytest.fixture(scope="module")
def run(demo, tmp_path_factory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("leak_scan")
    (base / "grader.toml").write_text(COURSE, encoding="utf-8")
    course = read_course_file(base / "grader.toml")
    assert all(course.assignment(a).feedback_level() is FeedbackLevel.mistakes for a in ASSIGNMENTS)
    for a in ASSIGNMENTS:
        for student, answers in wrong_submissions(demo["sets"][a], demo["graders"][a]).items():
            folder = base / "class" / a / student
            folder.mkdir(parents=True)
            (folder / "answers.toml").write_text(render(demo["sets"][a], "toml", answers), encoding="utf-8")
    out = base / "out"
    klass = class_folder(base / "class", out, problems_dir=ROOT / "problems", reference_dir=ROOT / "reference", budget=None, course=course)
    outcomes = list(klass)
    summary = write_class(klass, out, outcomes=outcomes)
    reports = [o for _, o in outcomes if isinstance(o, SubmissionReport)]
    assert len(reports) == 5 * len(ASSIGNMENTS) and not summary.broken
    return {"course": course, "out": out, "reports": reports, "summary": summary}


# -- what to look for --------------------------------------------------------------------------------
def number_roundings(kind: Number, ref: float) -> set[str]:
    """Every shorter writing of `ref` that would still earn full marks."""
    found = set()
    for digits in range(1, 13):
        for text in (f"{ref:.{digits}g}", f"{ref:.{digits - 1}f}", fmt_number(ref, digits)):
            try:
                if kind.compare(kind.parse(text), ref).full:
                    found.add(text)
            except Exception:  # noqa: BLE001 - a writing the kind cannot read is no rendering
                pass
    return found


def formula_values(kind: Any, answer: Any, sample: Sample) -> np.ndarray:
    """The values a student's formula takes at the sample's points (feedback may print them)."""
    truth = np.asarray(sample.value, dtype=np.float64)
    try:
        if isinstance(kind, Expr):
            got = evaluate(answer, sample.env, truth)
            return np.asarray(got[0]) if not isinstance(got, str) else np.array([])
        if isinstance(kind, ShapeFormula):
            columns = [evaluate(node, sample.env, truth.reshape(truth.shape[0], -1)[:, d]) for d, node in enumerate(answer)]
            return np.concatenate([np.ravel(c[0]) for c in columns if not isinstance(c, str)] or [np.array([])])
        if isinstance(kind, IndexExpr):
            return IndexEvaluator(sample.env, kind.free, tuple(truth.shape[1:]), kind.base, kind.tensors).evaluate(answer)
    except Exception:  # noqa: BLE001 - a formula that cannot be evaluated prints no values
        pass
    return np.array([])


def printed(values: Any) -> set[str]:
    """How feedback prints numbers: 4 and 10 significant digits (fmt_number) and `.6g`."""
    out = set()
    for v in np.ravel(np.asarray(values, dtype=np.float64)):
        if np.isfinite(v):
            out |= {fmt_number(float(v), 4), fmt_number(float(v), 10), f"{v:.6g}"}
    return out


def renderings(pg: PartGrader, solutions: tuple[str, ...], own_values: set[str]) -> set[str]:
    """Every way the grader could print this part's reference (see the module's docstring)."""
    kind, ref = pg.kind, pg.reference
    found: set[str] = set()
    if kind.sampled:
        found |= set(solutions)
        for s in solutions:
            found.add(kind.canonical(kind.parse(s)))
        env = set().union(*(printed(v) for v in ref.env.values())) if ref.env else set()
        found |= printed(ref.value) - own_values - env
    else:
        found |= {f for f in kind.forms(ref) if isinstance(f, str)} | {kind.canonical(ref)}
        if isinstance(kind, Number):
            found |= number_roundings(kind, ref)
        if isinstance(kind, Location):
            for hit in np.argwhere(kind.normalise(ref).mask):
                idx = [str(int(i) + kind.base) for i in hit]
                found |= {"(" + ", ".join(idx) + ")", ",".join(idx), "[" + ", ".join(idx) + "]", f"{kind.array}[{','.join(idx)}]"}
    return {f for f in found if len(f.strip()) >= MIN_NEEDLE}


def scanned(pg: PartGrader) -> bool:
    """Parts with a key to leak: not free text, not a choice among printed options."""
    return not pg.kind.manual and not isinstance(pg.kind, Choice)


@pytest.fixture(scope="module")
def needles(demo, run) -> dict[str, dict[str, set[str]]]:
    """assignment -> part -> renderings of its reference, for every part some student got wrong."""
    wrong: dict[str, dict[str, list]] = {}
    for report in run["reports"]:
        for p in report.parts:
            if p.status is not Status.correct:
                wrong.setdefault(report.assignment, {}).setdefault(p.id, []).append(p.answer)
    found: dict[str, dict[str, set[str]]] = {}
    for a, parts in wrong.items():
        grader = demo["graders"][a]
        for pg in grader.graders:
            if pg.id not in parts or not scanned(pg):
                continue
            own: set[str] = set()
            if pg.kind.sampled:  # values of the students' own formulas, which feedback prints
                for answer in parts[pg.id]:
                    try:
                        own |= printed(formula_values(pg.kind, pg.kind.parse(answer), pg.reference))
                    except Exception:  # noqa: BLE001 - an unreadable answer has no values
                        pass
            found.setdefault(a, {})[pg.id] = renderings(pg, demo["sets"][a].parts[pg.id].solutions, own)
    # every part with a key is wrong somewhere (the malformed answers see to it), and most
    # have several renderings
    assert {(a, p) for a in found for p in found[a]} == {
        (a, pg.id) for a in ASSIGNMENTS for pg in demo["graders"][a].graders if scanned(pg)
    }
    assert sum(len(r) for p in found.values() for r in p.values()) > 5 * len([p for a in found for p in found[a]])
    return found


# -- what a student sees -----------------------------------------------------------------------------
def strings(data: Any, skip: frozenset[str] = frozenset()) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for k, v in data.items():
            if k not in skip:
                yield from strings(v, skip)
    elif isinstance(data, list):
        for v in data:
            yield from strings(v, skip)


def without_answers(text: str, report: SubmissionReport) -> str:
    """The student's own answers (and how they were read) are theirs, not the key: removed
    where they are echoed, and where feedback quotes a piece of one ('[1, 2]' is not a number)."""
    answers = [own for p in report.parts for own in (p.answer, p.canonical) if own]
    owns = {shown for own in answers for shown in (own, one_line(own, " ⏎ "), escape_inline(own))}
    for shown in sorted(owns, key=len, reverse=True):  # `2×2×1×2×5` before `2×2`
        text = text.replace(shown, "⟨own answer⟩")

    def quoted(m: re.Match[str]) -> str:
        piece = re.sub(r"\\(.)", r"\1", m.group(2))  # Markdown escapes undone
        return "⟨own answer⟩" if piece and any(piece in own for own in answers) else m.group(0)

    return re.sub(r"(['`])([^'`\n]+)\1", quoted, text)


def report_texts(report: SubmissionReport, json_text: str, md_text: str) -> list[str]:
    data = json.loads(json_text)
    for p in data.get("parts", []):  # the student's answers are theirs (they may well contain a rendering)
        p.pop("answer", None)
        p.pop("canonical", None)
    return [without_answers(t, report) for t in (*strings(data), md_text)]


def gradescope_texts(report: SubmissionReport, results: dict) -> tuple[list[str], list[str]]:
    """(what a student sees before the due date, what only after it)."""
    now = [results.get("output", "")]
    later = []
    for test in results["tests"]:
        text = f"{test.get('name', '')}\n{test.get('output', '')}"
        (now if test.get("visibility", "visible") == "visible" else later).append(text)
    return [without_answers(t, report) for t in now], [without_answers(t, report) for t in later]


def hits(texts: list[str], needles: dict[str, dict[str, set[str]]], assignment: str | None = None) -> list[tuple[str, str, str, str]]:
    """(assignment, part, rendering, where) for every rendering found in `texts` (all
    assignments' renderings unless one is named), as a whole token: `0.803` is not found in
    `10.8031`."""
    blob = "\n".join(texts)
    found = []
    for a, parts in needles.items():
        if assignment is not None and a != assignment:
            continue
        for part, renders in parts.items():
            for r in renders:
                for shown in {r, escape_inline(r), one_line(r, " ⏎ ")}:
                    if shown not in blob:
                        continue
                    m = re.search(r"(?<![\w.])" + re.escape(shown) + r"(?![\w])", blob)
                    if m:
                        found.append((a, part, r, blob[max(0, m.start() - 80) : m.end() + 40]))
                        break
    return found


def visible_outputs(demo, run) -> Iterator[tuple[str, str, list[str]]]:
    """(where, assignment, texts) for every student-visible output of the run."""
    out = run["out"]
    full = {(r.assignment, r.student): r for r in run["reports"]}
    for entry in run["summary"].reports:
        report = full[(entry.assignment, entry.student)]
        path = out / entry.file
        texts = report_texts(report, path.read_text(encoding="utf-8"), path.with_suffix(".md").read_text(encoding="utf-8"))
        yield str(entry.file), entry.assignment, texts
        key = demo["keys"][entry.assignment]
        results = results_from_report(report, key, policy=run["course"].assignment(entry.assignment).feedback)
        now, _ = gradescope_texts(report, results.model_dump(mode="json"))
        yield f"results.json of {entry.file}", entry.assignment, now
    for a in ASSIGNMENTS:
        ps = demo["sets"][a]
        yield f"{a} templates", a, [render(ps, "toml"), render(ps, "yaml"), render(ps, "json"), guidance(ps)]


# -- the scan ----------------------------------------------------------------------------------------
def test_the_class_is_graded_wrong_where_it_should_be(run) -> None:
    statuses = [p.status for r in run["reports"] for p in r.parts]
    assert statuses.count(Status.invalid) > 100 and statuses.count(Status.incorrect) + statuses.count(Status.partial) > 100
    assert statuses.count(Status.error) == 0
    # the reports that reveal the most when allowed: formula misses carry the true value apart
    assert sum(bool(p.reveals) for r in run["reports"] for p in r.parts) >= 15


def test_no_student_visible_output_states_a_wrong_parts_reference(demo, run, needles) -> None:
    leaks = []
    for where, assignment, texts in visible_outputs(demo, run):
        leaks += [(where, *hit) for hit in hits(texts, needles, assignment)]
    assert sorted(set(leaks)) == [], "\n".join(map(str, sorted(set(leaks))))


def test_the_scan_finds_the_reference_where_the_policy_shows_it(demo, run, needles) -> None:
    """The same scan over the reports as shown at `reference`, and over the tests Gradescope
    shows after the due date, finds the references: the scan is able to fail."""
    at_reference, after_due = [], []
    for report in run["reports"]:
        shown = visible_report(report, FeedbackLevel.reference)
        at_reference += hits(report_texts(report, shown.model_dump_json(), render_report(shown)), needles, report.assignment)
        results = results_from_report(report, demo["keys"][report.assignment], policy=run["course"].assignment(report.assignment).feedback)
        after_due += hits(gradescope_texts(report, results.model_dump(mode="json"))[1], needles, report.assignment)
    kinds = {demo["graders"][a].graders[[pg.id for pg in demo["graders"][a].graders].index(p)].kind.name for a, p, _, _ in at_reference}
    assert {"expr", "index-expr", "shape"} <= kinds, kinds
    assert len(after_due) >= len(at_reference) >= 8


# -- the lint ----------------------------------------------------------------------------------------
def test_the_demo_course_passes_the_lint(demo) -> None:
    findings = {a: leak_findings(demo["sets"][a], demo["keys"][a]) for a in ASSIGNMENTS}
    assert findings == {a: [] for a in ASSIGNMENTS}


def test_no_example_shown_anywhere_in_the_course_is_an_answer_of_any_part(demo) -> None:
    """Across the whole course (the lint sees one problem set at a time)."""
    everyone = [pg for a in ASSIGNMENTS for pg in demo["graders"][a].graders if scanned(pg) and pg.reference is not None]
    examples = {e for pg in everyone for e in shown_examples(pg.kind)}
    assert len(examples) > 60
    assert [(e, hit) for e in sorted(examples) for hit in answers_stated(e, everyone, right_only=False, own=None)] == []


@pytest.mark.parametrize(
    "assignment,text,part",
    [
        ("csc321-hw4", "3V + 1", "q3d.params"),  # the Expr example of every formula part in V
        ("ai6126-hw1", "(5*5*1 + 1)*6", "q1.conv1"),  # the number reader's hint
        ("ai6126-hw1", "61706", "q1.total"),  # the digit-grouping hint
        ("csc321-hw4", "[[2, 1], [1, 1]]", "q2b"),  # the table reader's hint
        ("nyu-intro-ml-hw8", "(1, 3)", "q1c.where"),  # the Location example
        ("nyu-intro-ml-hw8", "dU[i,j,m]*U[i,j,m]*(1-U[i,j,m])", "q3a"),  # the IndexExpr example
        ("assignment4", "dR/dw_i = -2*(y - z)*h_i", "q1b"),  # the formula reader's hint for '='
    ],
)
def test_the_values_examples_used_to_show_are_found(demo, assignment, text, part) -> None:
    graders = [pg for pg in demo["graders"][assignment].graders if scanned(pg)]
    assert (part, "the reference") in list(answers_stated(text, graders, right_only=False, own=None))


@pytest.mark.parametrize(
    "assignment,note,part",
    [
        ("nyu-intro-ml-hw8", "The arrays are indexed from 0, so a 2×2 kernel's indices end at 1.", "q1a.kmax"),
        ("nyu-dl-hw2", "The layer cross-correlates: W[1, c, k] meets x[c, 2(j−1) + k], no reversal.", "q1.1c.ii.expr"),
        ("csc321-hw4", "The answer is 3V + 1, not 3V.", "q3d.params"),
        ("assignment4", "d/dz (y − z)² h_i = −2(y − z)h_i.", "q1b"),
    ],
)
def test_notes_that_state_an_answer_are_found(demo, assignment, note, part) -> None:
    graders = [pg for pg in demo["graders"][assignment].graders if scanned(pg)]
    stated = {p for piece in pieces(note) for p, _ in answers_stated(piece, graders, right_only=True, own=part)}
    assert part in stated


def test_key_check_reports_a_leaky_note(demo) -> None:
    from grader.keys.check import check_key

    ps = demo["sets"]["csc321-hw4"]
    mistake = ps.parts["q3d.params"].mistakes[0]
    saved = mistake.note
    mistake.note = "The kernel has 3V weights and one bias: 3V + 1 parameters."
    try:
        report = check_key(ps, demo["keys"]["csc321-hw4"])
    finally:
        mistake.note = saved
    assert any(f.part == "q3d.params" and "states the reference of q3d.params" in f.problem for f in report.findings), report.findings


@pytest.mark.parametrize(
    "kind,typed",
    [
        (Expr(["V"]), "3V $ 1"),
        (IndexExpr({"dU": 3, "U": 3}, free=("i", "j", "m")), "dU[i,j,m] # U[i,j,m]"),
    ],
)
def test_an_unreadable_formulas_hint_is_the_parts_own_neutral_example(kind, typed) -> None:
    """Not the reader's generic `2*(a - b)/c`, in names the part does not declare."""
    from grader.errors import InvalidAnswer

    with pytest.raises(InvalidAnswer) as caught:
        kind.parse(typed)
    assert caught.value.example == kind.examples[0]
    kind.parse(kind.examples[0])  # and it is accepted by the part
