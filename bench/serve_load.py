"""Load on a running `grader serve`: `python bench/serve_load.py [--seconds 20]`.

Starts `grader serve` on the demo course (a fresh SQLite store in a temporary folder, the
grading pool as configured by --workers) and simulated students on loopback, each with their
own token, over keep-alive connections of a minimal asyncio HTTP client (a full client
library cost more CPU than the server on 2 cores): open-loop arrivals of `/check` requests
at --check-rate per second and csc321-hw4 submissions (all 43 parts, the demo class's
answers) at --submit-rate per second, spread over --students students, for --seconds.
Prints per endpoint the requests sent, throughput, p50/p99 latency and errors. Targets on
the 2-core machine: /check p99 <= 50 ms at 200/s, a 43-part submit p99 <= 250 ms at 20/s,
0 errors. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grader.submission import read_submission  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tokens(db: str, n: int) -> list[str]:
    from grader.store.repository import Store
    from grader.store.service import ServiceStore

    with Store.open(None, db) as store:
        service = ServiceStore(store)
        return [service.issue_token(f"load{i:04d}", "student") for i in range(n)]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Connections:
    """Keep-alive HTTP/1.1 connections on asyncio streams: a load generator far cheaper than a
    full client library, so that on a small machine the figures are the server's, not ours."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self.free: asyncio.Queue = asyncio.Queue()
        self.made = 0

    async def _get(self):
        if self.free.empty() and self.made < self.size:
            self.made += 1
            return await asyncio.open_connection(self.host, self.port)
        return await self.free.get()

    async def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        reader, writer = await self._get()
        try:
            head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            writer.write(head.encode() + body)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            data = await reader.readexactly(length)
            status = int(status_line.split()[1])
        except Exception:
            writer.close()
            self.made -= 1
            raise
        self.free.put_nowait((reader, writer))
        return status, data


async def run(port: int, toks: list[str], seconds: float, check_rate: float, submit_rate: float, answers: dict, checks: list[tuple[str, str]]) -> dict:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)
    pools = {"check": Connections("127.0.0.1", port, 64), "submit": Connections("127.0.0.1", port, 64)}
    tasks: list[asyncio.Task] = []

    async def one(kind: str, path: str, token: str, body: dict, headers: dict | None = None) -> None:
        t0 = time.perf_counter()
        try:
            status, data = await pools[kind].request("POST", path, json.dumps(body).encode(), {"Authorization": f"Bearer {token}", **(headers or {})})
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            errors[kind].append(type(exc).__name__)
            return
        if status not in (200, 201):
            errors[kind].append(f"{status} {data[:80]!r}")
            return
        latencies[kind].append(time.perf_counter() - t0)

    async def arrivals(kind: str, rate: float, make) -> None:
        # open loop: requests leave on a Poisson schedule whatever the server's pace
        start = time.perf_counter()
        next_at = start
        rng = random.Random(kind)
        i = 0
        while next_at - start < seconds:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            tasks.append(asyncio.create_task(make(i)))
            i += 1
            next_at += rng.expovariate(rate)

    def check(i: int):
        part, answer = checks[i % len(checks)]
        return one("check", "/api/v1/assignments/csc321-hw4/check", toks[i % len(toks)], {"part": part, "answer": answer})

    def submit(i: int):
        tok = toks[(i * 7) % len(toks)]
        return one("submit", "/api/v1/assignments/csc321-hw4/submissions", tok, {"answers": answers}, {"Idempotency-Key": f"load-{i}"})

    t0 = time.perf_counter()
    await asyncio.gather(arrivals("check", check_rate, check), arrivals("submit", submit_rate, submit))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - t0
    return {"latencies": latencies, "errors": errors, "wall": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--check-rate", type=float, default=200.0)
    ap.add_argument("--submit-rate", type=float, default=20.0)
    ap.add_argument("--students", type=int, default=100)
    ap.add_argument("--workers", type=int, default=1, help="grading worker processes of the server")
    args = ap.parse_args()

    sub = read_submission(REPO / "submissions" / "csc321-hw4" / "s1004" / "answers.toml")
    answers = dict(sub.answers)
    checks = [(p, str(a)) for p, a in answers.items()] + [("q2a", "[[1, 2], [3"), ("q1.conv1.params", "34,9x")]
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "load.sqlite")
        toks = tokens(db, args.students)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "grader", "serve", "--course", str(REPO), "--db", db, "--port", str(port), "--workers", str(args.workers)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("grader serve did not start")
                time.sleep(0.2)
            # warm-up: the pool's worker and the first import, outside the measurement
            for i in range(3):
                httpx.post(url + "/api/v1/assignments/csc321-hw4/submissions", json={"answers": answers}, headers={"Authorization": f"Bearer {toks[-1 - i]}"}, timeout=120)
            gc.freeze()
            gc.disable()  # the generator's own collection pauses would be counted as the server's latency
            result = asyncio.run(run(port, toks[:-3], args.seconds, args.check_rate, args.submit_rate, answers, checks))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    print(f"grader serve under load: {args.seconds:g} s, {args.students} students, {os.cpu_count()} CPUs, {args.workers} grading worker(s)")
    print(f"{'endpoint':<8} {'target/s':>9} {'sent':>6} {'ok/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>7}")
    for kind, rate in (("check", args.check_rate), ("submit", args.submit_rate)):
        lat = result["latencies"][kind]
        errs = result["errors"][kind]
        print(
            f"{kind:<8} {rate:>9g} {len(lat) + len(errs):>6} {len(lat) / result['wall']:>7.1f} "
            f"{1000 * percentile(lat, 0.5):>8.1f} {1000 * percentile(lat, 0.99):>8.1f} {1000 * max(lat, default=float('nan')):>8.1f} {len(errs):>7}"
        )
        for e in sorted(set(errs))[:5]:
            print(f"    error: {e}")
    if result["latencies"]["check"]:
        print(f"check mean {1000 * statistics.fmean(result['latencies']['check']):.1f} ms")


if __name__ == "__main__":
    main()
