"""Which assignments can be graded, and their graders: committed keys first, problem sets lazily.

A committed key whose problem file is unchanged (same source hash) is used as it is, and the
problem set is imported only if follow-through or a hint needs it. Problem files without a
current key are imported and their keys built in memory, with a note telling the
instructor to run `grader key build`. `Catalog.loader()` hands the same graders to worker
processes: the keys travel with it, so no worker reads or rebuilds one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from pydantic import ValidationError

from grader.code.protected import protect
from grader.course import Course
from grader.keys.build import build_key
from grader.keys.variants import CACHE_FOLDER, VariantGraders
from grader.models import AnswerKey, Submission, SubmissionReport
from grader.problemset import ProblemSet, load_problem_file, problem_files, source_hash
from grader.scoring import AssignmentGrader, ProblemSource
from grader.variants import SecretError, ensure_secret


def _load_one(path: Path, assignment: str) -> ProblemSet:
    return load_problem_file(path)[assignment]


@dataclass(frozen=True)
class VariantSettings:
    """An assignment with per-student numbers: how its variants are dealt and cached."""

    secret: bytes
    version: int
    cache_dir: str | None


@dataclass(frozen=True)
class GraderLoader:
    """A picklable recipe for the graders of a catalog (what a worker process calls once):
    each assignment's answer key as JSON, its problem file (imported only if follow-through or
    a hint needs it) and, for per-student numbers, how its variants are dealt."""

    entries: tuple[tuple[str, str, str, str], ...]  # (assignment, problem file, problem set id, AnswerKey JSON)
    variants: tuple[tuple[str, VariantSettings], ...] = ()
    protected: tuple[str, ...] = ()  # folders no sandboxed code may read (grader.code.protected)

    def __call__(self) -> dict[str, "AssignmentGrader | VariantGraders"]:
        protect(*self.protected)
        variants = dict(self.variants)
        graders: dict[str, AssignmentGrader | VariantGraders] = {}
        for a, file, ps_id, key_json in self.entries:
            key = AnswerKey.model_validate_json(key_json)
            graders[a] = _grader(Path(file), ps_id, key, variants.get(a))
        return graders


def _grader(file: Path, ps_id: str, key: AnswerKey, variants: VariantSettings | None) -> "AssignmentGrader | VariantGraders":
    source = ProblemSource(partial(_load_one, file, ps_id))
    if variants is None:
        return AssignmentGrader(source, key)
    cache = Path(variants.cache_dir) if variants.cache_dir else None
    return VariantGraders(source, key, secret=variants.secret, version=variants.version, cache_dir=cache, source_hash=source_hash(file))


class Catalog:
    """`course` (grader.toml) adds its assignments that grade a problem set under another id
    (`problem_set = ...`) and those with per-student numbers (`variants = true`, dealt with the
    course secret, created on first use; their keys cached under `cache_dir`)."""

    def __init__(self, problems_dir: Path, reference_dir: Path | None, course: Course | None = None, cache_dir: Path | None = None) -> None:
        self.problems_dir = Path(problems_dir)
        #: The course file's settings (due dates, late policy), if there is one.
        self.course = course
        self.reference_dir = Path(reference_dir) if reference_dir is not None else None
        self.notes: list[str] = []
        #: Problem files that could not be imported or keyed: an instructor's problem, reported
        #: by the run as a grader error, while the other assignments are still graded.
        self.errors: list[str] = []
        self.keys: dict[str, AnswerKey] = {}
        self.files: dict[str, Path] = {}
        #: The problem set each assignment grades (itself, unless the course file says otherwise).
        self.problem_sets: dict[str, str] = {}
        self.variants: dict[str, VariantSettings] = {}
        self._graders: dict[str, AssignmentGrader | VariantGraders] = {}
        #: The course file's settings (feedback policy, due dates), if there is one.
        self.course = course
        protect(*self.protected)  # code parts: their sandbox must not reach the keys or problem sets
        self._scan()
        self.problem_sets.update({a: a for a in self.keys})
        if course is not None:
            self._add_course(course, cache_dir if cache_dir is not None else course.out / CACHE_FOLDER)

    def _add_course(self, course: Course, cache_dir: Path) -> None:
        for a, settings in sorted(course.assignments.items()):
            ps_id = settings.problem_set
            if ps_id not in self.keys or ps_id != self.problem_sets.get(ps_id):
                continue  # course check reports an unknown problem set
            if a != ps_id:
                self.keys[a] = self.keys[ps_id].model_copy(update={"assignment": a})
                self.files[a] = self.files[ps_id]
                self.problem_sets[a] = ps_id
            if settings.variants:
                try:
                    secret = ensure_secret(course.secret)
                except (SecretError, OSError) as exc:
                    self.errors.append(f"{a}: per-student numbers need the course secret: {exc}")
                    continue
                self.variants[a] = VariantSettings(secret, settings.variant_version, str(cache_dir))

    def _scan(self) -> None:
        files = {p.name: p for p in problem_files(self.problems_dir)} if self.problems_dir.is_dir() else {}
        covered: set[str] = set()
        for key_file in sorted(self.reference_dir.glob("*.json")) if self.reference_dir and self.reference_dir.is_dir() else []:
            try:
                key = AnswerKey.model_validate_json(key_file.read_bytes())
            except (ValidationError, ValueError, json.JSONDecodeError) as exc:
                self.notes.append(f"answer key {key_file} could not be read ({type(exc).__name__}); ignored")
                continue
            path = files.get(key.source_file)
            if path is None:
                self.notes.append(f"answer key {key_file}: its problem set {key.source_file!r} is not in {self.problems_dir}; ignored")
                continue
            if source_hash(path) != key.source_hash:
                self.notes.append(f"answer key {key_file} is stale (problem source changed); graded with a fresh build — run `grader key build`")
                continue
            self.keys[key.assignment] = key
            self.files[key.assignment] = path
            covered.add(path.name)
        for name, path in files.items():
            if name not in covered:
                self._build_from(path)

    def _build_from(self, path: Path) -> None:
        """Import one problem file and key its sets in memory; a failure costs this file only."""
        try:
            sets = load_problem_file(path)
            for ps_id, ps in sets.items():
                if ps_id in self.keys:
                    continue
                if not any(ps_id in note for note in self.notes):
                    self.notes.append(f"no answer key for {ps_id} in {self.reference_dir}; graded with a fresh build — run `grader key build`")
                self.keys[ps_id] = build_key(ps)
                self.files[ps_id] = path
        except Exception as exc:  # an instructor's bug in one set must not stop the others
            self.errors.append(f"problem set {path} could not be loaded or keyed: {type(exc).__name__}: {exc}")

    @property
    def protected(self) -> tuple[str, ...]:
        return tuple(str(p) for p in (self.problems_dir, self.reference_dir) if p is not None)

    @property
    def assignments(self) -> list[str]:
        return sorted(self.keys)

    def grader(self, assignment: str) -> "AssignmentGrader | VariantGraders | None":
        """The grader of an assignment (None if unknown), or for per-student numbers the
        graders of its variants; its problem set is imported lazily."""
        if assignment not in self.keys:
            return None
        if assignment not in self._graders:
            self._graders[assignment] = _grader(
                self.files[assignment], self.problem_sets[assignment], self.keys[assignment], self.variants.get(assignment)
            )
        return self._graders[assignment]

    def variant_graders(self) -> dict[str, VariantGraders]:
        """The assignments with per-student numbers, as graded in this process."""
        out = {}
        for a in self.variants:
            grader = self.grader(a)
            if isinstance(grader, VariantGraders):
                out[a] = grader
        return out

    def grader_for(self, sub: Submission) -> AssignmentGrader | None:
        """The grader of one submission: its assignment's, or that of its student's variant."""
        grader = self.grader(sub.assignment)
        return grader.grader_for(sub) if isinstance(grader, VariantGraders) else grader

    def late_report(self, report: SubmissionReport) -> SubmissionReport:
        """`report` with its assignment's late policy applied (the course's; none without a course file)."""
        return report if self.course is None else self.course.assignment(report.assignment).late_report(report)

    def loader(self, assignments: Iterable[str] | None = None) -> GraderLoader:
        """The graders of `assignments` (default: all) for another process to build."""
        chosen = sorted(self.keys if assignments is None else set(assignments) & set(self.keys))
        return GraderLoader(
            tuple((a, str(self.files[a]), self.problem_sets[a], self.keys[a].model_dump_json()) for a in chosen),
            tuple((a, self.variants[a]) for a in chosen if a in self.variants),
            self.protected,
        )
