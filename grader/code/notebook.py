"""Reading student code from a notebook or a .py file: which cells belong to which part.

A cell belongs to part ID when it is tagged `grader:ID` in its metadata (Jupyter's cell tags)
or when its first line is the comment `# grader: ID` (several ids: `# grader: 2.1, 2.2`). Cells
tagged `common` (`# grader: common`) run before every part's own cells: shared imports and
helpers. Only code cells count; outputs, markdown and untagged cells are never run. In a .py
file a `# grader: ID` line starts a section that runs to the next marker or `# %%` line; a .py
file with no marker at all is one module whose code serves every part.

Notebook magics and shell escapes (`%matplotlib inline`, `!pip install ...`) are not Python:
their lines are blanked (kept as comments, so line numbers hold) and noted.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, Field

from grader.sandbox.harness import Source

NOTEBOOK_CAP = 8 * 2**20  # bytes of .ipynb JSON read at all
CODE_CAP = 1 * 2**20  # bytes of code one part may run
COMMON = "common"
_MARKER = re.compile(r"^[ \t]*#[ \t]*grader[ \t]*:[ \t]*(?P<ids>[^\n]*?)[ \t]*$")
_CELL_BREAK = re.compile(r"^[ \t]*#[ \t]*%%")
_TAG = re.compile(r"^grader[ \t]*:[ \t]*(?P<id>\S+)$", re.IGNORECASE)
_MAGIC = re.compile(r"^([ \t]*)([%!].*)$")


class UnreadableCode(ValueError):
    """A submission file whose code cannot be read (not a notebook, too large)."""


class Cell(BaseModel):
    name: str
    code: str
    first_line: int = 1
    parts: frozenset[str] = Field(default_factory=frozenset, description="Part ids, case-folded; 'common' for shared cells.")


class StudentCode(BaseModel):
    """The code cells of one submission file, in order, with the parts each belongs to."""

    source: str
    cells: list[Cell]
    notes: list[str] = Field(default_factory=list)

    def parts(self) -> set[str]:
        return {p for c in self.cells for p in c.parts if p != COMMON}

    def for_part(self, part_id: str) -> list[Source]:
        """The cells to run for one part: the common ones and its own, in file order."""
        wanted = {COMMON, part_id.casefold()}
        chosen = [Source(name=c.name, code=c.code, first_line=c.first_line) for c in self.cells if c.parts & wanted]
        if sum(len(s.code) for s in chosen) > CODE_CAP:
            raise UnreadableCode(f"the code for part {part_id} is larger than {CODE_CAP // 1024} KB")
        return chosen


def _ids(text: str) -> frozenset[str]:
    return frozenset(i.strip().casefold() for i in re.split(r"[,\s]+", text) if i.strip())


def _strip_magics(code: str, where: str, notes: list[str]) -> str:
    lines = code.split("\n")
    for i, line in enumerate(lines):
        match = _MAGIC.match(line)
        if match:
            lines[i] = f"{match.group(1)}pass  # notebook magic not run: {match.group(2)[:60]}"
            notes.append(f"{where}, line {i + 1}: notebook command not run ({match.group(2)[:40]})")
    return "\n".join(lines)


def read_notebook(text: str, name: str) -> StudentCode:
    import nbformat

    if len(text.encode("utf-8", "replace")) > NOTEBOOK_CAP:
        raise UnreadableCode(f"{name} is larger than {NOTEBOOK_CAP // 2**20} MB")
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises JSON, schema and version errors of several types
        raise UnreadableCode(f"{name} is not a readable Jupyter notebook ({type(exc).__name__}); save it from Jupyter or Colab as .ipynb") from None
    cells: list[Cell] = []
    notes: list[str] = []
    for index, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        code = cell.get("source", "")
        code = "".join(code) if isinstance(code, list) else str(code)
        tags = cell.get("metadata", {}).get("tags", []) or []
        parts = {m.group("id").casefold() for t in tags if isinstance(t, str) and (m := _TAG.match(t.strip()))}
        first = code.split("\n", 1)[0]
        marker = _MARKER.match(first)
        if marker:
            parts |= _ids(marker.group("ids"))
        if not parts:
            continue
        where = f"{name} cell {index}"
        cells.append(Cell(name=where, code=_strip_magics(code, where, notes), parts=frozenset(parts)))
    return StudentCode(source=name, cells=cells, notes=notes)


def read_python(text: str, name: str) -> StudentCode:
    if len(text) > CODE_CAP:
        raise UnreadableCode(f"{name} is larger than {CODE_CAP // 1024} KB")
    lines = text.split("\n")
    marks = [(i, _ids(m.group("ids"))) for i, line in enumerate(lines) if (m := _MARKER.match(line))]
    if not marks:
        return StudentCode(source=name, cells=[Cell(name=name, code=text, parts=frozenset({COMMON}))])
    cells: list[Cell] = []
    breaks = sorted({i for i, _ in marks} | {i for i, line in enumerate(lines) if _CELL_BREAK.match(line)} | {len(lines)})
    for start, parts in marks:
        end = next(b for b in breaks if b > start)
        cells.append(Cell(name=name, code="\n".join(lines[start:end]), first_line=start + 1, parts=parts))
    return StudentCode(source=name, cells=cells)


def read_code(path: Path) -> StudentCode:
    """A submission file's code, by its extension (.ipynb or .py)."""
    data = path.read_bytes()[: NOTEBOOK_CAP + 1]
    text = data.decode("utf-8", "replace")
    if path.suffix.lower() == ".ipynb":
        return read_notebook(text, path.name)
    return read_python(text, path.name)


CODE_SUFFIXES = (".py", ".ipynb")


def read_files(files: dict[str, str]) -> list[StudentCode]:
    """Every code file of a submission (name -> text), read in name order."""
    return [read_notebook(text, name) if name.lower().endswith(".ipynb") else read_python(text, name) for name, text in sorted(files.items())]


def sources_for(codes: list[StudentCode], part_id: str, after: tuple[str, ...] | list[str] = ()) -> tuple[list[Source], bool]:
    """The cells one part runs, from every file: shared cells, then those of the parts in
    `after` (a backward part runs the forward's cells first), then its own, each file in order.
    Also whether any cell is the part's own (a .py file without markers serves every part)."""
    wanted = [COMMON, *(a.casefold() for a in after), part_id.casefold()]
    own = any(part_id.casefold() in c.parts or c.parts == frozenset({COMMON}) and not code.parts() for code in codes for c in code.cells)
    chosen: list[Source] = []
    seen: set[tuple[str, int]] = set()
    for tag in wanted:
        for code in codes:
            for cell in code.cells:
                if tag in cell.parts and (cell.name, cell.first_line) not in seen:
                    seen.add((cell.name, cell.first_line))
                    chosen.append(Source(name=cell.name, code=cell.code, first_line=cell.first_line))
    if sum(len(s.code) for s in chosen) > CODE_CAP:
        raise UnreadableCode(f"the code for part {part_id} is larger than {CODE_CAP // 1024} KB")
    return chosen, own
