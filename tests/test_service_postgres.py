"""The service on PostgreSQL (`grader serve --db postgresql+psycopg://...`): the machine's own
server on 127.0.0.1, a database of its own per test (tests/_store_fixtures.py). Tokens, drafts,
submissions and the idempotency rule hold there as on SQLite, and two racing retries record one
submission."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from _service_fixtures import course_dir  # noqa: F401 (fixture)
from _store_fixtures import pg_url  # noqa: F401 (fixture)


def test_the_service_on_postgresql(course_dir, pg_url) -> None:
    from grader.course import load_course
    from grader.service.app import create_app
    from grader.service.courseware import Courseware
    from grader.service.limits import Rate

    cw = Courseware(load_course(course_dir), pg_url, budget=None)
    try:
        token = cw.service.issue_token("alice", "student")
        h = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(cw, submit_rate=Rate(100, 100))) as client:
            assert client.put("/api/v1/assignments/svc-hw/drafts", json={"part": "q1", "answer": "7"}, headers=h).status_code == 204
            assert client.get("/api/v1/assignments/svc-hw/drafts", headers=h).json() == {"q1": "7"}
            answers = {"answers": {"q1": "73519", "q2": "3.25 4.5 6.75"}}
            codes: list[int] = []
            ids: list[str] = []

            def post() -> None:
                r = client.post("/api/v1/assignments/svc-hw/submissions", json=answers, headers={**h, "Idempotency-Key": "race"})
                codes.append(r.status_code)
                ids.append(r.json()["id"])

            threads = [threading.Thread(target=post) for _ in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(codes) == [200, 200, 201] and len(set(ids)) == 1  # one submission, whoever won
            assert len(cw.service.submissions("svc-hw", "alice")) == 1
            got = client.get(f"/api/v1/submissions/{ids[0]}", headers=h).json()
            assert got["report"]["score"] == 3.0
            # the grade store sees it as a run of kind `serve`
            assert [r.kind for r in cw.store.runs()] == ["serve"]
            assert cw.store.latest_reports("svc-hw")[0].student == "alice"
    finally:
        cw.close()
