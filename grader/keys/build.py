"""Answer keys: every reference, alternative and named mistake, computed once from a problem set.

Grading reads the key, so most runs never import torch; only follow-through recomputes from
the problem set. A key records the hash of its problem source and the torch version, so a
stale key is detected (`grader key check`).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from grader import __version__
from grader.kinds.spec import kind_to_spec
from grader.models import AnswerKey, PartKey, VariantKey
from grader.problemset import ProblemSet
from grader.report.files import write_atomic
from grader.variants import Variant


class PartBuildError(Exception):
    """A part's reference (or one of its named answers) could not be computed: an authoring
    error, reported as one line naming the assignment, the part and where it is defined."""

    def __init__(self, assignment: str, part: str, where: str, cause: BaseException) -> None:
        self.assignment, self.part, self.where, self.cause = assignment, part, where, cause
        super().__init__(f"{assignment}, part {part} ({where}): cannot compute the key: {type(cause).__name__}: {cause}")


def where(fn: Any) -> str:
    """`problems/hw.py:12`: the file and line where a function (a decorated part) is defined,
    relative to the current directory when it is below it."""
    code = getattr(inspect.unwrap(fn), "__code__", None) if fn is not None else None
    if code is None:
        return "?"
    return f"{where_file(Path(code.co_filename))}:{code.co_firstlineno}"


def where_file(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def torch_version() -> str:
    import torch

    return str(torch.__version__)


def _named(ps: ProblemSet, answers: list, values: list[Any], kind: Any, variant: Variant | None) -> list[VariantKey]:
    return [
        VariantKey(name=a.name, value=kind.encode(v), marks=a.marks, note=ps.render(a.note, variant)) for a, v in zip(answers, values)
    ]


def build_key(ps: ProblemSet, variant: Variant | None = None, base: AnswerKey | None = None) -> AnswerKey:
    """Compute every reference of a problem set (imports torch), for the printed inputs or a variant's.

    With `base` (the key of the printed numbers), only the parts whose values depend on the
    inputs are computed (`grader.keys.variants` caches those); the others are taken from it.
    """
    only = set(ps.varying_parts()) if base is not None else None
    parts = compute_parts(ps, variant, only=only, base=base)
    return assemble_key(ps, parts, variant, base)


def compute_parts(ps: ProblemSet, variant: Variant | None, only: set[str] | None = None, base: AnswerKey | None = None) -> list[PartKey]:
    """The keys of the parts in `only` (default: all), for a variant's inputs; values of other
    parts they use come from `base`."""
    inputs = ps.delivered(variant)
    values: dict[str, Any] = {}
    parts: list[PartKey] = []
    for part in ps:
        if only is not None and part.id not in only:
            continue
        key = PartKey(
            id=part.id,
            kind=part.kind.name,
            kind_spec=kind_to_spec(part.kind),
            marks=part.marks,
            prompt=ps.render(part.prompt_template, variant),
            has_hints=bool(part.hints),
            rubric=list(part.rubric),
            comments=list(part.comments),
            model_answer=part.model_answer,
        )
        if part.reference is not None:
            for u in part.uses:  # a part that is not computed here: its value from the base key
                if u not in values and base is not None:
                    values[u] = ps.parts[u].kind.decode(base.part(u).reference)
            try:
                computed = part.compute([values[u] for u in part.uses], inputs=inputs)
                key.reference = part.kind.encode(computed.reference)
                key.alternatives = _named(ps, part.alternatives, computed.alternatives, part.kind, variant)
                key.mistakes = _named(ps, part.mistakes, computed.mistakes, part.kind, variant)
            except Exception as exc:  # the instructor's code: say which part, where, and what
                raise PartBuildError(ps.id, part.id, where(part.reference), exc) from exc
            values[part.id] = computed.reference
            key.seed = computed.seed
            key.uses = list(part.uses)
            key.follow_through = [list(r.uses) for r in part.routes]
        parts.append(key)
    return parts


def assemble_key(ps: ProblemSet, parts: list[PartKey], variant: Variant | None = None, base: AnswerKey | None = None) -> AnswerKey:
    """A whole key: `parts`, and every other part from `base` showing the variant's numbers."""
    computed = {p.id: p for p in parts}
    if base is not None:
        parts = [computed.get(p.id) or _rendered(ps, base.part(p.id), p, variant) for p in ps]
    return AnswerKey(
        assignment=ps.id,
        title=ps.title,
        total=ps.total,
        source_hash=ps.source_hash(),
        source_file=ps.module_file.name if ps.module_file else "",
        torch_version=base.torch_version if base is not None else torch_version(),
        grader_version=__version__,
        parts=parts,
        variant=variant,
    )


def _rendered(ps: ProblemSet, key: PartKey, part: Any, variant: Variant | None) -> PartKey:
    """A part key whose values do not vary, with the variant's numbers in its prompt and notes."""
    if not ps.inputs:
        return key
    named = lambda keys, answers: [k.model_copy(update={"note": ps.render(a.note, variant)}) for k, a in zip(keys, answers)]  # noqa: E731
    return key.model_copy(update={
        "prompt": ps.render(part.prompt_template, variant),
        "alternatives": named(key.alternatives, part.alternatives),
        "mistakes": named(key.mistakes, part.mistakes),
    })


def key_path(reference_dir: Path, assignment: str) -> Path:
    return Path(reference_dir) / f"{assignment}.json"


def write_key(key: AnswerKey, reference_dir: Path) -> Path:
    # atomic: a `grader run` reading the committed key meanwhile never sees half a file
    return write_atomic(key_path(reference_dir, key.assignment), json.dumps(key.model_dump(mode="json"), indent=1, sort_keys=False) + "\n")


def read_key(path: Path) -> AnswerKey:
    return AnswerKey.model_validate_json(Path(path).read_text())


def load_or_build_key(ps: ProblemSet, reference_dir: Path | None) -> tuple[AnswerKey, list[str]]:
    """The committed key when it matches the problem source, else a fresh in-memory build."""
    notes: list[str] = []
    if reference_dir is not None:
        path = key_path(reference_dir, ps.id)
        if path.exists():
            key = read_key(path)
            if key.source_hash == ps.source_hash():
                return key, notes
            notes.append(f"answer key {path} is stale (problem source changed); graded with a fresh build — run `grader key build`")
        else:
            notes.append(f"no answer key at {path}; graded with a fresh build — run `grader key build`")
    return build_key(ps), notes
