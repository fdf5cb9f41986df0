"""The service in a real browser: Debian's Chromium driven by Playwright (executable_path, no
browser download). The student flow (open the link, type, see the preview and an invalid
answer's message, submit, see the score; drafts survive a closed browser), the staff flow
(grade a free-text answer with a rubric item, see it in the student's report) and per-student
numbers. With GRADER_SCREENSHOTS=DIR each page is also saved there (docs/screenshots/)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from _service_fixtures import demo_sections, make_code_course, make_course

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)")
REPO = Path(__file__).resolve().parents[1]
SHOTS = os.environ.get("GRADER_SCREENSHOTS")


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


class Live:
    """`grader serve`'s app on a loopback port, in a thread of this process."""

    def __init__(self, root: Path, budget: float | None = None) -> None:
        import uvicorn

        from grader.course import load_course
        from grader.service.app import create_app
        from grader.service.courseware import Courseware

        self.cw = Courseware(load_course(root), budget=budget)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(create_app(self.cw, identity_ttl=0.0), host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def link(self, who: str, role: str = "student") -> str:
        return f"{self.url}/login?token={self.cw.service.issue_token(who, role)}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.cw.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = Live(make_course(tmp_path_factory.mktemp("browser")))
    yield server
    server.stop()


def test_student_flow(browser, live) -> None:
    ctx = browser.new_context(viewport={"width": 1100, "height": 900})
    page = ctx.new_page()
    page.goto(live.link("carol"))
    shot(page, "student-assignments")
    page.get_by_role("link", name="Service homework", exact=True).click()
    q1 = page.get_by_label("q1", exact=True)
    q1.fill("73 * 1007")
    preview = page.locator("#preview-1")
    preview.get_by_text("Read as:").wait_for()
    assert "73511" in preview.inner_text()  # how it was read, not whether it is right
    assert "correct" not in preview.inner_text().lower()
    q2 = page.get_by_label("q2", exact=True)
    q2.fill("[3.25, 4.5")
    page.locator("#preview-2.invalid").wait_for()
    message = page.locator("#preview-2").inner_text()
    assert "never closed" in message and "An accepted form" in message and "^" in message
    page.locator(".katex").first.wait_for()  # the prompt's maths, rendered by the bundled KaTeX
    shot(page, "student-assignment-preview")
    q2.fill("3.25 4.5 6.75")
    page.locator("#preview-2.ok").wait_for()
    page.get_by_label("q3", exact=True).fill("The gradient vanishes, for example with sigmoids.")
    time.sleep(0.8)  # the debounced draft save
    ctx.close()

    # a closed browser: the drafts are still there
    ctx = browser.new_context(viewport={"width": 1100, "height": 900})
    page = ctx.new_page()
    page.goto(live.link("carol"))
    page.goto(live.url + "/assignments/svc-hw")
    assert page.get_by_label("q1", exact=True).input_value() == "73 * 1007"
    assert page.get_by_label("q2", exact=True).input_value() == "3.25 4.5 6.75"
    page.get_by_role("button", name="Submit").click()
    page.get_by_text(re.compile(r"Score: \d+(\.\d+)? / 5")).wait_for()
    assert "Score: 2 / 5" in page.content()  # q1's named mistake (1) + q2 (1); q3 awaits a person
    assert str(73 * 1007 + 8) not in page.content()  # before the due date: no reference
    shot(page, "student-report")
    page.get_by_role("link", name="All my submissions").click()
    assert page.get_by_role("link", name="report").count() == 1
    shot(page, "student-history")
    ctx.close()


def test_staff_flow(browser, live) -> None:
    student = browser.new_context()
    sp = student.new_page()
    sp.goto(live.link("dave"))
    sp.goto(live.url + "/assignments/svc-hw")
    sp.get_by_label("q3", exact=True).fill("It names the cause: vanishing gradients.")
    sp.get_by_role("button", name="Submit").click()
    sp.get_by_text("Score: 0 / 5").wait_for()
    report_url = sp.url

    staff = browser.new_context(viewport={"width": 1300, "height": 900})
    page = staff.new_page()
    page.goto(live.link("prof", "staff"))
    shot(page, "staff-home")
    page.get_by_role("link", name="Service homework", exact=True).click()
    shot(page, "staff-overview")
    page.get_by_role("link", name="Manual grading").click()
    item = page.locator("section.manual-item", has_text="dave")
    item.get_by_label("names the cause (+1)").check()
    shot(page, "staff-manual")
    item.get_by_role("button", name="Save score for dave").click()
    page.get_by_text("1 scored").wait_for()
    page.goto(live.url + "/staff/assignments/svc-hw/regrade")
    shot(page, "staff-regrade")
    staff.close()

    sp.goto(report_url)
    sp.get_by_text("Score: 1 / 5").wait_for()
    assert sp.get_by_text("names the cause (+1)").count() == 1  # the rubric item, in the student's report
    shot(sp, "student-report-graded")
    student.close()


VARIANT_COURSE = """
[course]
title = "variants"
secret = "course.secret"

[assignments.csc321-hw4-variants]
problem_set = "csc321-hw4"
title = "CSC321 HW4 (your own numbers)"
variants = true
due = 2999-01-01T00:00:00Z
"""


def test_each_student_sees_their_own_numbers(browser, tmp_path) -> None:
    from grader.course import load_course
    from grader.keys.variants import student_variant
    from grader.problemset import load_problem_file

    (tmp_path / "problems").mkdir()
    (tmp_path / "reference").mkdir()
    shutil.copy(REPO / "problems" / "csc321_hw4.py", tmp_path / "problems")
    shutil.copy(REPO / "reference" / "csc321-hw4.json", tmp_path / "reference")
    (tmp_path / "grader.toml").write_text(VARIANT_COURSE)
    server = Live(tmp_path)
    try:
        course = load_course(tmp_path)
        ps = load_problem_file(tmp_path / "problems" / "csc321_hw4.py")["csc321-hw4"]
        seen = {}
        for student in ("v1", "v2"):
            variant = student_variant(course, "csc321-hw4-variants", ps, student)
            ctx = browser.new_context(viewport={"width": 1100, "height": 900})
            page = ctx.new_page()
            page.goto(server.link(student))
            page.goto(server.url + "/assignments/csc321-hw4-variants")
            text = page.locator("main").inner_text()
            assert f"variant {variant.code}" in text
            given = page.locator("dd.given")
            shown = {}
            for i in range(given.count()):
                shown[i] = json.loads(given.nth(i).get_attribute("data-value"))
            numbers = [v for v in variant.values.values()]
            for value in numbers:  # every one of the student's own numbers is on their sheet
                assert value in shown.values() or [value] in shown.values(), (value, shown)
            assert given.first.locator(".katex").count() == 1  # the matrix rendered by KaTeX
            seen[student] = (variant.code, shown)
            if student == "v1":
                shot(page, "student-variant-sheet")
            ctx.close()
        assert seen["v1"] != seen["v2"]
    finally:
        server.stop()


def test_code_parts_show_progress_then_the_score(browser, tmp_path) -> None:
    """nyu-dl-hw2-code over the grading pool (as `grader serve` runs it): code typed into the
    code areas, a preview that only counts lines, "Grading: running your code…" while the
    sandbox runs it, then the report's score."""
    server = Live(make_code_course(tmp_path), budget=2.0)
    try:
        ctx = browser.new_context(viewport={"width": 1100, "height": 900})
        page = ctx.new_page()
        page.goto(server.link("coder"))
        page.goto(server.url + "/assignments/nyu-dl-hw2-code")
        right = demo_sections("c6001")
        forward = page.get_by_label("2.1.forward", exact=True)
        assert forward.evaluate("e => e.tagName + ' ' + getComputedStyle(e).fontFamily").startswith("TEXTAREA")
        assert "monospace" in forward.evaluate("e => getComputedStyle(e).fontFamily")
        forward.fill(right["2.1.forward"])
        lines = len(right["2.1.forward"].strip("\n").split("\n"))
        page.locator("#preview-1.ok").get_by_text(f"Python code, {lines} lines").wait_for()
        page.get_by_label("2.3", exact=True).fill(right["2.3"])
        shot(page, "student-code-sheet")
        page.get_by_role("button", name="Submit").click()
        page.get_by_text("Grading: running your code").wait_for()
        assert page.locator("#grading progress").is_visible()
        shot(page, "student-code-grading")
        page.get_by_text(re.compile(r"Score: \d+(\.\d+)? / 50")).wait_for(timeout=120_000)
        assert "Score: 15 / 50" in page.content()  # 2.1.forward (10) and 2.3 (5) right; 2.1.backward, 2.2 not answered
        assert page.locator("tr.status-correct").count() == 2
        shot(page, "student-code-report")
        ctx.close()
    finally:
        server.stop()
