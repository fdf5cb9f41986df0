"""Manual parts with a rubric: `grader manual` shows the whole answer, the model answer and the
rubric; a TA picks items by number (and reusable comments); the score is the items' marks
summed and capped; the picks are stored, survive re-runs and old stores, and reach the
student's report. `grader manual import` reads item numbers too."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from _store_fixtures import ASSIGNMENT, PROBLEM_SOURCE, store_url, write_submissions  # noqa: F401 (fixture)
from grader.cli import app
from grader.cli.manual import QUIT, SKIP, Entry, read_entry, show_answer
from grader.store import Store
from grader.store.models import ManualScore, RubricPick
from grader.workflow.manual import ManualPart, QueueItem, manual_parts, pick_items, record_manual_score, utcnow
from grader.models import RubricItem

runner = CliRunner(env={"COLUMNS": "200"})

RUBRIC_SOURCE = PROBLEM_SOURCE.replace(
    'hw.manual("q3", 5, "Explain why convolution layers share weights.")',
    '''hw.manual(
    "q3", 5, "Explain why convolution layers share weights.\\nGive one consequence for the parameter count.",
    rubric=[("Names weight sharing across positions", 2), ("Says a feature is detected anywhere", 2),
            ("Says there are fewer parameters", 2), ("Claims the kernel is flipped", -1)],
    comments=["See lecture 5, slide 12.", "An example would have helped."],
    model_answer="The same kernel is applied at every position, so a feature is found wherever it occurs; far fewer parameters.",
)''',
)
LONG = "Weights are shared. " * 90 + "THE-END-OF-THE-ANSWER"  # 1,800 characters: beyond a report's 500-character echo


@pytest.fixture
def course(tmp_path, store_url, monkeypatch):
    """Graded once, on each store backend in turn (every grader command finds it in GRADER_DB)."""
    monkeypatch.setenv("GRADER_DB", store_url)
    problems = tmp_path / "problems"
    problems.mkdir()
    (problems / "tiny_hw.py").write_text("Q1 = 3.0\n" + RUBRIC_SOURCE)
    answers = {
        "ann": {"q1": "3", "q2": "7", "q3": LONG},
        "bob": {"q1": "4", "q2": "7", "q3": "Fewer parameters."},
        "cat": {"q1": "4", "q2": "5", "q3": "The kernel is flipped."},
    }
    subs = write_submissions(tmp_path / "subs", answers)
    reference, out = tmp_path / "reference", tmp_path / "out"
    built = runner.invoke(app, ["key", "build", "--problems", str(problems), "--reference", str(reference)])
    assert built.exit_code == 0, built.output
    args = ["run", str(subs), "--out", str(out), "--problems", str(problems), "--reference", str(reference), "--budget", "0", "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return {"out": out, "reference": reference, "run": args, "tmp": tmp_path, "db": store_url}


def manual(course, *args, input=None):
    return runner.invoke(app, ["manual", *args, "--out", str(course["out"]), "--reference", str(course["reference"])], input=input)


def q3(course, student):
    report = json.loads((course["out"] / ASSIGNMENT / f"{student}.json").read_text())
    return report, next(p for p in report["parts"] if p["id"] == "q3")


PART = ManualPart("q3", 5, rubric=(RubricItem(text="a", marks=2), RubricItem(text="b", marks=2), RubricItem(text="c", marks=2),
                                   RubricItem(text="d", marks=-1)), comments=("c-one", "c-two"))


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("1,3", Entry(items=(1, 3))),
        ("1 3 c2 clear, but thin", Entry(items=(1, 3), comment_numbers=(2,), comment="clear, but thin")),
        ("2;4 c1,c2", Entry(items=(2, 4), comment_numbers=(1, 2))),
        ("=2.5 generous", Entry(score=2.5, comment="generous")),
        ("0 c2", Entry(score=0.0, comment_numbers=(2,))),
        ("s", SKIP),
        ("q", QUIT),
    ],
)
def test_entries_for_a_rubric_part(typed, expected):
    assert read_entry(typed, PART) == expected


def test_entries_for_a_part_without_rubric_are_scores():
    plain = ManualPart("q3", 5, comments=("c-one",))
    assert read_entry("2.5 c1 ok", plain) == Entry(score=2.5, comment_numbers=(1,), comment="ok")
    with pytest.raises(ValueError, match="score"):
        read_entry("good", plain)
    with pytest.raises(ValueError, match="rubric item numbers"):
        read_entry("good", PART)


def test_items_sum_capped_to_the_part_and_never_below_zero():
    assert pick_items(PART, [1, 3])[0] == 4
    assert pick_items(PART, [1, 2, 3])[0] == 5  # 6 marks of items, the part is worth 5
    assert pick_items(PART, [4])[0] == 0  # a deduction alone
    assert pick_items(PART, [3, 1])[1] == [RubricPick(number=1, text="a", marks=2), RubricPick(number=3, text="c", marks=2)]
    for bad, message in (([5], "there is no item 5"), ([0], "no item 0"), ([1, 1], "picked twice")):
        with pytest.raises(ValueError, match=message):
            pick_items(PART, bad)


def test_key_carries_the_rubric(course):
    part = manual_parts(course["reference"], ASSIGNMENT)["q3"]
    assert [(i.text, i.marks) for i in part.rubric][0] == ("Names weight sharing across positions", 2)
    assert part.comments == ("See lecture 5, slide 12.", "An example would have helped.") and part.model_answer.startswith("The same kernel")
    assert set(manual_parts(course["reference"], ASSIGNMENT)) == {"q3"}  # only the free-text part


def test_session_shows_everything_and_stores_the_picked_items(course):
    # ann: items 1 and 2 with comment 2 and a remark; bob: item 9 is refused, then 3; cat: 1,4 (a deduction)
    result = manual(course, ASSIGNMENT, "--grader", "ta1", input="1,2 c2 nicely put\n9\n3\n1,4\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "THE-END-OF-THE-ANSWER" in out  # the whole answer, not the report's first 500 characters
    assert "Give one consequence for the parameter count." in out  # the prompt's every line
    assert "The same kernel is applied at every position" in out  # the model answer
    assert "Names weight sharing across positions" in out and "Claims the kernel is flipped" in out and "-1" in out
    assert "c2  An example would have helped." in out
    assert "there is no item 9" in out
    assert "Scored 3, skipped 0." in out
    with Store.open(course["out"], course["db"]) as s:
        got = {m.student: (m.score, [i.number for i in m.items], m.comment) for m in s.manual_scores(ASSIGNMENT)}
    assert got == {
        "ann": (4, [1, 2], "An example would have helped. nicely put"),
        "bob": (2, [3], ""),
        "cat": (1, [1, 4], ""),
    }
    report, part = q3(course, "cat")
    assert part["score"] == 1 and part["status"] == "partial" and report["score"] == 1  # q1 and q2 wrong
    assert part["details"]["manual"]["rubric"] == [
        {"number": 1, "text": "Names weight sharing across positions", "marks": 2.0},
        {"number": 4, "text": "Claims the kernel is flipped", "marks": -1.0},
    ]
    assert part["feedback"] == "Rubric items 1, 4."
    md = (course["out"] / ASSIGNMENT / "cat.md").read_text()
    assert "- item 1: Names weight sharing across positions (+2)" in md and "- item 4: Claims the kernel is flipped (-1)" in md
    # a re-run of the autograder keeps the scores and the picked items
    assert runner.invoke(app, course["run"]).exit_code == 0
    report, part = q3(course, "ann")
    assert part["score"] == 4 and [i["number"] for i in part["details"]["manual"]["rubric"]] == [1, 2]
    assert part["feedback"] == "An example would have helped. nicely put"


def test_record_manual_score_is_the_api(course):
    part = manual_parts(course["reference"], ASSIGNMENT)["q3"]
    with Store.open(course["out"], course["db"]) as s:
        entry = record_manual_score(s, ASSIGNMENT, "bob", part, items=[1, 2, 3], comment_numbers=[1], comment="Full.", grader="web")
        assert entry.score == 5 and entry.comment == "See lecture 5, slide 12. Full."
        assert s.manual_scores(ASSIGNMENT, "bob") == [entry]
        typed = record_manual_score(s, ASSIGNMENT, "bob", part, score=3, grader="web")  # a typed score replaces the picks
        assert s.manual_scores(ASSIGNMENT, "bob") == [typed] and typed.items == []
        for kwargs, message in ((dict(items=[1], score=2), "not both"), (dict(), "give a score"), (dict(score=6), "between 0 and 5")):
            with pytest.raises(ValueError, match=message):
                record_manual_score(s, ASSIGNMENT, "bob", part, grader="web", **kwargs)
        assert s.delete_manual_score(ASSIGNMENT, "bob", "q3") and s.manual_scores(ASSIGNMENT) == []


def test_csv_import_reads_item_numbers(course):
    sheet = course["tmp"] / "scores.csv"
    sheet.write_text(
        "student,part,score,items,comment\n"
        'ann,q3,,"1,2",Good\n'  # 2: items only
        "bob,q3,2,3,\n"  # 3: a score that agrees with its items
        "cat,q3,3,1,\n"  # 4: disagrees (item 1 is worth 2)
        "cat,q3,,7,\n"  # 5: no such item
        "cat,q3,,x,\n"  # 6: not a number
    )
    result = manual(course, "import", str(sheet), "--grader", "prof")
    assert result.exit_code == 1, result.output
    assert "Nothing imported" in result.output  # a file with bad rows imports none (issue 10 §2)
    for reason in ("disagrees with rubric items 1 (worth 2)", "there is no item 7", "'x' is not a number"):
        assert reason in result.output
    sheet.write_text("".join(sheet.read_text().splitlines(keepends=True)[:3]))  # the good rows
    result = manual(course, "import", str(sheet), "--grader", "prof")
    assert result.exit_code == 0 and "Imported 2 score(s)" in result.output, result.output
    with Store.open(course["out"], course["db"]) as s:
        got = {m.student: (m.score, [i.number for i in m.items]) for m in s.manual_scores(ASSIGNMENT)}
    assert got == {"ann": (4, [1, 2]), "bob": (2, [3])}
    assert q3(course, "ann")[1]["details"]["manual"]["rubric"][1]["text"] == "Says a feature is detected anywhere"


def test_a_store_from_before_rubrics_still_opens(tmp_path):
    path = tmp_path / "grades.sqlite"
    with Store.open(db_url=str(path)) as s:
        s.set_manual_score(ManualScore(assignment=ASSIGNMENT, student="ann", part_id="q3", score=3, comment="ok", grader="ta", at=utcnow()))
    with sqlite3.connect(path) as conn:  # the previous version's store: no table of rubric items, no migrations
        conn.execute("DROP TABLE manual_rubric_items")
        conn.execute("DROP TABLE alembic_version")
    with Store.open(db_url=str(path)) as s:
        assert [(m.score, m.items) for m in s.manual_scores(ASSIGNMENT)] == [(3, [])]
        s.set_manual_score(ManualScore(assignment=ASSIGNMENT, student="bob", part_id="q3", score=2, at=utcnow(),
                                       items=[RubricPick(number=1, text="a", marks=2)]))
        assert {m.student: len(m.items) for m in s.manual_scores(ASSIGNMENT)} == {"ann": 0, "bob": 1}


def test_a_long_answer_opens_in_a_pager_in_a_terminal(monkeypatch):
    from io import StringIO

    from rich.console import Console
    from rich.pager import SystemPager

    paged: list[str] = []
    monkeypatch.setattr(SystemPager, "show", lambda self, content: paged.append(content))
    item = QueueItem("ann", "q3", 5, LONG.replace(". ", ".\n"))
    show_answer(Console(file=StringIO(), force_terminal=True, width=80), item, 1, 1)
    assert len(paged) == 1 and "THE-END-OF-THE-ANSWER" in paged[0]
    plain = Console(file=StringIO(), width=80)  # not a terminal: printed, no pager
    show_answer(plain, item, 1, 1)
    assert len(paged) == 1 and "THE-END-OF-THE-ANSWER" in plain.file.getvalue()
