"""The rules the package's layout keeps (issue "One engine, thin drivers"), read from the source
with `ast`, so a change that breaks one fails here rather than in review:

- only grader/cli/ imports typer;
- no import cycle between the package's units (a subpackage or a top-level module), imports
  inside functions and under TYPE_CHECKING included;
- the store imports nothing from the reports, the runs, the workflow or the command line, and
  the reports import only the models and their own formatting;
- exactly one function loops over a submission's parts, grading each (AssignmentGrader.grade).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "grader"


@dataclass(frozen=True)
class Module:
    name: str  # grader.run.pool
    path: Path
    tree: ast.Module


def modules() -> list[Module]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out.append(Module(name, path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))))
    return out


MODULES = modules()
NAMES = {m.name for m in MODULES}


def imported(module: Module) -> Iterator[tuple[str, int]]:
    """Every module name an import statement anywhere in `module` names, with its line."""
    is_package = module.path.name == "__init__.py"
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.name if is_package else module.name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:  # `from grader.store import db` imports the module grader.store.db
                yield (f"{base}.{alias.name}" if f"{base}.{alias.name}" in NAMES else base), node.lineno


def unit(name: str) -> str:
    """A subpackage (grader.run) or a top-level module (grader.scoring); `grader` itself is one too."""
    parts = name.split(".")
    if len(parts) == 1:
        return name
    return ".".join(parts[:2])


def internal_imports(module: Module) -> Iterator[tuple[str, int]]:
    for name, line in imported(module):
        if name == "grader" or name.startswith("grader."):
            yield name, line


def test_the_package_is_read_whole() -> None:
    # the rules below mean something only if every unit of the layout is seen
    units = {unit(m.name) for m in MODULES}
    assert {"grader.scoring", "grader.models", "grader.run", "grader.cli", "grader.store", "grader.report", "grader.keys", "grader.lms", "grader.workflow"} <= units
    assert len(MODULES) > 60


def test_only_the_command_line_imports_typer() -> None:
    offenders = [
        f"{m.path.relative_to(PACKAGE.parent)}:{line}"
        for m in MODULES
        if not (m.name == "grader.cli" or m.name.startswith("grader.cli."))
        for name, line in imported(m)
        if name == "typer" or name.startswith("typer.")
    ]
    assert offenders == []


def unit_graph() -> dict[str, dict[str, str]]:
    """unit -> imported unit -> one place that imports it (for the message)."""
    graph: dict[str, dict[str, str]] = {}
    for m in MODULES:
        here = unit(m.name)
        edges = graph.setdefault(here, {})
        for name, line in internal_imports(m):
            there = unit(name)
            if there != here:
                edges.setdefault(there, f"{m.path.relative_to(PACKAGE.parent)}:{line}")
    return graph


def find_cycle(graph: dict[str, dict[str, str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_between_units() -> None:
    graph = unit_graph()
    cycle = find_cycle(graph)
    where = [graph[a][b] for a, b in zip(cycle, cycle[1:])] if cycle else []
    assert cycle is None, f"import cycle {' -> '.join(cycle)} (at {', '.join(where)})"


def test_the_cycle_finder_finds_a_cycle() -> None:
    # the test above is only as good as this
    assert find_cycle({"a": {"b": ""}, "b": {"c": ""}, "c": {"a": ""}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": ""}, "b": {}, "c": {"a": ""}}) is None


@pytest.mark.parametrize(
    "package,forbidden",
    [("grader.store", ("grader.report", "grader.run", "grader.workflow", "grader.cli"))],
)
def test_the_store_is_persistence_only(package: str, forbidden: tuple[str, ...]) -> None:
    offenders = [
        f"{m.name} imports {name} (line {line})"
        for m in MODULES
        if unit(m.name) == package
        for name, line in internal_imports(m)
        if unit(name) in forbidden
    ]
    assert offenders == []


def test_reports_import_only_models_and_formatting() -> None:
    allowed = {"grader.models"}
    offenders = [
        f"{m.name} imports {name} (line {line})"
        for m in MODULES
        if unit(m.name) == "grader.report"
        for name, line in internal_imports(m)
        if name not in allowed and unit(name) != "grader.report"
    ]
    assert offenders == []


# -- one part loop ----------------------------------------------------------------------------
def _grades_a_part(call: ast.Call) -> bool:
    """A call that grades one part: `grade_part(...)`, or a part grader's `grade(raw, ctx)`
    (AssignmentGrader.grade takes one submission)."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name == "grade_part" or (name == "grade" and len(call.args) == 2)


LOOPS = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def functions() -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for m in MODULES:
        stack: list[tuple[str, ast.AST]] = [(m.name, m.tree)]
        while stack:
            prefix, node = stack.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield f"{prefix}.{child.name}", child
                    stack.append((f"{prefix}.{child.name}", child))
                elif isinstance(child, ast.ClassDef):
                    stack.append((f"{prefix}.{child.name}", child))


def part_grading(fn: ast.AST) -> tuple[int, int]:
    """(calls that grade a part inside a loop, such calls outside any loop) in one function's own body."""
    in_loop = outside = 0

    def walk(node: ast.AST, looping: bool) -> None:
        nonlocal in_loop, outside
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue  # their own bodies count for them
            if isinstance(child, ast.Call) and _grades_a_part(child):
                if looping:
                    in_loop += 1
                else:
                    outside += 1
            walk(child, looping or isinstance(child, LOOPS))

    walk(fn, False)
    return in_loop, outside


def test_exactly_one_function_loops_over_a_submissions_parts() -> None:
    looping = sorted(name for name, fn in functions() if part_grading(fn)[0])
    assert looping == ["grader.scoring.AssignmentGrader.grade"]


def test_parts_are_graded_only_through_the_loop() -> None:
    # grade_part is the loop's step: besides the loop, only the verdict cache (one part per call)
    # may run it, and a part grader's own grade() runs only inside grade_part.
    callers = sorted(name for name, fn in functions() if sum(part_grading(fn)))
    assert callers == ["grader.run.cache.Verdicts.__call__", "grader.scoring.AssignmentGrader.grade", "grader.scoring.AssignmentGrader.grade_part"]


def test_the_loop_detector_sees_a_second_loop() -> None:
    driver = ast.parse("def drive(grader, sub, ctx):\n    for i in range(3):\n        grader.grade_part(i, sub, ctx)\n").body[0]
    comprehension = ast.parse("def f(pgs, ctx):\n    return [pg.grade(None, ctx) for pg in pgs]\n").body[0]
    assert part_grading(driver) == (1, 0) and part_grading(comprehension) == (1, 0)
