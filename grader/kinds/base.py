"""The contract every answer kind fulfils: parse the student's text, compare with a target.

A kind never decides marks on its own. It says how much of a target an answer matches
(`Match.fraction`), and `grader.scoring` decides which targets to try (reference,
alternatives, follow-through, named mistakes) and turns the best match into a score.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class Match:
    """How well an answer matches one target. `fraction` is the share of the marks earned.

    `feedback` never states the target (a student sees it before the due date); text that
    does (the value a formula should have at a point) goes in `reveals`, which the feedback
    policy shows only at the `reference` level."""

    fraction: float
    feedback: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    reveals: str = ""

    @property
    def full(self) -> bool:
        return self.fraction >= 1.0


class Kind(ABC):
    """One kind of answer (`int`, `matrix`, `expr`, ...)."""

    name: ClassVar[str]
    #: Accepted forms shown in hints and answer templates; the first is the canonical one.
    examples: ClassVar[tuple[str, ...]] = ()
    #: True for kinds graded by a person (status `manual`).
    manual: ClassVar[bool] = False
    #: True for kinds whose reference is a sampled formula (`grader.sampling.Sample`).
    sampled: ClassVar[bool] = False

    def __new__(cls, *args: Any, **kwargs: Any) -> "Kind":
        # Remember the constructor call so an answer key can rebuild this kind without
        # importing the problem set (and torch): see grader.kinds.spec.
        self = super().__new__(cls)
        self._init_call = (args, kwargs)
        return self

    @abstractmethod
    def parse(self, raw: Any) -> Any:
        """Read a raw TOML/JSON/YAML value. Raises `InvalidAnswer` with a specific hint."""

    @abstractmethod
    def compare(self, answer: Any, target: Any) -> Match:
        """How much of `target` (a normalised reference value) the parsed answer matches."""

    def normalise(self, value: Any) -> Any:
        """Turn what a reference function returned (tensor, list, int...) into this kind's value."""
        return value

    def canonical(self, value: Any) -> str:
        """How the grader read a parsed answer or a reference, for reports."""
        return str(value)

    def encode(self, value: Any) -> Any:
        """A normalised value as JSON data for the answer key."""
        return value

    def decode(self, data: Any) -> Any:
        """Inverse of `encode`."""
        return data

    def with_values(self, reference: Any, values: Any) -> Any:
        """Sampled kinds: a target at the reference's points with other true values (variants)."""
        raise NotImplementedError(f"{self.name} is not a sampled kind")

    def forms(self, value: Any) -> list[Any]:
        """Every accepted way of writing `value` (a normalised reference): typed text in each
        syntax the kind reads and native TOML/JSON values. They are the kind's model answers:
        `grader key check` grades each and expects full marks. Sampled kinds have no value to
        write (a formula part's model answers are its `solutions`), nor does free text."""
        return []

    def usable(self, answer: Any, reference: Any) -> bool:
        """Whether a parsed answer can stand in for `reference` when a later part is recomputed
        from it (follow-through): numbers of the reference's shape, all finite."""
        shaped = numeric_value(answer), numeric_value(reference)
        if shaped[0] is None or shaped[1] is None:
            return True  # not numbers (a shape, a choice): the kind's own compare decides
        return shaped[0].shape == shaped[1].shape and bool(np.all(np.isfinite(shaped[0])))

    def exactly(self, answer: Any, reference: Any) -> bool:
        """Whether a parsed answer is the reference's own value, not just within a tolerance."""
        shaped = numeric_value(answer), numeric_value(reference)
        if shaped[0] is None or shaped[1] is None:
            return True  # no numbers to round: an accepted answer is the reference
        return shaped[0].shape == shaped[1].shape and bool(np.array_equal(shaped[0], shaped[1]))

    def mismatch(self, value: Any) -> str | None:
        """What is wrong when a normalised reference does not fit what the kind declares (a
        `Matrix(4, 2)` whose reference is 3×2): an authoring error `grader key check` reports.
        None when it fits; kinds that declare no size accept any value they normalise."""
        return None

    def describe(self) -> str:
        """A short phrase for feedback and templates, e.g. 'a 4×4 matrix'."""
        return self.name


def numeric_value(value: Any) -> Any:
    """A parsed answer or a reference as a float array, or None when it is not numbers (a
    formula, a choice; a tuple of sizes is numbers)."""
    if isinstance(value, (str, bytes, bool)) or value is None:
        return None
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    return arr
