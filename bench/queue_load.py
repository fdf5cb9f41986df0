"""The grading queue under load: `python bench/queue_load.py [--n 10000] [--workers 2]`.

Starts, on this machine, a private `redis-server` (in memory) as the broker, a fresh
PostgreSQL database on 127.0.0.1 as the store (dropped afterwards), `grader serve --broker`
on the demo course, and --workers `grader worker` processes; then pushes a synthetic class
of --n submissions (bench/batch_synthetic.py's answers: right, alternative, wrong, unreadable
and missing, over every problem set without code parts), handed in by --students students in
turn (each with a token of their own), through the service's HTTP API, as
many at once as --clients keep-alive connections allow (the service answers 202 at once:
--wait 0), and waits until every one is graded. Then the same batch goes through
`grader run --workers N` for comparison, and the verdicts of the two are compared.

Prints: the rate submissions were taken at (HTTP), the grading throughput, queue latency
(enqueue -> graded, from the job table) p50/p99/max, CPU per task of the workers (every
process of theirs: Celery, the grading pools) and per submission of the web service, the
same for `grader run`, and the workers needed for 100,000 submissions per hour extrapolated
from the measured CPU per task. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from collections.abc import Callable
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from batch_synthetic import RUN_CPU, answer_pools, pick_answers, run_grader, write_submission  # noqa: E402
from serve_load import Connections, free_port, percentile  # noqa: E402

PG_ADMIN = "postgresql://root@127.0.0.1/postgres"
TARGET_PER_HOUR = 100_000


# -- the class ----------------------------------------------------------------------------------
def make_batch(root: Path, n: int, seed: int) -> list[dict[str, Any]]:
    """`n` submissions over the demo course's problem sets without code parts (a code part is
    the sandbox's cost, measured by bench/code_parts.py), written below `root` for `grader run`;
    returns them (assignment, student, answers) for the service."""
    from grader.keys.build import load_or_build_key
    from grader.problemset import load_problem_sets

    sets = load_problem_sets(REPO / "problems")
    pools = {}
    for a, ps in sorted(sets.items()):
        key = load_or_build_key(ps, REPO / "reference")[0]
        if any(p.kind == "code" for p in key.parts):
            continue
        pools[a] = answer_pools(ps, key)
    rng, counts, names = random.Random(seed), Counter(), sorted(pools)
    batch = []
    for i in range(n):
        assignment, student = names[i % len(names)], f"q{i:05d}"
        answers = pick_answers(pools[assignment], rng, counts)
        write_submission(root / assignment / student, {"assignment": assignment, "student": student, "answers": answers}, "json")
        batch.append({"assignment": assignment, "student": student, "answers": answers})
    return batch


# -- servers ------------------------------------------------------------------------------------
def create_database() -> str:
    import psycopg

    name = f"grader_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def start(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO, env={**os.environ, **(env or {})}, start_new_session=True)


def stop(proc: subprocess.Popen, grace: float = 30.0) -> None:
    """SIGTERM the process group, SIGKILL it after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    for pid in session_members(proc.pid):  # stragglers of the group
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_for(condition, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what} after {timeout:g} s")
        time.sleep(interval)


# -- CPU accounting -------------------------------------------------------------------------------
TICK = os.sysconf("SC_CLK_TCK")


def session_members(sid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid:
                found.append(int(entry.name))
    return found


def postgres_backends(dbname: str) -> list[int]:
    """The PostgreSQL server processes serving connections to database `dbname`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"postgres:") and f" {dbname} ".encode() in cmd:
                found.append(int(entry.name))
    return found


class CpuMeter:
    """CPU seconds (user + system) used since `start()` by the processes `select()` names
    (sampled from /proc: a process that ends between samples loses at most one interval)."""

    def __init__(self, select: Callable[[], list[int]], interval: float = 0.25) -> None:
        self.select, self.interval = select, interval
        self.seen: dict[int, float] = {}
        self.base: dict[int, float] = {}
        self.stopped = False

    def sample(self) -> None:
        for pid in self.select():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            self.seen[pid] = max(self.seen.get(pid, 0.0), (int(fields[11]) + int(fields[12])) / TICK)

    def start(self) -> None:
        self.sample()
        self.base = dict(self.seen)

    async def run(self) -> None:
        while not self.stopped:
            self.sample()
            await asyncio.sleep(self.interval)

    def used(self) -> float:
        self.sample()
        return sum(v - self.base.get(pid, 0.0) for pid, v in self.seen.items())


# -- the push -----------------------------------------------------------------------------------
async def push(port: int, batch: list[dict[str, Any]], tokens: dict[str, str], clients: int, rate: float = 0.0) -> dict[str, Any]:
    """POST every submission of `batch` over `clients` connections: as fast as they go, or
    with `rate`, submission i not before i/rate seconds from the start (open loop)."""
    pool = Connections("127.0.0.1", port, clients)
    statuses: Counter = Counter()
    errors: list[str] = []
    ids: dict[str, str] = {}
    todo = iter(enumerate(batch))

    t0 = time.perf_counter()

    async def client() -> None:
        for i, sub in todo:
            if rate > 0:
                await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
            body = json.dumps({"answers": sub["answers"]}).encode()
            headers = {"Authorization": f"Bearer {tokens[sub['token']]}", "Idempotency-Key": f"bench-{i}"}
            try:
                status, data = await pool.request("POST", f"/api/v1/assignments/{sub['assignment']}/submissions", body, headers)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                statuses["connection error"] += 1
                errors.append(type(exc).__name__)
                continue
            statuses[status] += 1
            if status in (200, 201, 202):
                ids[sub["student"]] = json.loads(data)["id"]
            elif len(errors) < 20:
                errors.append(f"{status} {data[:120]!r}")

    await asyncio.gather(*(client() for _ in range(clients)))
    return {"statuses": statuses, "errors": errors, "ids": ids, "seconds": time.perf_counter() - t0}


def verdicts(report: dict[str, Any]) -> tuple[str, ...]:
    return tuple(f"{p['id']}={p['status']}" for p in report["parts"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="submissions")
    ap.add_argument("--workers", type=int, default=2, help="`grader worker` processes (each --concurrency 1)")
    ap.add_argument("--clients", type=int, default=32, help="concurrent HTTP connections pushing submissions")
    ap.add_argument("--students", type=int, default=1000, help="students handing in (each its own token), in turn")
    ap.add_argument("--rate", type=float, default=0.0, help="submissions per second sent (open loop) [default: all at once]")
    ap.add_argument("--max-tasks-per-child", type=int, default=5000, help="as `grader worker --max-tasks-per-child` [5000, its default]")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-run", action="store_true", help="leave out the `grader run` comparison")
    args = ap.parse_args()
    if shutil.which("redis-server") is None:
        raise SystemExit("needs redis-server on PATH")

    with tempfile.TemporaryDirectory(prefix="queue-load-") as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        batch = make_batch(tmp / "class", args.n, args.seed)
        for i, sub in enumerate(batch):  # who hands it in: students submit in turn
            sub["token"] = f"student{i % args.students:05d}"
        print(f"generated {args.n} submissions over {len({b['assignment'] for b in batch})} assignments in {time.perf_counter() - t0:.1f} s")
        students = [f"student{i:05d}" for i in range(min(args.students, args.n))]
        redis_port, web_port = free_port(), free_port()
        broker = f"redis://127.0.0.1:{redis_port}/0"
        dbname = create_database()
        db = f"postgresql+psycopg://root@127.0.0.1/{dbname}"
        procs: list[subprocess.Popen] = []
        try:
            procs.append(start(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], tmp / "redis.log"))
            from grader.store.repository import Store
            from grader.store.service import ServiceStore

            store = Store.open(None, db)
            service = ServiceStore(store)
            t0 = time.perf_counter()
            tokens = {s: service.issue_token(s, "student") for s in students}
            print(f"issued {len(tokens)} tokens in {time.perf_counter() - t0:.1f} s")
            grader = [sys.executable, "-m", "grader"]
            web = start([*grader, "serve", "--course", str(REPO), "--db", db, "--broker", broker, "--port", str(web_port), "--wait", "0", "--submit-limit", "100000"], tmp / "serve.log")
            procs.append(web)
            workers = [
                start([*grader, "worker", "--course", str(REPO), "--db", db, "--broker", broker, "--concurrency", "1", "--hostname", f"bench{i}@%h",
                       "--max-tasks-per-child", str(args.max_tasks_per_child), "--loglevel", "WARNING"], tmp / f"worker{i}.log")
                for i in range(args.workers)
            ]
            procs.extend(workers)

            def up() -> bool:
                for p in procs:
                    if p.poll() is not None:
                        raise SystemExit(f"{' '.join(p.args[:4])} exited ({p.returncode}):\n{Path(tmp, 'serve.log').read_text()[-2000:]}")
                try:
                    return httpx.get(f"http://127.0.0.1:{web_port}/healthz", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(up, 300, "grader serve")
            from grader.store.jobs import JobStore

            jobs = JobStore(store.engine)
            # warm-up outside the measurement: each worker loads the problem sets once per pool process
            warm = [{**b, "student": f"warm{i}", "token": "warm"} for i, b in enumerate(batch[: 4 * args.workers * len({b["assignment"] for b in batch})])]
            tokens["warm"] = service.issue_token("warm", "student")
            asyncio.run(push(web_port, warm, tokens, 4))
            wait_for(lambda: set(jobs.counts()) <= {"graded", "failed"}, 600, "the warm-up graded")
            warm_jobs = sum(jobs.counts().values())

            worker_cpu = CpuMeter(lambda: [pid for w in workers for pid in session_members(w.pid)])
            web_cpu = CpuMeter(lambda: session_members(web.pid))
            redis_cpu = CpuMeter(lambda: session_members(procs[0].pid))
            pg_cpu = CpuMeter(lambda: postgres_backends(dbname))
            meters = (worker_cpu, web_cpu, redis_cpu, pg_cpu)

            async def measured() -> tuple[dict[str, Any], float]:
                for m in meters:
                    m.start()
                sampling = [asyncio.create_task(m.run()) for m in meters]
                result = await push(web_port, batch, tokens, args.clients, args.rate)
                deadline = time.monotonic() + 600 + 2.0 * args.n
                while True:
                    counts = await asyncio.to_thread(jobs.counts)
                    if counts.get("graded", 0) + counts.get("failed", 0) >= warm_jobs + len(result["ids"]) or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.5)
                done_at = time.perf_counter()
                for m in meters:
                    m.stopped = True
                await asyncio.gather(*sampling)
                return result, done_at

            load_before, start_at = os.getloadavg()[0], time.perf_counter()
            result, done_at = asyncio.run(measured())
            queue_wall = done_at - start_at
            used_workers, used_web, used_redis, used_pg = (m.used() for m in meters)

            from sqlalchemy import select

            from grader.store import db as tables

            t = tables.grading_jobs
            mine = set(result["ids"].values())
            with store.engine.connect() as conn:
                rows = [r for r in conn.execute(select(t.c.id, t.c.state, t.c.created_at, t.c.finished_at, t.c.attempts)) if r.id in mine]
                reports = {
                    r.id: r.report for r in conn.execute(select(tables.service_submissions.c.id, tables.service_submissions.c.report)) if r.id in mine
                }
            latency = [(r.finished_at - r.created_at).total_seconds() for r in rows if r.finished_at is not None]
            states = Counter(r.state for r in rows)
            attempts = Counter(r.attempts for r in rows)
        finally:
            for p in reversed(procs):
                stop(p)
            try:
                store.close()
            except NameError:
                pass
            drop_database(dbname)

        graded = states.get("graded", 0)
        print()
        print(f"queue: {args.n} submissions, {args.workers} worker(s) x 1 process, {os.cpu_count()} CPUs, PostgreSQL store, Redis broker;"
              f" load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other work on this machine slows the wall-clock figures, not the CPU ones)")
        print(f"  HTTP: {dict(sorted(result['statuses'].items(), key=str))} in {result['seconds']:.1f} s = {args.n / result['seconds']:.0f} submissions/s taken ({args.clients} connections)")
        for e in sorted(set(result["errors"]))[:5]:
            print(f"    error: {e}")
        print(f"  jobs: {dict(states)}; claims per job: {dict(sorted(attempts.items()))}")
        print(f"  graded {graded} in {queue_wall:.1f} s from the first POST = {graded / queue_wall:.1f} submissions/s")
        how = f"sent at {args.rate:g}/s" if args.rate > 0 else "all pushed at once: the backlog's drain time"
        print(f"  queue latency (enqueue -> graded): p50 {percentile(latency, 0.5):.2f} s, p99 {percentile(latency, 0.99):.2f} s, max {max(latency, default=float('nan')):.2f} s ({how})")
        per_task = used_workers / max(graded, 1)
        per_web = used_web / max(args.n, 1)
        per_store = (used_redis + used_pg) / max(args.n, 1)
        print(f"  CPU per submission: workers {1000 * per_task:.1f} ms ({used_workers:.1f} s in all), web service {1000 * per_web:.1f} ms ({used_web:.1f} s),"
              f" PostgreSQL {1000 * used_pg / max(args.n, 1):.1f} ms, Redis {1000 * used_redis / max(args.n, 1):.1f} ms")

        if not args.skip_run:
            RUN_CPU.clear()
            one = tmp / "one"
            first = batch[0]
            write_submission(one / first["assignment"] / first["student"], {**first}, "json")
            startup = run_grader(one, tmp / "out-one", REPO / "reference", ["--workers", str(args.workers)])
            elapsed = run_grader(tmp / "class", tmp / "out", REPO / "reference", ["--workers", str(args.workers)])
            run = json.loads((tmp / "out" / "run.json").read_text())
            same = differ = 0
            for entry in run["reports"]:
                report = json.loads((tmp / "out" / entry["file"]).read_text())
                sid = result["ids"].get(report["student"])
                if sid in reports:
                    if verdicts(report) == verdicts(reports[sid]):
                        same += 1
                    else:
                        differ += 1
            cpu_one, cpu_all = RUN_CPU
            run_per = (cpu_all - cpu_one) / max(args.n - 1, 1)
            print(f"grader run --workers {args.workers}, the same {args.n} submissions: {elapsed:.1f} s = {args.n / elapsed:.0f} submissions/s"
                  f" ({args.n / max(elapsed - startup, 1e-9):.0f}/s without the {startup:.1f} s start-up); CPU {1000 * run_per:.1f} ms per submission")
            print(f"  the same verdicts on every part as on the queue: {same} submissions; different: {differ}")

        rate = TARGET_PER_HOUR / 3600
        print(f"100,000 submissions per hour = {rate:.1f}/s. At the measured {1000 * per_task:.1f} ms of worker CPU per task, that takes"
              f" {rate * per_task:.1f} busy worker processes (one core each): {max(1, -(-rate * per_task * 1.5 // 1)):.0f} with 50 % headroom;"
              f" the web service at {1000 * per_web:.1f} ms per submission needs {rate * per_web:.2f} cores, PostgreSQL and Redis {rate * per_store:.2f}. Measured here:"
              f" {graded / queue_wall:.1f}/s with {args.workers} worker process(es) sharing {os.cpu_count()} cores with the service, Redis and PostgreSQL.")


if __name__ == "__main__":
    main()
