"""Per-student problem sheets (Markdown and PDF) and the answer key of each variant."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import grader.keys.sheets as sheets_mod
from grader.keys.build import read_key
from grader.problemset import load_problem_file
from grader.keys.sheets import NoPdfEngine, class_sheets, student_sheet, to_latex, write_markdown, write_pdfs
from grader.keys.variants import VariantKeys

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def keys():
    ps = load_problem_file(REPO / "problems" / "csc321_hw4.py")["csc321-hw4"]
    return VariantKeys(ps, read_key(REPO / "reference" / "csc321-hw4.json"), assignment="csc321-hw4-variants", secret=bytes(32))


def test_a_sheet_shows_the_students_code_numbers_and_prompts(keys):
    variant = keys.variant_for("s1001")
    text = student_sheet(keys.ps, variant, "s1001")
    assert f"Variant code: **`{variant.code}`**" in text and "Student: **s1001**" in text
    X = variant.values["X"]
    assert "\n".join(" ".join(f"{v:2d}" for v in row) for row in X) in text  # the matrix, as a block
    assert f"Forward pass for x = [{', '.join(map(str, variant.values['x']))}]" in text
    assert "[1, 3, 2, 1, 1, 0, 1]" not in text.split("## Questions")[1]  # not the printed numbers
    printed = student_sheet(keys.ps, None, None)
    assert "Variant code" not in printed and "Forward pass for x = [1, 3, 2, 1, 1, 0, 1], t = 0" in printed


def test_each_variant_gets_one_answer_key_for_staff(keys, tmp_path):
    sheets = class_sheets(keys, ["s1001", "s1002", "s1001"], tmp_path)
    written = write_markdown(sheets)
    codes = {keys.variant_for(s).code for s in ("s1001", "s1002")}
    assert sorted(p.name for p in written if p.parent.name == "keys") == sorted(f"{c}.md" for c in codes)
    key_text = (tmp_path / "keys" / f"{keys.variant_for('s1002').code}.md").read_text()
    reference = keys.key_of_student("s1002").part("q2a").reference
    rows = ",\n ".join("[" + ", ".join(f"{v:g}" for v in row) + "]" for row in reference)  # a row per line
    assert "staff only" in key_text and f"[{rows}]" in key_text
    assert "sigmoid(5)" not in key_text  # the printed numbers' typed model answers are not this variant's


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_pdfs_are_printed_by_chromium(keys, tmp_path):
    sheets = class_sheets(keys, ["s1001"], tmp_path)
    write_markdown(sheets)
    engine = write_pdfs(sheets)
    assert engine.startswith("chromium")
    for sheet in sheets:
        pdf = sheet.stem.with_suffix(".pdf").read_bytes()
        assert pdf.startswith(b"%PDF-") and len(pdf) > 5000


def test_without_chromium_or_latex_the_message_says_what_to_install(keys, tmp_path, monkeypatch):
    monkeypatch.setattr(sheets_mod.shutil, "which", lambda name: None)
    with pytest.raises(NoPdfEngine, match="apt-get install chromium"):
        write_pdfs(class_sheets(keys, ["s1001"], tmp_path))


def test_latex_source_escapes_the_sheet(keys):
    tex = to_latex("A & B", student_sheet(keys.ps, keys.variant_for("s1001"), "s_1"))
    assert r"\title{A \& B}" in tex and r"\textbf{s\_1}" in tex and r"\begin{verbatim}" in tex
    assert tex.count(r"\begin{verbatim}") == tex.count(r"\end{verbatim}")
