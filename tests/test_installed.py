"""From a fresh install to a running course: the project installed for real (non-editable, from
a copy of the source, into a virtualenv outside the repository), then `grader run` started from
another directory finds the demo course by `--course` or `GRADER_COURSE` and grades its class.

To keep this fast the virtualenv borrows this interpreter's installed dependencies (torch, numpy
...) through a `.pth` line instead of downloading them; the grader itself is built and installed
into the venv's own site-packages by pip, and the test checks that it is that copy that runs.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


def _run(args: list, cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _package_tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("installed")
    source = base / "source"  # a copy: what a user downloads, not this working tree
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "grader", source / "grader", ignore=IGNORED)

    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=base, env=dict(os.environ))
    python = venv / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=base, env=dict(os.environ)).stdout.strip())
    # The dependencies (and pip, setuptools) from this interpreter; a plain path line, so the
    # .pth files there (this project's editable install among them) are not run.
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_borrowed_dependencies.pth").write_text("".join(f"{d}\n" for d in sorted(deps)))

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GRADER_COURSE", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    _run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", source], cwd=base, env=env)

    course = base / "course"  # the demo course, somewhere else
    course.mkdir()
    for name in ("grader.toml", "demo-course.secret"):
        shutil.copy(ROOT / name, course / name)
    for folder in ("problems", "reference", "submissions"):
        shutil.copytree(ROOT / folder, course / folder, ignore=IGNORED)
    elsewhere = base / "elsewhere"  # no grader.toml here or above
    elsewhere.mkdir()
    return {"venv": venv, "python": python, "site": site, "env": env, "course": course, "elsewhere": elsewhere, "base": base}


def _gradebooks(out: Path) -> dict[str, list[list[str]]]:
    return {p.parent.name: list(csv.reader(io.StringIO(p.read_text()))) for p in sorted(out.glob("*/gradebook.csv"))}


def test_the_installed_package_is_a_real_copy_with_its_data(installed) -> None:
    where = _run([installed["python"], "-c", "import grader; print(grader.__file__)"], cwd=installed["elsewhere"], env=installed["env"]).stdout.strip()
    package = Path(where).parent
    assert package == installed["site"] / "grader"  # the venv's own copy, not this working tree
    assert _package_tree(package) == _package_tree(ROOT / "grader")  # every module and data file
    assert (installed["venv"] / "bin" / "grader").is_file()


def test_grader_run_from_another_directory_grades_the_demo_course(installed) -> None:
    grader, course, elsewhere, env = installed["venv"] / "bin" / "grader", installed["course"], installed["elsewhere"], installed["env"]
    # --course: the class folder, keys and output folder all come from the course file
    _run([grader, "run", "--course", course, "--quiet", "--workers", "2"], cwd=elsewhere, env=env)
    run = json.loads((course / "out" / "run.json").read_text())
    # GRADER_COURSE: the same course; --out still wins over the file's out folder
    other = installed["base"] / "other-out"
    _run([grader, "run", "--out", other, "--quiet", "--workers", "2"], cwd=elsewhere, env={**env, "GRADER_COURSE": str(course)})

    assert not list(elsewhere.iterdir())  # nothing written where the command was started
    expected = {a.name: sorted(p.parent.name for p in a.glob("*/answers.toml")) for a in (course / "submissions").iterdir() if a.is_dir()}
    assert run["graded"] == sum(len(v) for v in expected.values()) and not run["broken"] and not run["errors"]
    books = _gradebooks(course / "out")
    assert {a: sorted(row[0] for row in rows[1:]) for a, rows in books.items()} == expected
    assert _gradebooks(other) == books
    # s1001 has everything right: every part's marks in the committed key but the free-text
    # ones (kind text), which wait for a person
    key = json.loads((course / "reference" / "csc321-hw4.json").read_text())
    total = sum(p["marks"] for p in key["parts"] if p["kind"] != "text")
    header, *rows = books["csc321-hw4"]
    s1001 = dict(zip(header, next(r for r in rows if r[0] == "s1001")))
    assert float(s1001["total"]) == pytest.approx(total), s1001
