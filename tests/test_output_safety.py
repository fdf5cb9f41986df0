"""Issue 10 §6, output that staff open safely: every CSV the grader writes neutralises cells a
spreadsheet would run (OWASP's CSV-injection rule) and drops NUL and bidi overrides, while
numbers stay numbers; the HTML class report links each row to that student's real report
file; a file of a hundred thousand unknown part ids makes a report of a few kilobytes."""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import write
from typer.testing import CliRunner

from grader.cli import app
from grader.models import RunSummary, SubmissionReport

runner = CliRunner(env={"COLUMNS": "250"})
ANSWERS = '[answers]\nq1 = 42\nq2 = "1 2"\n'

# Student ids as file names: each would run as a formula in a spreadsheet, or hides its text.
HOSTILE_IDS = {
    "=HYPERLINK(\"x.example\",\"a\")": "'=HYPERLINK(\"x.example\",\"a\")",
    "+1+cmd": "'+1+cmd",
    "-2+3": "'-2+3",
    "@SUM(A1)": "'@SUM(A1)",
    "\tx=1": "'\tx=1",
    "\rx=1": "'\rx=1",
    "ev\u202eli\u202c": "evli",
}


def run(course: dict[str, Path], out: Path) -> RunSummary:
    result = runner.invoke(
        app,
        ["run", str(course["class"]), "--out", str(out), "--problems", str(course["problems"]), "--reference", str(course["reference"]), "--budget", "0", "-q"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return RunSummary.model_validate_json((out / "run.json").read_text())


def cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text, newline="")) for c in row]


@pytest.mark.parametrize(
    "raw,written",
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),  # only a plain negative number is kept as a number
        ("-3", "-3"),
        ("-0.5", "-0.5"),
        ("-1e-3", "-1e-3"),
        ("-3+A1", "'-3+A1"),
        ("-", "'-"),
        ("@x", "'@x"),
        ("\t1", "'\t1"),
        ("\r1", "'\r1"),
        ("a\x00b", "ab"),
        ("\u202e=1", "'=1"),  # the override hid the formula's first character
        ("\u2066x\u2069\u200f", "x"),
        ("ann", "ann"),
        ("12.5", "12.5"),
    ],
)
def test_safe_cell(raw: str, written: str) -> None:
    from grader.report.csv_cells import csv_text, safe_cell

    assert safe_cell(raw) == written
    assert cells(csv_text([[raw]])) == [written]


def test_every_csv_written_neutralises_formulas_and_strips_bidi(course: dict[str, Path], tmp_path: Path) -> None:
    for student in HOSTILE_IDS:
        write(course["class"] / f"{student}.toml", 'assignment = "tiny-hw"\n' + ANSWERS)
    out = tmp_path / "out"
    summary = run(course, out)
    assert sorted(e.student for e in summary.reports) == sorted(HOSTILE_IDS)  # the ids are as handed in

    written = {"gradebook": (out / "tiny-hw/gradebook.csv").read_bytes().decode("utf-8")}  # CR kept
    for fmt in ("canvas", "moodle", "csv"):
        extra = ["--reference", str(course["reference"])] if fmt != "csv" else []
        result = runner.invoke(app, ["export", fmt, "tiny-hw", "--out", str(out), "-o", "-", *extra])
        assert result.exit_code == 0, result.output
        written[fmt] = result.stdout
    for name, text in written.items():
        found = cells(text)
        for student, safe in HOSTILE_IDS.items():
            assert safe in found, (name, student, found)
        dangerous = [c for c in found if c[:1] in ("=", "+", "-", "@", "\t", "\r") and not re.fullmatch(r"-?[\d.]+", c)]
        assert dangerous == [], (name, dangerous)
        assert not re.search("[\x00\u202a-\u202e\u2066-\u2069]", text), name


def test_a_negative_score_stays_a_number_in_every_csv() -> None:
    from grader.lms import canvas, long_csv, moodle
    from grader.models import PartResult, Status
    from grader.report.gradebook import gradebook_csv

    part = PartResult(id="q1", score=-3, max_score=2, status=Status.incorrect, feedback="A rubric deduction.")
    report = SubmissionReport(assignment="hw", student="ann", score=-3, max_score=2, parts=[part])
    assert cells(moodle.render([report], title="HW").text)[-2:] == ["ann", "-3"]
    assert cells(canvas.render([report], title="HW").text)[-1] == "-3"
    assert cells(long_csv.render([report]).text)[-3:] == ["-3", "2", "incorrect"]
    assert cells(gradebook_csv(["q1"], [report]))[-4:] == ["ann", "-3", "-3", "2"]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self._cell: list[str] | None = None
        self._in_row = False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append(("", []))
        elif tag == "td" and self.rows and not self.rows[-1][0]:
            self._cell = []
        elif tag == "a" and self.rows:
            self.rows[-1][1].append(dict(attrs)["href"])

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.rows[-1] = ("".join(self._cell), self.rows[-1][1])
            self._cell = None


def test_the_html_report_links_each_row_to_its_own_report_file(course: dict[str, Path], tmp_path: Path) -> None:
    # "amy one" is written amy_one.json; the real amy_one, a namesake after sanitising, amy_one~2.json
    write(course["class"] / "x/amy one.toml", 'assignment = "tiny-hw"\n[answers]\nq1 = 42\n')
    write(course["class"] / "y/amy_one.toml", 'assignment = "tiny-hw"\n[answers]\nq1 = 7\n')
    write(course["class"] / "z/o'neil+1.toml", 'assignment = "tiny-hw"\n[answers]\nq1 = 41\n')
    out = tmp_path / "out"
    run(course, out)
    result = runner.invoke(app, ["report", "tiny-hw", "--out", str(out), "--reference", str(course["reference"])])
    assert result.exit_code == 0, result.output
    parser = _Links()
    parser.feed((out / "tiny-hw/report.html").read_text(encoding="utf-8"))
    students = {name: links for name, links in parser.rows if links and name in ("amy one", "amy_one", "o'neil+1")}
    assert sorted(students) == ["amy one", "amy_one", "o'neil+1"]
    for student, links in students.items():
        assert len(links) == 2, (student, links)
        for href in links:
            target = out / "tiny-hw" / unquote(href)
            assert target.is_file(), (student, href)
        data = json.loads((out / "tiny-hw" / unquote(links[1])).read_text())
        assert data["student"] == student


def test_a_two_megabyte_file_of_unknown_part_ids_makes_a_small_report(course: dict[str, Path], tmp_path: Path) -> None:
    lines = [f"u{i:07d} = 1" for i in range(150_000)]
    text = 'assignment = "tiny-hw"\n[answers]\nq1 = 42\n' + "\n".join(lines) + "\n"
    assert 1.9e6 < len(text) < 2 * 1024 * 1024
    write(course["class"] / "flood.toml", text)
    write(course["class"] / "long.toml", 'assignment = "tiny-hw"\n[answers]\n"' + "k" * 500_000 + '" = 1\n')
    out = tmp_path / "out"
    summary = run(course, out)
    flood = SubmissionReport.model_validate_json((out / "tiny-hw/flood.json").read_text())
    assert flood.parts[0].score == 2  # still graded
    assert flood.warnings[-1] == "... and 149,980 more unknown part ids"
    assert len([w for w in flood.warnings if w.startswith("unknown part id")]) == 20
    size = sum(p.stat().st_size for p in (out / "tiny-hw").iterdir() if p.name.startswith(("flood", "long")))
    assert size < 60_000, size
    long = SubmissionReport.model_validate_json((out / "tiny-hw/long.json").read_text())
    assert len(long.warnings[0]) < 120
    assert (out / "run.json").stat().st_size < 20_000 and summary.graded == 2
