"""An HTTP client for XQueue's pull interface: log in, count a queue, pull one submission, put
one result (openedx/xqueue: /xqueue/login/, get_queuelen/, get_submission/, put_result/).

httpx keeps the session cookie XQueue's login sets. A request that meets the login page (a
redirect, 401 or 403: the session expired) logs in again once and is repeated. Network errors
and server errors (5xx) are retried with exponential backoff, a bounded number of times; a
stop request (SIGTERM) ends the waiting between tries, never a request under way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from grader.xqueue.protocol import Answer, Malformed, Pulled, Result, answer, pulled, result_form


class XQueueError(Exception):
    """Something XQueue (or the way to it) did; the text says what."""


class LoginRefused(XQueueError):
    """XQueue refused the credentials."""


class Unreachable(XQueueError):
    """No usable answer after every retry (network down, XQueue failing, or stopping)."""


class Refused(XQueueError):
    """XQueue answered return_code 1 (its message is the text)."""


class UnknownQueue(XQueueError):
    """The queue is not one XQueue serves."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never print the password
        return f"Credentials(username={self.username!r})"


@dataclass(frozen=True)
class Retry:
    """How often and how long to retry a request that failed on the way: `tries` in all,
    waiting `first` seconds after the first failure, doubling up to `longest`."""

    tries: int = 6
    first: float = 0.5
    longest: float = 8.0

    def waits(self) -> list[float]:
        return [min(self.longest, self.first * 2**i) for i in range(max(0, self.tries - 1))]


def base_url(url: str) -> str:
    """The server's address: `https://xqueue.example.org` (a trailing /xqueue or / is dropped)."""
    url = url.strip().rstrip("/")
    return url.removesuffix("/xqueue")


class XQueueClient:
    def __init__(
        self,
        url: str,
        credentials: Credentials,
        *,
        timeout: float = 30.0,
        retry: Retry = Retry(),
        stopping: threading.Event | None = None,
        log: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.url = base_url(url)
        self.credentials = credentials
        self.retry = retry
        self.stopping = stopping or threading.Event()
        self.log = log
        # redirects are not followed: a redirect to the login page means the session expired
        self.http = httpx.Client(base_url=self.url, timeout=timeout, follow_redirects=False)
        self._login_lock = threading.Lock()  # pullers on several threads share one session
        self._session = 0  # counts logins: a thread that saw the old session ended logs in once

    def close(self) -> None:
        self.http.close()

    # -- the interface ---------------------------------------------------------------------------
    def login(self) -> None:
        """Log in (a fresh session); `LoginRefused` with XQueue's reason if the credentials fail."""
        with self._login_lock:
            self._login()

    def _login(self) -> None:
        self.http.cookies.clear()
        got = self._send("POST", "/xqueue/login/", data={"username": self.credentials.username, "password": self.credentials.password})
        if got.status_code != 200:
            raise LoginRefused(f"XQueue at {self.url} answered the login with HTTP {got.status_code}")
        reply = self._answer(got)
        if not reply.ok:
            raise LoginRefused(f"XQueue at {self.url} refused the login of user {self.credentials.username!r}: {_text(reply.content)}")
        self._session += 1

    def queue_length(self, queue: str) -> int:
        reply = self._call("GET", "/xqueue/get_queuelen/", params={"queue_name": queue})
        if not reply.ok:
            raise UnknownQueue(f"XQueue at {self.url} has no queue {queue!r}: {_text(reply.content)}")
        try:
            return int(reply.content)
        except (TypeError, ValueError):
            raise XQueueError(f"XQueue's queue length is not a number: {_text(reply.content)}") from None

    def get_submission(self, queue: str) -> Pulled | None:
        """The next submission of `queue`, or None when it is empty. `Malformed` for a
        submission whose header cannot be read (it cannot be answered)."""
        reply = self._call("GET", "/xqueue/get_submission/", params={"queue_name": queue})
        if reply.ok:
            return pulled(reply.content)
        message = _text(reply.content)
        if message.endswith("is empty"):
            return None
        if "not found" in message:
            raise UnknownQueue(f"XQueue at {self.url} has no queue {queue!r}: {message}")
        raise Refused(message)

    def put_result(self, header: str, result: Result) -> None:
        """Post a result; `Refused` if XQueue does not take it (a stale key: it was served again)."""
        reply = self._call("POST", "/xqueue/put_result/", data=result_form(header, result))
        if not reply.ok:
            raise Refused(_text(reply.content))

    # -- requests --------------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> Answer:
        """One request of the interface: logged in again once if the session is gone."""
        for relogin in (True, False):
            session = self._session
            got = self._send(method, path, **kwargs)
            if got.status_code in (301, 302, 303, 307, 308, 401, 403) and relogin:
                with self._login_lock:
                    if self._session == session:  # not already renewed by another thread
                        self.log(f"XQueue session ended (HTTP {got.status_code}); logging in again")
                        self._login()
                continue
            if got.status_code != 200:
                raise XQueueError(f"XQueue answered {method} {path} with HTTP {got.status_code}")
            return self._answer(got)
        raise XQueueError(f"XQueue sends {path} to its login page even after a fresh login")

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The request, retried with backoff while the network or the server (5xx) fails."""
        waits = self.retry.waits()
        for attempt in range(len(waits) + 1):
            try:
                got = self.http.request(method, path, **kwargs)
                if got.status_code < 500:
                    return got
                problem = f"HTTP {got.status_code}"
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt == len(waits):
                break
            self.log(f"XQueue {method} {path} failed ({problem}); retrying in {waits[attempt]:g} s")
            if self.stopping.wait(waits[attempt]):
                raise Unreachable(f"stopped while retrying {method} {path} ({problem})")
        raise Unreachable(f"XQueue at {self.url}: {method} {path} failed {len(waits) + 1} times (last: {problem})")

    def _answer(self, got: httpx.Response) -> Answer:
        try:
            return answer(got.json())
        except (ValueError, Malformed):
            raise XQueueError(f"XQueue's answer to {got.request.url.path} is not XQueue JSON: {got.text[:200]!r}") from None


def _text(content: Any) -> str:
    return " ".join(str(content).split())[:500]
