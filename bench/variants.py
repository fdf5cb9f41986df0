"""Per-student variants against the same class without them: `python bench/variants.py --n 500`.

Writes a course (a grader.toml with its own secret) and two classes of N students of csc321-hw4:
one for `csc321-hw4` (the printed numbers), one for `csc321-hw4-variants` (the same problem set,
variants on: N distinct variants, each student answering from their own numbers, with the same
mix of right, accepted, wrong, unreadable and missing answers). Then, in one run of this
script on one machine, `grader run` grades:

  1. the class without variants;
  2. the class with variants, cold: every variant dealt and its key computed (torch);
  3. the class with variants again, warm: the keys from the cache (a fresh OUT holding only the
     cache of run 2), as a regrade or a second run would.

Prints the times and the ratios to (1) (target: at most 2×). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from batch_synthetic import answer_pools, pick_answers, write_submission  # noqa: E402

PROBLEM_SET = "csc321-hw4"
VARIANTS = "csc321-hw4-variants"


def write_course(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "grader.toml").write_text(
        "[course]\n"
        f"problems = {json.dumps(str(REPO / 'problems'))}\n"
        f"reference = {json.dumps(str(REPO / 'reference'))}\n"
        'secret = "secret"\n\n'
        f"[assignments.{VARIANTS}]\nproblem_set = {json.dumps(PROBLEM_SET)}\nvariants = true\n"
    )
    return root / "grader.toml"


def make_classes(base: Path, n: int, course_file: Path) -> tuple[Counter, Counter, float]:
    """Both classes; returns their answer counts and the time to deal and key N variants here."""
    from grader.course import read_course_file
    from grader.keys.build import read_key
    from grader.keys.variants import VariantKeys
    from grader.problemset import load_problem_sets
    from grader.variants import ensure_secret

    course = read_course_file(course_file)
    ps = load_problem_sets(REPO / "problems")[PROBLEM_SET]
    printed = read_key(REPO / "reference" / f"{PROBLEM_SET}.json")
    varying = set(ps.varying_parts())
    plain_pools = answer_pools(ps, printed)
    keys = VariantKeys(ps, printed, assignment=VARIANTS, secret=ensure_secret(course.secret))  # no cache: the runs start cold
    rng_a, rng_b, counts_a, counts_b = random.Random(1), random.Random(1), Counter(), Counter()
    t0 = time.perf_counter()
    variant_keys = {f"s{i:05d}": keys.key_of_student(f"s{i:05d}") for i in range(n)}
    dealt = time.perf_counter() - t0
    codes = {k.variant.code for k in variant_keys.values()}  # type: ignore[union-attr]
    if len(codes) != n:
        sys.exit(f"only {len(codes)} distinct variants for {n} students")
    for student, key in variant_keys.items():
        answers = pick_answers(plain_pools, rng_a, counts_a)
        write_submission(base / "plain" / student, {"assignment": PROBLEM_SET, "answers": answers}, "toml")
        pools = answer_pools(ps, key)
        for part_id in varying:  # the typed model answers are the printed numbers'; the forms are this variant's
            pools[part_id]["right"] = [r for r in pools[part_id]["right"] if r not in ps.parts[part_id].solutions] or ["0"]
        answers = pick_answers(pools, rng_b, counts_b)
        write_submission(base / "variants" / student, {"assignment": VARIANTS, "answers": answers}, "toml")
    return counts_a, counts_b, dealt


def grader_run(class_dir: Path, out: Path, course_file: Path, extra: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and its workers): on a busy machine the CPU
    time is the steadier figure."""
    cmd = [sys.executable, "-m", "grader", "run", str(class_dir), "--out", str(out), "--quiet", "--course", str(course_file),
           "--problems", str(REPO / "problems"), "--reference", str(REPO / "reference"), *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        sys.exit(f"grader run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def statuses(out: Path) -> Counter:
    run = json.loads((out / "run.json").read_text())
    found: Counter = Counter()
    for entry in run["reports"]:
        found.update(p["status"] for p in json.loads((out / entry["file"]).read_text())["parts"])
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description="grader run with per-student variants against the same class without them.")
    ap.add_argument("--n", type=int, default=500, help="students (each with their own variant)")
    ap.add_argument("--keep", type=Path, help="write the course, classes and reports here instead of a temp folder")
    ap.add_argument("grader_args", nargs="*", help="passed to `grader run` (e.g. --workers 2)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        course_file = write_course(base / "course")
        counts_a, counts_b, dealt = make_classes(base, args.n, course_file)
        print(f"{args.n} students, {args.n} distinct variants (dealt and keyed in this process in {dealt:.1f} s, "
              f"{dealt / args.n * 1e3:.1f} ms each)")
        print("answers without variants: " + ", ".join(f"{k} {v}" for k, v in sorted(counts_a.items())))
        print("answers with variants:    " + ", ".join(f"{k} {v}" for k, v in sorted(counts_b.items())))
        plain = grader_run(base / "plain", base / "out-plain", course_file, args.grader_args)
        shutil.rmtree(base / "out-variants", ignore_errors=True)
        cold = grader_run(base / "variants", base / "out-variants", course_file, args.grader_args)
        shutil.rmtree(base / "out-warm", ignore_errors=True)  # a fresh OUT as in the other runs, with the keys cached
        shutil.copytree(base / "out-variants" / ".cache", base / "out-warm" / ".cache")
        warm = grader_run(base / "variants", base / "out-warm", course_file, args.grader_args)
        for name, out in (("without variants", base / "out-plain"), ("with variants", base / "out-variants")):
            print(f"part statuses {name}: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses(out).items())))
        staff = json.loads((base / "out-variants" / VARIANTS / "variants.json").read_text())
        print(f"staff view: {len(staff['codes'])} variant codes, {len(staff['matches'])} answers fitting a classmate's numbers")
        print(f"grader run, {args.n} submissions without variants:        {plain[0]:6.2f} s wall, {plain[1]:6.2f} s CPU")
        for name, (wall, cpu) in (("cold", cold), ("warm", warm)):
            what = "every key computed" if name == "cold" else "keys from the cache"
            print(f"grader run, {args.n} submissions with {args.n} variants, {name}: {wall:6.2f} s wall = {wall / plain[0]:.2f}×, "
                  f"{cpu:6.2f} s CPU = {cpu / plain[1]:.2f}× ({what})")
        print("(load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
