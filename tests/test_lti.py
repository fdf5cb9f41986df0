"""The service as an LTI 1.3 tool, against the tests' own platform (tests/_lti_platform.py: a
real HTTP server with its own key; the tool is `grader serve`'s app on another port). Every
test runs on SQLite and on the machine's PostgreSQL.

Launches: a student lands on the assignment as that student, staff on the staff pages; a
forged, expired, misaddressed or replayed token, a login finished by another browser, and an
unregistered deployment are refused (and open no session). Deep linking returns a signed
response the platform verifies. Scores go to the platform after grading and after a manual
score (the service's route and `grader manual`), with the values of the report; a platform
that is down costs an attempt, and `grader lti push` sends the score later.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _lti_platform import INSTRUCTOR, LEARNER, Browser, LaunchPlan, Platform, ThreadServer, User, _rsa, parse_form, query_of
from _service_fixtures import make_course
from _store_fixtures import pg_database

MAX_SCORE = 5.0  # svc-hw: q1 2 + q2 1 + q3 (free text) 2
RIGHT = {"q1": "73519", "q2": "3.25 4.5 6.75", "q3": "Because the weights are shared."}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The tool's store on each backend (one per module: the tool server is started once)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('lti-db') / 'grades.sqlite'}"
        return
    with pg_database("grader_lti") as url:
        yield url


@dataclass
class Tool:
    root: Path
    db: str
    cw: object
    server: ThreadServer

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def tool(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tool]:
    from grader.course import load_course
    from grader.service.app import create_app
    from grader.service.courseware import Courseware
    from grader.service.limits import Rate
    from grader.service.lti import TOOL_URL_SETTING
    from grader.store.lti import LtiStore

    root = make_course(tmp_path_factory.mktemp("lti-course"))
    cw = Courseware(load_course(root), store_url, budget=None)
    server = ThreadServer(create_app(cw, identity_ttl=0.0, submit_rate=Rate(100, 100)))
    LtiStore(cw.store).keep_setting(TOOL_URL_SETTING, server.url, replace=True)
    try:
        yield Tool(root, store_url, cw, server)
    finally:
        server.stop()
        cw.close()


@pytest.fixture
def platform(tool: Tool) -> Iterator[Platform]:
    """A platform of its own per test (its own key, issuer and line items), registered with the tool."""
    from grader.store.lti import LtiStore

    p = Platform()
    p.connect(tool.url)
    LtiStore(tool.cw.store).register(p.issuer, p.client_id, [p.deployment_id], p.auth_url, p.token_url, p.jwks_url)
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()


def student(sub: str | None = None, sourcedid: str | None = None) -> User:
    sub = sub or f"s-{uuid.uuid4().hex[:8]}"
    return User(sub=sub, roles=[LEARNER], name="Student " + sub, email=f"{sub}@example.edu", sourcedid=sourcedid if sourcedid is not None else sub)


def instructor() -> User:
    sub = f"t-{uuid.uuid4().hex[:8]}"
    return User(sub=sub, roles=[INSTRUCTOR], name="Prof " + sub, email=f"{sub}@example.edu")


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token in the page"
    return found.group(1)


def refused(browser: Browser, tool: Tool, response, reason: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code in (401, 403), (response.status_code, response.text[:300])
    assert reason in response.text, response.text[:500]
    assert browser.http.get(f"{tool.url}/api/v1/assignments").status_code == 401  # no session was opened


# -- launches ---------------------------------------------------------------------------------------
def test_a_student_launch_lands_on_the_assignment_as_that_student(tool: Tool, platform: Platform, browser: Browser) -> None:
    user = student(sourcedid=f"stu-{uuid.uuid4().hex[:6]}")
    answer = browser.launch(platform, LaunchPlan(user, custom={"assignment": "svc-hw"}))
    assert answer.status_code == 303 and answer.headers["location"] == "/assignments/svc-hw", answer.text
    # the tool's authorisation request was the OIDC one LTI asks for
    auth = platform.auth_requests[-1]
    assert auth["redirect_uri"] == f"{tool.url}/lti/launch" and len(auth["nonce"]) >= 32 and len(auth["state"]) >= 32
    assert platform.signed[-1]["nonce"] == auth["nonce"]
    page = browser.http.get(f"{tool.url}/assignments/svc-hw")
    assert page.status_code == 200 and user.sourcedid in page.text  # signed in as the lis person_sourcedid
    assert "Service homework" in page.text
    assert browser.http.get(f"{tool.url}/staff").status_code == 403
    # a second launch is the same student (the mapping is kept)
    again = Browser()
    try:
        assert again.launch(platform, LaunchPlan(user, custom={"assignment": "svc-hw"})).status_code == 303
        assert user.sourcedid in again.http.get(f"{tool.url}/assignments/svc-hw").text
    finally:
        again.close()


def test_a_student_without_a_sourcedid_gets_a_stable_id_from_sub(tool: Tool, platform: Platform, browser: Browser) -> None:
    user = student(sourcedid="")
    assert browser.launch(platform, LaunchPlan(user)).headers["location"] == "/"  # no assignment named: the home page
    who = browser.http.get(f"{tool.url}/").text
    ids = set(re.findall(r"lti-[0-9a-f]{16}", who))
    assert len(ids) == 1


def test_a_staff_launch_opens_the_staff_pages(tool: Tool, platform: Platform, browser: Browser) -> None:
    answer = browser.launch(platform, LaunchPlan(instructor(), custom={"assignment": "svc-hw"}))
    assert answer.status_code == 303 and answer.headers["location"] == "/staff/assignments/svc-hw"
    assert browser.http.get(f"{tool.url}/staff/assignments/svc-hw").status_code == 200
    assert browser.http.get(f"{tool.url}/staff").status_code == 200


def test_a_forged_token_is_refused(tool: Tool, platform: Platform, browser: Browser) -> None:
    forged = browser.launch(platform, LaunchPlan(instructor(), tamper={"key": _rsa("forger")}))  # the platform's kid, another key
    refused(browser, tool, forged, "signature")
    unknown = browser.launch(platform, LaunchPlan(instructor(), tamper={"key": _rsa("forger"), "kid": "someone-else"}))
    refused(browser, tool, unknown, "not signed with a key of the platform")


def test_an_expired_token_is_refused(tool: Tool, platform: Platform, browser: Browser) -> None:
    refused(browser, tool, browser.launch(platform, LaunchPlan(student(), tamper={"age": 3600})), "expired")
    # a browser is shown the reason on a page
    action, fields = browser.auth_form(platform, LaunchPlan(student(), tamper={"age": 3600}))
    page = browser.http.post(action, data=fields, headers={"Accept": "text/html"})
    assert page.status_code == 401 and "text/html" in page.headers["content-type"] and "the launch has expired" in page.text


@pytest.mark.parametrize(
    "tamper,reason",
    [
        ({"aud": "another-tool"}, "another tool (aud)"),
        ({"aud": ["another-tool", "grader-tool"]}, "azp"),
        ({"iss": "https://evil.example"}, "(iss)"),
        ({"deployment": "dep-unknown"}, "not registered"),
        ({"version": "1.1"}, "only LTI 1.3.0"),
        ({"nonce": "not-the-login-nonce"}, "nonce"),
    ],
)
def test_a_token_for_someone_else_is_refused(tool: Tool, platform: Platform, browser: Browser, tamper: dict, reason: str) -> None:
    refused(browser, tool, browser.launch(platform, LaunchPlan(student(), tamper=tamper)), reason)


def test_several_audiences_with_this_tool_as_azp_are_accepted(tool: Tool, platform: Platform, browser: Browser) -> None:
    plan = LaunchPlan(student(), tamper={"aud": ["another-tool", platform.client_id], "azp": platform.client_id})
    assert browser.launch(platform, plan).status_code == 303


def test_a_replayed_launch_is_refused(tool: Tool, platform: Platform, browser: Browser) -> None:
    action, fields = browser.auth_form(platform, LaunchPlan(student()))
    assert browser.http.post(action, data=fields).status_code == 303
    # the same form again (same browser, same state): the login was used
    intruder = Browser()
    try:
        intruder.http.cookies.set("lti_state", fields["state"], domain="127.0.0.1", path="/lti/")
        again = intruder.http.post(action, data=fields)
        refused(intruder, tool, again, "already used")
        # the token with a fresh login's state: its nonce answers the old login, not this one
        action2, fresh = intruder.auth_form(platform, LaunchPlan(student()))
        replay = intruder.http.post(action2, data={"id_token": fields["id_token"], "state": fresh["state"]})
        refused(intruder, tool, replay, "nonce")
    finally:
        intruder.close()


def test_a_nonce_is_used_once_even_under_a_new_state(tool: Tool, platform: Platform) -> None:
    from grader.store.lti import LtiStore

    lti = LtiStore(tool.cw.store)
    registered = lti.platform(platform.issuer, platform.client_id)
    assert registered is not None
    assert lti.use_nonce(registered.id, "n-1") is True
    assert lti.use_nonce(registered.id, "n-1") is False


def test_a_login_finished_by_another_browser_is_refused(tool: Tool, platform: Platform, browser: Browser) -> None:
    action, fields = browser.auth_form(platform, LaunchPlan(student()))
    other = Browser()  # no state cookie: the launch did not start here
    try:
        refused(other, tool, other.http.post(action, data=fields), "did not start the login (state)")
    finally:
        other.close()
    wrong = browser.http.post(action, data={**fields, "state": fields["state"][:-2] + "xx"})
    refused(browser, tool, wrong, "(state)")


def test_a_login_from_an_unregistered_platform_or_to_another_site_is_refused(tool: Tool, platform: Platform, browser: Browser) -> None:
    base = {"login_hint": "x", "target_link_uri": f"{tool.url}/lti/launch"}
    r = browser.http.get(f"{tool.url}/lti/login", params={**base, "iss": "https://unknown.example"})
    assert r.status_code == 400 and "not registered" in r.text
    r = browser.http.get(f"{tool.url}/lti/login", params={**base, "iss": platform.issuer, "target_link_uri": "https://evil.example/"})
    assert r.status_code == 400 and "not this tool's" in r.text
    r = browser.http.post(f"{tool.url}/lti/login", data={**base, "iss": platform.issuer})  # a POST initiation works too
    assert r.status_code == 302 and query_of(r.headers["location"])["prompt"] == "none"


# -- deep linking -----------------------------------------------------------------------------------
def test_deep_linking_returns_a_signed_response_the_platform_verifies(tool: Tool, platform: Platform, browser: Browser) -> None:
    answer = browser.launch(platform, LaunchPlan(instructor(), message_type="LtiDeepLinkingRequest"))
    assert answer.status_code == 303 and answer.headers["location"] == "/lti/deep-link"
    picker = browser.http.get(f"{tool.url}/lti/deep-link")
    assert picker.status_code == 200 and "svc-hw" in picker.text and "svc-past" in picker.text
    done = browser.http.post(f"{tool.url}/lti/deep-link", data={"csrf_token": csrf_of(picker.text), "assignment": ["svc-hw", "svc-past"]})
    assert done.status_code == 200
    action, fields = parse_form(done.text, carrying="JWT")
    assert action == f"{platform.url}/deep_link_return"
    placed = browser.http.post(action, data=fields)
    assert placed.status_code == 200, placed.text
    claims = platform.deep_links[-1]  # verified by the platform with the key the tool's JWKS publishes
    assert claims["aud"] == platform.issuer and claims["iss"] == platform.client_id
    assert claims["https://purl.imsglobal.org/spec/lti/claim/message_type"] == "LtiDeepLinkingResponse"
    assert claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] == platform.deployment_id
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-platform-data"
    items = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert [i["custom"]["assignment"] for i in items] == ["svc-hw", "svc-past"]
    assert all(i["type"] == "ltiResourceLink" and i["lineItem"]["scoreMaximum"] == MAX_SCORE for i in items)
    assert items[0]["url"] == f"{tool.url}/assignments/svc-hw" and items[0]["lineItem"]["resourceId"] == "svc-hw"
    # answered once; a student cannot open a picker
    assert browser.http.get(f"{tool.url}/lti/deep-link").status_code == 400
    learner = Browser()
    try:
        refused(learner, tool, learner.launch(platform, LaunchPlan(student(), message_type="LtiDeepLinkingRequest")), "only instructors")
    finally:
        learner.close()


# -- scores back to the platform ------------------------------------------------------------------------
def submit(tool: Tool, browser: Browser, answers: dict[str, str], assignment: str = "svc-hw") -> dict:
    page = browser.http.get(f"{tool.url}/assignments/{assignment}")
    r = browser.http.post(f"{tool.url}/api/v1/assignments/{assignment}/submissions", json={"answers": answers}, headers={"X-CSRF-Token": csrf_of(page.text)})
    assert r.status_code == 201, r.text
    return r.json()


def check_score(body: dict, user: User, given: float, progress: str) -> None:
    assert body["userId"] == user.sub
    assert body["scoreGiven"] == given and body["scoreMaximum"] == MAX_SCORE
    assert body["activityProgress"] == "Completed" and body["gradingProgress"] == progress
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None


def test_scores_go_back_after_grading_and_after_a_manual_score(tool: Tool, platform: Platform, browser: Browser) -> None:
    item = platform.add_line_item("course-1", scoreMaximum=MAX_SCORE, label="Service homework", resourceId="svc-hw")
    user = student()
    assert browser.launch(platform, LaunchPlan(user, custom={"assignment": "svc-hw"}, lineitem=item)).status_code == 303
    report = submit(tool, browser, {**RIGHT, "q1": str(73 * 1007)})["report"]  # q1's named mistake: 1 of 2
    posts = platform.wait_scores(1)
    assert posts[0]["lineitem"] == item and posts[0]["content_type"] == "application/vnd.ims.lis.v1.score+json"
    assert report["score"] == 2.0  # q1 1 + q2 1, q3 waits for a person
    check_score(posts[0]["body"], user, report["score"], "PendingManual")
    # the comment says what the student may see now (before the due date: scores and mistakes)
    assert posts[0]["body"]["comment"] == "Score 2 of 5. Marks lost on: q1 (1/2). Awaiting a grader: q3."
    assert platform.assertions[-1]["aud"] == platform.token_url  # the token came from a verified assertion
    # staff score the free-text part in the service: the adjusted score follows
    staff_token = tool.cw.service.issue_token("prof", "staff")
    r = browser.http.post(
        f"{tool.url}/staff/assignments/svc-hw/manual", data={"student": user.sourcedid, "part": "q3", "score": "1.5"},
        headers={"Authorization": f"Bearer {staff_token}"},
    )
    assert r.status_code == 303, r.text
    posts = platform.wait_scores(2)
    check_score(posts[1]["body"], user, report["score"] + 1.5, "FullyGraded")
    # nothing changed, nothing sent again
    tool.cw.scores_changed("svc-hw")
    tool.cw.passback().flush(10)
    assert len(platform.scores) == 2


def test_a_line_item_is_found_or_made_when_the_launch_names_none(tool: Tool, platform: Platform, browser: Browser) -> None:
    user = student()
    assert browser.launch(platform, LaunchPlan(user, custom={"assignment": "svc-past"}, context_id="course-2")).status_code == 303
    report = submit(tool, browser, RIGHT, "svc-past")["report"]
    posts = platform.wait_scores(1)
    made = [i for i in platform.line_items.values() if i["context"] == "course-2"]
    assert len(made) == 1 and made[0]["resourceId"] == "svc-past" and made[0]["scoreMaximum"] == MAX_SCORE and made[0]["tag"] == "grader"
    assert posts[0]["lineitem"] == made[0]["id"]
    check_score(posts[0]["body"], user, report["score"], "PendingManual")
    # a second student of that course: the line item is found, not made again
    other = Browser()
    try:
        second = student()
        assert other.launch(platform, LaunchPlan(second, custom={"assignment": "svc-past"}, context_id="course-2")).status_code == 303
        submit(tool, other, RIGHT, "svc-past")
        platform.wait_scores(2)
    finally:
        other.close()
    assert len([i for i in platform.line_items.values() if i["context"] == "course-2"]) == 1


def test_a_platform_that_is_down_costs_an_attempt_and_grader_lti_push_sends_later(tool: Tool, platform: Platform, browser: Browser) -> None:
    from grader.cli import app
    from grader.store.lti import LtiStore

    item = platform.add_line_item("course-3", scoreMaximum=MAX_SCORE, label="Service homework", resourceId="svc-hw")
    user = student()
    assert browser.launch(platform, LaunchPlan(user, custom={"assignment": "svc-hw"}, context_id="course-3", lineitem=item)).status_code == 303
    platform.fail_scores = 1000
    report = submit(tool, browser, RIGHT)["report"]  # the submission stands
    assert report["score"] == 3.0
    assert tool.cw.passback().flush(20)
    lti = LtiStore(tool.cw.store)
    mine = [p for p in lti.posts() if p.user_id == user.sub]
    assert [p.state for p in mine] == ["pending"] and mine[0].attempts == 1 and "503" in (mine[0].last_error or "")
    assert platform.scores_for(item) == []
    runner = CliRunner()
    still = runner.invoke(app, ["lti", "push", "--course", str(tool.root), "--db", tool.db])
    assert still.exit_code == 1 and "pending" in still.output
    platform.fail_scores = 0
    sent = runner.invoke(app, ["lti", "push", "--course", str(tool.root), "--db", tool.db])
    assert sent.exit_code == 0, sent.output
    assert "Sent 1 score(s)" in sent.output
    bodies = platform.scores_for(item)
    assert len(bodies) == 1
    check_score(bodies[0], user, 3.0, "PendingManual")
    assert [p.state for p in lti.posts() if p.user_id == user.sub] == ["sent"]


def test_a_platform_that_comes_back_gets_its_pending_score_on_the_services_timer(tool: Tool, platform: Platform, browser: Browser) -> None:
    """No new submission and no `grader lti push`: the service's passback looks for pending
    scores whose time has come and sends them."""
    from sqlalchemy import update

    from grader.lti.keys import tool_key
    from grader.lti.passback import Passback
    from grader.store import db
    from grader.store.lti import LtiStore

    item = platform.add_line_item("course-5", scoreMaximum=MAX_SCORE, label="Service homework", resourceId="svc-hw")
    user = student()
    assert browser.launch(platform, LaunchPlan(user, custom={"assignment": "svc-hw"}, context_id="course-5", lineitem=item)).status_code == 303
    platform.fail_scores = 1000
    submit(tool, browser, RIGHT)
    service_passback = tool.cw.passback()
    assert service_passback.flush(20) and service_passback.retrying  # the timer started with the first score
    lti = LtiStore(tool.cw.store)
    [post] = [p for p in lti.posts() if p.user_id == user.sub]
    assert post.state == "pending" and platform.scores_for(item) == []
    platform.fail_scores = 0
    with tool.cw.store.engine.begin() as conn:  # its retry time has come (30 s after the failure)
        conn.execute(update(db.lti_score_posts).where(db.lti_score_posts.c.id == post.id).values(next_try_at=datetime(2000, 1, 1)))
    # a passback like the service's, on a timer of 0.2 s instead of 30
    timer = Passback(tool.cw.store, lambda: tool_key(LtiStore(tool.cw.store)), view=tool.cw.student_view, background=True, retry_every=0.2)
    try:
        timer.start_retrying()
        platform.wait_scores(1)  # (this test's platform: its first score)
        assert timer.flush(20)
    finally:
        timer.close()
    assert lti.post(post.id).state == "sent"
    bodies = platform.scores_for(item)
    assert len(bodies) == 1
    check_score(bodies[0], user, 3.0, "PendingManual")


def test_grader_manual_sends_the_adjusted_score(tool: Tool, platform: Platform, browser: Browser, tmp_path: Path) -> None:
    from grader.cli import app

    item = platform.add_line_item("course-4", scoreMaximum=MAX_SCORE, label="Service homework", resourceId="svc-hw")
    user = student()
    assert browser.launch(platform, LaunchPlan(user, custom={"assignment": "svc-hw"}, context_id="course-4", lineitem=item)).status_code == 303
    submit(tool, browser, RIGHT)
    platform.wait_scores(1)
    scores = tmp_path / "scores.csv"
    scores.write_text(f"student,part,score,comment\n{user.sourcedid},q3,2,clear\n")
    r = CliRunner().invoke(app, ["manual", "import", str(scores), "--assignment", "svc-hw", "--course", str(tool.root), "--db", tool.db])
    assert r.exit_code == 0, r.output
    assert "Sent 1 score(s) to the LMS" in r.output
    bodies = platform.scores_for(item)
    assert len(bodies) == 2
    check_score(bodies[1], user, 5.0, "FullyGraded")


# -- the admin's side -----------------------------------------------------------------------------------
def test_register_prints_the_tool_configuration(tool: Tool, browser: Browser) -> None:
    from grader.cli import app
    from grader.store.lti import LtiStore

    runner = CliRunner()
    r = runner.invoke(app, [
        "lti", "register", "--course", str(tool.root), "--db", tool.db, "--issuer", "https://canvas.example.edu", "--client-id", "10000000000042",
        "--deployment", "1:abc", "--deployment", "2:def", "--auth-url", "https://canvas.example.edu/api/lti/authorize_redirect",
        "--token-url", "https://canvas.example.edu/login/oauth2/token", "--jwks-url", "https://canvas.example.edu/api/lti/security/jwks", "--url", tool.url,
    ])
    assert r.exit_code == 0, r.output
    config = json.loads(r.stdout)
    assert config["oidc_initiation_url"] == f"{tool.url}/lti/login"
    assert config["target_link_uri"] == f"{tool.url}/lti/launch" and config["redirect_uris"] == [f"{tool.url}/lti/launch"]
    assert config["public_jwk_url"] == f"{tool.url}/lti/jwks"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in config["scopes"]
    served = browser.http.get(f"{tool.url}/lti/jwks").json()["keys"]
    assert served == [config["public_jwk"]] and served[0]["kty"] == "RSA" and "d" not in served[0]  # the public half only
    registered = LtiStore(tool.cw.store).platform("https://canvas.example.edu", "10000000000042")
    assert registered is not None and registered.deployment_ids == ["1:abc", "2:def"]
    alone = runner.invoke(app, ["lti", "config", "--course", str(tool.root), "--db", tool.db])
    assert alone.exit_code == 0 and json.loads(alone.stdout) == config
    assert browser.http.get(f"{tool.url}/lti/config").json() == config
    listed = runner.invoke(app, ["lti", "platforms", "--course", str(tool.root), "--db", tool.db])
    assert "https://canvas.example.edu  client 10000000000042" in listed.output
    bad = runner.invoke(app, ["lti", "register", "--course", str(tool.root), "--db", tool.db, "--issuer", "x", "--client-id", "y", "--deployment", "d",
                              "--auth-url", "ftp://nope", "--token-url", "https://t", "--jwks-url", "https://j"])
    assert bad.exit_code == 2 and "--auth-url must be an http(s) URL" in bad.output
