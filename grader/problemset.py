"""The instructor's API: a homework sheet written as Python.

A problem set declares the sheet's inputs (the numbers that may vary per student, each with its
printed value) and its parts as functions that *compute* the reference answer (with torch for
anything a layer, loss or gradient produces)::

    hw = ProblemSet("csc321-hw4", title="CSC321 Homework 4")
    hw.given(X=IntMatrix(4, 4, -1, 2, printed=[[1, 2, 1, -1], ...]), K=IntMatrix(3, 3, -1, 1, printed=...))

    @hw.part("q2a", marks=3, kind=Matrix(4, 4, per_entry=True))
    def q2a(X, K):
        # the docstring is the prompt: "Apply the kernel K to the input X ..."
        return F.conv2d(X[None, None], K[None, None], padding=1)[0, 0]

    @q2a.mistake("kernel flipped", note="That is a true convolution; conv layers cross-correlate.")
    def _(X, K):
        return F.conv2d(X[None, None], K.flip(0, 1)[None, None], padding=1)[0, 0]

    @hw.part("q3a.h", marks=0.5, kind=Vector(5), uses=["q3a.conv"])   # follow-through
    def q3a_h(conv):
        return torch.relu(conv)

Every function is called the same way (grader.calling): the values of the parts in `uses`
first (the references when the key is built, the student's own answers when follow-through is
tried), then the sheet's inputs by name; a formula part's functions are called at each sampled
point with the point's symbols and tensors by name (`grader.sampling.Points` says how the points
are drawn). A prompt may show an input as `{name}`, or `{name:()}` for a tuple in parentheses.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from grader import references
from grader.calling import call, names_of
from grader.kinds.base import Kind
from grader.models import RubricItem
from grader.sampling import Points, seed_for
from grader.variants.generator import Generator
from grader.variants.inputs import Input
from grader.variants.seeds import parse_code
from grader.variants.variant import Variant

Reference = Callable[..., Any]

#: Draws tried before a problem set's constraints are declared unsatisfiable.
MAX_DEALS = 1000
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)(?::([^{}]*))?\}")


@dataclass
class NamedAnswer:
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
class Constraint:
    """A condition every variant's inputs meet ("the conv output has a zero")."""

    description: str
    test: Callable[..., Any]


@dataclass
class Computed:
    """A part's values for one set of inputs: the reference and each named answer, normalised."""

    reference: Any
    alternatives: list[Any]
    mistakes: list[Any]
    seed: int | None = None


@dataclass
class Part:
    id: str
    marks: float
    kind: Kind
    reference: Reference | None = None
    prompt: str = ""
    uses: tuple[str, ...] = ()
    follow_through: bool = True
    alternatives: list[NamedAnswer] = field(default_factory=list)
    mistakes: list[NamedAnswer] = field(default_factory=list)
    extra_routes: list[FollowThroughRoute] = field(default_factory=list)
    #: Model answers as a student would type them for the printed numbers: shown on the solution
    #: sheet and self-tested by `grader key check` (each must earn full marks).
    solutions: tuple[str, ...] = ()
    #: (test, text): feedback added to a wrong answer no named target explains, when test(answer).
    hints: list[tuple[Callable[[Any], bool], str]] = field(default_factory=list)
    #: How a formula part's points are drawn (default: the kind's symbols from their domains).
    points: Points | None = None
    #: The prompt as written, before the inputs are filled in (`prompt` shows the printed ones).
    prompt_template: str = ""
    problem_set: "ProblemSet | None" = field(default=None, repr=False, compare=False)
    #: Manual parts: rubric items, reusable comments and a model answer for graders.
    rubric: list[RubricItem] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    model_answer: str = ""

    # -- decorators that read like the homework's marking scheme ------------------------------
    def alternative(self, name: str, note: str = "") -> Callable[[Reference], Reference]:
        """Another reading of the question that earns full marks; feedback names it."""

        def register(fn: Reference) -> Reference:
            self.alternatives.append(NamedAnswer(name, fn, self.marks, note))
            return fn

        return register

    def mistake(self, name: str, marks: float = 0.0, note: str = "") -> Callable[[Reference], Reference]:
        """A recognisable wrong answer: earns `marks` (at most this part's own: scoring bounds it,
        `grader key check` reports more) and is named in the feedback."""

        def register(fn: Reference) -> Reference:
            self.mistakes.append(NamedAnswer(name, fn, marks, note))
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

    # -- computing, the library's side of the calling convention -------------------------------
    def _inputs(self, inputs: Mapping[str, Any] | None) -> Mapping[str, Any]:
        if inputs is not None:
            return inputs
        return self.problem_set.delivered() if self.problem_set is not None else {}

    def default_seed(self) -> int:
        """The seed of a formula part's points: from the problem set and part ids."""
        return seed_for(self.problem_set.id if self.problem_set is not None else "", self.id)

    def compute(self, used: Sequence[Any] = (), *, inputs: Mapping[str, Any] | None = None, seed: int | None = None) -> Computed:
        """The reference and every named answer, normalised by the kind, for the used parts'
        values and the sheet's `inputs` (delivered; default the printed ones)."""
        if self.reference is None:
            raise TypeError(f"part {self.id} has no reference")
        names = self._inputs(inputs)
        if not self.kind.sampled:
            value = lambda fn, what: references.plain_value(self.kind, fn, used, names, what)  # noqa: E731
            return Computed(
                value(self.reference, f"part {self.id}"),
                [value(a.compute, f"{self.id}: alternative {a.name!r}") for a in self.alternatives],
                [value(m.compute, f"{self.id}: mistake {m.name!r}") for m in self.mistakes],
            )
        seed = self.default_seed() if seed is None else seed
        spec = self.points or Points()
        points = references.draw_points(self.kind, spec, seed, names, f"part {self.id}")
        formula = self.solutions[0] if self.solutions and references.pools(self.kind, spec) else None
        reference = references.sample(
            self.kind, points, references.at_points(self.reference, points, names, f"part {self.id}"), seed, formula
        )
        at = lambda a, what: self.kind.with_values(reference, references.at_points(a.compute, points, names, what))  # noqa: E731
        return Computed(
            reference,
            [at(a, f"{self.id}: alternative {a.name!r}") for a in self.alternatives],
            [at(m, f"{self.id}: mistake {m.name!r}") for m in self.mistakes],
            seed,
        )

    def compute_route(self, route: FollowThroughRoute, used: Sequence[Any], inputs: Mapping[str, Any] | None = None) -> Any:
        """A follow-through target: the route from the student's own `used` answers."""
        return references.plain_value(self.kind, route.compute, used, self._inputs(inputs), f"{self.id}: follow-through")

    def functions(self) -> list[Callable[..., Any]]:
        """Every function of this part the grader calls (reference, named answers, routes, points)."""
        fns = [f for f in (self.reference,) if f is not None]
        fns += [a.compute for a in self.alternatives + self.mistakes] + [r.compute for r in self.extra_routes]
        if self.points is not None:
            fns += [f for f in (self.points.setup, self.points.where) if f is not None]
            fns += [d.lo for d in self.points.domains.values() if callable(getattr(d, "lo", None))]
        return fns

    def asks_for(self) -> set[str]:
        """The names this part's functions ask for (beyond the used values); for a formula part,
        not those of its points (a point's symbols and tensors hide inputs of the same name)."""
        asked: set[str] = set()
        for fn in self.functions():
            asked.update(names_of(fn, len(self.uses)))
        if self.kind.sampled:
            asked -= {*references.point_names(self.kind), "gen"}
        return asked

    def __call__(self, *used: Any, **inputs: Any) -> Any:
        """The reference as its function returns it (a plain part), for the printed inputs unless
        some are given: `ps.parts["q2a"]()`, `ps.parts["q3a.h"](conv)`."""
        if self.reference is None:
            raise TypeError(f"part {self.id} has no reference")
        return call(self.reference, references.to_torch(used), {**self._inputs(None), **inputs}, f"part {self.id}")


@dataclass
class CodePart(Part):
    """A part answered by code (grader.code): the student writes the function, `nn.Module` or
    training step `entry`; `reference` is the instructor's own, in float64 torch (a training
    part's: a right training step), and each named mistake is written as code with the
    reference's signature (`mistake`, or `backward_mistake` for a hand-written backward).
    `declaration` holds the rest of `ProblemSet.code` / `ProblemSet.training`'s arguments.

    Its key value is computed here, in the trusted process (grader.code.expectations): the
    probes and what the reference and each mistake give on them, or the mistakes' loss
    curves; student code never runs next to any of it."""

    declaration: dict[str, Any] = field(default_factory=dict)
    backward_names: set[str] = field(default_factory=set)

    def backward_mistake(self, name: str, marks: float = 0.0, note: str = "") -> Callable[[Reference], Reference]:
        """A named mistake in a hand-written backward: `fn(grad_out..., *inputs)` returns the
        gradients of every input, as the student's backward would."""

        def register(fn: Reference) -> Reference:
            self.mistakes.append(NamedAnswer(name, fn, marks, note))
            self.backward_names.add(name)
            return fn

        return register

    @property
    def training(self) -> bool:
        return self.declaration.get("form") == "training"

    def spec(self) -> Any:
        """The part as grader.code sees it: a `CodeSpec`, or a `CurveSpec` for a training part."""
        from grader.code.spec import CodeSpec, CurveSpec, CurveVariant, Variant

        d = self.declaration
        if self.training:
            return CurveSpec(
                entry=d["entry"], fixture=d["fixture"], final_below=d["final_below"], spike_ratio=d["spike_ratio"],
                spike_floor=d["spike_floor"], final_window=d["final_window"], seed=d["seed"], rtol=d["rtol"],
                variants=tuple(CurveVariant(m.name, m.compute, m.note) for m in self.mistakes),
            )
        variants = tuple(
            Variant(m.name, backward=m.compute, feedback=m.note) if m.name in self.backward_names else Variant(m.name, forward=m.compute, feedback=m.note)
            for m in self.mistakes
        )
        options = {k: d[k] for k in ("inputs", "params", "init", "signature", "grad_inputs", "backward", "gradcheck", "seed", "probes", "dtypes") if k in d}
        if d.get("tolerances"):
            from grader.code.spec import TOLERANCES

            options["tolerances"] = {**TOLERANCES, **d["tolerances"]}
        return CodeSpec(entry=d["entry"], reference=self.reference, kind=d["form"], variants=variants, **options)

    def compute(self, used: Sequence[Any] = (), *, inputs: Mapping[str, Any] | None = None, seed: int | None = None) -> Computed:
        from grader.code.expectations import encode_code, encode_curve

        after, limits = tuple(self.declaration.get("after", ())), self.declaration["limits"]
        with references.one_thread():
            spec = self.spec()
            data = encode_curve(spec, after, limits) if self.training else encode_code(spec, self.backward_names, after, limits)
        return Computed(data, [], [None for _ in self.mistakes])

    def functions(self) -> list[Callable[..., Any]]:
        return []  # called by grader.code with probe tensors, never with the sheet's inputs


class ProblemSet:
    """An assignment: an ordered collection of parts with an id students put in their file."""

    def __init__(self, id: str, *, title: str = "", total: float | None = None, source: str = "") -> None:
        self.id = id
        self.title = title or id
        self.expected_total = total
        self.source = source
        self.parts: dict[str, Part] = {}
        self.inputs: dict[str, Input] = {}
        self.constraints: list[Constraint] = []
        self.module_file: Path | None = None
        self._printed: dict[str, Any] | None = None

    # -- the sheet's inputs -------------------------------------------------------------------
    def given(self, **inputs: Input) -> None:
        """Declare inputs of the sheet that may vary per student, each with its printed value."""
        for name, spec in inputs.items():
            if name in self.inputs:
                raise ValueError(f"{self.id}: input {name!r} declared twice")
            if not isinstance(spec, Input):
                raise TypeError(f"{self.id}: input {name!r} must be a draw such as IntMatrix(...), got {type(spec).__name__}")
            if self.parts:
                raise ValueError(f"{self.id}: declare the inputs (given) before the parts")
            self.inputs[name] = spec
        self._printed = None

    def require(self, description: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: a condition of the inputs (by name) every variant meets; variants that
        fail it are drawn again. The printed numbers must meet it too (`grader key check`)."""

        def register(test: Callable[..., Any]) -> Callable[..., Any]:
            unknown = set(names_of(test)) - set(self.inputs)
            if unknown:
                raise ValueError(f"{self.id}: constraint {description!r} asks for {', '.join(sorted(unknown))}, not inputs of the sheet")
            self.constraints.append(Constraint(description, test))
            return test

        return register

    @property
    def varies(self) -> bool:
        """Whether the sheet has inputs that vary when variants are on."""
        return bool(self.inputs)

    def printed(self) -> Variant:
        """The printed numbers: the variant everyone gets when variants are off."""
        return Variant(code="printed", values={n: spec.encode(spec.printed) for n, spec in self.inputs.items()})

    def exact(self, variant: Variant | None = None) -> dict[str, Any]:
        """The exact values of a variant's inputs (default: the printed ones)."""
        if variant is None:
            return {n: spec.printed for n, spec in self.inputs.items()}
        missing = set(self.inputs) - set(variant.values)
        if missing:
            raise ValueError(f"{self.id}: variant {variant.code} has no value for {', '.join(sorted(missing))}")
        return {n: spec.decode(variant.values[n]) for n, spec in self.inputs.items()}

    def delivered(self, variant: Variant | None = None) -> dict[str, Any]:
        """The inputs as functions receive them (tensors for tables), for a variant or the printed ones."""
        if variant is None:
            if self._printed is None:
                self._printed = self._deliver(self.exact())
            return self._printed
        return self._deliver(self.exact(variant))

    def _deliver(self, exact: Mapping[str, Any]) -> dict[str, Any]:
        return {n: self.inputs[n].deliver(v) for n, v in exact.items()}

    def violated(self, variant: Variant | None = None) -> list[str]:
        """The constraints a variant's inputs fail (the printed ones by default)."""
        names = self.delivered(variant)
        return [c.description for c in self.constraints if not call(c.test, (), names, f"constraint {c.description!r}")]

    def deal(self, code: str) -> Variant:
        """The variant a code names: the inputs drawn in order from the grader's generator,
        drawn again (further along the same stream) until every constraint holds."""
        version, seed = parse_code(code)
        gen = Generator(seed, version)
        with references.one_thread():
            for _ in range(MAX_DEALS):
                exact = {n: spec.draw(gen) for n, spec in self.inputs.items()}
                names = self._deliver(exact)
                if all(call(c.test, (), names, f"constraint {c.description!r}") for c in self.constraints):
                    return Variant(code=code, values={n: self.inputs[n].encode(v) for n, v in exact.items()})
        raise ValueError(f"{self.id}: no variant meets every constraint after {MAX_DEALS} draws; widen the inputs' ranges")

    def render(self, text: str, variant: Variant | None = None) -> str:
        """A prompt with the inputs it names (`{X}`, `{Y:()}`) filled in."""
        if not self.inputs or "{" not in text:
            return text
        exact = self.exact(variant)

        def fill(m: re.Match[str]) -> str:
            name, spec = m.group(1), m.group(2) or ""
            return self.inputs[name].show(exact[name], spec) if name in self.inputs else m.group(0)

        return _PLACEHOLDER.sub(fill, text)

    def varying_parts(self) -> list[str]:
        """Parts whose values depend on the inputs: they ask for one, or use a part that does."""
        varying: set[str] = set()
        for part in self:
            if part.asks_for() & set(self.inputs) or any(u in varying for u in part.uses):
                varying.add(part.id)
        return [p for p in self.parts if p in varying]

    # -- parts ----------------------------------------------------------------------------------
    def add(self, part: Part) -> Part:
        if part.id in self.parts:
            raise ValueError(f"{self.id}: part {part.id!r} defined twice")
        for dep in part.uses:
            if dep not in self.parts:
                raise ValueError(f"{self.id}: part {part.id!r} uses {dep!r}, which must be defined before it")
        part.problem_set = self
        part.prompt_template = part.prompt
        part.prompt = self.render(part.prompt)
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
        points: Points | None = None,
    ) -> Callable[[Reference], Part]:
        """Decorator: the function computes the reference answer."""

        def register(fn: Reference) -> Part:
            doc = prompt or (inspect.getdoc(fn) or "")
            return self.add(Part(id, marks, kind, fn, doc, tuple(uses), follow_through, solutions=tuple(solutions), points=points))

        return register

    def manual(
        self,
        id: str,
        marks: float,
        prompt: str = "",
        *,
        rubric: Iterable[tuple[str, float]] = (),
        comments: Iterable[str] = (),
        model_answer: str = "",
    ) -> Part:
        """A free-text part graded by a person: `rubric` is its items as (text, marks) — a
        grader picks them by number —, `comments` reusable remarks, `model_answer` what a
        full-marks answer says (for graders)."""
        from grader.kinds.text import Text

        part = Part(id, marks, Text(), None, prompt)
        part.rubric = [RubricItem(text=text, marks=float(item_marks)) for text, item_marks in rubric]
        part.comments = list(comments)
        part.model_answer = model_answer
        return self.add(part)

    def code(
        self,
        id: str,
        marks: float,
        *,
        entry: str,
        inputs: Mapping[str, tuple[int, ...]],
        module: bool = False,
        params: Mapping[str, tuple[int, ...]] | None = None,
        init: Sequence[Any] = (),
        signature: Sequence[str] = (),
        grad_inputs: Sequence[str] = (),
        backward: str | None = None,
        gradcheck: bool = False,
        probes: int = 2,
        dtypes: Sequence[str] = ("float32", "float64"),
        tolerances: Mapping[str, tuple[float, float]] | None = None,
        after: Sequence[str] = (),
        limits: Any = None,
        prompt: str = "",
    ) -> Callable[[Reference], CodePart]:
        """Decorator: a code part; the function is the float64 torch reference, called with the
        probe tensors (`inputs`: name -> shape), a module part's as `reference(params, *inputs)`
        with its parameters by name (`params`: name -> shape; the student's class is built with
        `init` and its parameters set by name). `grad_inputs` are compared by autograd; with
        `backward`, the student's hand-written backward of that name is compared (and with
        `gradcheck`, held to their own forward). `after`: part ids whose cells run first (a
        backward part needs the student's forward). `limits`: the sandbox's per-test Limits."""
        from grader.kinds.code import Code
        from grader.sandbox.limits import Limits

        def register(fn: Reference) -> CodePart:
            declaration = {
                "form": "module" if module else "function", "entry": entry, "inputs": {k: tuple(v) for k, v in inputs.items()},
                "params": {k: tuple(v) for k, v in (params or {}).items()}, "init": tuple(init), "signature": tuple(signature),
                "grad_inputs": tuple(grad_inputs), "backward": backward, "gradcheck": gradcheck, "seed": seed_for(self.id, id) % 2**31,
                "probes": probes, "dtypes": tuple(dtypes), "tolerances": dict(tolerances or {}), "after": tuple(after),
                "limits": limits or Limits(),
            }
            shown = tuple(signature) or tuple(inputs)
            # what the student writes: a hand-written backward takes the output's gradient first
            kind = Code(backward, "function", ["grad_y", *shown]) if backward else Code(entry, "module" if module else "function", list(shown))
            part = CodePart(id, marks, kind, fn, prompt or (inspect.getdoc(fn) or ""), follow_through=False, declaration=declaration)
            return self.add(part)  # type: ignore[return-value]

        return register

    def training(
        self,
        id: str,
        marks: float,
        *,
        entry: str,
        fixture: str,
        final_below: float,
        spike_ratio: float = 1.5,
        spike_floor: float = 0.0,
        final_window: int = 5,
        seed: int = 0,
        rtol: float = 1e-3,
        signature: Sequence[str] = (),
        after: Sequence[str] = (),
        limits: Any = None,
        prompt: str = "",
    ) -> Callable[[Reference], CodePart]:
        """Decorator: a training part; the function is a right training step (`grader key
        check` runs it under the fixture and expects a curve that passes). `fixture` is
        instructor source defining `run(step, arrays, seed) -> {"losses": [...]}`; the curve
        is judged by grader.code.grade.curve_checks (no NaN, no spike above `spike_ratio`
        times the lowest loss before it, the mean of the last `final_window` below
        `final_below`); named mistakes are training steps (`@part.mistake`)."""
        from grader.kinds.code import Code
        from grader.sandbox.limits import Limits

        def register(fn: Reference) -> CodePart:
            declaration = {
                "form": "training", "entry": entry, "fixture": fixture, "final_below": float(final_below), "spike_ratio": float(spike_ratio),
                "spike_floor": float(spike_floor), "final_window": int(final_window), "seed": int(seed), "rtol": float(rtol),
                "after": tuple(after), "limits": limits or Limits(seconds=30),
            }
            kind = Code(entry, "training", list(signature))
            part = CodePart(id, marks, kind, fn, prompt or (inspect.getdoc(fn) or ""), follow_through=False, declaration=declaration)
            return self.add(part)  # type: ignore[return-value]

        return register

    @property
    def total(self) -> float:
        return math.fsum(p.marks for p in self.parts.values())  # 30 × 0.4 is exactly 12

    def __iter__(self) -> Iterator[Part]:
        return iter(self.parts.values())

    def source_hash(self) -> str:
        """Hash of the problem set's source file: a key built from other source is stale."""
        return source_hash(self.module_file) if self.module_file else hashlib.sha256(self.id.encode()).hexdigest()[:16]


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
