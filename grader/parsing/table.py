"""Tables of numbers (vector and matrix answers): every way a student writes one, read in one place.

Accepted (see answer-format.md): a native (nested) list; one row per line with entries split
by spaces, tabs or commas; `[[2,1],[1,1]]`; `[2 1; 1 1]`; `[2, 1, 1]`; `(2, 1, 1)`; LaTeX
`\\begin{bmatrix} 2 & 1 \\\\ 1 & 1 \\end{bmatrix}` (also pmatrix, vmatrix, Bmatrix, matrix,
array with a column spec); pasted `tensor([...])` / `array([...])` output; an optional
`X =` in front and a trailing `^T` (transpose). A vector may be a row or a column.

How a row is split into entries, so that an entry may be any number form:
  * `&` separates entries when present (LaTeX);
  * otherwise top-level commas do — then `61,706` is two entries, never thousands grouping;
  * otherwise whitespace does, except around a binary operator: `1.2 \\times 10^{-3}` and
    `2 - 1` are one entry each, while `2 -1` is two (a sign glued to a number starts one),
    and a number function of the vocabulary keeps its bracketed argument (`exp (1)`, `σ (5)`).
Brackets group: a separator inside `(...)`, `[...]` or `{...}` never splits.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np

from grader.errors import InvalidAnswer, TooComplex
from grader.parsing.brackets import enclosed, has_top, split_top
from grader.parsing.numbers import float_value, fmt_number, read_number
from grader.parsing.text import check_length, count_native, describe_native, fold_width, point_into, short, strip_math
from grader.parsing.vocabulary import VOCABULARY

ENTRY_LIMIT = 10_000
TEXT_LIMIT = 100_000

_AMP = re.compile(r"\s*&\s*")
_COMMA = re.compile(r"\s*,\s*")
_SPACE = re.compile(r"\s+")
_ROW_BREAK = re.compile(r"[ \t]*(?:;|\r?\n)\s*")
_ITEM_SEP = re.compile(r"[\s,;]+")
_EQUALS = re.compile(r"=")
_LATEX_ROW = re.compile(r"\\\\(?:\[[^\]]*\])?")

_ENV = re.compile(
    r"\\begin\{(?P<env>[bBpvV]?matrix\*?|smallmatrix|array)\}"
    r"(?:\[[^\]]*\])?(?:\{(?P<spec>[^{}]*)\})?"
    r"(?P<body>.*?)\\end\{(?P=env)\}",
    re.S,
)
_ENV_SPEC_ENVS = {"array"}  # only `array` takes a column spec; `{2}` after bmatrix is an entry
# What may stand around a LaTeX matrix: delimiters, spacing, a trailing period or comma.
_AROUND_ENV = re.compile(r"(?:\\left|\\right|\\big[lr]?|\\Big[lr]?|\\[,;!: ]|[\s\[\]().,;|])*")
_CALL = re.compile(r"^(?:(?:torch|np|numpy)\s*\.\s*)?(?:tensor|Tensor|array|asarray|matrix)\s*\(", re.S)
_TRANSPOSE = re.compile(r"(?:\^\s*\{?\s*(?:T|\\top|\\intercal)\s*\}?|ᵀ|\.T)\s*$")

# Whitespace never splits an entry next to these (`2 * 3`, `1.2 \times 10^{-3}`, `2 - 1`).
_GLUE_BEFORE = re.compile(r"^(?:\*|/|\^|×|·|⋅|÷|\\times|\\cdot|\\div)")
_GLUE_AFTER = re.compile(r"(?:\*|/|\^|×|·|⋅|÷|\+|-|−|_|\\times|\\cdot|\\div|\\[A-Za-z]+)$")
_SIGN = {"+", "-", "−"}


# -- splitting text into a table of entry strings ------------------------------------------------


def _split_spaces(row: str) -> list[str]:
    chunks = [c for c in split_top(row, _SPACE) if c]
    out: list[str] = []
    for c in chunks:
        if out and (
            _GLUE_AFTER.search(out[-1])
            or _GLUE_BEFORE.match(c)
            or c in _SIGN
            or (out[-1] in VOCABULARY.written_in("number") and c.startswith("("))
        ):
            out[-1] = f"{out[-1]} {c}"
        else:
            out.append(c)
    return out


def split_row(row: str, where: str) -> list[str]:
    """The entries of one row (see the module docstring for the rule)."""
    row = row.strip()
    if not row:
        return []
    if has_top(row, _AMP):
        parts, sep = split_top(row, _AMP), "&"
    elif has_top(row, _COMMA):
        parts, sep = split_top(row, _COMMA), ","
    else:
        return _split_spaces(row)
    parts = [p.strip() for p in parts]
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # a trailing separator, as in `1, 2, 3,`
    if any(p == "" for p in parts):
        raise InvalidAnswer(
            f"{where} has an empty entry (two '{sep}' in a row?)", example="2, 1, 0"
        )
    return parts


def _strip_call(text: str) -> str:
    """`tensor([[2., 1.]], dtype=torch.float64)` -> `[[2., 1.]]` (pasted torch/numpy output)."""
    m = _CALL.match(text)
    if not m or not text.endswith(")"):
        return text
    inner = text[m.end() : -1].strip()
    args = split_top(inner, _COMMA)
    keep = [a for a in args if not re.match(r"^\s*[A-Za-z_]\w*\s*=", a)]
    return ", ".join(keep).strip()


def _latex_table(body: str, where_env: str) -> list[list[str]]:
    body = re.sub(r"\\(?:hline|hdashline|midrule|toprule|bottomrule)\b", " ", body)
    rows = [r.strip() for r in split_top(body, _LATEX_ROW)]
    while rows and not rows[-1]:
        rows.pop()
    if any(not r for r in rows):
        raise InvalidAnswer(
            f"the {where_env} has an empty row (two '\\\\' in a row?)",
            example=r"\begin{bmatrix} 2 & 1 \\ 1 & 1 \end{bmatrix}",
        )
    return [split_row(r, f"row {i}") for i, r in enumerate(rows, 1)]


def _line_table(text: str) -> list[list[str]]:
    table = []
    for line in split_top(text, _ROW_BREAK):
        line = line.strip()
        line = re.sub(r"(?:\\\\|[,;])\s*$", "", line).strip()  # `1 2 \\`, `[1, 2],`
        if not line:
            continue
        if enclosed(line, "(["):
            line = line[1:-1]
        table.append(split_row(line, f"row {len(table) + 1}"))
    return table


def _bracket_table(inner: str) -> list[list[str]]:
    items = [x for x in split_top(inner, _ITEM_SEP) if x]
    if items and all(enclosed(x, "([") for x in items):
        rows = [x[1:-1].strip() for x in items]
        for i, r in enumerate(rows, 1):
            sub = [x for x in split_top(r, _ITEM_SEP) if x]
            if sub and all(enclosed(x, "([") for x in sub):
                raise InvalidAnswer(
                    f"row {i} is itself a list of lists; a matrix has two levels of brackets at most",
                    example="[[2, 1], [1, 1]]",
                )
        return [split_row(r, f"row {i}") for i, r in enumerate(rows, 1)]
    return _line_table(inner)


def text_table(text: str) -> tuple[list[list[str]], bool]:
    """Rows of entry strings from a typed table, and whether it was marked transposed."""
    check_length(text, TEXT_LIMIT)
    text = strip_math(fold_width(text))
    transposed = False
    m = _TRANSPOSE.search(text)
    if m and m.start() > 0:
        text, transposed = text[: m.start()].rstrip(), True
    env = _ENV.search(text)
    if env:
        before, after = text[: env.start()], text[env.end() :]
        before = split_top(before, _EQUALS)[-1] if "=" in before else before
        for side in (before, after):
            if not _AROUND_ENV.fullmatch(side):
                raise InvalidAnswer(
                    f"unexpected text {short(side.strip())!r} around the matrix",
                    example=r"\begin{bmatrix} 2 & 1 \\ 1 & 1 \end{bmatrix}",
                )
        body = env.group("body")
        if env.group("spec") is not None and env.group("env") not in _ENV_SPEC_ENVS:
            body = "{" + env.group("spec") + "}" + body
        return _latex_table(body, env.group("env")), transposed
    if "\\begin" in text:
        raise InvalidAnswer(
            "could not read the LaTeX environment (is \\end missing or different from \\begin?)",
            example=r"\begin{bmatrix} 2 & 1 \\ 1 & 1 \end{bmatrix}",
        )
    text = _strip_call(text)
    if "=" in text:
        text = split_top(text, _EQUALS)[-1].strip()  # `h = [0, 1, 2]`
    if enclosed(text, "(["):
        return _bracket_table(text[1:-1].strip()), transposed
    return _line_table(text), transposed


# -- from a table of strings (or native values) to numbers -------------------------------------------


def _check_rectangular(lengths: Sequence[int]) -> None:
    if not lengths or all(n == 0 for n in lengths):
        raise InvalidAnswer("the answer has no entries", example="[[2, 1], [1, 1]]")
    common = max(lengths, key=lengths.count)  # ties: the earlier row sets the length
    odd = [i for i, n in enumerate(lengths) if n != common]
    if not odd:
        return
    i = odd[0]
    if len(odd) == 1 and len(lengths) > 2:
        tail = f"the others {common}"
    else:
        tail = f"row {lengths.index(common) + 1} has {common}"
    n = lengths[i]
    raise InvalidAnswer(
        f"row {i + 1} has {n} entr{'y' if n == 1 else 'ies'}, {tail}",
        expected="the same number of entries in every row",
        example="[[2, 1], [1, 1]]",
    )


def _entry_name(entry: Any, r: int, c: int, shape: tuple[int, int]) -> str:
    if isinstance(entry, str):
        quoted = repr(short(entry))
    elif isinstance(entry, (list, tuple, dict, bool)) or entry is None:
        quoted = describe_native(entry)
    else:
        quoted = fmt_number(entry)
    if shape[0] == 1:
        return f"entry {quoted} at position {c + 1}"
    if shape[1] == 1:
        return f"entry {quoted} at position {r + 1}"
    return f"entry {quoted} in row {r + 1}, column {c + 1}"


def numbers_of(table: Sequence[Sequence[Any]]) -> np.ndarray:
    """A float64 array from rows of entries (strings through `parse_number`, or numbers)."""
    lengths = [len(r) for r in table]
    _check_rectangular(lengths)
    shape = (len(table), lengths[0])
    if shape[0] * shape[1] > ENTRY_LIMIT:
        raise TooComplex(f"the answer has {shape[0] * shape[1]:,} entries; at most {ENTRY_LIMIT:,} are read")
    out = np.empty(shape, dtype=np.float64)
    for r, row in enumerate(table):
        for c, entry in enumerate(row):
            if isinstance(entry, (list, tuple, dict)):
                raise InvalidAnswer(
                    f"{_entry_name(entry, r, c, shape)} is nested too deeply; a matrix is a list of rows of numbers",
                    example="[[2, 1], [1, 1]]",
                )
            try:
                out[r, c] = float_value(read_number(entry))
            except InvalidAnswer as exc:
                hint = ""
                if isinstance(entry, str) and re.search(r"\d\s+[-+−]?\d", entry):
                    hint = (
                        "; entries in a row are separated by commas or by spaces, not both, "
                        "and a decimal comma is not accepted (write 1.5)"
                    )
                raise InvalidAnswer(
                    f"{_entry_name(entry, r, c, shape)} is not a number ({exc.what.rstrip('.')}){hint}",
                    expected="a number in every entry",
                    example="[[2, 1], [1, 1]]",
                    position=exc.position,
                    source=exc.source,
                ) from None
    return out


def read_table(raw: Any) -> tuple[np.ndarray, bool]:
    """Any accepted input as an array: 1-D for a flat native list, else 2-D; transposes applied.

    The flag says whether the value was a flat native list (so its orientation is unknown).
    """
    if hasattr(raw, "detach"):
        raw = raw.detach().cpu().numpy()
    if isinstance(raw, np.ndarray):
        raw = raw.tolist()
    if isinstance(raw, str):
        table, transposed = text_table(raw)
        try:
            arr = numbers_of(table)
        except InvalidAnswer as exc:
            raise point_into(exc, raw) from None
        return (arr.T if transposed else arr), False
    if isinstance(raw, (list, tuple)):
        count_native(raw, ENTRY_LIMIT)
        if not raw:
            raise InvalidAnswer("the list is empty", example="[[2, 1], [1, 1]]")
        nested = [isinstance(x, (list, tuple)) for x in raw]
        if all(nested):
            return numbers_of([list(x) for x in raw]), False
        if any(nested):
            raise InvalidAnswer(
                "the list mixes numbers and lists; give a list of rows, each a list of numbers",
                example="[[2, 1], [1, 1]]",
            )
        return numbers_of([list(raw)])[0], True
    if isinstance(raw, bool) or isinstance(raw, dict) or raw is None:
        raise InvalidAnswer(f"expected numbers, got {describe_native(raw)}", example="[[2, 1], [1, 1]]")
    return np.array([float_value(read_number(raw))]), True
