"""Free text: stored as typed and queued for a person to grade (status `manual`)."""

from __future__ import annotations

from typing import Any

from grader.kinds.base import Kind, Match

TEXT_LIMIT = 20_000


class Text(Kind):
    name = "text"
    examples = ("A sentence or two in your own words.",)
    manual = True

    def parse(self, raw: Any) -> str:
        text = raw if isinstance(raw, str) else raw.isoformat() if hasattr(raw, "isoformat") else str(raw)
        return text[:TEXT_LIMIT]

    def compare(self, answer: Any, target: Any) -> Match:
        return Match(0.0, "Graded by a person.")

    def describe(self) -> str:
        return "free text, graded by a person"
