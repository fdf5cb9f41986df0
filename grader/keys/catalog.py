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

from grader.keys.build import build_key
from grader.models import AnswerKey
from grader.problemset import ProblemSet, load_problem_file, problem_files, source_hash
from grader.scoring import AssignmentGrader


def _load_one(path: Path, assignment: str) -> ProblemSet:
    return load_problem_file(path)[assignment]


@dataclass(frozen=True)
class GraderLoader:
    """A picklable recipe for the graders of a catalog (what a worker process calls once):
    each assignment's answer key as JSON and its problem file, imported only if follow-through
    or a hint needs it."""

    entries: tuple[tuple[str, str, str], ...]  # (assignment, problem file, AnswerKey JSON)

    def __call__(self) -> dict[str, AssignmentGrader]:
        return {
            a: AssignmentGrader(partial(_load_one, Path(file), a), AnswerKey.model_validate_json(key))
            for a, file, key in self.entries
        }


class Catalog:
    def __init__(self, problems_dir: Path, reference_dir: Path | None) -> None:
        self.problems_dir = Path(problems_dir)
        self.reference_dir = Path(reference_dir) if reference_dir is not None else None
        self.notes: list[str] = []
        #: Problem files that could not be imported or keyed: an instructor's problem, reported
        #: by the run as a grader error, while the other assignments are still graded.
        self.errors: list[str] = []
        self.keys: dict[str, AnswerKey] = {}
        self.files: dict[str, Path] = {}
        self._graders: dict[str, AssignmentGrader] = {}
        self._scan()

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
    def assignments(self) -> list[str]:
        return sorted(self.keys)

    def grader(self, assignment: str) -> AssignmentGrader | None:
        """The grader of an assignment (None if unknown); its problem set is imported lazily."""
        if assignment not in self.keys:
            return None
        if assignment not in self._graders:
            loader = partial(_load_one, self.files[assignment], assignment)
            self._graders[assignment] = AssignmentGrader(loader, self.keys[assignment])
        return self._graders[assignment]

    def loader(self, assignments: Iterable[str] | None = None) -> GraderLoader:
        """The graders of `assignments` (default: all) for another process to build."""
        chosen = sorted(self.keys if assignments is None else set(assignments) & set(self.keys))
        return GraderLoader(tuple((a, str(self.files[a]), self.keys[a].model_dump_json()) for a in chosen))
