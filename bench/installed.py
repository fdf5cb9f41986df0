"""The environment a benchmark runs `grader` in: as an installed package runs.

pip compiles a package's bytecode when it installs it, so a user's `grader` never compiles its
own source. A shell with PYTHONDONTWRITEBYTECODE set (CI images often have it) would make every
fresh process compile the whole package, a cost no user pays and one that grows with the
package's size; the benchmarks drop it, and run each command once untimed first so that the
caches exist.
"""

from __future__ import annotations

import os


def installed_env(**extra: str) -> dict[str, str]:
    """os.environ with bytecode caching allowed, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env
