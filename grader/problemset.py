"""The instructor's API: a homework sheet written as Python.

A problem set declares its inputs as tensors and its parts as functions that *compute* the
reference answer (with torch for anything a layer, loss or gradient produces)::

    hw = ProblemSet("csc321-hw4", title="CSC321 Homework 4")

    @hw.part("q2a", marks=3, kind=Matrix(4, 4, per_entry=True))
    def q2a():
        return F.conv2d(X, K, bias, padding=1)[0, 0]

    @q2a.mistake("kernel flipped", note="That is a true convolution; conv layers cross-correlate.")
    def _():
        return F.conv2d(X, K.flip(-1, -2), bias, padding=1)[0, 0]

    @hw.part("q3a.h", marks=0.5, kind=Vector(5), uses=["q3a.conv"])   # follow-through
    def q3a_h(conv):
        return torch.relu(conv)

A part that `uses` other parts receives their values as arguments: the references when the
key is built, and the student's own answers when follow-through is tried. Formula parts
(`kind.sampled`) instead receive a seeded `numpy.random.Generator` and return a
`grader.sampling.Sample`; their variants receive the sample's `env` and return the values.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from grader.kinds.base import Kind
from grader.sampling import seed_for

Reference = Callable[..., Any]


@dataclass
class Variant:
    """An accepted alternative (full marks, named) or a named mistake (partial credit)."""

    name: str
    compute: Reference
    marks: float = 0.0
    note: str = ""


@dataclass
class FollowThroughRoute:
    """Recompute this part from the student's own answers to `uses`."""

    uses: tuple[str, ...]
    compute: Reference


@dataclass
class Part:
    id: str
    marks: float
    kind: Kind
    reference: Reference | None = None
    prompt: str = ""
    uses: tuple[str, ...] = ()
    follow_through: bool = True
    alternatives: list[Variant] = field(default_factory=list)
    mistakes: list[Variant] = field(default_factory=list)
    extra_routes: list[FollowThroughRoute] = field(default_factory=list)
    #: Model answers as a student would type them: shown on the solution sheet and
    #: self-tested by `grader key check` (each must earn full marks).
    solutions: tuple[str, ...] = ()
    #: (test, text): feedback added to a wrong answer no named target explains, when test(answer).
    hints: list[tuple[Callable[[Any], bool], str]] = field(default_factory=list)

    # -- decorators that read like the homework's marking scheme ------------------------------
    def alternative(self, name: str, note: str = "") -> Callable[[Reference], Reference]:
        """Another reading of the question that earns full marks; feedback names it."""

        def register(fn: Reference) -> Reference:
            self.alternatives.append(Variant(name, fn, self.marks, note))
            return fn

        return register

    def mistake(self, name: str, marks: float = 0.0, note: str = "") -> Callable[[Reference], Reference]:
        """A recognisable wrong answer: earns `marks` and is named in the feedback."""

        def register(fn: Reference) -> Reference:
            self.mistakes.append(Variant(name, fn, marks, note))
            return fn

        return register

    def follow_through_from(self, *uses: str) -> Callable[[Reference], Reference]:
        """A further follow-through route from other parts (e.g. loss from the logit)."""

        def register(fn: Reference) -> Reference:
            self.extra_routes.append(FollowThroughRoute(tuple(uses), fn))
            return fn

        return register

    def hint(self, text: str) -> Callable[[Callable[[Any], bool]], Callable[[Any], bool]]:
        """Feedback for a wrong answer the parsed value of which passes the test (e.g. a 2×2 conv
        output: padding forgotten), when no reference, alternative or mistake explains it."""

        def register(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
            self.hints.append((test, text))
            return test

        return register

    @property
    def routes(self) -> list[FollowThroughRoute]:
        """Every follow-through route, the main `uses` first."""
        if not self.follow_through or self.reference is None:
            return []
        main = [FollowThroughRoute(self.uses, self.reference)] if self.uses else []
        return main + self.extra_routes

    @property
    def manual(self) -> bool:
        return self.kind.manual

    def __call__(self, *args: Any) -> Any:  # a decorated part still computes like its function
        if self.reference is None:
            raise TypeError(f"part {self.id} has no reference")
        return self.reference(*args)


class ProblemSet:
    """An assignment: an ordered collection of parts with an id students put in their file."""

    def __init__(self, id: str, *, title: str = "", total: float | None = None, source: str = "") -> None:
        self.id = id
        self.title = title or id
        self.expected_total = total
        self.source = source
        self.parts: dict[str, Part] = {}
        self.module_file: Path | None = None

    def add(self, part: Part) -> Part:
        if part.id in self.parts:
            raise ValueError(f"{self.id}: part {part.id!r} defined twice")
        for dep in part.uses:
            if dep not in self.parts:
                raise ValueError(f"{self.id}: part {part.id!r} uses {dep!r}, which must be defined before it")
        self.parts[part.id] = part
        return part

    def part(
        self,
        id: str,
        marks: float,
        kind: Kind,
        *,
        uses: Iterable[str] = (),
        prompt: str = "",
        follow_through: bool = True,
        solutions: Iterable[str] = (),
    ) -> Callable[[Reference], Part]:
        """Decorator: the function computes the reference answer."""

        def register(fn: Reference) -> Part:
            doc = prompt or (inspect.getdoc(fn) or "")
            return self.add(Part(id, marks, kind, fn, doc, tuple(uses), follow_through, solutions=tuple(solutions)))

        return register

    def manual(self, id: str, marks: float, prompt: str = "") -> Part:
        """A free-text part graded by a person."""
        from grader.kinds.text import Text

        return self.add(Part(id, marks, Text(), None, prompt))

    @property
    def total(self) -> float:
        return math.fsum(p.marks for p in self.parts.values())  # 30 × 0.4 is exactly 12

    def __iter__(self) -> Iterator[Part]:
        return iter(self.parts.values())

    def source_hash(self) -> str:
        """Hash of the problem set's source file: a key built from other source is stale."""
        return source_hash(self.module_file) if self.module_file else hashlib.sha256(self.id.encode()).hexdigest()[:16]


# -- computing a reference ---------------------------------------------------------------------
def to_torch_args(values: list[Any]) -> list[Any]:
    """Values of used parts as a reference function expects them: arrays become float64 tensors."""
    import torch

    out: list[Any] = []
    for v in values:
        if isinstance(v, np.ndarray):
            out.append(torch.as_tensor(v, dtype=torch.float64))
        else:
            out.append(v)
    return out


def compute_part(part: Part, args: list[Any], ps_id: str) -> tuple[Any, dict[str, Any]]:
    """Reference value (normalised) of one part given the normalised values of its `uses`:
    when a key is built (the references of the uses) and for follow-through (the student's
    own answers)."""
    if part.kind.sampled:
        import numpy.random as npr

        seed = seed_for(ps_id, part.id)
        sample = part.reference(npr.default_rng(seed))  # type: ignore[misc]
        sample.meta.setdefault("seed", seed)
        sample.meta.setdefault("method", "sampled points")
        return part.kind.normalise(sample), {"seed": seed}
    return part.kind.normalise(part.reference(*to_torch_args(args))), {}  # type: ignore[misc]


def compute_variant(part: Part, variant: Variant, reference: Any, args: list[Any]) -> Any:
    """An alternative's or a named mistake's value (normalised): sampled parts' variants get
    the reference's points (`env`) and give the values there; others get the uses' values."""
    if part.kind.sampled:
        return part.kind.with_values(reference, np.asarray(variant.compute(reference.env), dtype=np.float64))
    return part.kind.normalise(variant.compute(*to_torch_args(args)))


# -- problem files ------------------------------------------------------------------------------
def source_hash(path: Path) -> str:
    """Hash of a problem-set file, computed without importing it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def problem_files(directory: Path) -> list[Path]:
    """The problem-set modules of a folder (files starting with `_` are helpers)."""
    return [p for p in sorted(Path(directory).glob("*.py")) if not p.name.startswith("_")]


def load_problem_file(path: Path) -> dict[str, ProblemSet]:
    """Import one problem-set module and collect the `ProblemSet` objects it defines."""
    path = Path(path)
    module_name = f"grader_problems_{path.stem.replace('-', '_')}"
    digest = source_hash(path)
    cached = sys.modules.get(module_name)
    # Re-import only when the file changed: importing a set is slow (torch, module building).
    if cached is not None and getattr(cached, "__file__", None) == str(path) and getattr(cached, "_grader_source_hash", None) == digest:
        module = cached
    else:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            return {}
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        module._grader_source_hash = digest  # type: ignore[attr-defined]
    found: dict[str, ProblemSet] = {}
    for value in vars(module).values():
        if isinstance(value, ProblemSet):
            value.module_file = path
            found[value.id] = value
    return found


def load_problem_sets(directory: Path) -> dict[str, ProblemSet]:
    """Import every problem-set module in `directory` (this imports torch)."""
    found: dict[str, ProblemSet] = {}
    for path in problem_files(directory):
        for ps_id, ps in load_problem_file(path).items():
            if ps_id in found and found[ps_id] is not ps:
                raise ValueError(f"problem set {ps_id!r} defined in two files")
            found[ps_id] = ps
    return found
