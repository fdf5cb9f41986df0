"""Long-lived processes a test starts (`grader worker`, `grader serve`, a private redis-server)
end when pytest does, even when pytest is killed and its fixtures never run their teardown.

`ends_with_pytest` is a `preexec_fn`: in the child, before it executes the command, it asks
for SIGTERM when its parent (the pytest thread that started it) dies, as the grading pool's
workers ask for SIGKILL (grader.run.lifetime.parent_death_signal; Linux only, kept across the
exec). Elsewhere the fixtures' own teardown remains.
"""

from __future__ import annotations

import signal

from grader.run.lifetime import parent_death_signal


def ends_with_pytest() -> None:
    parent_death_signal(signal.SIGTERM)
