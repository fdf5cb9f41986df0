"""The self-contained HTML class report: content, escaping, and a real render in headless Chromium."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _store_fixtures import ANSWERS, ASSIGNMENT, grade_class, write_problem
from grader.cli import app
from grader.report.html import render_class_report
from grader.store import RunRecorder

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE = "o'neil&<b>co</b>"  # a student id and an answer that must come out as text


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    answers = {**ANSWERS, HOSTILE: {"q1": "4", "q2": "<img src=x onerror=alert(1)>", "q3": "</td></table><h1>pwned</h1>"}}
    return grade_class(write_problem(tmp_path_factory.mktemp("problems")).parent, answers)


@pytest.fixture(scope="module")
def page(reports):
    return render_class_report(reports, assignment=ASSIGNMENT, title="Tiny homework")


def test_page_is_self_contained(page):
    assert not re.search(r"https?://|//cdn|<script|<link|@import|src=\"", page, re.I)
    assert page.count("<svg") == 2 and "<style>" in page


def test_all_student_text_is_escaped(page):
    assert "<b>co</b>" not in page and "o&#x27;neil&amp;&lt;b&gt;co&lt;/b&gt;" in page
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<h1>pwned" not in page


def test_plots_have_titles_axes_and_the_right_bars(page, reports):
    hist = re.search(r'<svg class="plot histogram".*?</svg>', page, re.S).group(0)
    assert "Distribution of total scores" in hist and "Total score (out of 10)" in hist and ">Students<" in hist
    # totals 5, 3, 0, 2, 0 (the hostile student) -> bands [0,1) twice, [2,3), [3,4), [5,6)
    tips = dict(re.findall(r"<title>([\d.]+–[\d.]+): (\d+) student", hist))
    assert {k: int(v) for k, v in tips.items() if v != "0"} == {"0–1": 2, "2–3": 1, "3–4": 1, "5–6": 1}
    bars = re.search(r'<svg class="plot difficulty".*?</svg>', page, re.S).group(0)
    assert "Mean fraction of marks per part" in bars
    # q1: ann and dan right out of five -> 40%; q2: ann and bob -> 40%
    assert re.search(r"<title>q1: 40% of the marks on average</title>", bars)
    assert re.search(r"<title>q2: 40% of the marks on average</title>", bars)
    assert "4 awaiting a grader" in bars  # q3: ann, bob, cat and the hostile student


def test_most_common_wrong_answers_are_counted(page):
    section = page.split("Most common wrong answers", 1)[1].split("<h2>Students", 1)[0]
    q1 = section.split("<code>q1</code>", 1)[1].split("</table>", 1)[0]
    assert re.search(r"<code>4</code></td><td class=\"num\">3</td>", q1)  # bob, cat and the hostile student
    assert "<code>q3</code>" not in section  # free text is not a 'wrong answer'


def test_links_point_at_existing_feedback_files(reports, tmp_path):
    folder = tmp_path / ASSIGNMENT
    folder.mkdir()
    (folder / "ann.md").write_text("# ann")
    (folder / "ann.json").write_text("{}")
    page = render_class_report(reports, assignment=ASSIGNMENT, report_dir=folder)
    assert '<a href="ann.md">feedback</a> · <a href="ann.json">JSON</a>' in page
    assert 'href="bob.md"' not in page
    everyone = render_class_report(reports, assignment=ASSIGNMENT)
    assert 'href="o%27neil%26%3Cb%3Eco%3C%2Fb%3E.md"' in everyone


def png_rows(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the (filtered) scanlines of a PNG: enough to tell a blank page."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 4
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8
            channels = {2: 3, 6: 4, 0: 1, 4: 2}[color]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + width * channels
    return width, height, [raw[i * stride : (i + 1) * stride] for i in range(height)]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium not installed (apt-get install -y chromium)")
def test_report_renders_in_headless_chromium(reports, tmp_path):
    out = tmp_path / "out"
    with RunRecorder.open(out, command="test") as rec:
        for r in reports:
            rec.record(r)
    result = CliRunner().invoke(app, ["report", ASSIGNMENT, "--out", str(out)])
    assert result.exit_code == 0, result.output
    html_path = out / ASSIGNMENT / "report.html"
    assert html_path.is_file()

    flags = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1600",
    ]
    url = html_path.resolve().as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    assert dom.count("<svg") == 2 and "Distribution of total scores" in dom and "Mean fraction of marks per part" in dom
    assert "<rect" in dom and "Most common wrong answers" in dom
    assert not re.search(r"ERR_|This page|can.t be reached|pwned</h1>", dom)

    png = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={png}", url], capture_output=True, timeout=120, check=True)
    data = png.read_bytes()
    assert len(data) > 20_000
    width, height, rows = png_rows(data)
    assert (width, height) == (1200, 1600)
    assert len(set(rows)) > 100  # plenty of distinct scanlines: text, bars and tables, not a blank page
