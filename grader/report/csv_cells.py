"""The one CSV writer of every table the grader writes (gradebook, Canvas, Moodle, long CSV).

Staff open these files in spreadsheets, and a cell a spreadsheet reads as a formula runs
(OWASP's CSV injection). Every cell passes through `safe_cell`:

* a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`,
  so the spreadsheet shows it as text; a plain number (`-3`, `-0.5`, `1e-3`) is left as it
  is, so a score stays a number;
* NUL and the bidirectional-override characters (which make `gpj.exe` look like `exe.jpg`, or
  one student id look like another) are removed.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# NUL, and the bidi embeddings, overrides, isolates and marks (U+200E/F, U+061C, U+202A-E, U+2066-9).
_STRIPPED = dict.fromkeys([0, 0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def safe_cell(value: object) -> str:
    """A cell as text a spreadsheet shows and never runs (see the module's docstring)."""
    text = str(value).translate(_STRIPPED)
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(rows: Iterable[Sequence[object]], *, lineterminator: str = "\r\n") -> str:
    """RFC 4180 CSV (CRLF line ends by default), every cell through `safe_cell`."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator=lineterminator).writerows([safe_cell(c) for c in row] for row in rows)
    return buf.getvalue()


def write_csv(path: Path, rows: Iterable[Sequence[object]]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(csv_text(rows))
    return path
