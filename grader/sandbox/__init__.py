"""Running student code: a zygote with torch loaded forks one confined child per test.

client (the grader's side) -> zygote (fresh interpreter, torch imported, inside bubblewrap
where allowed) -> one child per test (confine: own user, rlimits, landlock, seccomp) running
grader.code.harness. Only bounded JSON and arrays travel back (wire).
"""

from grader.sandbox.client import Layers, Sandbox, SandboxError, TestOutcome
from grader.sandbox.limits import Ending, Limits

__all__ = ["Ending", "Layers", "Limits", "Sandbox", "SandboxError", "TestOutcome"]
