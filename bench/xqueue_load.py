"""`grader xqueue` through a local XQueue: `python bench/xqueue_load.py --n 300 [--db URL]`.

Queues N submissions in the test suite's XQueue (tests/_fake_xqueue.py, a real HTTP server)
made from the demo class's answer files (csc321-hw4, nyu-intro-ml-hw8, ai6126-hw1, assignment4:
each file's text sent as the student's response, as an edX text box would), runs
`grader xqueue --once` on the demo course in a fresh process (the pool with its budget, as
deployed), and prints submissions per second, both for the whole command and with the fixed
start-up cost (a run of one submission) taken off. Every submission must end with exactly one
accepted reply. Prints figures; asserts only that.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from _fake_xqueue import FakeXQueue  # noqa: E402

ASSIGNMENTS = ("csc321-hw4", "nyu-intro-ml-hw8", "ai6126-hw1", "assignment4")
QUEUE = "bench-queue"
ON_TIME = "20200301000000"  # edX's submission_time: before every due date of the demo course


def answer_texts() -> list[tuple[str, str, str]]:
    """(assignment, the file's format, its text) for every demo answer file of those assignments."""
    found = []
    for assignment in ASSIGNMENTS:
        for path in sorted((REPO / "submissions" / assignment).glob("*/answers.*")):
            found.append((assignment, path.suffix.lstrip(".").replace("yml", "yaml"), path.read_text(encoding="utf-8")))
    return found


def run(n: int, db: str, workers: int) -> tuple[float, FakeXQueue]:
    texts = answer_texts()
    fake = FakeXQueue(users={"bench": "bench"}, queues=(QUEUE,))
    fake.__enter__()
    for i in range(n):
        assignment, form, text = texts[i % len(texts)]
        fake.add(text, {"assignment": assignment, "format": form}, student=f"anon-{i}", queue=QUEUE, submitted=ON_TIME)
    env = {**os.environ, "GRADER_XQUEUE_USERNAME": "bench", "GRADER_XQUEUE_PASSWORD": "bench"}
    cmd = [sys.executable, "-m", "grader", "xqueue", "--url", fake.url, "--queue", QUEUE, "--course", str(REPO), "--db", db, "--once", "--workers", str(workers)]
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    elapsed = time.perf_counter() - started
    fake.__exit__(None, None, None)
    if done.returncode != 0:
        sys.exit(f"grader xqueue failed ({done.returncode}):\n{done.stderr[-3000:]}")
    if os.environ.get("BENCH_VERBOSE"):
        print(done.stderr[-3000:], file=sys.stderr)
    return elapsed, fake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--db", default=None, help="a store URL (default: a fresh SQLite file)")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_one = args.db or str(Path(tmp) / "one.sqlite")
        db_all = args.db or str(Path(tmp) / "all.sqlite")
        one, _ = run(1, db_one, args.workers)
        total, fake = run(args.n, db_all, args.workers)
    replies = [len(s.puts) for s in fake.submissions.values()]
    assert replies == [1] * args.n, f"not one reply each: {sorted(set(replies))}"
    scores = [s.puts[0]["score"] for s in fake.submissions.values()]
    print(f"{args.n} submissions through XQueue ({len(ASSIGNMENTS)} demo assignments, workers={args.workers}, store={'given' if args.db else 'SQLite'})")
    print(f"  whole command:         {total:.1f} s  ({args.n / total:.1f} submissions/s)")
    print(f"  one submission:        {one:.1f} s  (start-up: course, pool, login)")
    steady = max(total - one, 1e-9)
    print(f"  start-up taken off:    {steady:.1f} s  ({(args.n - 1) / steady:.1f} submissions/s, {1000 * steady / (args.n - 1):.0f} ms each)")
    print(f"  replies: {sum(replies)} accepted puts for {args.n} submissions; correct {sum(1 for s in fake.submissions.values() if s.puts[0]['correct'])}, mean score {sum(scores) / len(scores):.3f}")


if __name__ == "__main__":
    main()
