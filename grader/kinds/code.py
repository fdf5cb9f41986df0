"""Code: the student writes a function, an `nn.Module` or a training step, run in the sandbox.

A code part is not answered by typing a value: its answer is the student's code (the cells of
a notebook or sections of a .py file tagged with the part id, see grader.code.notebook), and
it is graded by grader.code.part, never by `compare`. The kind names what to write, for
templates, sheets and reports; its reference in the key is the expectations the grader
computed (probe inputs, the reference's and each named mistake's outputs and gradients, or a
training fixture and the named mistakes' loss curves), stored as JSON data, so grading needs
only the key: no problem set, and no torch in the grader's process.
"""

from __future__ import annotations

from typing import Any, Literal

from grader.errors import InvalidAnswer
from grader.kinds.base import Kind, Match

Form = Literal["function", "module", "training"]


class Code(Kind):
    name = "code"
    examples = ("# grader: <part id>  (the first line of the notebook cell or .py section)",)

    def __init__(self, entry: str, form: Form = "function", signature: tuple[str, ...] | list[str] = ()) -> None:
        self.entry = entry
        self.form = form
        self.signature = tuple(signature)

    def parse(self, raw: Any) -> Any:
        raise InvalidAnswer(f"this part is answered by code: define {self.shown()} in a notebook cell or .py section tagged with the part id")

    def compare(self, answer: Any, target: Any) -> Match:
        return Match(0.0, "Graded by running the code.")

    def shown(self) -> str:
        args = ", ".join(self.signature)
        if self.form == "module":
            return f"class {self.entry}(nn.Module) with forward({args})" if args else f"class {self.entry}(nn.Module)"
        return f"{self.entry}({args})"

    def canonical(self, value: Any) -> str:
        return self.shown()

    def describe(self) -> str:
        what = {"function": "a function", "module": "an nn.Module", "training": "a training step"}[self.form]
        return f"code: {what}, {self.shown()}"
