"""The student's readable report: score, a table of parts, then each answer as read and feedback.

Everything that came from the student (name, answers, how they were read, warnings and
feedback that may quote them) passes through `grader.report.format`, so it renders as text.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from grader.models import PartResult, SubmissionReport
from grader.report.format import code_block, code_span, escape_inline, escape_text, fmt_score


def render_report(report: SubmissionReport) -> str:
    lines = [
        f"# {escape_text(report.assignment)}: report for {escape_text(report.student)}",
        "",
        f"**Score: {fmt_score(report.score)} / {fmt_score(report.max_score)}**",
        "",
    ]
    if report.source:
        lines.append(f"- Answers read from {code_span(report.source)}")
    if report.submitted_at:
        lines.append(f"- Submitted at {code_span(report.submitted_at.isoformat())}")
    if report.late is not None:
        lines.append(f"- Late: {escape_text(report.late.note)} (score before the late policy: {fmt_score(report.late.raw_score)} / {fmt_score(report.max_score)})")
    if report.variant is not None:
        lines.append(f"- Graded with your own numbers: variant {code_span(report.variant.code)} (the code on your sheet)")
    if report.source or report.submitted_at or report.variant is not None or report.late is not None:
        lines.append("")
    if report.warnings:
        lines += ["## Warnings", ""] + [f"- {escape_text(w)}" for w in report.warnings] + [""]
    # Part ids and statuses come from the problem set and the grader, never from the student,
    # so this table is the only place cells are not code-fenced student text.
    lines += ["## Parts", "", "| Part | Score | Status |", "| --- | ---: | --- |"]
    for p in report.parts:
        lines.append(f"| {_table_cell(p.id)} | {fmt_score(p.score)} / {fmt_score(p.max_score)} | {p.status.value} |")
    lines.append("")
    for p in report.parts:
        lines += _part_section(p)
    return "\n".join(lines).rstrip("\n") + "\n"


def _table_cell(text: str) -> str:
    return escape_text(text).replace("\\|", "&#124;")


def _part_section(p: PartResult) -> list[str]:
    out = [f"### {escape_text(p.id)} ({p.status.value}, {fmt_score(p.score)} / {fmt_score(p.max_score)})", ""]
    if p.answer is None:
        out += ["Your answer: *(none)*", ""]
    elif "\n" in p.answer or "\r" in p.answer:
        out += ["Your answer:", "", code_block(p.answer), ""]
    else:
        out += [f"Your answer: {code_span(p.answer)}", ""]
    if p.canonical is not None and p.canonical != p.answer:
        out += [f"Read as: {code_span(p.canonical)}", ""]
    if p.feedback:
        out += _feedback(p.feedback)
    out += _rubric(p)
    return out


def _rubric(p: PartResult) -> list[str]:
    """The rubric items a grader picked for a free-text part, with their marks."""
    manual = p.details.get("manual")
    items = manual.get("rubric") if isinstance(manual, dict) else None
    if not items:
        return []
    marks = lambda m: ("+" if m >= 0 else "") + fmt_score(m)  # noqa: E731  (a deduction shows its minus)
    lines = [f"- item {int(i['number'])}: {escape_inline(str(i['text']))} ({marks(float(i['marks']))})" for i in items]
    return ["Rubric items:", "", *lines, ""]


def _feedback(text: str) -> list[str]:
    """Feedback as Markdown: a multi-line message (a caret under the column where an answer
    broke) keeps its layout in a code block; `quoted` forms become code spans; the rest is
    escaped text, since feedback may quote the student's answer."""
    if "\n" in text:
        return ["Feedback:", "", code_block(text), ""]
    pieces = re.split(r"`([^`\n]+)`", text)
    rendered = "".join(code_span(piece) if odd else escape_inline(piece) for odd, piece in zip(itertools.cycle((False, True)), pieces))
    return [f"Feedback: {rendered.strip()}", ""]


def write_markdown(report: SubmissionReport, path: Path) -> Path:
    """OUT/<assignment>/<student>.md"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(report), encoding="utf-8", newline="\n")
    return path
