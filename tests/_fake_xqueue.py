"""A local XQueue for the tests: a real HTTP server on a free port that follows XQueue's pull
interface as openedx/xqueue serves it (written from its views, not copied):

- POST /xqueue/login/ with username and password sets a session cookie; every other view
  without a live session redirects (302) to the login page, as Django's login_required does;
- GET /xqueue/get_queuelen/?queue_name=Q, GET /xqueue/get_submission/?queue_name=Q: the oldest
  submission not retired and not pulled within `timeout` seconds, with a fresh pull key each
  time it is handed out (so one unanswered after `timeout` is served again, with a new key);
- POST /xqueue/put_result/ with xqueue_header (its key checked against the latest pull key)
  and xqueue_body: accepted puts are counted per submission; the submission is retired.

Knobs for faults: `fail_puts` answers the next N puts with HTTP 500; `hold_puts` keeps puts
waiting until `release` is set, then drops them (HTTP 503, not counted) or, with
`accept_held`, takes them as usual; `expire_sessions()` ends every session.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class Queued:
    id: int
    queue: str
    body: str
    files: str = "{}"
    pull_time: float | None = None
    pullkey: str = ""
    retired: bool = False
    pulls: int = 0
    puts: list[dict[str, Any]] = field(default_factory=list)  # accepted replies, decoded


class FakeXQueue:
    def __init__(self, users: dict[str, str] | None = None, queues: tuple[str, ...] = ("test-queue",), timeout: float = 60.0) -> None:
        self.users = users if users is not None else {"grader": "s3cret"}
        self.queues = queues
        self.timeout = timeout
        self.lock = threading.Lock()
        self.submissions: dict[int, Queued] = {}
        self.sessions: set[str] = set()
        self.logins = 0
        self.failed_logins = 0
        self.fail_puts = 0
        self.put_requests = 0
        self.refused_puts: list[tuple[int, str]] = []
        self.hold_puts = threading.Event()
        self.release = threading.Event()
        self.held = 0
        self.most_in_flight = 0  # the most submissions handed out and not yet answered at once
        self.accept_held = False
        self._next = 1
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "FakeXQueue":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    # -- what the LMS does: queue a submission ---------------------------------------------------
    def add(self, response: str, payload: Any, *, student: str | None = "anon-1", submitted: str = "20260101120000", queue: str = "test-queue", body: str | None = None) -> int:
        info = {"submission_time": submitted} | ({"anonymous_student_id": student} if student is not None else {})
        if body is None:
            body = json.dumps(
                {
                    "grader_payload": payload if isinstance(payload, str) else json.dumps(payload),
                    "student_info": json.dumps(info),
                    "student_response": response,
                }
            )
        with self.lock:
            sid = self._next
            self._next += 1
            self.submissions[sid] = Queued(sid, queue, body)
            return sid

    def expire_sessions(self) -> None:
        with self.lock:
            self.sessions.clear()

    def puts(self, sid: int) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.submissions[sid].puts)

    def wait_for(self, check, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if check(self):
                    return True
            time.sleep(0.05)
        return False

    # -- the views -------------------------------------------------------------------------------
    def login(self, form: dict[str, str]) -> tuple[dict[str, Any], str | None]:
        user, password = form.get("username"), form.get("password")
        if user is None or password is None:
            return _reply(False, "Insufficient login info"), None
        if self.users.get(user) != password:
            self.failed_logins += 1
            return _reply(False, "Incorrect login credentials"), None
        token = secrets.token_hex(16)
        self.sessions.add(token)
        self.logins += 1
        return _reply(True, "Logged in"), token

    def queuelen(self, queue: str | None) -> dict[str, Any]:
        if queue not in self.queues:
            return _reply(False, "Valid queue names are: " + ", ".join(self.queues))
        return _reply(True, sum(1 for s in self._available(queue)))

    def get_submission(self, queue: str | None) -> dict[str, Any]:
        if queue is None:
            return _reply(False, "'get_submission' must provide parameter 'queue_name'")
        if queue not in self.queues:
            return _reply(False, f"Queue '{queue}' not found")
        found = next(iter(sorted(self._available(queue), key=lambda s: s.id)), None)
        if found is None:
            return _reply(False, f"Queue '{queue}' is empty")
        found.pull_time = time.monotonic()
        found.pullkey = secrets.token_hex(16)
        found.pulls += 1
        in_flight = sum(1 for s in self.submissions.values() if s.pull_time is not None and not s.retired)
        self.most_in_flight = max(self.most_in_flight, in_flight)
        header = json.dumps({"submission_id": found.id, "submission_key": found.pullkey})
        return _reply(True, json.dumps({"xqueue_header": header, "xqueue_body": found.body, "xqueue_files": found.files}))

    def put_result(self, form: dict[str, str]) -> dict[str, Any]:
        try:
            header = json.loads(form["xqueue_header"])
            body = form["xqueue_body"]
            sid, key = int(header["submission_id"]), header["submission_key"]
        except (KeyError, ValueError, TypeError):
            return _reply(False, "Incorrect reply format")
        found = self.submissions.get(sid)
        if found is None:
            return _reply(False, "Submission does not exist")
        if not found.pullkey or key != found.pullkey:
            self.refused_puts.append((sid, key))
            return _reply(False, "Incorrect key for submission")
        found.puts.append(json.loads(body))
        found.retired = True
        return _reply(True, "")

    def _available(self, queue: str):  # type: ignore[no-untyped-def]
        now = time.monotonic()
        for s in self.submissions.values():
            if s.queue == queue and not s.retired and (s.pull_time is None or now - s.pull_time >= self.timeout):
                yield s


def _reply(ok: bool, content: Any) -> dict[str, Any]:
    return {"return_code": 0 if ok else 1, "content": content}


def _handler(fake: FakeXQueue) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _send(self, status: int, data: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(data).encode() if data is not None else b""
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _form(self) -> dict[str, str]:
            length = int(self.headers.get("Content-Length") or 0)
            parsed = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
            return {k: v[-1] for k, v in parsed.items()}

        def _session(self) -> bool:
            cookies = self.headers.get("Cookie") or ""
            tokens = {c.split("=", 1)[1] for c in (p.strip() for p in cookies.split(";")) if c.startswith("sessionid=")}
            return bool(tokens & fake.sessions)

        def _login_redirect(self) -> None:
            self._send(302, None, {"Location": f"/xqueue/login/?next={self.path}"})

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            with fake.lock:
                if url.path == "/xqueue/login/":
                    return self._send(200, _reply(False, "login_required"))
                if not self._session():
                    return self._login_redirect()
                if url.path == "/xqueue/get_queuelen/":
                    return self._send(200, fake.queuelen(query.get("queue_name")))
                if url.path == "/xqueue/get_submission/":
                    return self._send(200, fake.get_submission(query.get("queue_name")))
            self._send(404, {"detail": "not found"})

        def do_POST(self) -> None:
            url = urlparse(self.path)
            form = self._form()
            if url.path == "/xqueue/login/":
                with fake.lock:
                    data, token = fake.login(form)
                return self._send(200, data, {"Set-Cookie": f"sessionid={token}; Path=/; HttpOnly"} if token else None)
            if url.path != "/xqueue/put_result/":
                return self._send(404, {"detail": "not found"})
            with fake.lock:
                if not self._session():
                    return self._login_redirect()
                fake.put_requests += 1
                if fake.fail_puts > 0:
                    fake.fail_puts -= 1
                    return self._send(500, {"detail": "injected failure"})
                holding = fake.hold_puts.is_set()
                if holding:
                    fake.held += 1
            if holding:
                fake.release.wait(30)
                if not fake.accept_held:  # never answered in time, never counted
                    return self._send(503, {"detail": "held"})
            with fake.lock:
                return self._send(200, fake.put_result(form))

    return Handler
