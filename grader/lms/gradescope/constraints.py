"""The exact versions the grader runs with here, as a pip constraints file.

`grader export gradescope` puts `constraints.txt` in the zip (and beside it) and setup.sh
installs with `-c constraints.txt`; the repository's Dockerfile installs with the same file
(`grader export constraints`). So an image built in March holds the torch, numpy, sympy ...
the key was built and tested with in January, not whatever is newest then.

The set pinned is the grader's runtime dependency closure: its requirements (torch and
`package.REQUIREMENTS`) and, recursively, theirs, with environment markers evaluated for this
interpreter and extras followed only where a requirement asks for them. Versions are read from
the installed distributions (importlib.metadata); a requirement that is not installed here
(e.g. a Windows-only one) is not pinned.
"""

from __future__ import annotations

import importlib.metadata as metadata
from collections.abc import Iterable

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

CONSTRAINTS_FILE = "constraints.txt"

HEADER = """\
# The exact versions `grader export` found installed: the grader's runtime dependencies and
# theirs. Install with `pip install -c constraints.txt ...` (CPU torch first, --no-deps, from
# https://download.pytorch.org/whl/cpu), so the autograder grades with what the key was built
# and tested with. Regenerate with `grader export constraints` after upgrading.
"""


def _installed(name: str) -> metadata.Distribution | None:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


def pinned_versions(roots: Iterable[str]) -> dict[str, str]:
    """{canonical name: installed version} for `roots` (requirement strings) and everything they
    need here, recursively."""
    base = default_environment()
    pins: dict[str, str] = {}
    names: dict[str, str] = {}
    done: set[tuple[str, str]] = set()  # (name, extra) already expanded
    todo = [(Requirement(r), "") for r in roots]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({**base, "extra": extra}):
            continue
        name = canonicalize_name(req.name)
        dist = _installed(req.name)
        if dist is None:
            continue
        pins[name] = dist.version
        names[name] = dist.metadata["Name"] or req.name
        for wanted in ("", *sorted(req.extras)):
            if (name, wanted) in done:
                continue
            done.add((name, wanted))
            for text in dist.requires or ():
                try:
                    todo.append((Requirement(text), wanted))
                except InvalidRequirement:  # a broken metadata line pins nothing, fails nothing
                    continue
    return {names[n]: pins[n] for n in sorted(pins)}


def runtime_pins() -> dict[str, str]:
    """The grader's own runtime closure, torch included."""
    from grader.lms.gradescope.package import REQUIREMENTS

    return pinned_versions(["torch", *REQUIREMENTS])


def constraints_text(pins: dict[str, str] | None = None) -> str:
    pins = runtime_pins() if pins is None else pins
    return HEADER + "".join(f"{name}=={version}\n" for name, version in pins.items())
