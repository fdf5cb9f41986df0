"""The service's public contract (docs/service.md) through FastAPI's test client: every
endpoint, who may see what, CSRF, the body cap, rate limits, idempotency and the policy."""

from __future__ import annotations

import re

import pytest
from _service_fixtures import Q1, course_dir, start, svc  # noqa: F401 (fixtures)

from grader.service.limits import Rate

ANSWERS = {"q1": "73000", "q2": "3.25 4.5 6.75", "q3": "Because the gradient vanishes, e.g. with sigmoids."}


def test_healthz_and_openapi(svc) -> None:
    assert svc.client.get("/healthz").status_code == 200
    schema = svc.client.get("/openapi.json").json()
    for path in ("/api/v1/assignments", "/api/v1/assignments/{assignment}/check", "/api/v1/assignments/{assignment}/submissions", "/api/v1/submissions/{sid}"):
        assert path in schema["paths"]


def test_the_api_needs_a_token(svc) -> None:
    assert svc.client.get("/api/v1/assignments").status_code == 401
    assert svc.client.get("/api/v1/assignments", headers={"Authorization": "Bearer not-a-token"}).status_code == 401


def test_assignments(svc) -> None:
    got = svc.client.get("/api/v1/assignments", headers=svc.as_("alice")).json()
    by_id = {a["id"]: a for a in got}
    assert set(by_id) == {"svc-hw", "svc-past", "svc-once"}
    assert by_id["svc-hw"] == {"id": "svc-hw", "title": "Service homework", "max_score": 5.0, "due": "2999-01-01T00:00:00Z"}


def test_check_reads_without_grading(svc) -> None:
    url = "/api/v1/assignments/svc-hw/check"
    ok = svc.client.post(url, json={"part": "q1", "answer": "73 * 1007"}, headers=svc.as_("alice")).json()
    assert ok == {"status": "ok", "read_as": "73511", "message": "", "position": None}  # read, not judged
    bad = svc.client.post(url, json={"part": "q2", "answer": "[3.25, 4.5"}, headers=svc.as_("alice")).json()
    assert bad["status"] == "invalid" and bad["read_as"] == "" and bad["position"] == 0
    assert "never closed" in bad["message"] and "An accepted form" in bad["message"]
    empty = svc.client.post(url, json={"part": "q1", "answer": ""}, headers=svc.as_("alice")).json()
    assert empty["status"] == "invalid" and "No answer" in empty["message"]
    assert svc.client.post(url, json={"part": "nope", "answer": "1"}, headers=svc.as_("alice")).status_code == 404
    assert svc.client.post("/api/v1/assignments/nope/check", json={"part": "q1", "answer": "1"}, headers=svc.as_("alice")).status_code == 404
    assert str(Q1) not in str([ok, bad, empty])


def test_submit_grades_all_parts_and_filters_by_policy(svc) -> None:
    r = svc.client.post("/api/v1/assignments/svc-hw/submissions", json={"answers": ANSWERS}, headers=svc.as_("alice"))
    assert r.status_code == 201
    body = r.json()
    assert re.fullmatch(r"[0-9a-f]{24}", body["id"])
    report = body["report"]
    assert report["student"] == "alice" and report["assignment"] == "svc-hw"
    parts = {p["id"]: p for p in report["parts"]}
    assert parts["q1"]["status"] == "incorrect" and parts["q2"]["status"] == "correct" and parts["q3"]["status"] == "manual"
    assert report["score"] == 1.0 and report["max_score"] == 5.0
    assert str(Q1) not in r.text  # before the due date, under the default policy: no reference
    again = svc.client.get(f"/api/v1/submissions/{body['id']}", headers=svc.as_("alice"))
    assert again.status_code == 200 and again.json() == body


def test_identity_comes_from_the_token_not_the_body(svc) -> None:
    r = svc.client.post("/api/v1/assignments/svc-hw/submissions", json={"answers": ANSWERS, "student": "bob"}, headers=svc.as_("alice"))
    assert r.json()["report"]["student"] == "alice"


def test_another_students_submission_is_not_found(svc) -> None:
    sid = svc.client.post("/api/v1/assignments/svc-hw/submissions", json={"answers": ANSWERS}, headers=svc.as_("alice")).json()["id"]
    assert svc.client.get(f"/api/v1/submissions/{sid}", headers=svc.as_("bob")).status_code == 404
    assert svc.client.get(f"/submissions/{sid}", headers=svc.as_("bob")).status_code == 404
    assert svc.client.get("/api/v1/submissions/000000000000000000000000", headers=svc.as_("alice")).status_code == 404
    assert [s["id"] for s in svc.client.get("/api/v1/submissions", headers=svc.as_("bob")).json()] == []
    assert svc.client.get(f"/api/v1/submissions/{sid}", headers=svc.as_("prof")).status_code == 200  # staff see all


def test_drafts_are_per_student(svc) -> None:
    url = "/api/v1/assignments/svc-hw/drafts"
    assert svc.client.put(url, json={"part": "q1", "answer": "12"}, headers=svc.as_("alice")).status_code == 204
    assert svc.client.put(url, json={"part": "q1", "answer": "13"}, headers=svc.as_("alice")).status_code == 204
    assert svc.client.get(url, headers=svc.as_("alice")).json() == {"q1": "13"}
    assert svc.client.get(url, headers=svc.as_("bob")).json() == {}
    assert svc.client.put(url, json={"part": "zz", "answer": "1"}, headers=svc.as_("alice")).status_code == 404


def test_staff_routes_refuse_students(svc) -> None:
    for path in ("/staff", "/staff/assignments/svc-hw", "/staff/assignments/svc-hw/manual", "/staff/assignments/svc-hw/export/csv", "/staff/assignments/svc-hw/regrade"):
        assert svc.client.get(path, headers=svc.as_("alice")).status_code == 403, path
        assert svc.client.get(path, headers=svc.as_("prof")).status_code == 200, path
    r = svc.client.post("/staff/assignments/svc-hw/override", data={"student": "alice", "part": "q1", "score": "2", "reason": "x"}, headers=svc.as_("alice"))
    assert r.status_code == 403


def test_idempotency_key_returns_the_same_submission(svc) -> None:
    h = {**svc.as_("alice"), "Idempotency-Key": "try-1"}
    first = svc.client.post("/api/v1/assignments/svc-hw/submissions", json={"answers": ANSWERS}, headers=h)
    second = svc.client.post("/api/v1/assignments/svc-hw/submissions", json={"answers": {"q1": "1"}}, headers=h)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json() == second.json()
    assert len(svc.courseware.service.submissions("svc-hw", "alice")) == 1
    # the same key from another student is another submission
    other = svc.client.post("/api/v1/assignments/svc-hw/submissions", json={"answers": ANSWERS}, headers={**svc.as_("bob"), "Idempotency-Key": "try-1"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


def test_attempts_come_from_the_course_file(svc) -> None:
    url = "/api/v1/assignments/svc-once/submissions"
    assert svc.client.post(url, json={"answers": ANSWERS}, headers=svc.as_("alice")).status_code == 201
    refused = svc.client.post(url, json={"answers": ANSWERS}, headers=svc.as_("alice"))
    assert refused.status_code == 409 and "no attempts left" in refused.json()["detail"]


def test_after_the_due_date_late_rule_and_reference_level(svc) -> None:
    r = svc.client.post("/api/v1/assignments/svc-past/submissions", json={"answers": ANSWERS}, headers=svc.as_("alice")).json()
    report = r["report"]
    assert report["late"]["days"] > 365 and report["late"]["raw_score"] == 1.0  # the course's late rule, applied once
    assert report["score"] == 0.0  # years late at 50 % a day, floored at the minimum 0
    # after the due date the level is `reference`: the student sees the parts as staff do
    staff = svc.client.get(f"/api/v1/submissions/{r['id']}", headers=svc.as_("prof")).json()["report"]
    assert report["parts"] == staff["parts"]


def test_before_the_due_date_mistakes_are_named(svc) -> None:
    r = svc.client.post("/api/v1/assignments/svc-hw/submissions", json={"answers": {"q1": "73 * 1007"}}, headers=svc.as_("alice")).json()
    q1 = r["report"]["parts"][0]
    assert q1["status"] == "partial" and "forgot the biases" in q1["feedback"] and str(Q1) not in str(r)


def test_body_cap(course_dir) -> None:
    gen = start(course_dir, body_cap=1000)
    s = next(gen)
    r = s.client.post("/api/v1/assignments/svc-hw/check", json={"part": "q1", "answer": "1" * 5000}, headers=s.as_("alice"))
    assert r.status_code == 413 and "too large" in r.json()["detail"]
    assert s.client.post("/api/v1/assignments/svc-hw/check", json={"part": "q1", "answer": "1"}, headers=s.as_("alice")).status_code == 200
    gen.close()


def test_rate_limits_are_per_student_with_a_clear_429(course_dir) -> None:
    gen = start(course_dir, check_rate=Rate(0.01, 3), submit_rate=Rate(0.01, 1))
    s = next(gen)
    url = "/api/v1/assignments/svc-hw/check"
    codes = [s.client.post(url, json={"part": "q1", "answer": "1"}, headers=s.as_("alice")).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = s.client.post(url, json={"part": "q1", "answer": "1"}, headers=s.as_("alice"))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1 and "too many check requests" in r.json()["detail"]
    assert s.client.post(url, json={"part": "q1", "answer": "1"}, headers=s.as_("bob")).status_code == 200  # bob has his own
    sub = "/api/v1/assignments/svc-hw/submissions"
    h = {**s.as_("alice"), "Idempotency-Key": "k"}
    assert s.client.post(sub, json={"answers": ANSWERS}, headers=h).status_code == 201
    assert s.client.post(sub, json={"answers": ANSWERS}, headers=s.as_("alice")).status_code == 429
    assert s.client.post(sub, json={"answers": ANSWERS}, headers=h).status_code == 200  # a retry is never refused
    gen.close()


def login(svc, who: str) -> str:
    r = svc.client.get(f"/login?token={svc.tokens[who]}", follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    page = svc.client.get("/assignments/svc-hw")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_session_cookie_and_csrf(svc) -> None:
    csrf = login(svc, "alice")
    # with the cookie only: reading works, changes need the CSRF token
    assert svc.client.get("/api/v1/assignments").status_code == 200
    assert svc.client.post("/api/v1/assignments/svc-hw/check", json={"part": "q1", "answer": "1"}).status_code == 403
    assert svc.client.post("/api/v1/assignments/svc-hw/check", json={"part": "q1", "answer": "1"}, headers={"X-CSRF-Token": csrf}).status_code == 200
    form = {f"answer:{k}": v for k, v in ANSWERS.items()}
    assert svc.client.post("/assignments/svc-hw/submit", data=form, follow_redirects=False).status_code == 403
    assert svc.client.post("/assignments/svc-hw/submit", data={**form, "csrf_token": "wrong"}, follow_redirects=False).status_code == 403
    done = svc.client.post("/assignments/svc-hw/submit", data={**form, "csrf_token": csrf, "submission_key": "form-1"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/submissions/")
    page = svc.client.get(done.headers["location"])
    assert "Score: 1 / 5" in page.text
    # the answers handed in are the drafts now
    assert svc.client.get("/api/v1/assignments/svc-hw/drafts").json()["q1"] == "73000"
    # a double-click (same form, same key) is one submission
    svc.client.post("/assignments/svc-hw/submit", data={**form, "csrf_token": csrf, "submission_key": "form-1"}, follow_redirects=False)
    assert len(svc.courseware.service.submissions("svc-hw", "alice")) == 1


def test_a_forged_or_revoked_session_is_refused(svc) -> None:
    login(svc, "bob")
    assert svc.client.get("/api/v1/assignments").status_code == 200
    svc.courseware.service.revoke("bob", "student")
    assert svc.client.get("/api/v1/assignments").status_code == 401
    svc.client.cookies.set("grader_session", "eyJ3aG8iOiAiYWJjIn0=.forged.sig")
    assert svc.client.get("/api/v1/assignments").status_code == 401


def test_pages_render_for_a_student(svc) -> None:
    h = svc.as_("alice")
    home = svc.client.get("/", headers=h)
    assert home.status_code == 200 and "Service homework" in home.text
    page = svc.client.get("/assignments/svc-hw", headers=h).text
    for part in ("q1", "q2", "q3"):
        assert re.search(rf'<label for="answer-\d+">{part}</label>', page)
    assert '<button type="submit" class="primary">Submit</button>' in page
    assert "/static/katex/katex.min.js" in page and "https://" not in page  # no CDN
    assert "$73 \\times 1007$" in page  # maths left for KaTeX, not mangled by Markdown
    assert svc.client.get("/static/katex/katex.min.js").status_code == 200
    headers = svc.client.get("/assignments/svc-hw", headers=h).headers
    assert "default-src 'self'" in headers["content-security-policy"] and headers["referrer-policy"] == "no-referrer"
    assert svc.client.get("/history", headers=h).status_code == 200


def test_a_hostile_answer_costs_its_part_never_the_server(svc) -> None:
    url = "/api/v1/assignments/svc-hw/submissions"
    deep = "[" * 900 + "]" * 900
    r = svc.client.post(url, content='{"answers": {"q2": ' + deep + "}}", headers={**svc.as_("alice"), "content-type": "application/json"})
    assert r.status_code == 422 and "nested too deeply" in r.text  # as an answer file nested so deep is
    nested = [[[[["1"]]]]]
    r = svc.client.post(url, json={"answers": {"q2": nested, "q1": "9" * 5000}}, headers=svc.as_("alice"))
    assert r.status_code == 201
    parts = {p["id"]: p for p in r.json()["report"]["parts"]}
    assert parts["q2"]["status"] == "invalid" and parts["q1"]["status"] in ("invalid", "incorrect")
    check = svc.client.post("/api/v1/assignments/svc-hw/check", json={"part": "q2", "answer": nested}, headers=svc.as_("alice"))
    assert check.status_code == 200 and check.json()["status"] == "invalid"


def test_text_no_database_can_store_costs_only_itself(svc) -> None:
    # a NUL, as a JSON body can carry it (PostgreSQL's text refuses it): the draft and the
    # submission are stored, the NUL shown as reports show it, never a 500
    h = svc.as_("alice")
    body = '{"part": "q1", "answer": "7\\u0000"}'
    r = svc.client.put("/api/v1/assignments/svc-hw/drafts", content=body, headers={**h, "content-type": "application/json"})
    assert r.status_code == 204, r.text
    assert svc.client.get("/api/v1/assignments/svc-hw/drafts", headers=h).json() == {"q1": "7\\0"}
    body = '{"answers": {"q1": "7\\u0000", "q3": "why \\u0000"}}'
    r = svc.client.post("/api/v1/assignments/svc-hw/submissions", content=body, headers={**h, "content-type": "application/json"})
    assert r.status_code == 201, r.text
    parts = {p["id"]: p for p in r.json()["report"]["parts"]}
    assert parts["q1"]["status"] == "invalid" and parts["q3"]["status"] == "manual"
    stored = svc.courseware.store.latest_reports("svc-hw")[0]
    assert stored.parts[2].answer == "why \\0" and svc.courseware.service.submissions("svc-hw", "alice")[0].answers["q3"] == "why \x00"


@pytest.mark.parametrize(
    "path, body, status",
    [
        ("check", b'{"part": "q1", "answer": "\\ud800"}', 200),  # read: an unreadable character
        ("check", b'{"part": "\\ud800", "answer": "1"}', 422),  # FastAPI's reply echoes the bad input
        ("check", b'{"part": "q1", "answer": ["\\udfff"]}', 200),  # a list: read, and refused
        ("submissions", b'{"answers": {"q1": "\\ud800", "q2": "3.25 4.5 6.75"}}', 201),
    ],
)
def test_a_lone_surrogate_in_a_body_is_answered_never_a_500(svc, path: str, body: bytes, status: int) -> None:
    """JSON may escape a lone surrogate, which has no UTF-8 form: every reply is still valid
    JSON, and a submitted one is an unreadable answer whose echo shows U+FFFD."""
    r = svc.client.post(f"/api/v1/assignments/svc-hw/{path}", content=body, headers={**svc.as_("alice"), "Content-Type": "application/json"})
    assert r.status_code == status, r.text
    reply = r.json()
    if path == "submissions":
        parts = {p["id"]: p for p in reply["report"]["parts"]}
        assert parts["q1"]["status"] == "invalid" and parts["q1"]["answer"] == "\ufffd"
        assert parts["q2"]["status"] == "correct"
