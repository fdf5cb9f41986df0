"""Each student's variant of an assignment and its answer key, computed on demand and cached.

A student's variant is dealt from an HMAC of the course secret (grader.variants.seeds); its key
is the printed key with the parts that depend on the inputs recomputed for the variant's
numbers (`build_key(..., base=...)`, a few milliseconds of torch). Both are cached, in memory
and on disk, by (problem source hash, variant code, values): a class of 500 is computed once,
and a regrade of a report that stored its numbers grades against exactly those numbers.

    OUT/.cache/variants/<assignment>/<source hash>/<code>.json             what the code deals
    OUT/.cache/variants/<assignment>/<source hash>/<code>-<digest>.json    a report's other numbers
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, Field, ValidationError

from grader.course import Course
from grader.keys.build import assemble_key, compute_parts
from grader.models import AnswerKey, PartKey, Submission
from grader.problemset import ProblemSet
from grader.references import one_thread
from grader.scoring import AssignmentGrader, ProblemSource
from grader.variants import Variant, ensure_secret, variant_code, variant_seed

CACHE_FOLDER = Path(".cache") / "variants"
MEMORY_ENTRIES = 1024


class PartTexts(BaseModel):
    """A part's prompt and notes with a variant's numbers in them."""

    prompt: str
    alternatives: list[str] = Field(default_factory=list)
    mistakes: list[str] = Field(default_factory=list)


class VariantKeyFile(BaseModel):
    """What the disk cache holds for one variant: all that differs from the printed key, so that
    a cached key is assembled without importing the problem set (or torch)."""

    source_hash: str
    variant: Variant
    dealt: bool = Field(False, description="The variant is what its code deals from this problem source (not a report's older numbers).")
    parts: list[PartKey] = Field(description="The keys of the parts whose values depend on the inputs.")
    texts: dict[str, PartTexts] = Field(default_factory=dict, description="Other parts whose prompt or notes show the numbers.")

    def key(self, base: AnswerKey) -> AnswerKey:
        """The whole key: `base` with this variant's parts and texts."""
        computed = {p.id: p for p in self.parts}
        parts = []
        for part in base.parts:
            if part.id in computed:
                parts.append(computed[part.id])
            elif part.id in self.texts:
                t = self.texts[part.id]
                parts.append(part.model_copy(update={
                    "prompt": t.prompt,
                    "alternatives": [k.model_copy(update={"note": n}) for k, n in zip(part.alternatives, t.alternatives)],
                    "mistakes": [k.model_copy(update={"note": n}) for k, n in zip(part.mistakes, t.mistakes)],
                }))
            else:
                parts.append(part)
        return base.model_copy(update={"parts": parts, "variant": self.variant})


def values_digest(variant: Variant) -> str:
    return hashlib.sha256(json.dumps(variant.values, sort_keys=True).encode()).hexdigest()[:12]


class VariantKeys:
    """The variants of one assignment (an id of the course) graded with one problem set.

    `problem` is the problem set or a function that imports it: only dealing a new variant or
    computing its key needs it (and torch); a cached key is read without it.
    """

    def __init__(
        self,
        problem: ProblemSet | Callable[[], ProblemSet],
        base: AnswerKey,
        *,
        assignment: str | None = None,
        secret: bytes | None = None,
        version: int = 1,
        cache_dir: Path | None = None,
        source: str | None = None,
    ) -> None:
        self._problem = problem
        self.base = base
        self.assignment = assignment or base.assignment
        self.secret = secret
        self.version = version
        self.source_hash = source or (problem.source_hash() if isinstance(problem, ProblemSet) else base.source_hash)
        self.cache_dir = Path(cache_dir) / base.assignment / self.source_hash if cache_dir is not None else None
        self._keys: OrderedDict[tuple[str, str], AnswerKey] = OrderedDict()
        self._variants: dict[str, Variant] = {}

    @property
    def ps(self) -> ProblemSet:
        if not isinstance(self._problem, ProblemSet):
            self._problem = self._problem()
        return self._problem

    # -- who gets which numbers ----------------------------------------------------------------
    def code_for(self, student: str) -> str:
        """The code of a student's variant (the student id is where the submission was handed in)."""
        if self.secret is None:
            raise ValueError(f"{self.assignment}: variants need the course secret")
        return variant_code(variant_seed(self.secret, self.assignment, student, self.version))

    def variant_for(self, student: str) -> Variant:
        return self.variant_of(self.code_for(student))

    def variant_of(self, code: str) -> Variant:
        """The variant a code names (dealt once; read back from the cache when it has it)."""
        found = self._variants.get(code)
        if found is None:
            cached = self._from_disk(code)
            found = cached.variant if cached is not None else self.ps.deal(code)
            self._variants[code] = found
        return found

    # -- their keys --------------------------------------------------------------------------------
    def key_for(self, variant: Variant) -> AnswerKey:
        """The answer key of a variant's numbers (as stored: a report's own values are honoured)."""
        memo = (variant.code, values_digest(variant))
        key = self._keys.get(memo)
        if key is not None:
            self._keys.move_to_end(memo)
            return key
        data = self._from_disk(variant.code, variant) or self._compute(variant)
        key = data.key(self.base)
        self._keys[memo] = key
        if len(self._keys) > MEMORY_ENTRIES:
            self._keys.popitem(last=False)
        return key

    def key_of_student(self, student: str) -> AnswerKey:
        return self.key_for(self.variant_for(student))

    def _compute(self, variant: Variant) -> VariantKeyFile:
        ps = self.ps
        varying = set(ps.varying_parts())
        with one_thread():
            parts = compute_parts(ps, variant, only=varying, base=self.base)
        key = assemble_key(ps, parts, variant, self.base)
        texts = {}
        for part, printed in zip(key.parts, self.base.parts):
            if part.id not in varying and part != printed:
                texts[part.id] = PartTexts(prompt=part.prompt, alternatives=[a.note for a in part.alternatives], mistakes=[m.note for m in part.mistakes])
        data = VariantKeyFile(
            source_hash=self.source_hash, variant=variant, dealt=self._variants.get(variant.code) == variant, parts=parts, texts=texts
        )
        self._to_disk(data)
        return data

    # -- the disk cache ---------------------------------------------------------------------------
    def _path(self, variant: Variant, dealt: bool) -> Path | None:
        """`<code>.json` for what the code deals, `<code>-<digest>.json` for other stored numbers."""
        if self.cache_dir is None:
            return None
        return self.cache_dir / (f"{variant.code}.json" if dealt else f"{variant.code}-{values_digest(variant)}.json")

    def _from_disk(self, code: str, variant: Variant | None = None) -> VariantKeyFile | None:
        if self.cache_dir is None:
            return None
        paths = [self.cache_dir / f"{code}.json"]
        if variant is not None:
            paths.append(self._path(variant, dealt=False))  # type: ignore[arg-type]
        for path in paths:
            try:
                data = VariantKeyFile.model_validate_json(path.read_bytes())
            except (OSError, ValidationError, ValueError):
                continue  # missing or damaged: computed again
            if data.source_hash == self.source_hash and data.variant.code == code and (
                data.variant.values == variant.values if variant is not None else data.dealt
            ):
                return data
        return None

    def _to_disk(self, data: VariantKeyFile) -> None:
        path = self._path(data.variant, data.dealt)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(data.model_dump_json(), encoding="utf-8")
            partial.replace(path)  # atomic: parallel workers never read half a file
        except OSError:
            pass  # a read-only cache costs time, not correctness


class VariantGraders:
    """An assignment with per-student numbers, where submissions are graded: the grader of each
    student's variant, made on first use from the cached key (the problem set, and torch, are
    imported only to compute a key the cache does not have, or for follow-through)."""

    GRADERS_KEPT = 256

    def __init__(self, source: ProblemSource, base: AnswerKey, *, secret: bytes, version: int, cache_dir: Path | None, source_hash: str) -> None:
        self.source = source
        self.base = base
        self.keys = VariantKeys(self._problem, base, secret=secret, version=version, cache_dir=cache_dir, source=source_hash)
        self._graders: OrderedDict[str, AssignmentGrader] = OrderedDict()
        self._plain: AssignmentGrader | None = None

    def _problem(self) -> ProblemSet:
        ps = self.source.ready_to_compute()
        if ps is None:
            raise LookupError(f"{self.base.assignment}: no problem set to deal variants from")
        return ps

    @property
    def key(self) -> AnswerKey:
        """The printed numbers' key: the parts, marks and kinds every variant shares."""
        return self.base

    def read(self, part_id: str, raw: Any) -> Any:
        """How an answer is read: the same for every variant."""
        if self._plain is None:
            self._plain = AssignmentGrader(self.source, self.base)
        return self._plain.read(part_id, raw)

    def grader_for(self, sub: Submission) -> AssignmentGrader:
        """The grader of the variant of whoever handed `sub` in (never of a typed student line),
        or of the numbers `sub` carries from an earlier report (a regrade)."""
        key = self.keys.key_for(sub.variant) if sub.variant is not None else self.keys.key_of_student(sub.identity)
        found = self._graders.get(key.variant.code)  # type: ignore[union-attr]
        if found is None or found.key is not key:
            found = AssignmentGrader(self.source, key)
            self._graders[key.variant.code] = found  # type: ignore[union-attr]
            if len(self._graders) > self.GRADERS_KEPT:
                self._graders.popitem(last=False)
        return found


def student_prompts(keys: VariantKeys, student: str | None) -> dict[str, Any]:
    """A student's sheet for the service: their variant code, their numbers and every part's
    prompt with their numbers in it (without a student, or with variants off: the printed ones)."""
    ps = keys.ps
    variant = keys.variant_for(student) if student is not None and ps.varies and keys.secret is not None else None
    exact = ps.exact(variant)
    return {
        "assignment": keys.assignment,
        "variant": variant.code if variant is not None else None,
        "inputs": [
            {"name": name, "label": spec.label or name, "value": spec.encode(exact[name]), "text": spec.block(exact[name])}
            for name, spec in ps.inputs.items()
        ],
        "parts": [
            {"id": part.id, "marks": part.marks, "kind": part.kind.name, "prompt": ps.render(part.prompt_template, variant)}
            for part in ps
        ],
    }


def for_course(course: Course, assignment: str, ps: ProblemSet, base: AnswerKey) -> VariantKeys:
    """The variants of a course's assignment: its secret (created on first use) when variants
    are on, its variant version, and the cache under the course's out folder."""
    settings = course.assignment(assignment)
    secret = ensure_secret(course.secret) if settings.variants and ps.varies else None
    return VariantKeys(ps, base, assignment=assignment, secret=secret, version=settings.variant_version, cache_dir=course.out / CACHE_FOLDER)


def student_variant(course: Course, assignment: str, ps: ProblemSet, student: str) -> Variant | None:
    """A student's variant of a course's assignment (None when its variants are off): dealt
    from the course secret, created on first use."""
    settings = course.assignment(assignment)
    if not settings.variants or not ps.varies:
        return None
    code = variant_code(variant_seed(ensure_secret(course.secret), assignment, student, settings.variant_version))
    return ps.deal(code)
