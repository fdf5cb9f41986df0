"""`grader xqueue` against a local XQueue (tests/_fake_xqueue.py: a real HTTP server that
follows XQueue's pull protocol): replies for right, wrong, unreadable and hostile answers, the
feedback policy in `msg`, the student from edX's anonymous id, and the journal's promises —
killed (SIGKILL, a real subprocess) between grading and posting, a restart posts once; a
submission XQueue serves again is not graded or posted twice; failed puts are retried; an
expired session logs in again; SIGTERM lets the post under way finish. On SQLite and on the
machine's PostgreSQL. Expected scores are worked out here from the problem's numbers."""

from __future__ import annotations

import json
import re
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from _fake_xqueue import FakeXQueue
from _store_fixtures import pg_url, store_url  # noqa: F401 (fixtures: SQLite, and a fresh PostgreSQL database)

from grader.course import load_course
from grader.service.courseware import Courseware
from grader.store.service import ServiceStore
from grader.store.xqueue import XQueueJournal
from grader.xqueue.client import Credentials, Retry, XQueueClient
from grader.xqueue.puller import Puller

PROBLEMS = '''
from grader.kinds import Expr, Int, Vector
from grader.problemset import ProblemSet
from grader.sampling import Count

hw = ProblemSet("xq-hw", title="XQueue homework")


@hw.part("q1", 2, Int(), prompt="How many parameters has a layer of 73 x 1007 weights plus 8 biases?")
def q1():
    return 73 * 1007 + 8


@q1.mistake("forgot the biases", marks=1)
def _():
    return 73 * 1007


@hw.part("q2", 1, Vector(3), prompt="The vector.")
def q2():
    return [3.25, 4.5, 6.75]


@hw.part("q3", 1, Expr({"V": Count(1, 5000)}), prompt="Parameters of a width-3 filter over V channels, with its bias.")
def q3(V):
    return 3 * V + 1
'''

COURSE = '''
[course]
title = "XQueue test course"
secret = "course.secret"

# due in the future: the default policy shows verdicts and named mistakes, never the reference
[assignments.xq-hw]
due = 2999-01-01T00:00:00Z

# long past due: the reference is shown (no late penalty, so scores compare)
[assignments.xq-open]
problem_set = "xq-hw"
due = 2001-01-01T00:00:00Z
late = { per_day = 0.0, cutoff_days = 1000000 }
'''

Q1 = 73 * 1007 + 8  # 73519: the reference
Q1_MISTAKE = 73 * 1007  # 73511: the named mistake, 1 of 2 marks
Q2 = "3.25 4.5 6.75"
Q3 = "3V + 1"
RIGHT = f'[answers]\nq1 = "{Q1}"\nq2 = "{Q2}"\nq3 = "{Q3}"\n'
QUEUE = "test-queue"
USER, PASSWORD = "grader", "s3cret"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import build_keys_without_torch

    root = tmp_path_factory.mktemp("xq-course")
    (root / "problems").mkdir()
    (root / "problems" / "xq_hw.py").write_text(textwrap.dedent(PROBLEMS))
    (root / "grader.toml").write_text(textwrap.dedent(COURSE))
    build_keys_without_torch(root / "problems", root / "reference")
    return root


@pytest.fixture
def fake() -> Iterator[FakeXQueue]:
    with FakeXQueue(users={USER: PASSWORD}, queues=(QUEUE,)) as server:
        yield server


@pytest.fixture
def db(course_dir: Path) -> str:
    return str(course_dir / f"store-{uuid.uuid4().hex[:8]}.sqlite")


FAST = Retry(tries=3, first=0.05, longest=0.1)


class Client:
    """A puller in this process (the engine graded here, no pool: fast), over one store."""

    def __init__(self, course_dir: Path, url: str, db: str, *, retry: Retry = FAST, budget: float | None = None, workers: int = 1) -> None:
        self.lines: list[str] = []
        self.cw = Courseware(load_course(course_dir), db, budget=budget, workers=workers)
        self.client = XQueueClient(url, Credentials(USER, PASSWORD), retry=retry, log=self.lines.append)
        self.puller = Puller(self.cw, self.client, QUEUE, poll=0.05, parallel=workers, log=self.lines.append)

    def drain(self) -> None:
        self.puller.start()
        self.puller.run(once=True)

    def close(self) -> None:
        self.client.close()
        self.cw.close()


@pytest.fixture
def client(course_dir: Path, fake: FakeXQueue, db: str) -> Iterator[Client]:
    c = Client(course_dir, fake.url, db)
    yield c
    c.close()


def one_reply(fake: FakeXQueue, sid: int) -> dict:
    puts = fake.puts(sid)
    assert len(puts) == 1, puts
    return puts[0]


# -- replies ---------------------------------------------------------------------------------------
def test_right_wrong_mistaken_and_unreadable_answers_get_their_replies(fake: FakeXQueue, client: Client) -> None:
    right = fake.add(RIGHT, {"assignment": "xq-hw"}, student="anon-right")
    wrong = fake.add(f'[answers]\nq1 = "5"\nq2 = "{Q2}"\n', {"assignment": "xq-hw"}, student="anon-wrong")
    mistake = fake.add(json.dumps({"q1": str(Q1_MISTAKE)}), {"assignment": "xq-hw", "parts": ["q1"]}, student="anon-mistake")
    invalid = fake.add('[answers]\nq1 = "seven"\nq2 = "one two three"\n', {"assignment": "xq-hw"}, student="anon-invalid")
    unreadable = fake.add("q1 = [[[", {"assignment": "xq-hw"}, student="anon-unreadable")
    typed = fake.add(str(Q1), {"assignment": "xq-hw", "part": "q1", "points": 4}, student="anon-typed")
    client.drain()

    got = one_reply(fake, right)
    assert got["correct"] is True and got["score"] == 1.0 and "Score: 4 / 4" in got["msg"]
    got = one_reply(fake, wrong)  # q2 right (1 mark of 4): a fraction, as edX's 1-point response takes it
    assert got["correct"] is False and got["score"] == 0.25
    got = one_reply(fake, mistake)  # only q1 is scored: the named mistake's 1 of 2 marks
    assert got["correct"] is False and got["score"] == 0.5 and "forgot the biases" in got["msg"]
    got = one_reply(fake, invalid)  # invalid is not wrong: the message says what could not be read
    assert got["correct"] is False and got["score"] == 0.0
    assert got["msg"].count("(invalid)") == 2 and "seven" in got["msg"]
    got = one_reply(fake, unreadable)
    assert got["correct"] is False and got["score"] == 0.0
    assert "could not be read" in got["msg"] and "invalid TOML" in got["msg"] and "[answers]" in got["msg"]
    got = one_reply(fake, typed)  # the part's answer as typed, worth the payload's 4 points
    assert got["correct"] is True and got["score"] == 4.0
    # every submission graded once, answered once
    entries = XQueueJournal(client.cw.store, client.client.url, QUEUE).entries()
    assert [e.state for e in entries] == ["posted"] * 6
    assert fake.put_requests == 6


def test_the_message_never_shows_the_key_under_a_hiding_policy(fake: FakeXQueue, client: Client) -> None:
    answer = '[answers]\nq1 = "5"\nq2 = "1 2 3"\nq3 = "3V + 2"\n'
    hidden = fake.add(answer, {"assignment": "xq-hw"}, student="anon-a")  # before the due date: mistakes level
    shown = fake.add(answer, {"assignment": "xq-open"}, student="anon-a")  # after it: the reference level
    client.drain()
    hiding, revealing = one_reply(fake, hidden)["msg"], one_reply(fake, shown)["msg"]
    for reference in (str(Q1), "73,519", "3.25", "6.75"):
        assert reference not in hiding
    assert "(incorrect)" in hiding and "which is not the right value" in hiding  # where, not what
    assert "The right value there is" not in hiding
    # the same answers after the due date do show the reference: the check above can fail
    assert "The right value there is" in revealing


def test_student_text_is_escaped_in_the_message(fake: FakeXQueue, client: Client) -> None:
    sid = fake.add('[answers]\nq1 = "<script>alert(1)</script>"\n', {"assignment": "xq-hw"})
    client.drain()
    msg = one_reply(fake, sid)["msg"]
    assert "<script>" not in msg and "&lt;script&gt;" in msg


def test_the_student_is_edx_anonymous_id_and_the_grade_is_in_the_store(fake: FakeXQueue, course_dir: Path, store_url: str) -> None:
    sid = fake.add(f'student = "someone-else"\nassignment = "xq-open"\n{RIGHT}', {"assignment": "xq-hw"}, student="anon-77")
    client = Client(course_dir, fake.url, store_url)
    try:
        client.drain()
        assert one_reply(fake, sid)["correct"] is True
        recorded = ServiceStore(client.cw.store).submissions("xq-hw")
        assert [(s.student, s.report.score) for s in recorded] == [("anon-77", 4.0)]
        assert recorded[0].report.source == f"xqueue:{QUEUE}/{sid}"
        assert any("someone-else" in w for w in recorded[0].report.warnings)
        # staff views and exports read the latest reports: this grade is among them
        assert [(r.student, r.score) for r in client.cw.store.latest_reports("xq-hw")] == [("anon-77", 4.0)]
    finally:
        client.close()


def test_parts_graded_one_by_one_add_up_in_the_store(fake: FakeXQueue, client: Client) -> None:
    first = fake.add(str(Q1), {"assignment": "xq-hw", "part": "q1"}, student="anon-p")
    second = fake.add(Q2, {"assignment": "xq-hw", "part": "q2"}, student="anon-p")
    client.drain()
    assert one_reply(fake, first)["score"] == 1.0 and one_reply(fake, second)["score"] == 1.0
    latest = client.cw.store.latest_reports("xq-hw")
    assert [(r.student, r.score, r.max_score) for r in latest] == [("anon-p", 3.0, 4.0)]  # q3 not yet answered


def test_a_body_that_is_not_the_protocol_is_answered_not_crashed_on(fake: FakeXQueue, client: Client) -> None:
    broken = fake.add("", None, body="{not json")
    anonymous = fake.add(RIGHT, {"assignment": "xq-hw"}, student=None)
    unknown = fake.add(RIGHT, {"assignment": "no-such-hw"})
    after = fake.add(RIGHT, {"assignment": "xq-hw"}, student="anon-after")
    client.drain()
    assert "could not be read" in one_reply(fake, broken)["msg"]
    assert "anonymous_student_id" in one_reply(fake, anonymous)["msg"]
    got = one_reply(fake, unknown)
    assert got["score"] == 0.0 and "not set up for the grader" in got["msg"] and "no-such-hw" in got["msg"]
    assert one_reply(fake, after)["correct"] is True
    assert [s.student for s in ServiceStore(client.cw.store).submissions()] == ["anon-after"]


def test_hostile_answers_cost_their_part_never_the_client(fake: FakeXQueue, course_dir: Path, db: str) -> None:
    """Through the grading pool with its budget, as `grader xqueue` grades."""
    bomb = "a: &a [" + ",".join(["x"] * 50) + "]\n" + "".join(f"{c}: &{c} [" + ",".join([f"*{p}"] * 50) + "]\n" for p, c in zip("abcdefg", "bcdefgh"))
    huge = fake.add("x" * (3 * 1024 * 1024), {"assignment": "xq-hw"}, student="anon-huge")
    alias = fake.add(bomb, {"assignment": "xq-hw", "format": "yaml"}, student="anon-bomb")
    deep = fake.add("(" * 100_000 + "1", {"assignment": "xq-hw", "part": "q1"}, student="anon-deep")
    after = fake.add(RIGHT, {"assignment": "xq-hw"}, student="anon-after")
    c = Client(course_dir, fake.url, db, budget=2.0)
    try:
        started = time.monotonic()
        c.drain()
        assert time.monotonic() - started < 60
    finally:
        c.close()
    for sid in (huge, alias):
        got = one_reply(fake, sid)
        assert got["score"] == 0.0 and "could not be read" in got["msg"]
    got = one_reply(fake, deep)
    assert got["score"] == 0.0 and "(invalid)" in got["msg"]
    assert one_reply(fake, after)["correct"] is True


def test_with_two_workers_two_are_graded_at_once_and_each_answered_once(fake: FakeXQueue, course_dir: Path, store_url: str) -> None:
    answers = [RIGHT, '[answers]\nq1 = "5"\n', f'[answers]\nq1 = "{Q1_MISTAKE}"\n'] * 4
    sids = [fake.add(text, {"assignment": "xq-hw"}, student=f"anon-{i}") for i, text in enumerate(answers)]
    c = Client(course_dir, fake.url, store_url, budget=2.0, workers=2)
    try:
        c.puller.start()
        fake.expire_sessions()  # both threads meet the login page: one logs in again for both
        c.puller.run(once=True)
        assert fake.logins == 2
        assert [e.state for e in c.puller.journal.entries()] == ["posted"] * len(sids)
        assert len(ServiceStore(c.cw.store).submissions()) == len(sids)
    finally:
        c.close()
    scores = [one_reply(fake, sid)["score"] for sid in sids]
    assert scores == [1.0, 0.0, 0.25] * 4  # q1's mistake: 1 of 4 marks
    assert fake.most_in_flight == 2  # two handed out and not yet answered, at one moment


# -- the journal: restarts, re-serves, retries ----------------------------------------------------
def test_a_submission_served_again_is_answered_from_the_journal(fake: FakeXQueue, course_dir: Path, store_url: str) -> None:
    fake.timeout = 2.0
    sid = fake.add(RIGHT, {"assignment": "xq-hw"}, student="anon-s")
    fake.fail_puts = FAST.tries  # every try of the first post fails
    c = Client(course_dir, fake.url, store_url)
    try:
        c.drain()
        journal = XQueueJournal(c.cw.store, c.client.url, QUEUE)
        assert fake.puts(sid) == [] and journal.entry(str(sid)).state == "graded"
        assert fake.wait_for(lambda f: f.submissions[sid].pull_time is not None and time.monotonic() - f.submissions[sid].pull_time > f.timeout, 10)
        c.puller.run(once=True)  # XQueue serves it again, with a new key
        entry = journal.entry(str(sid))
        assert entry.state == "posted" and entry.served == 2 and entry.grade_attempts == 1
    finally:
        c.close()
    assert one_reply(fake, sid)["correct"] is True
    assert fake.submissions[sid].pulls == 2 and fake.refused_puts == []
    with Courseware(load_course(course_dir), store_url, budget=None).store as store:
        assert len(ServiceStore(store).submissions()) == 1


def test_a_failed_put_is_retried(fake: FakeXQueue, course_dir: Path, store_url: str) -> None:
    sid = fake.add(RIGHT, {"assignment": "xq-hw"})
    fake.fail_puts = FAST.tries - 1
    client = Client(course_dir, fake.url, store_url)
    try:
        client.drain()
        assert one_reply(fake, sid)["correct"] is True
        assert fake.put_requests == FAST.tries
        assert any("retrying" in line for line in client.lines)
    finally:
        client.close()


def test_an_expired_session_logs_in_again(fake: FakeXQueue, client: Client) -> None:
    first = fake.add(RIGHT, {"assignment": "xq-hw"}, student="anon-1")
    client.drain()
    fake.expire_sessions()
    second = fake.add(RIGHT, {"assignment": "xq-hw"}, student="anon-2")
    client.puller.run(once=True)
    assert one_reply(fake, first)["correct"] and one_reply(fake, second)["correct"]
    assert fake.logins == 2


def test_a_restart_posts_what_was_graded_and_grades_what_was_pulled(fake: FakeXQueue, course_dir: Path, store_url: str) -> None:
    graded = fake.add(RIGHT, {"assignment": "xq-hw"}, student="anon-g")
    fake.fail_puts = 1_000  # XQueue down for posts: the reply stays in the journal
    c = Client(course_dir, fake.url, store_url)
    try:
        c.drain()
        journal = XQueueJournal(c.cw.store, c.client.url, QUEUE)
        # a second submission pulled but never graded (as if the client died grading it)
        pulled = fake.add(RIGHT, {"assignment": "xq-hw"}, student="anon-p")
        got = c.client.get_submission(QUEUE)
        journal.pulled(got.submission_id, got.header, got.body)
    finally:
        c.close()
    fake.fail_puts = 0
    assert fake.puts(graded) == [] and fake.puts(pulled) == []
    again = Client(course_dir, fake.url, store_url)
    try:
        again.puller.start()  # resuming: posts the graded one, grades and posts the pulled one
    finally:
        again.close()
    assert one_reply(fake, graded)["correct"] and one_reply(fake, pulled)["correct"]
    with Courseware(load_course(course_dir), store_url, budget=None).store as store:
        assert sorted(s.student for s in ServiceStore(store).submissions()) == ["anon-g", "anon-p"]


# -- the command, as a process ---------------------------------------------------------------------
def _env(tmp: Path | None = None, password: str = PASSWORD) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env.update({"GRADER_XQUEUE_USERNAME": USER, "GRADER_XQUEUE_PASSWORD": password, "PYTHONUNBUFFERED": "1"})
    return env


def _command(fake: FakeXQueue, course_dir: Path, db: str, *extra: str, queue: str = QUEUE) -> list[str]:
    return [sys.executable, "-m", "grader", "xqueue", "--url", fake.url, "--queue", queue, "--course", str(course_dir), "--db", db, "--poll", "0.1", *extra]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=30)


def test_killed_between_grading_and_posting_it_posts_once_after_restart(fake: FakeXQueue, course_dir: Path, db: str) -> None:
    sid = fake.add(RIGHT, {"assignment": "xq-hw"}, student="anon-k")
    fake.hold_puts.set()  # the first post never gets its answer
    proc = subprocess.Popen(_command(fake, course_dir, db), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert fake.wait_for(lambda f: f.held >= 1, 120), "the client never posted"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        _stop(proc)
    fake.release.set()  # the held post is dropped: XQueue never took it
    fake.hold_puts.clear()
    with Courseware(load_course(course_dir), db, budget=None).store as store:
        entry = XQueueJournal(store, fake.url, QUEUE).entry(str(sid))
        assert entry.state == "graded" and entry.grade_attempts == 1 and fake.puts(sid) == []
    done = subprocess.run(_command(fake, course_dir, db, "--once"), env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "graded before a restart" in done.stderr
    assert one_reply(fake, sid)["correct"] is True
    with Courseware(load_course(course_dir), db, budget=None).store as store:
        entry = XQueueJournal(store, fake.url, QUEUE).entry(str(sid))
        assert entry.state == "posted" and entry.grade_attempts == 1  # graded once, before the kill
        assert len(ServiceStore(store).submissions()) == 1


def test_sigterm_lets_the_post_under_way_finish(fake: FakeXQueue, course_dir: Path, db: str) -> None:
    sid = fake.add(RIGHT, {"assignment": "xq-hw"}, student="anon-t")
    fake.hold_puts.set()
    fake.accept_held = True
    proc = subprocess.Popen(_command(fake, course_dir, db), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert fake.wait_for(lambda f: f.held >= 1, 120), "the client never posted"
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert proc.poll() is None  # still waiting for its post's answer
        fake.release.set()
        _out, err = proc.communicate(timeout=60)
    finally:
        _stop(proc)
    assert proc.returncode == 0, err
    assert "SIGTERM" in err and "reply posted" in err and err.rstrip().endswith("stopped")
    assert one_reply(fake, sid)["correct"] is True
    with Courseware(load_course(course_dir), db, budget=None).store as store:
        assert XQueueJournal(store, fake.url, QUEUE).entry(str(sid)).state == "posted"


def test_login_failure_and_other_operator_errors_say_what_to_fix(fake: FakeXQueue, course_dir: Path, db: str, tmp_path: Path) -> None:
    wrong = subprocess.run(_command(fake, course_dir, db, "--once"), env=_env(password="nope"), capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 2
    assert f"refused the login of user '{USER}': Incorrect login credentials" in wrong.stderr and "nope" not in wrong.stderr
    env = _env()
    del env["GRADER_XQUEUE_PASSWORD"]
    missing = subprocess.run(_command(fake, course_dir, db, "--once"), env=env, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "GRADER_XQUEUE_PASSWORD" in missing.stderr
    unknown = subprocess.run(_command(fake, course_dir, db, "--once", queue="other"), env=_env(), capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2 and "no queue 'other'" in unknown.stderr
    # credentials from a file (never on the command line)
    secrets = tmp_path / "xqueue.toml"
    secrets.write_text(f'username = "{USER}"\npassword = "{PASSWORD}"\n')
    secrets.chmod(0o600)
    sid = fake.add(RIGHT, {"assignment": "xq-hw"})
    ok = subprocess.run(_command(fake, course_dir, db, "--once", "--credentials", str(secrets)), env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert one_reply(fake, sid)["correct"] is True


def test_an_unreachable_xqueue_is_exit_code_1_after_bounded_retries(course_dir: Path, db: str) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "grader", "xqueue", "--url", f"http://127.0.0.1:{port}", "--queue", QUEUE, "--course", str(course_dir), "--db", db, "--once", "--retries", "2"]
    started = time.monotonic()
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "failed 2 times" in done.stderr
    assert time.monotonic() - started < 60


def test_a_submission_whose_grading_keeps_stopping_the_client_is_answered_not_graded_for_ever(fake: FakeXQueue, client: Client) -> None:
    sid = fake.add(RIGHT, {"assignment": "xq-hw"}, student="anon-crash")
    got = client.client
    got.login()
    pulled = got.get_submission(QUEUE)
    journal = client.puller.journal
    journal.pulled(pulled.submission_id, pulled.header, pulled.body)
    for _ in range(3):  # three gradings that never finished (the client died in each)
        journal.grading(pulled.submission_id, "anon-crash", "xq-hw")
    client.puller.resume()
    reply = one_reply(fake, sid)
    assert reply["score"] == 0.0 and reply["correct"] is False and "could not be graded" in reply["msg"]
    assert ServiceStore(client.cw.store).submissions() == []  # nothing credited, nothing recorded


def test_code_that_never_ends_costs_its_part_and_the_client_goes_on(fake: FakeXQueue, tmp_path: Path) -> None:
    """A code part through the pool's sandbox with the CLI's budget: a loop for ever is stopped
    at the budget, that part earns nothing, and the next submission is graded as usual."""
    from _service_fixtures import demo_sections, make_code_course

    root = make_code_course(tmp_path / "code-course")
    payload = {"assignment": "nyu-dl-hw2-code", "part": "2.1.forward"}
    right = demo_sections("c6001")["2.1.forward"]
    loop = fake.add("import torch\n\ndef conv1d(x, W):\n    while True:\n        pass\n", payload, student="anon-loop")
    after = fake.add(right, payload, student="anon-right")
    c = Client(root, fake.url, str(tmp_path / "code.sqlite"), budget=2.0)
    try:
        started = time.monotonic()
        c.drain()
        assert time.monotonic() - started < 120
    finally:
        c.close()
    got = one_reply(fake, loop)
    assert got["correct"] is False and got["score"] == 0.0
    assert "2.1.forward" in got["msg"] and "(incorrect)" in got["msg"] and "was stopped" in got["msg"]
    assert one_reply(fake, after) == {**one_reply(fake, after), "correct": True, "score": 1.0}


@pytest.mark.parametrize(
    ("payload", "told"),
    [
        ('{"assignment": "xq-hw", "parts": []}', "'parts' is empty"),
        ('{"assignment": "xq-hw", "part": "q9"}', "parts ['q9']"),
        ('{"assignment": "xq-hw", "part": "q1", "parts": ["q2"]}', "both 'part' and 'parts'"),
        ('{"assignment": "xq-hw", "points": -1}', "positive number"),
        ('{"assignment": "xq-hw", "format": "xml"}', "not of the form"),
        ('{"assignment": ', "not of the form"),
        ("csc999", "assignment 'csc999'"),
    ],
)
def test_a_payload_the_course_cannot_grade_is_told_to_the_course_team(payload: str, told: str) -> None:
    from grader.xqueue.answers import read_payload
    from grader.xqueue.protocol import Malformed

    with pytest.raises(Malformed, match=re.escape(told)):
        read_payload(payload, {"xq-hw": ["q1", "q2", "q3"]})
    assert read_payload("xq-hw", {"xq-hw": ["q1"]}).assignment == "xq-hw"  # a bare id is the assignment


def test_student_info_is_read_as_edx_sends_it() -> None:
    from datetime import datetime, timezone

    from grader.xqueue.protocol import handed

    body = {"student_response": "1", "grader_payload": "xq-hw", "student_info": json.dumps({"anonymous_student_id": " a1b2 ", "submission_time": "20260315093000"})}
    found = handed(json.dumps(body))
    assert (found.student, found.submitted_at) == ("a1b2", datetime(2026, 3, 15, 9, 30, tzinfo=timezone.utc))
    body["student_info"] = {"anonymous_student_id": "x" * 201, "submission_time": "yesterday"}  # an object, too long, no time
    found = handed(json.dumps(body))
    assert (found.student, found.submitted_at) == (None, None)
