"""Long-lived processes a test starts (`grader worker`, `grader serve`, a private redis-server)
end when pytest does, even when pytest is killed and its fixtures never run their teardown.

`ends_with_pytest` is a `preexec_fn`: in the child, before it executes the command, it asks
Linux to send it SIGTERM when its parent (the pytest thread that started it) dies. The setting
survives the exec. Elsewhere than Linux it does nothing (the fixtures' own teardown remains).
"""

from __future__ import annotations

import ctypes
import signal
import sys

PR_SET_PDEATHSIG = 1


def ends_with_pytest() -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
