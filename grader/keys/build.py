"""Answer keys: every reference, alternative and named mistake, computed once from a problem set.

Grading reads the key, so most runs never import torch; only follow-through recomputes from
the problem set. A key records the hash of its problem source and the torch version, so a
stale key is detected (`grader key check`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grader import __version__
from grader.kinds.spec import kind_to_spec
from grader.models import AnswerKey, PartKey, VariantKey
from grader.problemset import Part, ProblemSet, Variant, compute_part, compute_variant


def torch_version() -> str:
    import torch

    return str(torch.__version__)


def _variant_values(part: Part, reference: Any, args: list[Any], variants: list[Variant]) -> list[VariantKey]:
    out = []
    for v in variants:
        value = compute_variant(part, v, reference, args)
        out.append(VariantKey(name=v.name, value=part.kind.encode(value), marks=v.marks, note=v.note))
    return out


def build_key(ps: ProblemSet) -> AnswerKey:
    """Compute every reference of a problem set (imports torch)."""
    values: dict[str, Any] = {}
    parts: list[PartKey] = []
    for part in ps:
        key = PartKey(
            id=part.id,
            kind=part.kind.name,
            kind_spec=kind_to_spec(part.kind),
            marks=part.marks,
            prompt=part.prompt,
            has_hints=bool(part.hints),
        )
        if part.reference is not None:
            args = [values[u] for u in part.uses]
            reference, extra = compute_part(part, args, ps.id)
            values[part.id] = reference
            key.reference = part.kind.encode(reference)
            key.seed = extra.get("seed")
            key.alternatives = _variant_values(part, reference, args, part.alternatives)
            key.mistakes = _variant_values(part, reference, args, part.mistakes)
            key.uses = list(part.uses)
            key.follow_through = [list(r.uses) for r in part.routes]
        parts.append(key)
    return AnswerKey(
        assignment=ps.id,
        title=ps.title,
        total=ps.total,
        source_hash=ps.source_hash(),
        source_file=ps.module_file.name if ps.module_file else "",
        torch_version=torch_version(),
        grader_version=__version__,
        parts=parts,
    )


def key_path(reference_dir: Path, assignment: str) -> Path:
    return Path(reference_dir) / f"{assignment}.json"


def write_key(key: AnswerKey, reference_dir: Path) -> Path:
    path = key_path(reference_dir, key.assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(key.model_dump(mode="json"), indent=1, sort_keys=False) + "\n")
    return path


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
