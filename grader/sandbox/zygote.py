"""The zygote: imports torch once, then forks one confined child per test.

Started by grader.sandbox.client as a fresh interpreter (never forked from the grader, so it
holds no key, no other submission and no grader state), inside bubblewrap when the kernel
allows it. It imports torch with one thread and runs no torch operation, so forking it is
safe and a child starts in about a millisecond with torch already loaded.

Protocol on stdin/stdout, length-prefixed frames in grader.sandbox.wire's format:
  client -> zygote: a config frame, then one request frame per test
  zygote -> client: a hello frame (the layers in force), then per test a status frame (the
  zygote's own account: how the test ended, time, memory, printed output) followed by the
  child's answer frame passed through unread (the client decodes it under the wire bounds).
"""

from __future__ import annotations

import os

# One thread, set before torch is imported so no thread pool exists at fork time.
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_name] = "1"

import select  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from grader.sandbox import wire  # noqa: E402
from grader.sandbox.confine import build_seccomp, confine, landlock_abi  # noqa: E402
from grader.sandbox.limits import Ending, Limits  # noqa: E402

CONTROL_CAP = 64 * 2**20  # a request: sources and probe inputs
CHILD_SETUP_FAILED = 70  # exit code of a child that could not be confined (no student code ran)
RESULT_FD = 3

# Student code often imports these; loaded here, an import in the child is a dictionary look-up
# (and works where the child may not read the library's files).
PRELOAD = [
    "math", "cmath", "random", "itertools", "functools", "collections", "copy", "dataclasses",
    "typing", "numbers", "fractions", "decimal", "statistics", "string", "re", "json", "time",
    "heapq", "bisect", "operator", "warnings", "unicodedata", "encodings.idna", "traceback",
    "numpy", "numpy.linalg", "numpy.random", "numpy.fft", "torch", "torch.nn",
    "torch.nn.functional", "torch.optim", "torch.optim.lr_scheduler", "torch.autograd",
    "torch.autograd.gradcheck", "torch.utils.data", "torch.testing", "grader.code.harness",
]  # fmt: skip


class Zygote:
    def __init__(self, config: dict[str, Any]) -> None:
        import importlib

        for name in PRELOAD:
            importlib.import_module(name)
        # a child imports only from the Python installation: not from the zygote's working
        # directory (a student's file could shadow a module) nor from a source checkout
        keep = set(config.get("read_paths", []))
        sys.path[:] = [p for p in sys.path if any(p == k or p.startswith(k.rstrip("/") + "/") for k in keep)]
        self.scratch: str = config["scratch"]
        self.uid_base: int | None = config.get("uid_base")
        self.read_paths: list[str] = list(config.get("read_paths", []))
        self.landlock = landlock_abi() if config.get("landlock", True) else 0
        self.seccomp, self.seccomp_error = None, None
        try:
            self.seccomp = build_seccomp()
        except Exception as exc:  # noqa: BLE001 - reported as an inactive layer
            self.seccomp_error = f"{type(exc).__name__}: {exc}"
        self.count = 0

    def layers(self) -> dict[str, Any]:
        return {
            "user": self.uid_base is not None,
            "landlock": self.landlock,
            "seccomp": self.seccomp is not None,
            "seccomp_error": self.seccomp_error,
            "rlimits": True,
            "pid": os.getpid(),
        }

    # -- one test -------------------------------------------------------------------------
    def run(self, request: wire.Message) -> tuple[dict[str, Any], bytes]:
        limits = Limits(**request.meta.get("limits", {}))
        self.count += 1
        workdir = os.path.join(self.scratch, f"t{self.count}")
        result_r, result_w = os.pipe()
        console_r, console_w = os.pipe()
        address_space = _vm_size() + limits.memory_mb * 2**20
        os.mkdir(workdir, 0o700)
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            self._child(request, limits, workdir, address_space, result_w, console_w)
        os.close(result_w)
        os.close(console_w)
        try:
            return self._watch(pid, limits, started, result_r, console_r)
        finally:
            os.close(result_r)
            os.close(console_r)
            shutil.rmtree(workdir, ignore_errors=True)  # fd-based: the child's symlinks are not followed

    def _child(self, request: wire.Message, limits: Limits, workdir: str, address_space: int, result_w: int, console_w: int) -> None:
        code = CHILD_SETUP_FAILED
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            devnull = os.open("/dev/null", os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(console_w, 1)
            os.dup2(console_w, 2)
            os.dup2(result_w, RESULT_FD)
            os.closerange(RESULT_FD + 1, 1 << 16)  # the control pipes and everything else
            uid = None
            if self.uid_base is not None:
                uid = self.uid_base + os.getpid() % 131072
                os.chown(workdir, uid, uid)
            env = {"HOME": workdir, "TMPDIR": workdir, "PATH": "/nonexistent", "LANG": "C.UTF-8"}
            os.environ.clear()
            os.environ.update(env)
            confine(
                limits=limits,
                address_space=address_space,
                workdir=workdir,
                uid=uid,
                landlock=self.landlock,
                read_paths=self.read_paths,
                seccomp_filter=self.seccomp,
            )
            code = 1
            from grader.code.harness import Source, TestRequest, run_test

            test = TestRequest(**request.meta["test"])
            sources = [Source(**s) for s in request.meta.get("sources", [])]
            facts, arrays = run_test(test, sources, request.arrays)
            sys.stdout.flush()
            sys.stderr.flush()
            try:
                payload = wire.encode(wire.Message(facts, arrays), bytes_cap=limits.output_mb * 2**20)
            except wire.WireError as exc:
                payload = wire.encode(wire.Message({"error": {"type": "OutputError", "message": str(exc)}}))
            wire.write_frame(RESULT_FD, payload)
            code = 0
        except BaseException as exc:  # noqa: BLE001 - the child must never return into the zygote loop
            try:
                os.write(2, f"sandbox child: {type(exc).__name__}: {exc}\n".encode()[:2000])
            except OSError:
                pass
        finally:
            os._exit(code)

    def _watch(self, pid: int, limits: Limits, started: float, result_r: int, console_r: int) -> tuple[dict[str, Any], bytes]:
        deadline = started + limits.seconds
        reader = wire.FrameReader(result_r, cap=limits.output_mb * 2**20 + wire.HEADER_CAP + 16)
        console = bytearray()
        console_cap = limits.console_kb * 1024
        pidfd = os.pidfd_open(pid)
        poller = select.poll()
        for fd in (result_r, console_r, pidfd):
            poller.register(fd, select.POLLIN)
        killed: Ending | None = None
        exited = False
        open_fds = {result_r, console_r}
        try:
            while not exited or open_fds:
                remaining = deadline - time.monotonic()
                if remaining <= 0 and not exited:
                    os.kill(pid, signal.SIGKILL)
                    killed = Ending.timeout
                    remaining = 1.0
                elif remaining <= 0:
                    remaining = 0.5  # exited: drain what the pipes still hold
                for fd, _ in poller.poll(remaining * 1000):
                    if fd == pidfd:
                        exited = True
                        poller.unregister(pidfd)
                    elif fd == result_r:
                        reader.feed()
                        if reader.eof:
                            poller.unregister(fd)
                            open_fds.discard(fd)
                        elif reader.overflow and killed is None:
                            os.kill(pid, signal.SIGKILL)
                            killed = Ending.output_too_large
                    else:
                        chunk = os.read(fd, 65536)
                        if not chunk:
                            poller.unregister(fd)
                            open_fds.discard(fd)
                        else:
                            console += chunk
                            if len(console) > 2 * console_cap:
                                del console[: len(console) - console_cap]
                if exited and time.monotonic() > deadline + 2:
                    break  # a pipe held open by nothing we know of: stop waiting
        finally:
            os.close(pidfd)
        _, status, usage = os.wait4(pid, 0)
        elapsed = time.monotonic() - started
        frame = reader.frames[0] if reader.frames else b""
        if killed is not None:
            ending = killed
        elif os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            ending = Ending.cpu if sig in (signal.SIGXCPU, signal.SIGKILL) else Ending.crashed
        elif os.WEXITSTATUS(status) == CHILD_SETUP_FAILED:
            ending = Ending.sandbox_error
        elif frame and os.WEXITSTATUS(status) == 0:
            ending = Ending.finished
        else:
            ending = Ending.crashed
        exit_code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        status_meta = {
            "ending": ending.value,
            "elapsed": elapsed,
            "cpu": usage.ru_utime + usage.ru_stime,
            "max_rss_kb": usage.ru_maxrss,
            "exit": exit_code,
            "console": bytes(console[-console_cap:]).decode("utf-8", "replace") if console_cap else "",
        }
        return status_meta, frame if ending is Ending.finished else b""


def _vm_size() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the client stops the zygote by closing stdin
    control_in = 0
    control_out = os.dup(1)
    os.dup2(2, 1)  # stdout carries frames only: a stray print goes to stderr
    config_frame = wire.read_frame(control_in, CONTROL_CAP)
    if config_frame is None:
        return
    zygote = Zygote(wire.decode(config_frame, CONTROL_CAP).meta)
    wire.write_frame(control_out, wire.encode(wire.Message({"hello": zygote.layers()})))
    while True:
        frame = wire.read_frame(control_in, CONTROL_CAP)
        if frame is None:
            return
        request = wire.decode(frame, CONTROL_CAP)
        try:
            status, payload = zygote.run(request)
        except Exception as exc:  # noqa: BLE001 - the zygote survives a failed fork or pipe
            status, payload = {"ending": Ending.sandbox_error.value, "error": f"{type(exc).__name__}: {exc}"}, b""
        wire.write_frame(control_out, wire.encode(wire.Message(status)))
        wire.write_frame(control_out, payload)


if __name__ == "__main__":
    main()
