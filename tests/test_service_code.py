"""Code parts through the service (issue 13): `answers` for a code part is its source text; a
submission runs it in the grading pool's sandbox (a worker process with its own zygote), never
in the service's process; /check never runs it. nyu-dl-hw2-code as committed, due in the
future, so the default policy (`mistakes`) applies: verdicts and named mistakes, no reference."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _service_fixtures import Service, demo_sections, make_code_course

from grader.models import SubmissionReport

ASSIGNMENT = "nyu-dl-hw2-code"
URL = f"/api/v1/assignments/{ASSIGNMENT}"


@pytest.fixture(scope="module")
def code_svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The service over the grading pool (one worker, the CLI's 2 s budget per part), as `grader serve` runs."""
    from fastapi.testclient import TestClient

    from grader.course import load_course
    from grader.service.app import create_app
    from grader.service.courseware import Courseware
    from grader.service.limits import Rate

    root = make_code_course(tmp_path_factory.mktemp("code-course"))
    cw = Courseware(load_course(root), str(root / "service.sqlite"), budget=2.0, workers=1)
    tokens = {who: cw.service.issue_token(who, "student") for who in ("right", "flipped", "hostile", "loop")}
    app = create_app(cw, identity_ttl=0.0, submit_rate=Rate(100.0, 100.0))
    with TestClient(app) as client:
        yield Service(root, cw, client, tokens)
    cw.close()


def _parts(body: dict) -> dict[str, dict]:
    return {p["id"]: p for p in SubmissionReport.model_validate(body["report"]).model_dump(mode="json")["parts"]}


def test_the_sheet_names_what_to_write_and_check_never_runs_code(code_svc) -> None:
    page = code_svc.client.get(f"/assignments/{ASSIGNMENT}", headers=code_svc.as_("right")).text
    assert "Write a function, conv1d(x, W)" in page and "class RNN(nn.Module) with forward(x)" in page
    assert 'class="code"' in page and "Grading: running your code" in page
    # a check of code that would loop forever answers at once: it says what it is, nothing more
    started = time.monotonic()
    got = code_svc.client.post(f"{URL}/check", json={"part": "2.1.forward", "answer": "while True:\n    pass\n"}, headers=code_svc.as_("right")).json()
    assert time.monotonic() - started < 5
    assert got["status"] == "ok" and got["read_as"] == "Python code, 2 lines"


def test_right_code_earns_full_marks(code_svc) -> None:
    answers = demo_sections("c6001")  # everything right
    r = code_svc.client.post(f"{URL}/submissions", json={"answers": answers}, headers=code_svc.as_("right"))
    assert r.status_code == 201, r.text
    parts = _parts(r.json())
    for part_id, marks in {"2.1.forward": 10, "2.1.backward": 15, "2.2": 20, "2.3": 5}.items():
        assert parts[part_id]["status"] == "correct", (part_id, parts[part_id]["feedback"])
        assert parts[part_id]["score"] == marks
    assert r.json()["report"]["score"] == 50
    # the code ran in the pool's worker, not here: this process never started a sandbox
    from grader.code.part import layers_summary

    assert layers_summary() is None
    # the draft of a code part is its text, kept like any other part's
    assert draft_round_trip(code_svc, "right", answers["2.2"]) == answers["2.2"]


def draft_round_trip(svc: Service, who: str, text: str) -> str:
    headers = svc.as_(who)
    assert svc.client.put(f"{URL}/drafts", json={"part": "2.2", "answer": text}, headers=headers).status_code == 204
    return svc.client.get(f"{URL}/drafts", headers=headers).json()["2.2"]


def test_a_named_mistake_is_named(code_svc) -> None:
    answers = {"2.1.forward": demo_sections("c6003")["2.1.forward"], "2.2": 42}  # kernel flipped; 2.2 not code at all
    r = code_svc.client.post(f"{URL}/submissions", json={"answers": answers}, headers=code_svc.as_("flipped"))
    assert r.status_code == 201, r.text
    parts = _parts(r.json())
    forward = parts["2.1.forward"]
    assert forward["status"] in ("incorrect", "partial") and forward["score"] < 10
    assert "kernel flipped" in forward["feedback"]  # the default policy names mistakes
    assert parts["2.2"]["status"] == "missing"


@pytest.mark.parametrize("student, code, why", [
    ("hostile", "import socket\n\ndef conv1d(x, W):\n    socket.socket().connect(('127.0.0.1', 9))\n    return x\n", "Operation not permitted"),
    ("loop", "def conv1d(x, W):\n    return x\n\nwhile True:\n    pass\n", "longer than its"),
])
def test_hostile_code_ends_non_correct_and_the_service_stays_up(code_svc, student, code, why) -> None:
    r = code_svc.client.post(f"{URL}/submissions", json={"answers": {"2.1.forward": code}}, headers=code_svc.as_(student))
    assert r.status_code == 201, r.text
    forward = _parts(r.json())["2.1.forward"]
    assert forward["status"] != "correct" and forward["score"] == 0, forward
    assert why in forward["feedback"]  # refused by the sandbox / stopped at its time limit
    assert code_svc.client.get("/healthz").text == "ok"
    # and the next submission is graded as usual
    right = {"2.1.forward": demo_sections("c6001")["2.1.forward"]}
    again = code_svc.client.post(f"{URL}/submissions", json={"answers": right}, headers=code_svc.as_(student))
    assert _parts(again.json())["2.1.forward"]["status"] == "correct"


def test_a_marker_in_the_text_does_not_move_code_to_another_part(code_svc) -> None:
    """A part's text area is that part's code: a `# grader: 2.2` line inside 2.1.forward's text
    does not make the rest an answer to 2.2."""
    right = demo_sections("c6001")
    text = right["2.1.forward"] + "\n# grader: 2.2\n" + right["2.2"]
    r = code_svc.client.post(f"{URL}/submissions", json={"answers": {"2.1.forward": text}}, headers=code_svc.as_("right"))
    parts = _parts(r.json())
    assert parts["2.1.forward"]["status"] == "correct" and parts["2.2"]["status"] == "missing"
