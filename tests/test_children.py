"""tests/_children.py: a process a test starts ends when the test process dies, killed or not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_started_with_ends_with_pytest_dies_with_a_killed_parent() -> None:
    parent_code = (
        "import subprocess, sys, time\n"
        f"sys.path.insert(0, {str(HERE)!r})\n"
        "from _children import ends_with_pytest\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'], start_new_session=True, preexec_fn=ends_with_pytest)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    try:
        os.kill(child, 0)  # running
        parent.kill()  # SIGKILL: no teardown of any kind runs in the parent
        parent.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            try:
                if Path(f"/proc/{child}/stat").read_text().split()[2] == "Z":
                    break  # ended, not yet reaped by init
            except FileNotFoundError:
                break  # reaped meanwhile
            time.sleep(0.05)
        else:
            pytest.fail("the child outlived its killed parent")
    finally:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
