"""`grader serve --broker`: the service on the queue, with a real `grader worker` subprocess
over the machine's Redis. A submission graded within the wait is answered 201 with its report
(as without a queue); one that is not is answered 202 with its id and status, and the status
endpoint and the page show it until it is graded; a broker that cannot be reached is a 503
with Retry-After (never 500) and keeps no job; attempts and idempotency keys count jobs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from _queue_fixtures import REDIS, Worker, queue_course, redis_prefix, start_worker, wait_until
from _service_fixtures import Q1

pytest.importorskip("celery")

RIGHT = {"q1": str(Q1), "q2": "3.25 4.5 6.75"}


@dataclass
class Served:
    root: Path
    db: str
    worker: Worker
    prefix: str

    def app(self, *, wait: float, queue: str | None = None, broker: str = REDIS) -> Iterator[tuple[Any, TestClient, dict[str, str]]]:
        """The service over this course's store; its submissions go to `queue` (default: the
        worker's) on `broker`."""
        from grader.course import load_course
        from grader.queue.app import make_app, queue_config
        from grader.queue.dispatch import CeleryDispatcher
        from grader.service.app import create_app
        from grader.service.courseware import Courseware
        from grader.service.limits import Rate

        course = load_course(self.root)
        if queue is not None:
            course = course.model_copy(update={"queue": course.queue.model_copy(update={"name": queue})})
        cw = Courseware(course, self.db, budget=None, wait=wait)
        cfg = queue_config(course, broker, cw.catalog.keys, 2.0)
        cw.dispatcher = CeleryDispatcher(make_app(cfg), cfg)
        tokens = {who: cw.service.issue_token(who, "student") for who in ("alice", "bob", "carol")}
        tokens["prof"] = cw.service.issue_token("prof", "staff")
        try:
            with TestClient(create_app(cw, identity_ttl=0.0, submit_rate=Rate(100, 100))) as client:
                yield cw, client, tokens
        finally:
            cw.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    for prefix in redis_prefix():
        root = queue_course(tmp_path_factory.mktemp("served"), prefix)
        db = str(root / "grades.sqlite")
        worker = start_worker(root, db, REDIS, root / "worker.log", concurrency=2)
        try:
            yield Served(root, db, worker, prefix)
        finally:
            worker.stop()


def bearer(tokens: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[who]}"}


def test_graded_within_the_wait_is_201_with_the_report(served: Served) -> None:
    for cw, client, tokens in served.app(wait=30.0):
        got: list[str] = []
        cw.on_recorded(lambda report: got.append(report.student))  # (the worker's own hooks run there)
        r = client.post("/api/v1/assignments/svc-hw/submissions", json={"answers": RIGHT}, headers={**bearer(tokens, "alice"), "Idempotency-Key": "k1"})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["status"] == "graded" and body["report"]["score"] == 3 and body["report"]["student"] == "alice"
        # the worker recorded it: the same id in the store, graded once
        assert cw.jobs.get(body["id"]).state == "graded" and cw.service.submission(body["id"]).report.score == 3
        again = client.post("/api/v1/assignments/svc-hw/submissions", json={"answers": {"q1": "0"}}, headers={**bearer(tokens, "alice"), "Idempotency-Key": "k1"})
        assert again.status_code == 200 and again.json()["id"] == body["id"] and again.json()["report"]["score"] == 3
        assert got == []  # recorded by the worker, not in this process
        assert len(cw.service.submissions("svc-hw", "alice")) == 1


def test_not_graded_within_the_wait_is_202_then_the_status_shows_it(served: Served) -> None:
    # the service sends to a queue no worker reads: the submission waits there
    idle = f"idle-{served.prefix.strip(':')}"
    for cw, client, tokens in served.app(wait=0.2, queue=idle):
        h = bearer(tokens, "bob")
        r = client.post("/api/v1/assignments/svc-hw/submissions", json={"answers": RIGHT}, headers={**h, "Idempotency-Key": "b1"})
        assert r.status_code == 202, r.text
        body = r.json()
        sid = body["id"]
        assert body["status"] == "queued" and body["report"] is None
        status = client.get(f"/api/v1/submissions/{sid}", headers=h)
        assert status.status_code == 200 and status.json()["status"] == "queued" and status.json()["report"] is None
        assert client.get(f"/api/v1/submissions/{sid}", headers=bearer(tokens, "carol")).status_code == 404  # not hers
        # a retry with the same key is the same job, still waiting
        retry = client.post("/api/v1/assignments/svc-hw/submissions", json={"answers": RIGHT}, headers={**h, "Idempotency-Key": "b1"})
        assert retry.status_code == 202 and retry.json()["id"] == sid
        assert cw.jobs.counts().get("queued") == 1
        # the list has it, waiting (bob's own list; carol's does not)
        listed = {s["id"]: s for s in client.get("/api/v1/submissions", headers=h).json()}
        assert listed[sid]["status"] == "queued" and listed[sid]["score"] is None and listed[sid]["max_score"] == 5
        assert sid not in {s["id"] for s in client.get("/api/v1/submissions", headers=bearer(tokens, "carol")).json()}
        # the page says it waits, and looks again; so does the history
        client.cookies.clear()
        assert client.get(f"/login?token={tokens['bob']}", follow_redirects=False).status_code == 303
        page = client.get(f"/submissions/{sid}")
        assert page.status_code == 200 and "Queued: waiting for a grader" in page.text
        assert re.search(r'<meta http-equiv="refresh" content="2">', page.text)
        history = client.get("/history").text
        assert f'href="/submissions/{sid}">status<' in history and "Queued: waiting for a grader" in history
        # the worker's queue gets the id (as a sweeper would send it): graded, and the status says so
        from grader.queue.app import make_app, queue_config
        from grader.queue.dispatch import CeleryDispatcher

        cfg = queue_config(cw.course.model_copy(update={"queue": cw.course.queue.model_copy(update={"name": "grader"})}), REDIS, cw.catalog.keys, 2.0)
        worker_queue = CeleryDispatcher(make_app(cfg), cfg)
        try:
            worker_queue.send(sid, "svc-hw")
        finally:
            worker_queue.close()
        done = wait_until(lambda: (s := client.get(f"/api/v1/submissions/{sid}", headers=h).json())["status"] == "graded" and s, 60)
        assert done["report"]["score"] == 3 and done["report"]["student"] == "bob"
        page = client.get(f"/submissions/{sid}")
        assert "Score: 3 / 5" in page.text and "http-equiv" not in page.text
        # listed once, graded
        mine = [s for s in client.get("/api/v1/submissions", headers=h).json() if s["id"] == sid]
        assert [(s["status"], s["score"]) for s in mine] == [("graded", 3.0)]
        assert f'href="/submissions/{sid}">report<' in client.get("/history").text
        with cw.dispatcher.app.connection_for_write() as conn:  # the idle queue's extra message
            conn.default_channel.queue_purge(idle)


def test_attempts_count_the_submissions_still_waiting(served: Served) -> None:
    for cw, client, tokens in served.app(wait=0.0, queue=f"idle2-{served.prefix.strip(':')}"):
        h = bearer(tokens, "carol")
        first = client.post("/api/v1/assignments/svc-once/submissions", json={"answers": RIGHT}, headers=h)
        assert first.status_code == 202
        second = client.post("/api/v1/assignments/svc-once/submissions", json={"answers": RIGHT}, headers=h)
        assert second.status_code == 409 and "no attempts left" in second.json()["detail"]
        with cw.dispatcher.app.connection_for_write() as conn:
            conn.default_channel.queue_purge(cw.dispatcher.cfg.name)


def test_a_broker_that_cannot_be_reached_is_503_with_retry_after(served: Served) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for cw, client, tokens in served.app(wait=1.0, broker=f"redis://127.0.0.1:{port}/0"):
        h = bearer(tokens, "alice")
        before = cw.jobs.counts()
        r = client.post("/api/v1/assignments/svc-hw/submissions", json={"answers": RIGHT}, headers={**h, "Idempotency-Key": "down-1"})
        assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0
        assert r.headers["content-type"].startswith("application/json") and "try again" in r.json()["detail"]
        assert cw.jobs.counts() == before and cw.jobs.by_idempotency_key("alice", "down-1") is None  # nothing kept
        # the page's form too: an error page with Retry-After, not a 500
        client.cookies.clear()
        client.get(f"/login?token={tokens['alice']}", follow_redirects=False)
        form = client.get("/assignments/svc-hw").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        page = client.post("/assignments/svc-hw/submit", data={"csrf_token": csrf, "answer:q1": "1"}, headers={"Accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 503 and page.headers["Retry-After"] and "try again" in page.text


def test_without_a_broker_recorded_is_called_once_per_submission(tmp_path: Path) -> None:
    """No broker: graded in-process as always (201), and `Courseware.recorded` runs once per
    recorded submission, never for a retry that records nothing."""
    from _service_fixtures import make_course
    from grader.course import load_course
    from grader.service.app import create_app
    from grader.service.courseware import Courseware

    root = make_course(tmp_path / "c")
    cw = Courseware(load_course(root), str(root / "grades.sqlite"), budget=None)
    got: list[tuple[str, float]] = []
    cw.on_recorded(lambda report: got.append((report.student, report.score)))
    h = {"Authorization": f"Bearer {cw.service.issue_token('alice', 'student')}"}
    try:
        with TestClient(create_app(cw, identity_ttl=0.0)) as client:
            first = client.post("/api/v1/assignments/svc-hw/submissions", json={"answers": RIGHT}, headers={**h, "Idempotency-Key": "x"})
            retry = client.post("/api/v1/assignments/svc-hw/submissions", json={"answers": RIGHT}, headers={**h, "Idempotency-Key": "x"})
            assert (first.status_code, retry.status_code) == (201, 200) and first.json()["status"] == "graded"
            assert cw.jobs.counts() == {}  # no job: nothing went through a queue
    finally:
        cw.close()
    assert got == [("alice", 3.0)]
