"""Build the autograder zip an instructor uploads to Gradescope for one assignment.

Layout of the zip (Gradescope unpacks it into /autograder/source):

    setup.sh           run once when Gradescope builds the image: Python >= 3.11 in a venv,
                       CPU-only torch, the runtime requirements
    run_autograder     run per submission: `python3 -m grader gradescope --root /autograder ...`
    requirements.txt   runtime dependencies except torch
    constraints.txt    the exact versions installed where the zip was built (torch included):
                       setup.sh installs with `-c constraints.txt` (grader.lms.gradescope.constraints)
    grader/            the grader package, copied as it is installed here
    problems/          the assignment's problem-set module (and `_*.py` helpers beside it)
    reference/         the assignment's answer key, rebuilt here if the committed one is stale

The entries carry fixed timestamps, so the same inputs give a byte-identical zip.
"""

from __future__ import annotations

import json
import shlex
import stat
import zipfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import grader
from grader.course import Course
from grader.keys.build import load_or_build_key
from grader.models import AnswerKey
from grader.lms.gradescope.constraints import CONSTRAINTS_FILE, constraints_text
from grader.lms.gradescope.driver import DEFAULT_PART_BUDGET
from grader.problemset import ProblemSet, load_problem_sets
from grader.variants import ensure_secret

#: Runtime dependencies besides torch (kept equal to pyproject's by a test).
REQUIREMENTS = (
    "numpy>=1.26", "sympy>=1.12", "pydantic>=2.12", "typer>=0.12", "rich>=13", "lark>=1.1", "PyYAML>=6", "SQLAlchemy>=2.0", "alembic>=1.13",
    "markdown-it-py>=3", "packaging>=23", "nbformat>=5.9", "pyseccomp>=0.1.2; sys_platform == 'linux'",
)
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
SKIP_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo"}

SETUP_SH = f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, while building the autograder image.
set -euo pipefail
source_dir="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
root="$(dirname "$source_dir")"

# grader needs Python >= 3.11 (tomllib); Ubuntu 22.04 images ship 3.10.
export DEBIAN_FRONTEND=noninteractive
apt-get update
if python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  py=python3
  apt-get install -y python3-venv
else
  apt-get install -y python3.11 python3.11-venv
  py=python3.11
fi

# A venv: system pip is "externally managed" on newer Ubuntu images.
"$py" -m venv "$root/venv"
"$root/venv/bin/python" -m pip install --upgrade pip
# Exactly the versions the key was built and tested with (constraints.txt, written by
# `grader export gradescope`). The CPU-only torch first, alone: a bare torch requirement pulls
# several GB of CUDA wheels. Then the rest, pinned; torch, already there, is not downloaded again.
torch_pin="$(grep -i '^torch==' "$source_dir/constraints.txt")"
"$root/venv/bin/python" -m pip install --no-deps "$torch_pin" --index-url {TORCH_INDEX}
"$root/venv/bin/python" -m pip install -c "$source_dir/constraints.txt" -r "$source_dir/requirements.txt" "$torch_pin"

# Fail the image build now, not every submission later.
cd "$source_dir" && "$root/venv/bin/python" -m grader gradescope --help > /dev/null
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission (as /autograder/run_autograder; the copy in
# /autograder/source works the same). The grader writes results/results.json whatever happens;
# this script only finds Python, and covers the one case the grader cannot: Python not starting.
set -u
here="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
if [ "$(basename "$here")" = source ]; then root="$(dirname "$here")"; else root="$here"; fi
root="${{GRADER_ROOT:-$root}}"
source_dir="$root/source"
if [ -x "$root/venv/bin/python3" ]; then export PATH="$root/venv/bin:$PATH"; fi

mkdir -p "$root/results"
rm -f "$root/results/results.json"
cd "$source_dir"
python3 -m grader gradescope --root "$root" --problems "$source_dir/problems" \\
  --reference "$source_dir/reference" --assignment {assignment} --part-budget {part_budget:g}
status=$?
if [ ! -s "$root/results/results.json" ]; then
  printf '%s\\n' '{{"score": 0.0, "output": "The autograder could not start (exit status '"$status"'). This is not your fault: please tell course staff.", "tests": []}}' \\
    > "$root/results/results.json"
fi
exit 0
"""


class ExportSummary(BaseModel):
    """What went into a zip (printed by the CLI, checked by tests)."""

    path: Path
    assignment: str
    files: list[str]
    notes: list[str]


def _info(name: str, executable: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
    return info


def package_files(root: Path) -> list[tuple[str, Path]]:
    """(archive name, file) for every file of the package tree at `root`, caches left out."""
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root.parent)
        if path.is_file() and not SKIP_DIRS.intersection(rel.parts) and path.suffix not in SKIP_SUFFIXES:
            out.append((rel.as_posix(), path))
    return out


def problem_files(ps: ProblemSet) -> list[Path]:
    """The problem set's module and the `_*.py` helpers beside it (the loader skips those)."""
    if ps.module_file is None:
        raise ValueError(f"problem set {ps.id!r} was not loaded from a file")
    helpers = sorted(p for p in ps.module_file.parent.glob("_*.py") if p.name != "__init__.py")
    return [ps.module_file, *helpers]


def build_zip(
    assignment: str,
    out: Path,
    problems_dir: Path,
    reference_dir: Path | None,
    part_budget: float = DEFAULT_PART_BUDGET,
    course: Course | None = None,
) -> ExportSummary:
    """Write the autograder zip for `assignment` (a problem set, or an assignment of `course`:
    with per-student numbers, its settings and the course secret go in the zip, which only staff
    see) to `out`."""
    settings = course.assignment(assignment) if course is not None else None
    ps_id = settings.problem_set if settings is not None else assignment
    sets = load_problem_sets(problems_dir)
    if ps_id not in sets:
        raise KeyError(f"no problem set {ps_id!r} in {problems_dir} (found: {', '.join(sorted(sets)) or 'none'})")
    ps = sets[ps_id]
    key, notes = load_or_build_key(ps, reference_dir)  # stale or missing: a fresh build goes in the zip
    variants = None
    if course is not None and settings is not None and (settings.variants or assignment != ps_id):
        variants = (assignment, ensure_secret(course.secret) if settings.variants else None, settings)
    return write_zip(ps, key, out, part_budget, notes, variants)


def course_file(assignment: str, problem_set: str, variants: bool, version: int) -> str:
    """The autograder's own grader.toml: the one assignment, with its secret beside it."""
    lines = ["[course]", 'secret = "secret"', "", f"[assignments.{json.dumps(assignment)}]", f"problem_set = {json.dumps(problem_set)}"]
    if variants:
        lines += ["variants = true", f"variant_version = {version}"]
    return "\n".join(lines) + "\n"


def write_zip(
    ps: ProblemSet, key: AnswerKey, out: Path, part_budget: float, notes: list[str], course: tuple[str, bytes | None, Any] | None = None
) -> ExportSummary:
    assignment = course[0] if course is not None else ps.id
    entries: list[tuple[zipfile.ZipInfo, bytes]] = [
        (_info("setup.sh", True), SETUP_SH.encode()),
        (_info("run_autograder", True), RUN_AUTOGRADER.format(assignment=shlex.quote(assignment), part_budget=part_budget).encode()),
        (_info("requirements.txt"), ("\n".join(REQUIREMENTS) + "\n").encode()),
        (_info(CONSTRAINTS_FILE), constraints_text().encode()),
    ]
    entries += [(_info(name), path.read_bytes()) for name, path in package_files(Path(grader.__file__).parent)]
    entries += [(_info(f"problems/{p.name}"), p.read_bytes()) for p in problem_files(ps)]
    entries.append((_info(f"reference/{ps.id}.json"), (key.model_dump_json(indent=1) + "\n").encode()))
    if course is not None:
        _, secret, settings = course
        entries.append((_info("grader.toml"), course_file(assignment, ps.id, secret is not None, settings.variant_version).encode()))
        if secret is not None:
            entries.append((_info("secret"), (secret.hex() + "\n").encode()))
            notes = [*notes, "the zip holds the course secret (per-student numbers): share it with staff only"]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return ExportSummary(path=out, assignment=assignment, files=[i.filename for i, _ in entries], notes=notes)
