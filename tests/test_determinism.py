"""Two parallel runs over the same class, and a rerun into the same folder, write byte-identical
files: sample seeds derive from assignment and part, reports come out in a fixed order
whichever worker finished first, and nothing records a time or a path outside the run."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _bench_module():
    spec = importlib.util.spec_from_file_location("batch_synthetic", REPO / "bench" / "batch_synthetic.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(class_dir: Path, out: Path) -> None:
    cmd = [sys.executable, "-m", "grader", "run", str(class_dir), "--out", str(out), "--quiet", "--workers", "2",
           "--problems", str(REPO / "problems"), "--reference", str(REPO / "reference")]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]  # wrong and unreadable answers are no grader failure


def files(out: Path) -> dict[str, bytes]:
    """Every report file; the grade store's database keeps a dated history of runs by design."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.suffix not in (".sqlite", ".sqlite-journal", ".db")
    }


def test_parallel_runs_and_a_rerun_are_byte_identical(tmp_path: Path) -> None:
    counts = _bench_module().make_class(tmp_path / "class", 30, seed=7)
    assert counts["right"] and counts["wrong"] and counts["invalid"]  # a mixed class, formulas included
    run(tmp_path / "class", tmp_path / "a")
    run(tmp_path / "class", tmp_path / "b")
    first = files(tmp_path / "a")
    assert len([f for f in first if f.endswith(".json") and f != "run.json"]) == 30
    assert files(tmp_path / "b") == first
    run(tmp_path / "class", tmp_path / "a")  # a regrade into the same folder
    assert files(tmp_path / "a") == first
