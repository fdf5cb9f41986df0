"""What one sandboxed test may use, and how a test ended."""

from __future__ import annotations

import math
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field


class Limits(BaseModel):
    """Per-test limits. Memory is the address space a test may add to the zygote's own (torch
    alone maps ~0.6 GB it never touches, so an absolute cap would mostly measure torch)."""

    model_config = ConfigDict(frozen=True)

    seconds: float = Field(5.0, gt=0, le=600, description="Wall-clock time; the test is killed at it.")
    memory_mb: int = Field(512, gt=0, le=16384, description="Address space above the zygote's (RLIMIT_AS).")
    file_mb: int = Field(8, ge=0, le=1024, description="Largest file the test may write (RLIMIT_FSIZE).")
    scratch_mb: int = Field(32, gt=0, le=4096, description="Size of the private tmpfs scratch area, where namespaces allow one.")
    processes: int = Field(16, gt=0, le=4096, description="Threads and processes of the test's user (RLIMIT_NPROC).")
    open_files: int = Field(64, ge=16, le=65536, description="Open file descriptors (RLIMIT_NOFILE).")
    output_mb: int = Field(16, gt=0, le=1024, description="Arrays the test may send back.")
    console_kb: int = Field(8, ge=0, le=1024, description="Printed output kept (the tail).")

    @property
    def cpu_seconds(self) -> int:
        """RLIMIT_CPU: a backstop behind the wall-clock kill (SIGXCPU, then SIGKILL a second later)."""
        return max(1, math.ceil(self.seconds)) + 1


class Ending(str, Enum):
    """How a sandboxed test ended, as the zygote (trusted) saw it."""

    finished = "finished"  # the child sent its answer and exited
    timeout = "timeout"  # killed at the wall-clock limit
    cpu = "cpu"  # killed by RLIMIT_CPU
    memory = "memory"  # ran out of address space
    crashed = "crashed"  # died by a signal or exited without an answer
    output_too_large = "output_too_large"  # tried to send back more than output_mb
    sandbox_error = "sandbox_error"  # the sandbox itself failed (not the student's fault)
    skipped = "skipped"  # not run: an earlier test of the same part ran out of time
