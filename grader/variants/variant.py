"""One student's numbers: a variant's code and the exact values of the sheet's inputs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Variant(BaseModel):
    """The values a student's sheet was dealt, as stored with their key and their report.

    `values` are the inputs' exact values as JSON (ints, decimal or "p/q" strings, lists of
    them), in the order the problem set declares them. Stored with each report, they let a
    regrade after a library upgrade grade against the same numbers; the code reproduces them
    from the problem set alone (`ProblemSet.deal`).
    """

    model_config = ConfigDict(frozen=True)

    code: str = Field(description="The variant code printed on the student's sheet (e.g. 1-K7QX-M2PA).")
    values: dict[str, Any] = Field(default_factory=dict, description="Input name -> exact value (JSON).")

    def label(self) -> str:
        return f"variant {self.code}"
