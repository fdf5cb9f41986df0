"""Time to parse and check one answer, by kind: `python bench/per_kind.py [--repeat 20]`.

Every gradable part of every problem set is graded in this process (no pool, no cache) with
the answers the synthetic class uses (model answers, other accepted forms, wrong and unreadable
ones), each `--repeat` times with a fresh context; per kind the median, 95th percentile and
maximum of one `AssignmentGrader.grade_part` call are printed. Target: a typical formula
(expr, index-expr, shape formula) ≤ 5 ms. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from batch_synthetic import answer_pools  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description="Parse + check time of one answer, by kind.")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--reference", type=Path, default=REPO / "reference")
    args = ap.parse_args()

    from grader.keys.build import load_or_build_key
    from grader.models import Submission
    from grader.problemset import load_problem_sets
    from grader.scoring import AssignmentGrader, GradingContext

    times: dict[str, list[float]] = defaultdict(list)
    by_category: dict[tuple[str, str], list[float]] = defaultdict(list)
    for ps_id, ps in sorted(load_problem_sets(REPO / "problems").items()):
        key, _ = load_or_build_key(ps, args.reference)
        grader = AssignmentGrader(ps, key)
        pools = answer_pools(ps, key)
        for index, pg in enumerate(grader.graders):
            if pg.kind.manual:
                continue
            kind = pg.kind.name + ("-formula" if pg.kind.sampled and pg.kind.name == "shape" else "")
            for category, answers in pools[pg.id].items():
                for raw in {repr(a): a for a in answers}.values():
                    sub = Submission(assignment=ps_id, student="bench", answers={pg.id: raw}, source="bench")
                    grader.grade_part(index, sub, GradingContext())  # warm: lazy imports, caches
                    for _ in range(args.repeat):
                        t0 = time.perf_counter()
                        grader.grade_part(index, sub, GradingContext())
                        dt = time.perf_counter() - t0
                        times[kind].append(dt)
                        by_category[(kind, category)].append(dt)

    def row(name: str, xs: list[float]) -> str:
        xs = sorted(xs)
        p95 = xs[min(len(xs) - 1, int(0.95 * len(xs)))]
        return f"{name:<22}{len(xs):>7}{statistics.median(xs) * 1e3:>10.2f}{p95 * 1e3:>9.2f}{xs[-1] * 1e3:>9.2f}"

    print(f"{'kind':<22}{'calls':>7}{'median ms':>10}{'p95 ms':>9}{'max ms':>9}")
    for kind in sorted(times):
        print(row(kind, times[kind]))
    print("\nby kind and answer category (right / alt / wrong / invalid):")
    for (kind, category) in sorted(by_category):
        print(row(f"{kind} {category}", by_category[(kind, category)]))
    print("\ntarget: typical formula (expr, index-expr, shape-formula) <= 5 ms")


if __name__ == "__main__":
    main()
