"""Latency and memory of grading ONE submission in a fresh process, as an LMS container does:
`python bench/one_submission.py [--repeat 3] [--assignment csc321-hw4]`.

Two commands, each started fresh per repeat:
  * `grader gradescope` (what the Gradescope container runs: one process, SIGALRM per part);
  * `grader run <one file>` (the batch path: a parent plus one killable worker).
The submission is the demo class's first csc321-hw4 file when there is one, else the model
answers. Wall time is the command's; memory is sampled from /proc every 5 ms over the whole
process tree (forkserver and workers included): the peak of the largest single process and
the peak of the sum. Targets: ≤ 1.0 s wall, ≤ 300 MB. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from installed import installed_env  # noqa: E402  (bytecode cached, as when installed)


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    """pid and every process below it (from /proc/*/stat parent links)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def measure(cmd: list[str], cwd: Path) -> tuple[float, int, int, int]:
    """(wall seconds, peak single-process RSS kB, peak total RSS kB, exit code)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=installed_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_one = peak_sum = 0
    while proc.poll() is None:
        sizes = [_rss_kb(p) for p in _descendants(proc.pid)]
        peak_one = max(peak_one, max(sizes, default=0))
        peak_sum = max(peak_sum, sum(sizes))
        time.sleep(0.005)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        print(proc.stderr.read().decode()[-2000:], file=sys.stderr)
    return wall, peak_one, peak_sum, proc.returncode


def submission_file(assignment: str, tmp: Path) -> Path:
    demo = sorted((REPO / "submissions" / assignment).glob("*/answers.*"))
    if demo:
        return demo[0]
    from grader.problemset import load_problem_sets

    ps = load_problem_sets(REPO / "problems")[assignment]
    lines = [f'assignment = "{assignment}"', "[answers]"]
    lines += [f'"{p.id}" = {p.solutions[0]!r}'.replace("'", '"') for p in ps if p.solutions and "\n" not in p.solutions[0]]
    path = tmp / "answers.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def lay_out(answers: Path, tmp: Path) -> tuple[Path, Path]:
    """The submission as Gradescope hands it in (`<root>/submission/`) and as a class folder of
    one student (`<class>/<student>/`): (Gradescope's root, the class folder)."""
    root = tmp / "autograder"
    (root / "submission").mkdir(parents=True)
    shutil.copy(answers, root / "submission" / answers.name)
    one = tmp / "one" / answers.parent.name
    one.mkdir(parents=True)
    shutil.copy(answers, one / answers.name)
    return root, one.parent


def main() -> None:
    ap = argparse.ArgumentParser(description="Grade one submission in a fresh process: wall time and RSS.")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--assignment", default="csc321-hw4")
    ap.add_argument("--reference", type=Path, default=REPO / "reference")
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        answers = submission_file(args.assignment, tmp)
        print(f"submission: {answers.relative_to(REPO) if answers.is_relative_to(REPO) else answers.name}")
        root, one_class = lay_out(answers, tmp)
        commands = {
            "grader gradescope": [py, "-m", "grader", "gradescope", "--root", str(root), "--problems", str(REPO / "problems"),
                                  "--reference", str(args.reference), "--assignment", args.assignment],
            "grader run (1 file)": [py, "-m", "grader", "run", str(one_class), "--out", str(tmp / "out"), "--quiet",
                                    "--problems", str(REPO / "problems"), "--reference", str(args.reference)],
        }
        print(f"{'command':<22}{'wall s (median)':>16}{'min':>7}{'max':>7}{'RSS MB, largest':>17}{'all processes':>15}")
        for name, cmd in commands.items():
            measure(cmd, REPO)  # untimed: writes the bytecode caches
            runs = [measure(cmd, REPO) for _ in range(args.repeat)]
            walls = [r[0] for r in runs]
            codes = {r[3] for r in runs}
            print(f"{name:<22}{statistics.median(walls):>16.2f}{min(walls):>7.2f}{max(walls):>7.2f}"
                  f"{max(r[1] for r in runs) / 1024:>17.0f}{max(r[2] for r in runs) / 1024:>15.0f}"
                  + ("" if codes <= {0, 1} else f"   exit codes {sorted(codes)}"))
        print("targets: <= 1.0 s wall, <= 300 MB")


if __name__ == "__main__":
    main()
