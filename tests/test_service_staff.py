"""Staff in the service: the class overview, manual grading with the part's rubric items (and
the student seeing it), overrides with a reason, a regrade after a key edit (diff first), and
every download."""

from __future__ import annotations

import io
import json
import re
import zipfile

from _service_fixtures import course_dir, svc  # noqa: F401 (fixtures)

ANSWERS = {"q1": "73 * 1007", "q2": "3.25 4.5 6.75", "q3": "The gradient vanishes; for example with sigmoids."}


def hand_in(svc, who: str, answers: dict[str, str] = ANSWERS) -> str:
    r = svc.client.post("/api/v1/assignments/svc-hw/submissions", json={"answers": answers}, headers=svc.as_(who))
    assert r.status_code == 201
    return r.json()["id"]


def staff_csrf(svc) -> str:
    r = svc.client.get(f"/login?token={svc.tokens['prof']}", follow_redirects=False)
    assert r.headers["location"] == "/staff"
    page = svc.client.get("/staff/assignments/svc-hw/manual").text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_class_overview(svc) -> None:
    hand_in(svc, "alice")
    hand_in(svc, "bob", {"q1": "1", "q2": "1 2 3"})
    page = svc.client.get("/staff/assignments/svc-hw", headers=svc.as_("prof")).text
    assert "2 students" in page
    assert "forgot the biases × 1" in page  # named mistakes counted
    assert "<code>[1, 2, 3]</code> × 1" in page  # the most common wrong answers
    assert page.count('class="plot histogram"') >= 4  # the class total and one per part
    for export in ("canvas", "moodle", "csv", "lti", "json", "gradescope"):
        assert f"/export/{export}" in page


def test_manual_grading_with_a_rubric_item_reaches_the_student(svc) -> None:
    sid = hand_in(svc, "alice")
    csrf = staff_csrf(svc)
    queue = svc.client.get("/staff/assignments/svc-hw/manual").text
    assert "The gradient vanishes" in queue and "names the cause (+1)" in queue
    r = svc.client.post(
        "/staff/assignments/svc-hw/manual",
        data={"csrf_token": csrf, "student": "alice", "part": "q3", "rubric": ["1"], "comment": "Say more."},
        follow_redirects=False,
    )
    assert r.status_code == 303
    scored = svc.courseware.store.manual_scores("svc-hw", "alice")
    assert [(m.part_id, m.score, m.grader) for m in scored] == [("q3", 1.0, "prof")]
    assert [(i.number, i.text, i.marks) for i in scored[0].items] == [(1, "names the cause", 1.0)]  # stored with the score
    svc.client.cookies.clear()
    report = svc.client.get(f"/api/v1/submissions/{sid}", headers=svc.as_("alice")).json()["report"]
    q3 = next(p for p in report["parts"] if p["id"] == "q3")
    assert q3["score"] == 1.0 and q3["feedback"] == "Say more."
    assert q3["details"]["manual"]["rubric"] == [{"number": 1, "text": "names the cause", "marks": 1.0}]
    page = svc.client.get(f"/submissions/{sid}", headers=svc.as_("alice")).text
    assert "names the cause (+1)" in page
    assert report["score"] == 1 + 1 + 1  # the mistake's mark, q2, and the rubric item
    # items and a typed score at once is refused, as by `grader manual`
    csrf = staff_csrf(svc)
    both = svc.client.post("/staff/assignments/svc-hw/manual", data={"csrf_token": csrf, "student": "alice", "part": "q3", "rubric": ["1"], "score": "2"})
    assert both.status_code == 400
    # without CSRF the same post is refused
    svc.client.get(f"/login?token={svc.tokens['prof']}")
    bad = svc.client.post("/staff/assignments/svc-hw/manual", data={"student": "alice", "part": "q3", "score": "2"}, follow_redirects=False)
    assert bad.status_code == 403


def test_override_needs_a_reason_and_shows_it(svc) -> None:
    sid = hand_in(svc, "bob", {"q1": "1"})
    csrf = staff_csrf(svc)
    assert svc.client.post("/staff/assignments/svc-hw/override", data={"csrf_token": csrf, "student": "bob", "part": "q1", "score": "2", "reason": " "}).status_code == 400
    r = svc.client.post(
        "/staff/assignments/svc-hw/override", data={"csrf_token": csrf, "student": "bob", "part": "q1", "score": "2", "reason": "regrade request"}, follow_redirects=False
    )
    assert r.status_code == 303
    svc.client.cookies.clear()
    report = svc.client.get(f"/api/v1/submissions/{sid}", headers=svc.as_("bob")).json()["report"]
    q1 = report["parts"][0]
    assert q1["score"] == 2.0 and "regrade request" in q1["feedback"]


def test_regrade_after_a_key_edit_shows_the_diff_first(svc) -> None:
    hand_in(svc, "alice")
    key_path = svc.root / "reference" / "svc-hw.json"
    original = key_path.read_text()
    key = json.loads(original)
    q2 = next(p for p in key["parts"] if p["id"] == "q2")
    q2["reference"] = [0.0, 0.0, 0.0]  # the key is edited: alice's q2 is now wrong
    key_path.write_text(json.dumps(key))
    try:
        csrf = staff_csrf(svc)
        dry = svc.client.get("/staff/assignments/svc-hw/regrade").text
        assert "alice" in dry and "q2" in dry and "-1" in dry and "Apply this regrade" in dry
        assert svc.courseware.service.submissions("svc-hw", "alice")[-1].report.score == 2.0  # nothing changed yet
        done = svc.client.post("/staff/assignments/svc-hw/regrade", data={"csrf_token": csrf}).text
        assert "Regrade applied: 1 student(s) changed." in done
        assert svc.courseware.service.submissions("svc-hw", "alice")[-1].report.score == 1.0
        assert [r.student for r in svc.courseware.store.regrade_history("svc-hw")] == ["alice"]
    finally:
        key_path.write_text(original)


def test_every_download(svc) -> None:
    hand_in(svc, "alice")
    h = svc.as_("prof")
    csv_text = svc.client.get("/staff/assignments/svc-hw/export/csv", headers=h)
    assert csv_text.status_code == 200 and "alice" in csv_text.text and "attachment" in csv_text.headers["content-disposition"]
    for name in ("canvas", "moodle", "lti", "json"):
        r = svc.client.get(f"/staff/assignments/svc-hw/export/{name}", headers=h)
        assert r.status_code == 200 and "alice" in r.text, name
    z = svc.client.get("/staff/assignments/svc-hw/export/gradescope", headers=h)
    assert z.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    assert "run_autograder" in names and "reference/svc-hw.json" in names
    assert svc.client.get("/staff/assignments/svc-hw/export/nope", headers=h).status_code == 404
