"""This tree against an earlier commit, on the same input, interleaved:
`python bench/compare.py --before 82706e6 [--n 2000] [--rounds 3]`.

Both trees grade one synthetic class (bench/batch_synthetic.make_class, this tree's keys,
restricted to the assignments the earlier commit knows, so both grade the same files) and
one submission in a fresh process, the way bench/one_submission.py does (`grader gradescope`
and `grader run` of one file). The earlier commit is checked out in a temporary detached
worktree (or `--before-dir`), run from there with `PYTHONPATH` pointing at it and this
interpreter. Runs alternate between the trees, in the opposite order each round, so a load
that changes during the run falls on both.

Bytecode is cached for both trees, as an installed package has it (bench/installed.py), and
each tree runs once untimed first. Printed per tree: the median wall time and the median CPU
time (user + system of the command and every process it waited for, its workers included).
On a shared machine the CPU time is the figure to compare; the wall time says what a user
waited under the load printed beside it. For the batch: CPU per further submission (the
class's CPU minus that of a run of one submission, over N - 1) and what that makes on 2 idle
cores. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))

from batch_synthetic import make_class  # noqa: E402
from installed import installed_env  # noqa: E402
from one_submission import lay_out, submission_file  # noqa: E402


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], tree: Path) -> tuple[float, float]:
    """(wall s, CPU s) of `cmd` run from `tree` with that tree's package first on the path,
    its bytecode cached as an installed package's is (bench/installed.py)."""
    env = installed_env(PYTHONPATH=str(tree))
    t0, c0 = time.perf_counter(), _children_cpu()
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd[:4])} ... in {tree} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, cpu


def run_cmd(tree: Path, class_dir: Path, out: Path) -> list[str]:
    if out.exists():
        shutil.rmtree(out)
    return [sys.executable, "-m", "grader", "run", str(class_dir), "--out", str(out), "--quiet",
            "--problems", str(tree / "problems"), "--reference", str(tree / "reference")]


def gradescope_cmd(tree: Path, root: Path, assignment: str) -> list[str]:
    results = root / "results"
    if results.exists():
        shutil.rmtree(results)
    return [sys.executable, "-m", "grader", "gradescope", "--root", str(root), "--problems", str(tree / "problems"),
            "--reference", str(tree / "reference"), "--assignment", assignment]


def common_assignments(before: Path) -> set[str]:
    return {p.stem for p in (before / "reference").glob("*.json")} & {p.stem for p in (REPO / "reference").glob("*.json")}


def common_class(dest: Path, n: int, names: set[str], scratch: Path) -> list[Path]:
    """The first `n` submissions of bench/batch_synthetic's class that belong to `names`, copied
    below `dest` (`<assignment>/<student>/`); returns their folders."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        make_class(scratch, n * 2, seed=0)
    # make_class deals assignments round-robin: the first n by student keep that spread
    kept = sorted((p for p in scratch.glob("*/*") if p.parent.name in names), key=lambda p: p.name)[:n]
    for p in kept:
        shutil.copytree(p, dest / p.parent.name / p.name)
    shutil.rmtree(scratch)
    return [dest / p.parent.name / p.name for p in kept]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> None:
    ap = argparse.ArgumentParser(description="This tree against an earlier commit: batch and one-submission CPU and wall time, interleaved.")
    ap.add_argument("--before", default="82706e6", help="the earlier commit [82706e6]")
    ap.add_argument("--before-dir", type=Path, help="a checkout of it to use instead of a temporary worktree")
    ap.add_argument("--n", type=int, default=2000, help="submissions in the batch [2000]")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each command per tree [3]")
    ap.add_argument("--one-repeat", type=int, default=5, help="runs of each one-submission command per tree and round [5]")
    ap.add_argument("--assignment", default="csc321-hw4", help="the one submission's assignment [csc321-hw4]")
    ap.add_argument("--skip-batch", action="store_true", help="only the one-submission commands")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        before = args.before_dir
        if before is None:
            before = tmp / "before"
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(before), args.before], check=True)
        try:
            trees = {"before": before.resolve(), "after": REPO}
            _compare(args, trees, tmp)
        finally:
            if args.before_dir is None:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(before)], check=False)

    print(f"load average at the end: {load_average()} ({os.cpu_count()} cores)")


def _compare(args: argparse.Namespace, trees: dict[str, Path], tmp: Path) -> None:
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
    print(f"before: {args.before} ({trees['before']}); after: {head}{' + uncommitted changes' if dirty else ''} ({REPO})")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average at the start: {load_average()}")
    names = common_assignments(trees["before"])
    order = list(trees)

    # one submission, fresh process each time
    demo = submission_file(args.assignment, tmp)
    root, one_class = lay_out(demo, tmp)
    for tree in trees.values():  # untimed: writes each tree's bytecode caches
        timed(gradescope_cmd(tree, root, args.assignment), tree)
        timed(run_cmd(tree, one_class, tmp / "out-warm-up"), tree)
    one: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in range(args.rounds):
        for name in order if r % 2 == 0 else order[::-1]:
            tree = trees[name]
            for _ in range(args.one_repeat):
                one.setdefault(("grader gradescope", name), []).append(timed(gradescope_cmd(tree, root, args.assignment), tree))
                one.setdefault(("grader run (1 file)", name), []).append(timed(run_cmd(tree, one_class, tmp / f"out-one-{name}"), tree))
    print(f"\none submission ({demo.relative_to(REPO) if demo.is_relative_to(REPO) else demo.name}), {args.rounds * args.one_repeat} fresh runs per command and tree, interleaved:")
    print(f"{'command':<22}{'tree':<8}{'wall s (median)':>16}{'CPU s (median)':>16}{'CPU min':>9}")
    for (cmd, name), runs in one.items():
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(f"{cmd:<22}{name:<8}{median(walls):>16.3f}{median(cpus):>16.3f}{min(cpus):>9.3f}")

    if args.skip_batch:
        return
    class_dir = tmp / "class"
    t0 = time.perf_counter()
    kept = common_class(class_dir, args.n, names, tmp / "all")
    first = kept[0]
    shutil.copytree(first, tmp / "batch-one" / first.parent.name / first.name)
    print(f"\nbatch: {len(kept)} submissions over {', '.join(sorted(names))} (made in {time.perf_counter() - t0:.1f} s); "
          f"{args.rounds} runs per tree, interleaved, each after a run of one submission")
    batch: dict[str, list[tuple[float, float, float]]] = {}
    for r in range(args.rounds):
        for name in order if r % 2 == 0 else order[::-1]:
            tree = trees[name]
            _, cpu_one = timed(run_cmd(tree, tmp / "batch-one", tmp / f"out-b1-{name}"), tree)
            wall, cpu = timed(run_cmd(tree, class_dir, tmp / f"out-{name}"), tree)
            graded = json.loads((tmp / f"out-{name}" / "run.json").read_text())["graded"]
            if graded != len(kept):
                sys.exit(f"{name}: graded {graded} of {len(kept)}")
            batch.setdefault(name, []).append((wall, cpu, cpu_one))
            print(f"  round {r + 1} {name:<7} wall {wall:6.2f} s  CPU {cpu:6.2f} s  (one: {cpu_one:.2f} s)  load {load_average()}")
    n = len(kept)
    print(f"{'tree':<8}{'wall s':>8}{'subs/s':>8}{'CPU s':>8}{'CPU ms/further sub':>20}{'min':>7}{'subs/s on 2 cores':>19}")
    for name, runs in batch.items():
        per = [(cpu - one_) / (n - 1) * 1000 for _, cpu, one_ in runs]
        wall = median([w for w, _, _ in runs])
        print(f"{name:<8}{wall:>8.2f}{n / wall:>8.0f}{median([c for _, c, _ in runs]):>8.2f}{median(per):>20.3f}{min(per):>7.3f}"
              f"{2000 / median(per):>19.0f}")


if __name__ == "__main__":
    main()
