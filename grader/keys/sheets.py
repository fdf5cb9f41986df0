"""`grader sheets ASSIGNMENT`: each student's problem sheet with their own numbers, and for staff
the answer key of each variant.

    OUT/sheets/<assignment>/<student>.md  (and .pdf)   the student's sheet, variant code on top
    OUT/sheets/<assignment>/keys/<code>.md (and .pdf)  the answer key of that variant (staff only)

Sheets are Markdown first. PDFs are printed by headless Chromium (Debian's `chromium`: through
Playwright when it is installed, one browser for every sheet, else one `chromium
--print-to-pdf` per sheet), or else by LaTeX (xelatex or lualatex) when installed; with
neither, the Markdown is written and the caller is told how to get PDFs.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from grader.models import AnswerKey
from grader.problemset import ProblemSet
from grader.keys.solution_sheet import solution_sheet
from grader.variants import Variant

if TYPE_CHECKING:
    from grader.keys.variants import VariantKeys

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
LATEX_ENGINES = ("xelatex", "lualatex")
PDF_TIMEOUT = 120


@dataclass
class Sheet:
    """One document to write: its Markdown and where it goes (without suffix)."""

    stem: Path
    title: str
    markdown: str


def student_sheet(ps: ProblemSet, variant: Variant | None, student: str | None, title: str | None = None) -> str:
    """A student's problem sheet: their variant code, their numbers, every part's prompt with them."""
    heading = title or ps.title
    lines = [f"# {heading}", ""]
    if student is not None:
        lines += [f"Student: **{student}**", ""]
    if variant is not None:
        lines += [f"Variant code: **`{variant.code}`** — these numbers are your own: answer with them.", ""]
    exact = ps.exact(variant)
    if ps.inputs:
        lines += ["## Your numbers", ""]
        for name, spec in ps.inputs.items():
            shown = spec.block(exact[name])
            if "\n" in shown:
                lines += [f"**{spec.label or name}** (`{name}`):", "", "```", shown, "```", ""]
            else:
                lines += [f"**{spec.label or name}** (`{name}`): `{shown}`", ""]
    lines += ["## Questions", ""]
    for part in ps:
        marks = f"{part.marks:g} mark{'s' if part.marks != 1 else ''}"
        lines += [f"### {part.id} ({marks})", "", ps.render(part.prompt_template, variant) or "(no prompt)", ""]
    lines += [f"Hand in one answer file with `assignment = \"{ps.id}\"` (see `grader template {ps.id}`)."]
    return "\n".join(lines) + "\n"


def variant_answer_key(ps: ProblemSet, key: AnswerKey) -> str:
    """The answer key of one variant, for staff: its code and numbers, then the solution sheet."""
    code = key.variant.code if key.variant is not None else "printed"
    exact = ps.exact(key.variant)
    lines = [f"<!-- staff only: answer key of variant {code} -->", f"Variant **`{code}`**", ""]
    lines += [f"- {spec.label or name} (`{name}`): `{spec.show(exact[name], '-')}`" for name, spec in ps.inputs.items()]
    return "\n".join(lines) + "\n\n" + solution_sheet(ps, key)


# -- PDF ------------------------------------------------------------------------------------------
def to_html(title: str, markdown: str) -> str:
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    style = (
        "body{font-family:'DejaVu Sans',sans-serif;max-width:46em;margin:2em auto;line-height:1.45}"
        "pre{background:#f4f4f4;padding:.6em;font-size:1.05em}code{font-family:'DejaVu Sans Mono',monospace}"
        "h3{margin-top:1.4em}table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.2em .5em}"
    )
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{style}</style></head><body>{body}</body></html>"


def find_chromium() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def find_latex() -> str | None:
    return next((found for engine in LATEX_ENGINES if (found := shutil.which(engine))), None)


class NoPdfEngine(Exception):
    """Neither Chromium nor LaTeX is installed."""


def pdf_engine() -> tuple[str, str]:
    """("chromium", path) or ("latex", path); NoPdfEngine with what to install when neither."""
    chromium = find_chromium()
    if chromium:
        return "chromium", chromium
    latex = find_latex()
    if latex:
        return "latex", latex
    raise NoPdfEngine(
        "no PDF: neither Chromium nor LaTeX is installed (apt-get install chromium, or a TeX distribution with "
        "xelatex); the Markdown sheets are written"
    )


def write_pdfs(sheets: Sequence[Sheet], on_done: Callable[[], None] = lambda: None) -> str:
    """Print every sheet to `<stem>.pdf`; returns the engine used. Raises NoPdfEngine."""
    engine, path = pdf_engine()
    if engine == "chromium":
        try:
            _chromium_playwright(sheets, path, on_done)
            return "chromium (playwright)"
        except ImportError:
            for sheet in sheets:
                _chromium_cli(sheet, path)
                on_done()
            return "chromium"
    for sheet in sheets:
        _latex(sheet, path)
        on_done()
    return Path(path).name


def _chromium_playwright(sheets: Sequence[Sheet], executable: str, on_done: Callable[[], None]) -> None:
    from playwright.sync_api import sync_playwright  # ImportError: the command-line fallback

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            for sheet in sheets:
                page.set_content(to_html(sheet.title, sheet.markdown), wait_until="load")
                page.pdf(path=str(sheet.stem.with_suffix(".pdf")), format="A4", margin={"top": "15mm", "bottom": "15mm"})
                on_done()
        finally:
            browser.close()


def _chromium_cli(sheet: Sheet, executable: str) -> None:
    with tempfile.TemporaryDirectory(prefix="grader-sheet-") as tmp:
        page = Path(tmp) / "sheet.html"
        page.write_text(to_html(sheet.title, sheet.markdown), encoding="utf-8")
        target = sheet.stem.with_suffix(".pdf").resolve()
        command = [executable, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                   f"--user-data-dir={tmp}/profile", f"--print-to-pdf={target}", page.as_uri()]
        subprocess.run(command, check=True, capture_output=True, timeout=PDF_TIMEOUT, env={**os.environ, "HOME": tmp})


_LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"} | {"\\": r"\textbackslash{}", "^": r"\^{}", "~": r"\~{}"}


def _tex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(c, c) for c in text)


def to_latex(title: str, markdown: str) -> str:
    """The sheet's Markdown (headings, paragraphs, code blocks, bold) as a small LaTeX document."""
    out, in_code = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            out.append(r"\end{verbatim}" if in_code else r"\begin{verbatim}")
            in_code = not in_code
        elif in_code:
            out.append(line)
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append({1: r"\section*{", 2: r"\subsection*{"}.get(level, r"\subsubsection*{") + _tex(line.lstrip("# ")) + "}")
        else:
            text = _tex(line)
            text = re.sub(r"\*\*(.+?)\*\*", r"\\textbf{\1}", text)
            text = re.sub(r"`(.+?)`", r"\\texttt{\1}", text)
            out.append(text)
    body = "\n".join(out)
    return ("\\documentclass[11pt]{article}\n\\usepackage{fontspec}\n\\usepackage[margin=2cm]{geometry}\n"
            f"\\title{{{_tex(title)}}}\n\\begin{{document}}\n{body}\n\\end{{document}}\n")


def _latex(sheet: Sheet, engine: str) -> None:
    with tempfile.TemporaryDirectory(prefix="grader-sheet-") as tmp:
        (Path(tmp) / "sheet.tex").write_text(to_latex(sheet.title, sheet.markdown), encoding="utf-8")
        subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", "sheet.tex"], cwd=tmp, check=True,
                       capture_output=True, timeout=PDF_TIMEOUT)
        shutil.copyfile(Path(tmp) / "sheet.pdf", sheet.stem.with_suffix(".pdf"))


def write_markdown(sheets: Iterable[Sheet]) -> list[Path]:
    written = []
    for sheet in sheets:
        sheet.stem.parent.mkdir(parents=True, exist_ok=True)
        path = sheet.stem.with_suffix(".md")
        path.write_text(sheet.markdown, encoding="utf-8")
        written.append(path)
    return written


def class_sheets(
    keys: "VariantKeys", students: Sequence[str], folder: Path, title: str | None = None, name: Callable[[str], str] = str
) -> list[Sheet]:
    """Every student's sheet (file name `name(student)`) and, once per variant, its answer key
    (staff only, under keys/)."""
    ps = keys.ps
    sheets, seen = [], set()
    for student in students:
        variant = keys.variant_for(student) if ps.varies and keys.secret is not None else None
        sheets.append(Sheet(folder / name(student), f"{title or ps.title} — {student}", student_sheet(ps, variant, student, title)))
        code = variant.code if variant is not None else "printed"
        if code not in seen:
            seen.add(code)
            key = keys.key_for(variant) if variant is not None else keys.base
            sheets.append(Sheet(folder / "keys" / code, f"{ps.title} — answer key {code}", variant_answer_key(ps, key)))
    return sheets
