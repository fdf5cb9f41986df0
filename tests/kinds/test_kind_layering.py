"""The layering of reading and checking: kinds import parsing, never each other; parsing imports
no kind. Imports are read from the source (imports inside functions included), so a lazy import
cannot hide a dependency."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grader
from grader.kinds import KINDS

PACKAGE = Path(grader.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_package(name: str) -> bool:
    return (PACKAGE.parent / Path(*name.split(".")) / "__init__.py").exists()


def imported_modules(path: Path) -> set[str]:
    return imports_of(path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py")


def imports_of(source: str, name: str, is_package: bool = False) -> set[str]:
    """The `grader` modules module `name` imports, anywhere in its source (`from grader.kinds
    import X` counts as the package `grader.kinds`, or as `grader.kinds.X` when X is a module)."""
    here = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if (PACKAGE.parent / Path(*sub.split("."))).with_suffix(".py").exists()
                          or _is_package(sub) else base)
    return {m for m in found if m == "grader" or m.startswith("grader.")}


def _modules_in(folder: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((PACKAGE / folder).glob("*.py"))}


KIND_MODULES = {cls.__module__ for cls in KINDS.values()}


def test_the_kind_modules_are_the_registered_ones():
    kinds = _modules_in("kinds")
    assert KIND_MODULES <= set(kinds)
    # the expected ten, so that a kind moved into a support module cannot empty the rule
    assert {m.rpartition(".")[2] for m in KIND_MODULES} == {
        "integer", "number", "array", "shape", "location", "choice", "expr", "index_expr", "text", "code"}


def test_no_kind_module_imports_another_kind_module():
    kinds = _modules_in("kinds")
    graph = {name: imported_modules(path) for name, path in kinds.items()}
    for kind_module in sorted(KIND_MODULES):
        # everything it reaches inside grader.kinds, through support modules too
        reached: set[str] = set()
        stack = [kind_module]
        while stack:
            for dep in graph.get(stack.pop(), ()):
                if dep.startswith("grader.kinds") and dep not in reached:
                    reached.add(dep)
                    stack.append(dep)
        others = sorted(m for m in reached if m in KIND_MODULES - {kind_module} or m == "grader.kinds")
        assert not others, f"{kind_module} imports {others}"


def test_parsing_imports_no_kind():
    for name, path in _modules_in("parsing").items():
        kinds = sorted(m for m in imported_modules(path) if m.startswith("grader.kinds"))
        assert not kinds, f"{name} imports {kinds}"
    # and at run time: importing every parsing module loads no kind
    code = (
        "import sys, pkgutil, importlib, grader.parsing as p\n"
        "for m in pkgutil.iter_modules(p.__path__): importlib.import_module('grader.parsing.' + m.name)\n"
        "print(sorted(k for k in sys.modules if k.startswith('grader.kinds')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_rule_sees_imports_inside_functions():
    """The checker itself: a lazy, a relative and a from-package import are all found."""
    source = (
        "from grader.kinds.base import Kind\n"
        "def f():\n"
        "    from grader.kinds import number\n"
        "    from . import shape\n"
        "    from .sampled import SampledKind\n"
        "    import grader.parsing.lexer\n"
        "    from grader.kinds import Kind\n"
    )
    assert imports_of(source, "grader.kinds.probe") == {
        "grader.kinds.base", "grader.kinds.number", "grader.kinds.shape", "grader.kinds.sampled",
        "grader.parsing.lexer", "grader.kinds"}
