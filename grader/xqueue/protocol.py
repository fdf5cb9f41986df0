"""The XQueue pull protocol's messages (openedx/xqueue, its external grader interface).

Every answer of XQueue is JSON `{"return_code": 0 | 1, "content": ...}` (0: success). A
submission from `get_submission` is `content` as a JSON string of

    {"xqueue_header": "<JSON: {submission_id, submission_key}>",
     "xqueue_body":   "<JSON: {student_response, grader_payload, student_info}>",
     "xqueue_files":  "<JSON: {name: url}>"}

where `student_info` is itself a JSON string `{anonymous_student_id, submission_time}`
(submission_time as `%Y%m%d%H%M%S`, UTC) and `grader_payload` is the problem's
`<grader_payload>` text. A result goes back to `put_result` as a form with `xqueue_header` (as
pulled: XQueue checks its key) and `xqueue_body`, a JSON string `{correct, score, msg}`.

Nothing here trusts the body: every field is type-checked and bounded, and a malformed one is
a `Malformed` with a message (answered as such, never a crash).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel

#: XQueue's own limits: the header is a 1024-character column; a body larger than this is not a
#: homework answer (the answer file reader's own bound is 2 MB). A larger one is still read far
#: enough to be answered (up to MAX_PULLED_CHARS), then answered as too large.
MAX_HEADER_CHARS = 1024
MAX_BODY_CHARS = 4 * 1024 * 1024
MAX_PULLED_CHARS = 64 * 1024 * 1024
MAX_ID_CHARS = 200
SUBMISSION_TIME_FORMAT = "%Y%m%d%H%M%S"


class Malformed(ValueError):
    """A message that does not follow the protocol (its text says what is wrong)."""


class Answer(BaseModel):
    """XQueue's envelope: success and its content (a message, a number or a JSON string)."""

    ok: bool
    content: Any


class Pulled(BaseModel):
    """A submission as `get_submission` handed it out: the raw header (posted back as it came)
    and the raw body (journaled as it came), with the header's two fields read."""

    header: str
    body: str
    submission_id: str
    submission_key: str


class Handed(BaseModel):
    """What the body says, read and bounded: who handed it in (edX's anonymous id), when, the
    problem's grader payload and the student's response."""

    student: str | None
    submitted_at: datetime | None
    grader_payload: str
    response: str


class Result(BaseModel):
    """The reply edX's CodeResponse reads: `score` is points (a response is worth 1 point
    unless its input says `points="N"`), `correct` the verdict, `msg` HTML shown to the student."""

    correct: bool
    score: float
    msg: str


def answer(data: Any) -> Answer:
    """XQueue's envelope from a decoded JSON answer."""
    if not isinstance(data, dict) or "return_code" not in data:
        raise Malformed("not an XQueue answer (no return_code)")
    return Answer(ok=data["return_code"] == 0, content=data.get("content"))


def pulled(content: Any) -> Pulled:
    """A submission from `get_submission`'s content."""
    outer = _json_object(content, "the submission", MAX_PULLED_CHARS)
    header, body = outer.get("xqueue_header"), outer.get("xqueue_body")
    if not isinstance(header, str) or not isinstance(body, str):
        raise Malformed("the submission has no xqueue_header or xqueue_body string")
    fields = _json_object(header, "xqueue_header", MAX_HEADER_CHARS)
    sid, key = fields.get("submission_id"), fields.get("submission_key")
    if isinstance(sid, bool) or not isinstance(sid, (int, str)) or not isinstance(key, str) or not str(sid).strip() or len(str(sid)) > 64:
        raise Malformed("xqueue_header lacks a submission_id and submission_key")
    return Pulled(header=header, body=body[: MAX_BODY_CHARS + 1], submission_id=str(sid).strip(), submission_key=key)


def handed(body: str) -> Handed:
    """The body's fields (student_info and grader_payload may be JSON strings or objects)."""
    fields = _json_object(body, "xqueue_body", MAX_BODY_CHARS)
    response = fields.get("student_response")
    if response is None:
        response = ""
    if not isinstance(response, str):
        raise Malformed("student_response is not text")
    payload = fields.get("grader_payload")
    if isinstance(payload, (dict, list)):
        payload = json.dumps(payload)
    if not isinstance(payload, str):
        raise Malformed("the problem's grader_payload is missing")
    info = fields.get("student_info")
    if isinstance(info, str):
        try:
            info = json.loads(info)
        except ValueError:
            info = None
    info = info if isinstance(info, dict) else {}
    student = info.get("anonymous_student_id")
    student = student.strip() if isinstance(student, str) and 0 < len(student.strip()) <= MAX_ID_CHARS else None
    return Handed(student=student, submitted_at=_submission_time(info.get("submission_time")), grader_payload=payload, response=response)


def result_form(header: str, result: Result) -> dict[str, str]:
    """The form `put_result` takes: the header as pulled, the result as a JSON string."""
    return {"xqueue_header": header, "xqueue_body": result.model_dump_json()}


def _submission_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or len(raw) > 40:
        return None
    try:
        return datetime.strptime(raw.strip(), SUBMISSION_TIME_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _json_object(text: Any, what: str, limit: int) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    if not isinstance(text, str):
        raise Malformed(f"{what} is not a JSON string")
    if len(text) > limit:
        raise Malformed(f"{what} is too large (more than {limit:,} characters)")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise Malformed(f"{what} is not valid JSON") from None
    if not isinstance(data, dict):
        raise Malformed(f"{what} is not a JSON object")
    return data
