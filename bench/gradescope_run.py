"""How heavy is one Gradescope run? Wall time, CPU time and peak memory of run_autograder on a
realistic csc321-hw4 submission (or, with --code, the right notebook of the nyu-dl-hw2-code demo
class: four code parts run in the sandbox), against Gradescope's default container.

    python bench/gradescope_run.py [--repeat 2] [--keep] [--code]

Builds the autograder zip, unpacks it into a fresh /autograder-shaped temp tree per run, and
runs `bash source/run_autograder` exactly as Gradescope would (with this interpreter as
python3). Peak RSS is the largest of the child processes (getrusage RUSAGE_CHILDREN, taken
fresh in a helper process per run). Gradescope's defaults: 1/2 vCPU, 768 MB, 10 min timeout;
the CPU share cannot be throttled here, so "at 1/2 CPU" is CPU time / 0.5, a lower bound on
the wall time there. With code parts several processes live at once (the grader, the zygote,
a test's child), so the whole tree is also sampled every 5 ms: the sum of PSS (what a
container's memory limit charges, roughly) and of RSS (shared pages counted per process, an
over-estimate). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GRADESCOPE_MEMORY_MB = 768
GRADESCOPE_CPUS = 0.5
GRADESCOPE_TIMEOUT_S = 600
ASSIGNMENT = "csc321-hw4"


def realistic_answers() -> dict:
    """A typical strong-but-imperfect student: most references in typed forms, a named mistake,
    a follow-through chain, a formula, an unreadable answer and prose for the written parts."""
    from grader.keys.build import load_or_build_key
    from grader.problemset import load_problem_sets

    ps = load_problem_sets(REPO / "problems")[ASSIGNMENT]
    key, _ = load_or_build_key(ps, REPO / "reference")
    answers: dict = {}
    for part in ps:
        pk = key.part(part.id)
        if part.manual:
            answers[part.id] = "Each output is the sum of the elementwise products of the kernel with a 3×3 window, plus the bias. " * 3
        elif part.solutions:
            answers[part.id] = part.solutions[-1]
        elif isinstance(pk.reference, int):
            answers[part.id] = f"{pk.reference:,}"  # thousands separators, as students type them
        else:
            answers[part.id] = pk.reference
    # A flipped kernel (a named mistake), a wrong conv output carried through (follow-through),
    # and an answer the parser must reject.
    q2a = key.part("q2a")
    flipped = next((m.value for m in q2a.mistakes if "flip" in m.name.lower()), None)
    if flipped is not None:
        answers["q2a"] = "\n".join(" ".join(f"{x:g}" for x in row) for row in flipped)
    answers["q3a.conv"] = "[1, 2, 3, 4, 5]"
    answers["q1.fc1.params"] = "37,752,832.5.1"
    return answers


CODE_ASSIGNMENT = "nyu-dl-hw2-code"
CODE_UPLOAD = REPO / "submissions" / CODE_ASSIGNMENT / "c6002"  # the right notebook


def build_tree(zip_path: Path, base: Path, submission: str | Path) -> Path:
    ag = base / "autograder"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(ag / "source")
    for script in ("run_autograder", "setup.sh"):
        os.chmod(ag / "source" / script, 0o755)
    (ag / "results").mkdir()
    if isinstance(submission, Path):  # an upload folder (code)
        import shutil

        shutil.copytree(submission, ag / "submission")
    else:
        (ag / "submission").mkdir()
        (ag / "submission" / "answers.toml").write_text(submission, encoding="utf-8")
    return ag


MEASURE = r"""
import json, os, resource, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.run(["bash", sys.argv[1]], cwd=sys.argv[2], capture_output=True, text=True)
wall = time.perf_counter() - started
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "maxrss_kb": ru.ru_maxrss,
                  "returncode": proc.returncode, "stderr": proc.stderr[-2000:]}))
"""


def measure(ag: Path, env: dict[str, str]) -> dict:
    """Run run_autograder from a fresh helper process, so RUSAGE_CHILDREN covers this run only."""
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(ag / "source" / "run_autograder"), str(ag)],
        env=env, capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="Runs, each in a fresh tree (the first is cold).")
    parser.add_argument("--keep", action="store_true", help="Keep the temp trees and print where.")
    parser.add_argument("--code", action="store_true", help=f"Grade the right notebook of {CODE_ASSIGNMENT} (code parts, the sandbox).")
    args = parser.parse_args()
    assignment = CODE_ASSIGNMENT if args.code else ASSIGNMENT
    from code_parts import TreeSampler  # bench/ is this script's folder

    from grader.lms.gradescope.package import build_zip
    from grader.problemset import load_problem_sets
    from grader.keys.template import render

    work = Path(tempfile.mkdtemp(prefix="gradescope-bench-"))
    t0 = time.perf_counter()
    summary = build_zip(assignment, work / "autograder.zip", REPO / "problems", REPO / "reference")
    export_s = time.perf_counter() - t0
    ps = load_problem_sets(REPO / "problems")[assignment]
    submission: str | Path = CODE_UPLOAD if args.code else render(ps, "toml", realistic_answers())

    bin_dir = work / "bin"
    bin_dir.mkdir()
    # a wrapper, not a symlink: a symlinked venv interpreter does not find its pyvenv.cfg
    (bin_dir / "python3").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "python3").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the package comes from the zip
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"

    print(f"zip: {summary.path.stat().st_size / 1024:.0f} KB, {len(summary.files)} files, built in {export_s:.1f} s")
    size = sum(p.stat().st_size for p in submission.iterdir()) if isinstance(submission, Path) else len(submission)
    print(f"submission: {size / 1024:.1f} KB, {len(ps.parts)} parts; machine: {os.cpu_count()} CPUs (not throttled)")
    print()
    print(f"{'run':>4} {'wall s':>8} {'cpu s':>7} {'at 1/2 CPU':>11} {'peak RSS MB':>12} {'tree PSS MB':>12} {'tree RSS MB':>12} {'score':>7}  status")
    for i in range(args.repeat):
        ag = build_tree(summary.path, work / f"run{i}", submission)
        sampler = TreeSampler(exclude=os.getpid())  # run_autograder's tree, not this process (it imported torch)
        sampler.start()
        m = measure(ag, env)
        sampler.stop()
        results = json.loads((ag / "results" / "results.json").read_text())
        statuses: dict[str, int] = {}
        for s in results.get("extra_data", {}).get("statuses", {}).values():
            statuses[s] = statuses.get(s, 0) + 1
        rss_mb = m["maxrss_kb"] / 1024
        print(
            f"{i + 1:>4} {m['wall']:>8.2f} {m['cpu']:>7.2f} {m['cpu'] / GRADESCOPE_CPUS:>10.1f}s {rss_mb:>12.0f} "
            f"{sampler.peak_pss / 1024:>12.0f} {sampler.peak_rss / 1024:>12.0f} "
            f"{results['score']:>7g}  {', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))}"
        )
        if m["returncode"] != 0:
            print(f"     run_autograder exited {m['returncode']}: {m['stderr']}")
    print()
    print(
        f"Gradescope defaults: {GRADESCOPE_CPUS:g} vCPU, {GRADESCOPE_MEMORY_MB} MB, {GRADESCOPE_TIMEOUT_S // 60} min timeout. "
        f"Peak RSS above is {rss_mb / GRADESCOPE_MEMORY_MB:.0%} of the memory limit (largest process), "
        f"the tree's PSS {sampler.peak_pss / 1024 / GRADESCOPE_MEMORY_MB:.0%}; "
        f"CPU time / 0.5 is {m['cpu'] / GRADESCOPE_CPUS / GRADESCOPE_TIMEOUT_S:.1%} of the timeout."
    )
    print("To reproduce the limits locally: docker run --cpus=0.5 --memory=768m ... (see Dockerfile).")
    if args.keep:
        print(f"trees kept in {work}")
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
