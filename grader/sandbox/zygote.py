"""The zygote: imports torch once, then forks one confined child per test.

Started by grader.sandbox.client as a fresh interpreter (never forked from the grader, so it
holds no key, no other submission and no grader state), inside bubblewrap when the kernel
allows it. It imports torch with one thread and runs no torch operation, so forking it is
safe and a child starts with torch already loaded.

The zygote never reads a student's data: each request passes through it as opaque bytes into
the waiting child and each answer back out, both in buffers wiped right after (a later child
is a copy of the zygote's memory, and must find no trace of an earlier submission in it). The
next child is forked ahead, as soon as a test is done, so the fork (~15 ms of page-table
copying for a torch-sized process) is off the next test's path; an answered child's exit (as
long again, unmapping) overlaps the next test too, and `reap` collects it later.

Protocol on stdin/stdout, length-prefixed frames (grader.sandbox.wire):
  client -> zygote: a config frame; then per test a control frame (the limits, JSON) and the
  request frame (opaque: the child decodes it)
  zygote -> client: a hello frame (the layers in force); then per test a status frame (the
  zygote's own account: how the test ended, time, memory) and the child's answer frame,
  passed through unread (the client decodes it under the wire bounds).
"""

from __future__ import annotations

import os

# One thread, set before torch is imported so no thread pool exists at fork time.
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_name] = "1"

import fcntl  # noqa: E402
import gc  # noqa: E402
import select  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

from grader.sandbox import wire  # noqa: E402
from grader.sandbox.confine import build_seccomp, confine, landlock_abi  # noqa: E402
from grader.sandbox.limits import Ending, Limits  # noqa: E402
from grader.sandbox.preload import PRELOAD, PRELOAD_GRADCHECK, PRELOAD_TRAINING  # noqa: E402

CONTROL_CAP = 64 * 2**20  # a request: sources and probe inputs
META_CAP = wire.HEADER_CAP  # a control frame
EXIT_GRACE = 2.0  # seconds an answered child may take to exit before it is killed
CHILD_SETUP_FAILED = 70  # exit code of a child that could not be confined (no student code ran)
RESULT_FD = 3
RELEASE_FD = 4  # the child waits on it after answering, so its peak memory can be read



@dataclass
class Child:
    """A forked child waiting for its request (or running it), and the zygote's ends of its pipes."""

    pid: int
    workdir: str
    request_w: int
    result_r: int
    release_w: int


class Zygote:
    def __init__(self, config: dict[str, Any]) -> None:
        import importlib

        for name in PRELOAD + [m for m in config.get("preload", []) if m in PRELOAD_GRADCHECK + PRELOAD_TRAINING]:
            importlib.import_module(name)
        gc.collect()
        gc.freeze()  # a child's garbage collector then never writes to (and copies) the zygote's pages
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
        self.spare: Child | None = None
        self.exiting: dict[int, tuple[str, float]] = {}  # answered children not yet reaped

    def layers(self) -> dict[str, Any]:
        return {"user": self.uid_base is not None, "landlock": self.landlock, "seccomp": self.seccomp is not None, "seccomp_error": self.seccomp_error}

    # -- children ---------------------------------------------------------------------------
    def prepare(self) -> None:
        """Fork the next child now, so it is waiting when the next request comes."""
        self.reap(block=False)
        if self.spare is not None:
            return
        self.count += 1
        workdir = os.path.join(self.scratch, f"t{self.count}")
        os.mkdir(workdir, 0o700)
        request_r, request_w = os.pipe()
        result_r, result_w = os.pipe()
        release_r, release_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            self._child(workdir, request_r, result_w, release_r)
        for fd in (request_r, result_w, release_r):
            os.close(fd)
        os.set_blocking(result_r, False)
        self.spare = Child(pid, workdir, request_w, result_r, release_w)

    def run(self, limits: Limits, request: bytearray) -> tuple[dict[str, Any], wire.FrameReader]:
        """Hand `request` to the waiting child and watch it: (status, reader holding its answer)."""
        self.prepare()
        child, self.spare = self.spare, None
        assert child is not None
        started = time.monotonic()
        try:
            try:
                wire.write_frame(child.request_w, request)
            except OSError:
                pass  # the child died waiting: _watch reports it
            os.close(child.request_w)
            status, reader, reaped = self._watch(child.pid, limits, started, child.result_r)
        finally:
            os.close(child.result_r)
            os.close(child.release_w)  # lets an answered child exit
        if reaped:
            shutil.rmtree(child.workdir, ignore_errors=True)  # fd-based: the child's symlinks are not followed
        else:
            self.exiting[child.pid] = (child.workdir, time.monotonic() + EXIT_GRACE)
        return status, reader

    def reap(self, block: bool) -> None:
        """Collect children that answered and exited; kill one still alive past its grace."""
        for pid, (workdir, grace) in list(self.exiting.items()):
            if block or time.monotonic() > grace:
                _kill(pid)
                os.waitpid(pid, 0)
            elif os.waitpid(pid, os.WNOHANG) == (0, 0):
                continue
            del self.exiting[pid]
            shutil.rmtree(workdir, ignore_errors=True)

    def close(self) -> None:
        if self.spare is not None:
            _kill(self.spare.pid)
            os.waitpid(self.spare.pid, 0)
            shutil.rmtree(self.spare.workdir, ignore_errors=True)
            self.spare = None
        self.reap(block=True)

    def _child(self, workdir: str, request_r: int, result_w: int, release_r: int) -> None:
        code = CHILD_SETUP_FAILED
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            frame = wire.read_frame(request_r, CONTROL_CAP)
            if frame is None:
                os._exit(0)  # the zygote is closing
            request = wire.decode(frame, CONTROL_CAP)
            limits = Limits(**request.meta.get("limits", {}))
            devnull = os.open("/dev/null", os.O_RDWR)
            # stdin, stdout, stderr (the harness keeps what the code prints), answer, release:
            # moved out of the way first, as a pipe may already sit on a target number
            wanted = {0: devnull, 1: devnull, 2: devnull, RESULT_FD: result_w, RELEASE_FD: release_r}
            high = {target: fcntl.fcntl(fd, fcntl.F_DUPFD, 256) for target, fd in wanted.items()}
            for target, fd in high.items():
                os.dup2(fd, target)
            os.closerange(RELEASE_FD + 1, 1 << 16)  # the control pipes and everything else
            uid = None
            if self.uid_base is not None:
                uid = self.uid_base + os.getpid() % 131072
                os.chown(workdir, uid, uid)
            os.environ.clear()
            os.environ.update({"HOME": workdir, "TMPDIR": workdir, "PATH": "/nonexistent", "LANG": "C.UTF-8"})
            confine(
                limits=limits,
                address_space=_vm_size() + limits.memory_mb * 2**20,
                workdir=workdir,
                uid=uid,
                landlock=self.landlock,
                read_paths=self.read_paths,
                seccomp_filter=self.seccomp,
            )
            code = 1
            from grader.code.harness import Source, TestRequest, run_captured

            test = TestRequest(**request.meta["test"])
            sources = [Source(**s) for s in request.meta.get("sources", [])]
            facts, arrays = run_captured(test, sources, request.arrays, limits.console_kb * 1024)
            try:
                payload = wire.encode(wire.Message(facts, arrays), bytes_cap=limits.output_mb * 2**20)
            except wire.WireError as exc:
                facts.pop("console", None)
                facts["error"] = {"type": "OutputError", "message": str(exc)}
                payload = wire.encode(wire.Message(facts))
            wire.write_frame(RESULT_FD, payload)
            code = 0
            os.read(RELEASE_FD, 1)  # until the zygote has read this process's peak memory
        except BaseException:  # noqa: BLE001 - the child must never return into the zygote loop
            pass
        finally:
            os._exit(code)

    def _watch(self, pid: int, limits: Limits, started: float, result_r: int) -> tuple[dict[str, Any], wire.FrameReader, bool]:
        """Wait for the child's answer, its death or its deadline: (status, answer reader, reaped)."""
        deadline = started + limits.seconds
        reader = wire.FrameReader(result_r, cap=limits.output_mb * 2**20 + wire.HEADER_CAP + 16)
        pidfd = os.pidfd_open(pid)
        poller = select.poll()
        poller.register(result_r, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        killed: Ending | None = None
        exited, reading = False, True
        try:
            while not (reader.frames and killed is None) and not (exited and not reading):
                remaining = deadline - time.monotonic()
                if remaining <= 0 and killed is None and not exited:
                    _kill(pid)
                    killed = Ending.timeout
                if remaining <= 0:
                    if time.monotonic() > deadline + 2:
                        break  # a pipe held open by nothing we know of: stop waiting
                    remaining = 0.5  # killed: drain what the pipe still holds
                for fd, _ in poller.poll(remaining * 1000):
                    if fd == pidfd:
                        exited = True
                        poller.unregister(pidfd)
                    else:
                        reader.feed()
                        if reader.eof or reader.overflow:
                            reading = False
                            poller.unregister(result_r)
                        if reader.overflow and killed is None:
                            _kill(pid)
                            killed = Ending.output_too_large
        finally:
            os.close(pidfd)
        if reader.frames and killed is None and not exited:
            return {"ending": Ending.finished.value, "elapsed": time.monotonic() - started, "exit": 0, **_usage(pid)}, reader, False
        _, status, usage = os.wait4(pid, 0)
        if killed is not None:
            ending = killed
        elif os.WIFSIGNALED(status):
            ending = Ending.cpu if os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL) else Ending.crashed
        elif os.WEXITSTATUS(status) == CHILD_SETUP_FAILED:
            ending = Ending.sandbox_error
        elif reader.frames and os.WEXITSTATUS(status) == 0:
            ending = Ending.finished
        else:
            ending = Ending.crashed
        status_meta = {
            "ending": ending.value,
            "elapsed": time.monotonic() - started,
            "cpu": usage.ru_utime + usage.ru_stime,
            "max_rss_kb": usage.ru_maxrss,
            "exit": -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status),
        }
        if ending is not Ending.finished:
            reader.scrub()
            reader.frames.clear()
        return status_meta, reader, True


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _usage(pid: int) -> dict[str, Any]:
    """CPU seconds and peak RSS of a live child, from /proc (wait4 would wait for its exit)."""
    usage: dict[str, Any] = {"cpu": 0.0, "max_rss_kb": 0}
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        usage["cpu"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        with open(f"/proc/{pid}/status") as f:
            usage["max_rss_kb"] = next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
    except (OSError, ValueError, IndexError):
        pass
    return usage


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
    zygote.prepare()
    while True:
        control = wire.read_frame(control_in, META_CAP)
        request = wire.read_frame(control_in, CONTROL_CAP) if control is not None else None
        if control is None or request is None:
            zygote.close()
            return
        answer: wire.FrameReader | None = None
        try:
            status, answer = zygote.run(Limits(**wire.decode(control).meta.get("limits", {})), request)
        except Exception as exc:  # noqa: BLE001 - the zygote survives a failed fork or pipe
            status = {"ending": Ending.sandbox_error.value, "error": f"{type(exc).__name__}: {exc}"}
        finally:
            wire.scrub(request)
        wire.write_frame(control_out, wire.encode(wire.Message(status)))
        wire.write_frame(control_out, answer.frames[0] if answer is not None and answer.frames else b"")
        if answer is not None:
            answer.scrub()
        zygote.prepare()


if __name__ == "__main__":
    main()
