"""The long fuzz run: `python tests/fuzz/run_long.py --inputs 100000`.

Generates inputs with the same generators as the CI fuzz tests (grammar-shaped formulas,
mutated valid answers, random unicode, native TOML/JSON values), seeded, and feeds each to
every parser. Prints per parser: inputs, accepted, invalid, problems (an exception other than
InvalidAnswer, a call over the budget, or an echo that does not re-parse to the same value)
and the slowest call; then the first few problems of each. `known` counts problems already
reported (fuzz_targets.KNOWN_ISSUES). Exit code 1 if any was found.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fuzz_targets import TARGETS, answer, check, known  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description="Long fuzz run over every parser.")
    ap.add_argument("--inputs", type=int, default=100_000, help="inputs generated (each goes to every parser)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", help="parser names (default: all)")
    args = ap.parse_args()
    targets = [t for t in TARGETS if not args.only or t.name in args.only]
    rng = random.Random(args.seed)
    counts = {t.name: Counter() for t in targets}
    worst = {t.name: 0.0 for t in targets}
    problems: dict[str, list[str]] = {t.name: [] for t in targets}
    t0 = time.perf_counter()
    for _ in range(args.inputs):
        raw = answer(rng)
        for target in targets:
            given = raw if not target.text_only or isinstance(raw, str) else str(raw)
            outcome = check(target, given)
            c = counts[target.name]
            c["inputs"] += 1
            c["accepted" if outcome.accepted else "invalid"] += 1
            worst[target.name] = max(worst[target.name], outcome.seconds)
            if outcome.problem and known(target, given):
                c["known"] += 1
            elif outcome.problem:
                c["problems"] += 1
                if len(problems[target.name]) < 5:
                    problems[target.name].append(f"{given!r:.160}: {outcome.problem}")
    total: Counter = Counter()
    print(f"{'parser':<15}{'inputs':>9}{'accepted':>10}{'invalid':>9}{'problems':>10}{'known':>7}{'max ms':>9}")
    for t in targets:
        c = counts[t.name]
        total.update(c)
        print(f"{t.name:<15}{c['inputs']:>9}{c['accepted']:>10}{c['invalid']:>9}{c['problems']:>10}{c['known']:>7}{worst[t.name] * 1000:>9.1f}")
    print(f"{'total':<15}{total['inputs']:>9}{total['accepted']:>10}{total['invalid']:>9}{total['problems']:>10}"
          f"{total['known']:>7}{max(worst.values()) * 1000:>9.1f}")
    print(f"wall time {time.perf_counter() - t0:.0f} s (seed {args.seed})")
    for name, found in problems.items():
        for p in found:
            print(f"  {name}: {p}")
    return 1 if total["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
