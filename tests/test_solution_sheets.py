"""The committed solution sheets (reference/<set>.md) are valid Markdown: every question is a
heading of its own (no code block left open swallows the questions after a matrix), and a
formula's answer is shown as the formula."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

REPO = Path(__file__).resolve().parents[1]
SHEETS = sorted((REPO / "reference").glob("*.md"))


def headings(text: str) -> list[str]:
    tokens = MarkdownIt("commonmark").parse(text)
    return [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"]


def test_a_code_block_left_open_is_caught() -> None:  # the check itself can fail
    broken = "## q1\n\n```\n[[1, 2]]\n``` (a note)\n\n## q2\n"
    assert headings(broken) == ["q1"]


@pytest.mark.parametrize("sheet", SHEETS, ids=lambda p: p.stem)
def test_every_question_is_a_heading(sheet: Path) -> None:
    key = json.loads(sheet.with_suffix(".json").read_text())
    found = [h.split(" (")[0] for h in headings(sheet.read_text(encoding="utf-8"))]
    assert found == [p["id"] for p in key["parts"]]


@pytest.mark.parametrize("sheet", SHEETS, ids=lambda p: p.stem)
def test_formulas_appear_as_formulas(sheet: Path) -> None:
    text = sheet.read_text(encoding="utf-8")
    assert "(a formula: checked at" not in text
    key = json.loads(sheet.with_suffix(".json").read_text())
    sampled = [p for p in key["parts"] if isinstance(p["reference"], dict) and "env" in p["reference"]]
    for part in sampled:
        section = text.split(f"## {part['id']} (", 1)[1].split("\n## ", 1)[0]
        answer = next(line for line in section.splitlines() if line.startswith("**Answer:**"))
        assert answer.startswith("**Answer:** `") and "sampled points" in answer, part["id"]


def test_csc321_formula_is_its_model_answer() -> None:
    text = (REPO / "reference" / "csc321-hw4.md").read_text(encoding="utf-8")
    assert "**Answer:** `3V + 1` (checked at 51 of a pool of 99 sampled points"  # V = 1, 2, 3 and 2 of 4 blocks of 24 in text
