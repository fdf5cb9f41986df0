"""Warnings whose number grows with the input, capped: output stays bounded by what matters.

A 2 MB file of unknown part ids is one problem, not 170,000 lines of report (issue 10 §6): the
first few of a kind are kept, the rest counted in one line ("... and 12,345 more unknown part
ids"). Each quoted key is cut short too (`shown`), since one key can be a megabyte long.
"""

from __future__ import annotations

from collections import Counter

MAX_OF_A_KIND = 20  # warnings of one kind kept in full per submission
MAX_SHOWN = 60  # characters of a quoted key


MAX_LISTED = 10  # names listed in one warning before "and N more"


def shown(text: str) -> str:
    """`text` quoted for a warning, cut short."""
    return repr(text) if len(text) <= MAX_SHOWN else repr(text[:MAX_SHOWN]) + "…"


def listed(names: list[str], *, quoted: bool = True) -> str:
    """The first MAX_LISTED names, comma-separated (quoted and cut short), then "and N more"."""
    head = ", ".join(shown(n) if quoted else n for n in names[:MAX_LISTED])
    return head + (f" and {len(names) - MAX_LISTED:,} more" if len(names) > MAX_LISTED else "")


class Warnings(list[str]):
    """A list of warnings in which `repeated(kind, text)` keeps only the first MAX_OF_A_KIND of
    a kind; `closed()` adds one line per kind that had more, saying how many."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.counts: Counter[str] = Counter()

    def repeated(self, kind: str, text: str) -> None:
        self.counts[kind] += 1
        if self.counts[kind] <= MAX_OF_A_KIND:
            self.append(text)

    def closed(self) -> list[str]:
        extra = [f"... and {n - MAX_OF_A_KIND:,} more {kind}" for kind, n in self.counts.items() if n > MAX_OF_A_KIND]
        return [*self, *extra]
