"""What code parts cost: sandbox start-up, per-test latency with the zygote, and the peak
memory of one submission's code parts (the whole process tree: grader, bubblewrap, zygote,
children).

    python bench/code_parts.py [--tests 100] [--no-namespaces]

Per-test overhead is the round trip of a trivial test (fork, confine, run one tiny torch op,
answer, reap) minus the same work done in-process; target <= 50 ms. Memory is sampled every
5 ms over the process tree: the sum of RSS (counts pages shared by the zygote and its children
once per process, an over-estimate) and the sum of PSS (shared pages split between sharers:
what a container's memory limit charges, roughly). Gradescope's container allows 768 MB.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

GRADESCOPE_MEMORY_MB = 768

from one_submission import _descendants  # noqa: E402 - bench/ is this script's folder


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB; zeros if it has gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            fields = {line.split(":")[0]: int(line.split()[1]) for line in f if line.split(":")[0] in ("Rss", "Pss")}
        return fields.get("Rss", 0), fields.get("Pss", 0)
    except (OSError, ValueError, IndexError):
        return 0, 0


class TreeSampler(threading.Thread):
    def __init__(self, interval: float = 0.005, exclude: int | None = None) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.exclude = exclude  # a process left out of the sums (a bench that imported torch itself)
        self.peak_rss = self.peak_pss = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            rss = pss = 0
            for pid in _descendants(os.getpid()):
                if pid == self.exclude:
                    continue
                r, p = _memory_kb(pid)
                rss, pss = rss + r, pss + p
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.samples += 1
            time.sleep(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _cpu_seconds(pids: list[int]) -> float:
    """CPU time of processes and of the children they have reaped (utime, stime, cutime, cstime)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(v) for v in fields[11:15])
        except (OSError, ValueError, IndexError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def latency(namespaces: bool, count: int, preload: tuple[str, ...] = ()) -> None:
    import numpy as np
    import torch

    from grader.sandbox.harness import Source, TestRequest, run_test
    from grader.sandbox import Limits, Sandbox

    code = "import torch\ndef f(x):\n    return x * 2 + 1\n"
    test = {"kind": "call", "entry": "f", "inputs": [{"array": "x", "dtype": "float32"}]}
    arrays = {"x": np.arange(12.0).reshape(3, 4)}
    started = time.perf_counter()
    with Sandbox(namespaces=namespaces, preload=preload) as sandbox:
        start_s = time.perf_counter() - started
        assert sandbox.layers is not None
        print(f"layers: {sandbox.layers.summary()}; preloaded: {', '.join(preload) or 'the default modules'}")
        tree = sum(_memory_kb(pid)[0] for pid in _descendants(sandbox.zygote_pid or 0))
        print(f"sandbox start (zygote imports torch): {start_s:.2f} s; zygote RSS {tree / 1024:.0f} MB (with bubblewrap's processes)")
        for _ in range(3):
            sandbox.run(test, [{"name": "f.py", "code": code}], arrays, Limits())
        rounds, child = [], []
        sandbox_pids = _descendants(sandbox.zygote_pid or 0)
        cpu_before = _cpu_seconds(sandbox_pids)
        for _ in range(count):
            t = time.perf_counter()
            outcome = sandbox.run(test, [{"name": "f.py", "code": code}], arrays, Limits())
            rounds.append(time.perf_counter() - t)
            child.append(outcome.elapsed)
            assert outcome.arrays["out0"].tolist() == (arrays["x"] * 2 + 1).astype("float32").tolist()
        time.sleep(0.5)  # the last children reaped
        sandbox.run(test, [{"name": "f.py", "code": code}], arrays, Limits())
        cpu_per_test = (_cpu_seconds(sandbox_pids) - cpu_before) / (count + 1)
    request = TestRequest(**test)
    torch.tensor([1.0]) * 2  # warm, as the in-process baseline would be in steady state
    inproc = []
    for _ in range(count):
        t = time.perf_counter()
        run_test(request, [Source(name="f.py", code=code)], arrays)
        inproc.append(time.perf_counter() - t)
    median = statistics.median
    p95 = sorted(rounds)[int(0.95 * (len(rounds) - 1))]
    print(
        f"per test over {count}: round trip median {median(rounds) * 1000:.1f} ms (p95 {p95 * 1000:.1f} ms), "
        f"fork-to-reap {median(child) * 1000:.1f} ms, same work in-process {median(inproc) * 1000:.2f} ms "
        f"-> sandbox overhead {(median(rounds) - median(inproc)) * 1000:.1f} ms per test (target <= 50 ms); "
        f"CPU per test (zygote and child, load-independent) {cpu_per_test * 1000:.1f} ms"
    )


def submission(namespaces: bool) -> None:
    import _code_fixtures as fx
    from test_code_curves import RIGHT as TRAIN_RIGHT
    from test_code_curves import SPEC as CURVE

    from grader.code.grade import grade_code, grade_curve
    from grader.sandbox.harness import Source
    from grader.code.spec import expect, expect_curves
    from grader.sandbox import Limits, Sandbox
    from grader.sandbox.preload import PRELOAD_GRADCHECK, PRELOAD_TRAINING

    parts = [(fx.CONV, fx.CONV_RIGHT), (fx.CONV_BACKWARD, fx.CONV_BACKWARD_RIGHT), (fx.RNN, fx.RNN_RIGHT)]
    expected = [expect(spec) for spec, _ in parts]
    curves = expect_curves(CURVE)
    trusted_rss = _memory_kb(os.getpid())[0]
    sampler = TreeSampler()
    sampler.start()
    started = time.perf_counter()
    tests = 0
    max_child = 0
    with Sandbox(namespaces=namespaces, preload=PRELOAD_GRADCHECK + PRELOAD_TRAINING) as sandbox:
        boot = time.perf_counter() - started
        for (spec, code), probes in zip(parts, expected):
            verdict = grade_code(sandbox, spec, probes, [Source(name="hw2.py", code=code)], Limits(seconds=10))
            assert verdict.status == "correct", verdict.feedback
            tests += len(verdict.tests)
            max_child = max([max_child] + [t.max_rss_kb for t in verdict.tests])
        verdict = grade_curve(sandbox, CURVE, curves, [Source(name="train.py", code=TRAIN_RIGHT)], Limits(seconds=10))
        assert verdict.status == "correct", verdict.feedback
        tests += len(verdict.tests)
        max_child = max([max_child] + [t.max_rss_kb for t in verdict.tests])
    total = time.perf_counter() - started
    sampler.stop()
    print(
        f"one submission's code parts (conv forward, conv backward + gradcheck, RNN module, training curve): {tests} tests, "
        f"{total:.2f} s wall ({boot:.2f} s of it starting the zygote)"
    )
    print(
        f"peak memory of the process tree: PSS {sampler.peak_pss / 1024:.0f} MB, RSS sum {sampler.peak_rss / 1024:.0f} MB "
        f"(grader process alone {trusted_rss / 1024:.0f} MB with torch imported for the references; largest child RSS {max_child / 1024:.0f} MB; "
        f"{sampler.samples} samples) against Gradescope's {GRADESCOPE_MEMORY_MB} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=100, help="trivial tests timed for latency")
    parser.add_argument("--no-namespaces", action="store_true", help="run the zygote without bubblewrap")
    args = parser.parse_args()
    modes = [False] if args.no_namespaces else [True, False]
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (other work on the machine inflates wall times)")
    for namespaces in modes:
        print(f"== namespaces {'requested' if namespaces else 'off'} ==")
        latency(namespaces, args.tests)
        if namespaces:
            from grader.sandbox.preload import PRELOAD_GRADCHECK, PRELOAD_TRAINING

            latency(namespaces, args.tests, PRELOAD_GRADCHECK + PRELOAD_TRAINING)
        submission(namespaces)


if __name__ == "__main__":
    main()
