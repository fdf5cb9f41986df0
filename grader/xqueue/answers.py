"""What an edX problem hands in, as a submission for the one engine (docs/answer-format.md,
"Answers from edX (XQueue)").

The problem's `<grader_payload>` says what is graded, as a JSON object:

    {"assignment": "csc321-hw4"}                        the response is a whole answer file
    {"assignment": "csc321-hw4", "parts": ["q2a", "q2b"]}   ... of which these parts are graded
    {"assignment": "csc321-hw4", "part": "q2a"}         the response is q2a's answer as typed
    optional: "points": N (the response's points in edX, default 1), "format": "toml" | "yaml" | "json"

(a bare assignment id is the first form). An answer file is TOML, YAML or JSON as `grader run`
reads it (read with the same reader and bounds); a JSON object without an `answers` key is the
answers themselves. When parts are named, the answers the student handed in earlier for the
assignment's other parts (through edX, recorded in the store) are graded with the new ones, so
the store's latest report for the student holds every part answered so far; the reply scores
only the named parts. The student is edX's anonymous_student_id, never a line in the response.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from grader.models import BrokenSubmission, Submission
from grader.submission import MAX_FILE_BYTES, read_answer_text
from grader.xqueue.protocol import Malformed

Format = Literal["toml", "yaml", "json"]

#: What a student is told an answer file looks like, when theirs cannot be read.
ACCEPTED_FORM = 'TOML such as  [answers]  then one line per part:  q1 = "3"  (or a JSON object of answers: {"q1": "3"})'


class Payload(BaseModel):
    assignment: str
    parts: list[str] | None = None
    part: str | None = None
    points: float = 1.0
    format: Format | None = None

    def graded(self) -> list[str] | None:
        """The parts the reply scores (None: the whole assignment)."""
        return [self.part] if self.part is not None else self.parts


def read_payload(text: str, assignments: dict[str, list[str]]) -> Payload:
    """The grader payload, checked against the course (assignment -> its part ids); `Malformed`
    with a message for the course team when it names what the course does not have."""
    text = text.strip()
    if len(text) > 10_000:
        raise Malformed("the grader_payload is too long")
    try:
        data: Any = json.loads(text) if text.startswith("{") else {"assignment": text}
        found = Payload.model_validate(data)
    except (ValueError, ValidationError) as exc:
        raise Malformed(f"the grader_payload is not of the form {{\"assignment\": ID, ...}}: {' '.join(str(exc).split())[:300]}") from None
    if found.assignment not in assignments:
        raise Malformed(f"the grader_payload names assignment {found.assignment!r}, which this course does not have")
    if found.part is not None and found.parts is not None:
        raise Malformed("the grader_payload gives both 'part' and 'parts'; give one")
    if found.parts is not None and not found.parts:
        raise Malformed("the grader_payload's 'parts' is empty; name at least one part, or leave 'parts' out")
    unknown = [p for p in found.graded() or [] if p not in assignments[found.assignment]]
    if unknown:
        raise Malformed(f"the grader_payload names parts {unknown} that {found.assignment} does not have")
    if not found.points > 0 or found.points > 1e6:
        raise Malformed("the grader_payload's points must be a positive number")
    return found


def read_response(response: str, payload: Payload, *, student: str, source: str) -> Submission | BrokenSubmission:
    """The student's response as a submission of `payload.assignment`, handed in by `student`."""
    if payload.part is not None:
        if len(response.encode("utf-8", "replace")) > MAX_FILE_BYTES:
            return BrokenSubmission(source=source, reason="the answer is too large (more than 2 MB)", assignment=payload.assignment)
        return Submission(assignment=payload.assignment, student=student, answers={payload.part: response}, source=source, handed_in_by=student)
    form = payload.format or ("json" if response.lstrip().startswith("{") else "toml")
    text = _answers_file(response) if form == "json" else response
    return read_answer_text(text, f".{form}", source=source, handed_in_by=student, assignment_override=payload.assignment)


def _answers_file(text: str) -> str:
    """A JSON object of answers made an answer file (one with an `answers` key is one already)."""
    if len(text) > MAX_FILE_BYTES:
        return text  # the reader says it is too large
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return text  # the reader says where it is wrong
    if isinstance(data, dict) and "answers" not in data:
        return '{"answers": ' + text + "}"
    return text
