"""The grader's side of the sandbox: starts the zygote, sends tests, enforces its own deadline.

Which layers hold depends on the machine; `Sandbox.layers` says, and every report that used
the sandbox can say so too:

- namespaces: the zygote runs under bubblewrap (Debian's `bubblewrap`) with no network, its
  own pid, IPC and UTS namespaces, and a read-only root holding only the Python installation
  and system libraries, plus a size-capped tmpfs for the tests' working directories. Where
  bubblewrap is missing or the kernel refuses namespaces (an unprivileged container), the
  zygote runs directly, and the layers below still hold.
- user, rlimits, landlock, seccomp: applied to every child (grader.sandbox.confine).

Protected paths (the answer key, the submissions, the course folder) are checked against what
the child may read before anything starts: a key inside the Python installation is refused.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from grader.sandbox import wire
from grader.sandbox.confine import python_read_paths
from grader.sandbox.limits import Ending, Limits

START_TIMEOUT = 120.0  # importing torch on a busy machine
ZYGOTE_MARGIN = 10.0  # beyond a test's own limit before the zygote itself counts as stuck
UID_BASE = 2_000_000_000  # far above any account's uid; each child gets a uid of its own
SCRATCH_IN_SANDBOX = "/scratch"


class SandboxError(RuntimeError):
    """The sandbox cannot run at all (misconfiguration, a protected path readable)."""


class Layers(BaseModel):
    """Which isolation layers hold for this sandbox, and why one does not."""

    namespaces: bool
    namespaces_note: str = ""
    user: bool
    user_note: str = ""
    landlock_abi: int
    seccomp: bool
    seccomp_note: str = ""
    rlimits: bool = True

    def summary(self) -> str:
        parts = [
            f"namespaces {'on' if self.namespaces else 'off'}" + (f" ({self.namespaces_note})" if self.namespaces_note else ""),
            f"unprivileged user {'on' if self.user else 'off'}" + (f" ({self.user_note})" if self.user_note else ""),
            f"landlock {'ABI ' + str(self.landlock_abi) if self.landlock_abi else 'off'}",
            f"seccomp {'on' if self.seccomp else 'off'}" + (f" ({self.seccomp_note})" if self.seccomp_note else ""),
            "rlimits on",
        ]
        return ", ".join(parts)


@dataclass
class TestOutcome:
    """One test, as the zygote saw it (`ending`, times, memory) and as the child answered
    (`facts`, `arrays`: decoded under the wire's bounds, to be judged, not trusted)."""

    ending: Ending
    elapsed: float = 0.0
    cpu: float = 0.0
    max_rss_kb: int = 0
    exit: int = 0  # exit status, or minus the signal that ended the child
    console: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    note: str = ""

    @property
    def error(self) -> dict[str, Any] | None:
        error = self.facts.get("error")
        return error if isinstance(error, dict) else None


def _mounts_for(path: str) -> list[str]:
    """bubblewrap arguments that make `path` visible read-only (symlinks kept as symlinks)."""
    if os.path.islink(path):
        return ["--symlink", os.readlink(path), path]
    if os.path.exists(path):
        return ["--ro-bind", path, path]
    return []


def bubblewrap_command(bwrap: str, argv: list[str], read_paths: list[str], scratch_mb: int) -> list[str]:
    root = os.geteuid() == 0
    cmd = [bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not root:
        cmd.append("--unshare-user")
    cmd += ["--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev"]
    # the directories above each bound path: traversable (a home such as /root is 0700 on the
    # host, yet inside the sandbox it holds only the read-only Python installation)
    parents = sorted({str(p) for path in read_paths for p in Path(path).parents if str(p) != "/"})
    for parent in parents:
        cmd += ["--perms", "0755", "--dir", parent]
    tops = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/usr")
    for top in tops:
        cmd += _mounts_for(top)
    for path in read_paths:  # /proc, /dev and /sys are the sandbox's own
        if path not in tops and not path.startswith(("/usr/", "/proc/", "/dev/", "/sys/")):
            cmd += _mounts_for(path)
    cmd += ["--size", str(scratch_mb * 2**20), "--perms", "0711", "--tmpfs", SCRATCH_IN_SANDBOX]
    if root:  # only what the zygote needs to make and remove a child's directory and drop to its user
        cmd += ["--cap-drop", "ALL"]
        for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER"):
            cmd += ["--cap-add", cap]
    cmd += ["--remount-ro", "/", "--chdir", SCRATCH_IN_SANDBOX, "--"]
    return cmd + argv


class Sandbox:
    """A zygote and its children. Use as a context manager; `run` one test at a time."""

    def __init__(
        self,
        *,
        namespaces: bool | None = None,
        landlock: bool = True,
        protected: list[Path] | tuple[Path, ...] = (),
        scratch_mb: int = 64,
        preload: tuple[str, ...] = (),  # preload.PRELOAD_GRADCHECK, PRELOAD_TRAINING
    ) -> None:
        self.want_namespaces = namespaces  # None: use them where the machine allows
        self.want_landlock = landlock
        self.protected = [Path(p).resolve() for p in protected]
        self.scratch_mb = scratch_mb
        self.preload = preload
        self.layers: Layers | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: wire.FrameReader | None = None
        self._stderr: Any = None
        self._host_scratch: str | None = None
        self.zygote_pid: int | None = None

    # -- life cycle --------------------------------------------------------------------------
    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def read_paths(self) -> list[str]:
        grader_dir = str(Path(__file__).resolve().parents[1])
        paths = python_read_paths()
        for protected in self.protected:
            for path in paths + [grader_dir]:
                if protected == Path(path) or Path(path) in protected.parents:
                    raise SandboxError(f"{protected} is inside {path}, which sandboxed code may read; move it elsewhere")
        return paths

    def start(self) -> None:
        if self._proc is not None:
            return
        read_paths = self.read_paths()
        bwrap = shutil.which("bwrap")
        note = ""
        if self.want_namespaces is False:
            note = "disabled"
        elif bwrap is None:
            note = "bubblewrap (bwrap) is not installed"
        else:
            grader_dir = str(Path(__file__).resolve().parents[1])
            try:
                self._launch(read_paths, bubblewrap_command(bwrap, self._argv(), read_paths + [grader_dir], self.scratch_mb), SCRATCH_IN_SANDBOX, True, "")
                return
            except SandboxError as exc:
                if self.want_namespaces:
                    raise
                note = f"bubblewrap could not start: {exc}"
        self._host_scratch = tempfile.mkdtemp(prefix="grader-sandbox-")
        os.chmod(self._host_scratch, 0o711)
        self._launch(read_paths, self._argv(), self._host_scratch, False, note)

    def _argv(self) -> list[str]:
        return [sys.executable, "-m", "grader.sandbox.zygote"]

    def _env(self, scratch: str) -> dict[str, str]:
        env = {"PATH": os.defpath, "LANG": "C.UTF-8", "HOME": scratch, "PYTHONDONTWRITEBYTECODE": "1"}
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])  # where `grader` is, for a source checkout
        env.update({k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")})
        return env

    def _launch(self, read_paths: list[str], cmd: list[str], scratch: str, namespaces: bool, note: str) -> None:
        self._stderr = tempfile.TemporaryFile()
        cwd = scratch if not namespaces else "/"
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=self._env(scratch), cwd=cwd, close_fds=True, start_new_session=True
        )
        assert self._proc.stdout is not None
        os.set_blocking(self._proc.stdout.fileno(), False)
        self._reader = wire.FrameReader(self._proc.stdout.fileno(), cap=wire.HEADER_CAP + 16)
        root = os.geteuid() == 0
        uid_base = UID_BASE + (self._proc.pid % 16384) * 131072 if root else None
        config = {"scratch": scratch, "uid_base": uid_base, "read_paths": read_paths, "landlock": self.want_landlock, "preload": list(self.preload)}
        try:
            self._send(wire.encode(wire.Message(config)))
            hello = self._receive(START_TIMEOUT, cap=wire.HEADER_CAP + 16)
        except SandboxError:
            self._kill()
            raise
        meta = wire.decode(hello).meta.get("hello", {})
        self.zygote_pid = self._proc.pid
        self.layers = Layers(
            namespaces=namespaces,
            namespaces_note=note,
            user=bool(meta.get("user")),
            user_note="" if meta.get("user") else "the grader is not running as root",
            landlock_abi=int(meta.get("landlock") or 0),
            seccomp=bool(meta.get("seccomp")),
            seccomp_note=str(meta.get("seccomp_error") or ""),
        )

    def close(self) -> None:
        if self._proc is not None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.close()
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._kill()
            self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._host_scratch is not None:
            shutil.rmtree(self._host_scratch, ignore_errors=True)
            self._host_scratch = None

    def _kill(self) -> None:
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)  # the zygote's own session: it and its children
        except ProcessLookupError:
            pass
        self._proc.wait()
        self._proc = None

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()[-600:].decode("utf-8", "replace").strip()

    # -- frames ------------------------------------------------------------------------------
    def _send(self, payload: bytes) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(len(payload).to_bytes(8, "little") + payload)
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise SandboxError(f"the sandbox stopped: {self._stderr_tail() or exc}") from None

    def _receive(self, timeout: float, cap: int) -> bytearray:
        assert self._proc is not None and self._reader is not None
        reader = self._reader
        reader.cap = cap
        deadline = time.monotonic() + timeout
        while not reader.frames:
            if reader.eof or reader.overflow:
                raise SandboxError(f"the sandbox stopped: {self._stderr_tail() or 'no answer'}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxError("the sandbox did not answer in time")
            ready, _, _ = select.select([reader.fd], [], [], remaining)
            if ready:
                reader.feed()
        return reader.frames.pop(0)

    # -- tests -------------------------------------------------------------------------------
    def run(self, test: dict[str, Any], sources: list[dict[str, Any]], arrays: dict[str, np.ndarray], limits: Limits) -> TestOutcome:
        """Run one test in a fresh child. Never raises for anything the student's code does."""
        self.start()
        request = wire.Message({"test": test, "sources": sources, "limits": limits.model_dump()}, arrays)
        try:
            self._send(wire.encode(wire.Message({"limits": limits.model_dump()})))
            self._send(wire.encode(request, bytes_cap=wire.DEFAULT_BYTES_CAP * 4))
            status = wire.decode(self._receive(limits.seconds + ZYGOTE_MARGIN, cap=wire.HEADER_CAP + 16)).meta
            payload = self._receive(ZYGOTE_MARGIN, cap=limits.output_mb * 2**20 + wire.HEADER_CAP + 16)
        except (SandboxError, wire.WireError) as exc:
            self._kill()  # a fresh zygote for the next test
            return TestOutcome(Ending.sandbox_error, note=str(exc))
        outcome = TestOutcome(
            Ending(status.get("ending", Ending.sandbox_error.value)),
            elapsed=float(status.get("elapsed", 0.0)),
            cpu=float(status.get("cpu", 0.0)),
            max_rss_kb=int(status.get("max_rss_kb", 0)),
            exit=int(status.get("exit", 0)),
            note=str(status.get("error", "")),
        )
        if payload:
            try:
                answer = wire.decode(payload, bytes_cap=limits.output_mb * 2**20)
            except wire.WireError as exc:
                outcome.ending = Ending.crashed
                outcome.note = f"unreadable answer: {exc}"
                return outcome
            outcome.facts, outcome.arrays = answer.meta, answer.arrays
            outcome.console = str(outcome.facts.pop("console", ""))[: limits.console_kb * 1024]
            if (outcome.error or {}).get("type") == "MemoryError":
                outcome.ending = Ending.memory
        return outcome
