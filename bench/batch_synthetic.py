"""Throughput of `grader run` on a synthetic class: `python bench/batch_synthetic.py --n 2000`.

Generates N submissions spread over every problem set (right answers in the forms students
type, accepted alternative readings, named mistakes and other wrong answers, unreadable and
missing answers, prose for the written parts; TOML, JSON and YAML files), runs `grader run`
on them in a fresh process, and prints submissions per second, both for the whole command and
with the fixed start-up cost (a run of one submission) taken off. Prints figures; asserts
nothing. `make_class` is also used by tests (determinism of a parallel run).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from installed import installed_env  # noqa: E402  (bytecode cached, as when installed)

PROSE = [
    "Each output unit is the dot product of the kernel with one window of the input, plus the bias.",
    "Because neighbouring rows of a one-hot matrix are unrelated words, a 2D kernel mixes unrelated inputs.",
    "The gradient flows back through the sigmoid, so it is scaled by y(1-y).",
]
UNREADABLE = ["((1", "1,5", "banana", "x +* 2", "[1, 2", "¿?", "3 4 5 6 7 8 9", "=", "\\frac{1}{", "1e999999"]


def _num(x: float) -> str:
    return f"{x:g}" if float(x).is_integer() else f"{x:.6g}"


def _forms(kind: str, value: Any) -> list[Any]:
    """Ways a student types a (non-sampled) reference value, the native value first."""
    if kind == "int":
        n = int(value)
        return [n, str(n), f"{n:,}", f"{n:_}", f"{n:,}".replace(",", " ")]
    if kind == "number":
        x = float(value)
        return [x, f"{x:.4g}", f"{x:.6f}", f"{x:.3e}"]
    if kind == "vector":
        row = [_num(v) for v in value]
        return [list(value), " ".join(row), "[" + ", ".join(row) + "]", "(" + ", ".join(row) + ")"]
    if kind == "matrix":
        rows = [[_num(v) for v in r] for r in value]
        return [
            [list(r) for r in value],
            "\n".join(" ".join(r) for r in rows),
            "[" + "; ".join(" ".join(r) for r in rows) + "]",
            "\\begin{bmatrix} " + " \\\\ ".join(" & ".join(r) for r in rows) + " \\end{bmatrix}",
        ]
    if kind == "shape" and isinstance(value, list):
        dims = [str(d) for d in value]
        return ["x".join(dims), " × ".join(dims), "(" + ", ".join(dims) + ")", [int(d) for d in value]]
    if kind == "choice":
        return [value, str(value).upper(), str(value)[0]]
    return []


def _wrong(kind: str, value: Any, rng: random.Random) -> list[Any]:
    if kind == "int":
        return [int(value) + rng.choice([1, -1, 10, 1000]), int(value) * 2]
    if kind == "number":
        return [f"{float(value) * rng.choice([1.1, 0.5, -1]):.4g}"]
    if kind in ("vector", "matrix"):
        flat = json.loads(json.dumps(value))
        target = flat if kind == "vector" else flat[rng.randrange(len(flat))]
        target[rng.randrange(len(target))] += rng.choice([1, -2, 3])
        return [flat]
    if kind == "shape" and isinstance(value, list):
        dims = list(value)
        dims[rng.randrange(len(dims))] += 1
        return ["x".join(map(str, dims))]
    return []


def _typed_variants(solution: str) -> list[str]:
    """A formula or location as typed, a few harmless ways (spacing, maths-mode dollars)."""
    return [solution, solution.replace(" ", ""), f"${solution}$", solution.replace("*", " * ")]


def answer_pools(ps: Any, key: Any) -> dict[str, dict[str, list[Any]]]:
    """Per part: answers that are right, right in another accepted reading, wrong, unreadable."""
    rng = random.Random(ps.id)
    pools: dict[str, dict[str, list[Any]]] = {}
    for part in ps:
        if part.manual:
            pools[part.id] = {"right": PROSE, "alt": PROSE, "wrong": PROSE, "invalid": PROSE}
            continue
        pk = key.part(part.id)
        kind = part.kind.name
        sampled = part.kind.sampled or isinstance(pk.reference, dict)
        right: list[Any] = list(part.solutions)
        alt: list[Any] = []
        wrong: list[Any] = []
        if not sampled:
            forms = _forms(kind, pk.reference)
            right += forms[:2]
            alt += forms[2:]
            for v in pk.alternatives:
                alt += _forms(kind, v.value)[:2]
            for v in pk.mistakes:
                wrong += _forms(kind, v.value)[:2]
            wrong += _wrong(kind, pk.reference, rng)
            if kind == "choice":
                wrong += [o for o in getattr(part.kind, "options", ()) if o != pk.reference]
        else:
            for s in part.solutions:
                alt += _typed_variants(s)[1:]
                wrong += [f"2*({s})", f"{s} + 1"]
        if not right:  # e.g. a location: only typed solutions exist
            right = ["0"]
        pools[part.id] = {"right": right, "alt": alt or right, "wrong": wrong or ["0"], "invalid": UNREADABLE}
    return pools


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)  # a TOML basic string reads JSON escapes the same


def write_submission(folder: Path, data: dict[str, Any], fmt: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        path = folder / "answers.json"
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1))
    elif fmt == "yaml":
        path = folder / "answers.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    else:
        path = folder / "answers.toml"
        lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if k != "answers"]
        lines.append("[answers]")
        lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in data["answers"].items()]
        path.write_text("\n".join(lines) + "\n")
    return path


def pick_answers(pools: dict[str, dict[str, list[Any]]], rng: random.Random, counts: Counter) -> dict[str, Any]:
    """One student's answers: of a random skill, right (or in another accepted form) that often,
    else wrong, unreadable or missing; `counts` tallies the categories."""
    skill = rng.uniform(0.3, 0.98)
    answers: dict[str, Any] = {}
    for part_id, pool in pools.items():
        if rng.random() < skill:
            category = "alt" if rng.random() < 0.3 else "right"
        else:
            category = rng.choices(["wrong", "invalid", "missing"], [0.6, 0.15, 0.25])[0]
        counts[category] += 1
        if category != "missing":
            answers[part_id] = rng.choice(pool[category])
    return answers


def make_class(root: Path, n: int, seed: int = 0, problems: Path = REPO / "problems", reference: Path = REPO / "reference") -> Counter:
    """Write `n` submissions below `root` (`<assignment>/<student>/answers.*`); returns answer counts by category."""
    from grader.keys.build import load_or_build_key
    from grader.problemset import load_problem_sets

    sets = load_problem_sets(problems)
    pools = {a: answer_pools(ps, load_or_build_key(ps, reference)[0]) for a, ps in sorted(sets.items())}
    rng = random.Random(seed)
    counts: Counter = Counter()
    names = sorted(pools)
    for i in range(n):
        assignment = names[i % len(names)]
        answers = pick_answers(pools[assignment], rng, counts)
        fmt = rng.choices(["toml", "json", "yaml"], [0.8, 0.1, 0.1])[0]
        student = f"s{i:05d}"
        write_submission(root / assignment / student, {"assignment": assignment, "student": student, "answers": answers}, fmt)
    return counts


def run_grader(class_dir: Path, out: Path, reference: Path, extra: list[str]) -> float:
    cmd = [sys.executable, "-m", "grader", "run", str(class_dir), "--out", str(out), "--quiet",
           "--problems", str(REPO / "problems"), "--reference", str(reference), *extra]
    t0, c0 = time.perf_counter(), _children_cpu()
    proc = subprocess.run(cmd, cwd=REPO, env=installed_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        sys.exit(f"grader run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    RUN_CPU.append(_children_cpu() - c0)
    return elapsed


#: CPU seconds (user + system, the grader and its workers) of each `grader run` above: on a
#: shared machine they vary far less than wall time.
RUN_CPU: list[float] = []


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description="Throughput of `grader run` on a synthetic class.")
    ap.add_argument("--n", type=int, default=2000, help="submissions")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, help="write the class and reports here instead of a temp folder")
    ap.add_argument("--reference", type=Path, default=REPO / "reference", help="answer keys [reference/]")
    ap.add_argument("grader_args", nargs="*", help="passed to `grader run` (e.g. --workers 1 --budget 0)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        t0 = time.perf_counter()
        counts = make_class(base / "class", args.n, args.seed, reference=args.reference)
        one = base / "one"
        first = next(iter(sorted((base / "class").glob("*/*"))))
        (one / first.parent.name).mkdir(parents=True, exist_ok=True)
        for f in first.iterdir():
            (one / first.parent.name / first.name).mkdir(exist_ok=True)
            (one / first.parent.name / first.name / f.name).write_bytes(f.read_bytes())
        print(f"generated {args.n} submissions in {time.perf_counter() - t0:.1f} s; answers: "
              + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        run_grader(one, base / "out-warm-up", args.reference, args.grader_args)  # untimed: bytecode caches
        RUN_CPU.clear()
        startup = run_grader(one, base / "out-one", args.reference, args.grader_args)
        elapsed = run_grader(base / "class", base / "out", args.reference, args.grader_args)
        run = json.loads((base / "out" / "run.json").read_text())
        statuses: Counter = Counter()
        for entry in run["reports"]:
            report = json.loads((base / "out" / entry["file"]).read_text())
            statuses.update(p["status"] for p in report["parts"])
        print(f"graded {run['graded']}, broken {len(run['broken'])}; part statuses: "
              + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
        print(f"grader run, {args.n} submissions: {elapsed:.2f} s wall = {args.n / elapsed:.0f} submissions/s")
        print(f"  a run of one submission (start-up, loading, writing): {startup:.2f} s")
        steady = max(elapsed - startup, 1e-9)
        print(f"  without that fixed cost: {args.n / steady:.0f} submissions/s")
        cpu_one, cpu_all = RUN_CPU
        per = (cpu_all - cpu_one) / max(args.n - 1, 1)
        print(f"  CPU: {cpu_all:.2f} s for the class, {cpu_one:.2f} s for one submission; "
              f"{per * 1000:.2f} ms per further submission = {2 / per:.0f} submissions/s on 2 cores")


if __name__ == "__main__":
    main()
