"""The write step: JSON reports round-trip through the model, Markdown shows hostile student
text as text (checked by rendering it with a real CommonMark parser), the gradebook parses
back as CSV, and the summary counts what it should."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from markdown_it import MarkdownIt  # a dependency of rich

from grader.models import BrokenSubmission, PartResult, Status, SubmissionReport
from grader.report.format import code_block, code_span, escape_text, fmt_score
from grader.report.gradebook import gradebook_csv, write_gradebook
from grader.report.json_report import dumps, export_schema, write_report
from grader.report.markdown import render_report
from grader.report.summary import PartInfo, render_summary

MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click me](javascript:alert(1))",
    "<https://evil.example>",
    "```\n# Heading\n```",
    "`` ` ``",
    "`",
    " leading and trailing ",
    "a | b | c",
    "# not a heading",
    "1. not a list",
    "- not a list",
    "> not a quote",
    "**not bold** _not em_ ~~not struck~~",
    "&lt;b&gt; &amp; &#60;",
    "line1\n\n<div>block html</div>\n\n    indented code",
    "back\\slash \\` \\<b\\>",
    "nul\x00 bell\x07 \u202eevil\u202c",
]


def part(id: str, status: Status, score: float, max_score: float = 1.0, answer: str | None = "x", canonical: str | None = None, feedback: str = "") -> PartResult:
    return PartResult(id=id, score=score, max_score=max_score, status=status, feedback=feedback, answer=answer, canonical=canonical)


def report(student: str, parts: list[PartResult], **extra) -> SubmissionReport:
    return SubmissionReport(
        assignment="tiny-hw", student=student, score=sum(p.score for p in parts), max_score=sum(p.max_score for p in parts), parts=parts, **extra
    )


# -- numbers and escaping helpers --------------------------------------------------------------


@pytest.mark.parametrize("value, text", [(2.4375, "2.4375"), (26.4, "26.4"), (30.0, "30"), (0.0, "0"), (-0.0, "0"), (0.1 + 0.2, "0.3"), (1 / 3, "0.333333"), (-1e-9, "0")])
def test_fmt_score(value: float, text: str) -> None:
    assert fmt_score(value) == text


def inline_html(markdown: str) -> str:
    return MD.render(markdown)


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_renders_as_that_text(text: str) -> None:
    html = inline_html("Feedback: " + escape_text(text))
    assert html.startswith("<p>Feedback: ") and html.count("<p>") == 1
    assert not re.search(r"<(?!/?p>)", html), html  # no tag of any kind except the paragraph


@pytest.mark.parametrize("text", HOSTILE)
def test_code_span_shows_the_text_literally(text: str) -> None:
    html = inline_html("- " + code_span(text))
    assert re.fullmatch(r"<ul>\n<li><code>.*</code></li>\n</ul>\n", html, re.S), html
    code = re.search(r"<code>(.*)</code>", html, re.S).group(1)  # type: ignore[union-attr]
    shown = code.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    expected = re.sub(r"\r\n|[\n\r]", " ⏎ ", text).replace("\x00", "␀").replace("\x07", "␇")
    expected = expected.replace("\u202e", "\ufffd").replace("\u202c", "\ufffd")
    assert shown == expected


@pytest.mark.parametrize("text", HOSTILE)
def test_code_block_cannot_be_closed_from_inside(text: str) -> None:
    html = inline_html(code_block(text) + "\n\nafter")
    assert html.count("<pre>") == 1 and html.endswith("<p>after</p>\n")
    assert not re.search(r"<(?!/?(pre|code|p)\b)", html), html


# -- JSON --------------------------------------------------------------------------------------


def sample_report() -> SubmissionReport:
    return report(
        "s1234567",
        [
            part("q1", Status.correct, 2.0, 2.0, "42", "42", "Correct."),
            PartResult(id="q2", score=0.5, max_score=1.0, status=Status.partial, feedback="1 of 2", answer="1 3", details={"z": 1, "a": float("nan")}),
            part("q3", Status.manual, 0.0, 1.0, "because", None, "Awaiting a grader."),
        ],
        warnings=["unknown part id 'q9' ignored"],
        submitted_at=datetime(2020, 3, 12, 21, 30, tzinfo=timezone.utc),
        source="s1234567/answers.toml",
    )


def test_json_report_round_trips_through_the_model(tmp_path: Path) -> None:
    rep = sample_report()
    path = write_report(rep, tmp_path / "tiny-hw" / "s1234567.json")
    text = path.read_text(encoding="utf-8")
    back = SubmissionReport.model_validate_json(text)
    assert back.student == "s1234567" and back.score == 2.5 and [p.status for p in back.parts] == [Status.correct, Status.partial, Status.manual]
    data = json.loads(text)  # strict JSON: a NaN in details became null
    assert data["parts"][1]["details"] == {"a": None, "z": 1}
    assert list(data)[:5] == ["assignment", "student", "score", "max_score", "parts"]  # the contract's order
    assert dumps(rep) == text  # deterministic


def test_export_schema_describes_the_contract() -> None:
    schema = export_schema()
    assert {"assignment", "student", "score", "max_score", "parts"} <= set(schema["required"])
    status = schema["$defs"]["Status"]["enum"]
    assert status == ["correct", "partial", "incorrect", "invalid", "missing", "manual", "error"]
    json.dumps(schema)  # serialisable as printed by `grader schema`


# -- Markdown report -------------------------------------------------------------------------


def test_markdown_report_layout() -> None:
    text = render_report(sample_report())
    html = MD.render(text)
    assert text.startswith("# tiny-hw: report for s1234567\n")
    assert "**Score: 2.5 / 4**" in text
    rows = re.findall(r"<tr>\n<td>(.*?)</td>\n<td.*?>(.*?)</td>\n<td>(.*?)</td>\n</tr>", html)
    assert rows == [("q1", "2 / 2", "correct"), ("q2", "0.5 / 1", "partial"), ("q3", "0 / 1", "manual")]
    assert "Read as: `42`" not in text  # the canonical form is only shown when it differs
    assert "unknown part id" in text


@pytest.mark.parametrize("evil", HOSTILE)
def test_hostile_student_text_cannot_inject_markup(evil: str) -> None:
    rep = SubmissionReport(
        assignment="tiny-hw",
        student=evil,
        score=0,
        max_score=1,
        parts=[PartResult(id="q1", score=0, max_score=1, status=Status.invalid, feedback=f"Could not read {evil!r}.", answer=evil, canonical=evil + "!")],
        warnings=[f"unknown part id {evil!r} ignored"],
        source=evil,
    )
    html = MD.render(render_report(rep))
    allowed = {"h1", "h2", "h3", "p", "strong", "em", "ul", "li", "code", "pre", "table", "thead", "tbody", "tr", "th", "td"}
    tags = set(re.findall(r"</?([a-zA-Z0-9]+)", html))
    assert tags <= allowed, tags - allowed
    assert html.count("<h1>") == 1 and html.count("<table>") == 1
    assert "<em>" not in html  # only *(none)*/*(empty)* use emphasis, and neither applies here
    assert html.count("<tr>") == 2  # the header and q1: the student cannot add rows


# -- gradebook ---------------------------------------------------------------------------------


def test_gradebook_parses_back_with_the_right_header_and_cells(tmp_path: Path) -> None:
    reports = [
        report("zoe", [part("q1", Status.correct, 2, 2), part("q2", Status.partial, 0.5), part("q3", Status.manual, 0)]),
        report('O"Brien, Pat\nJr', [part("q1", Status.invalid, 0, 2), part("q3", Status.incorrect, 0)]),  # q2 absent
        report("=HYPERLINK(1)", [part("q1", Status.error, 0, 2), part("q2", Status.missing, 0), part("q3", Status.correct, 1)]),
    ]
    path = write_gradebook(tmp_path / "gradebook.csv", ["q1", "q2", "q3"], reports)
    raw = path.read_bytes()
    assert raw.count(b"\r\n") >= 4  # RFC 4180 line ends
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert rows[0] == ["student", "q1", "q2", "q3", "total", "max"]
    by_student = {r[0]: r[1:] for r in rows[1:]}
    assert by_student["zoe"] == ["2", "0.5", "", "2.5", "4"]  # manual: blank, not 0
    assert by_student['O"Brien, Pat\nJr'] == ["0", "0", "0", "0", "3"]  # missing from the report: 0
    assert by_student["'=HYPERLINK(1)"] == ["0", "0", "1", "1", "4"]  # not run as a formula
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(1)", 'O"Brien, Pat\nJr', "zoe"]  # sorted by student id


def test_gradebook_rows_are_sorted_by_student() -> None:
    reports = [report(s, [part("q1", Status.correct, 1)]) for s in ("b", "c", "a")]
    rows = list(csv.reader(io.StringIO(gradebook_csv(["q1"], reports))))
    assert [r[0] for r in rows[1:]] == ["a", "b", "c"]


# -- summary -----------------------------------------------------------------------------------


def test_summary_counts_statuses_and_most_common_wrong_answers() -> None:
    wrong = [("41", Status.incorrect)] * 3 + [("40", Status.incorrect)] * 2 + [("43", Status.partial)] * 2 + [("7", Status.incorrect)]
    reports = []
    for i, (canon, status) in enumerate(wrong):
        score = 0.5 if status is Status.partial else 0.0
        reports.append(report(f"w{i}", [part("q1", status, score, 1.0, answer=f" {canon} ", canonical=canon), part("q2", Status.missing, 0, answer=None)]))
    reports.append(report("right", [part("q1", Status.correct, 1.0, canonical="42"), part("q2", Status.correct, 1.0)]))
    reports.append(report("bad", [part("q1", Status.invalid, 0.0, answer="forty one"), part("q2", Status.correct, 1.0)]))
    broken = [BrokenSubmission(source="x/answers.toml", reason="invalid TOML: <oops> (at line 1, column 2)", assignment="tiny-hw")]
    text = render_summary("tiny-hw", "Tiny <b>homework</b>", [PartInfo(id="q1", max_score=1), PartInfo(id="q2", max_score=1)], reports, broken)

    wrong_section = text.split("## Most common wrong answers")[1].split("##")[0]
    # top 3 by count; 43 and 40 tie at 2 and sort as text; 7 (once) and the invalid answer are out
    assert re.findall(r"  - `(.*?)` × (\d+)", wrong_section) == [("41", "3"), ("40", "2"), ("43", "2")]
    html = MD.render(text)
    q1 = re.search(r"<tr>\n<td>q1</td>\n(.*?)</tr>", html, re.S).group(1)  # type: ignore[union-attr]
    cells = re.findall(r"<td.*?>(.*?)</td>", q1)
    # max, mean, % correct, then correct partial incorrect invalid missing manual error
    assert cells == ["1", "0.2", "10.0%", "1", "2", "6", "1", "0", "0", "0"]
    assert "- Submissions graded: 10" in text
    assert "- Mean: 0.4 / 2" in text and "- Median: 0" in text and "- Min: 0" in text and "- Max: 2" in text
    assert "Tiny \\<b\\>homework\\</b\\>" in text and "<b>" not in html
    assert "- `x/answers.toml`: invalid TOML: \\<oops\\>" in text


def test_summary_of_an_empty_class() -> None:
    text = render_summary("tiny-hw", "Tiny", [PartInfo(id="q1", max_score=1)], [], [])
    assert "- Submissions graded: 0" in text and "- Mean:" not in text
    assert text.rstrip().endswith("None.")


def test_summary_flags_students_with_two_submissions() -> None:
    reports = [report("amy", [part("q1", Status.correct, 1)], source=f"{i}.toml") for i in (1, 2)]
    text = render_summary("tiny-hw", "Tiny", [PartInfo(id="q1", max_score=1)], reports)
    assert "## Students with more than one submission\n\n- `amy`" in text


def test_feedback_keeps_the_caret_layout_and_shows_quoted_forms_as_code() -> None:
    from grader.report.markdown import _feedback

    caret = "Could not read this answer: expected a number at column 3:\n  3*+1\n    ^. An accepted form: `3*V + 1`."
    block = "\n".join(_feedback(caret))
    assert "```text\n" in block and "\n  3*+1\n    ^." in block  # the pointer stays under column 3
    line = _feedback("bad `x|y` then <b>hi</b>. An accepted form: `0.25`.")[0]
    assert "`x|y`" in line and "`0.25`" in line  # quoted forms render as code
    assert "<b>" not in line and "\\<b\\>" in line  # the rest cannot open HTML
