"""How values are written into reports: stable numbers and Markdown that student text cannot break.

Student text (answers, names, even parser messages that quote them) goes into Markdown only
through these helpers: inline text is backslash-escaped on one line, answers go in code spans
or fenced blocks whose fence is longer than any backtick run inside, so no student string can
open HTML, a link, a heading, a table cell or close its own code block.
"""

from __future__ import annotations

import functools
import math
import re

# Characters that start inline Markdown/HTML anywhere in a line (CommonMark + GFM + $math$).
_INLINE = re.compile(r"([\\`*_\[\]<>|~&$])")
# What makes a paragraph's first characters a block (heading, list, quote, rule, setext...).
_BLOCK_START = re.compile(r"^([#>+\-=*]|\d+[.)])")
_NEWLINES = re.compile(r"\r\n|[\n\r\x0b\x0c\x85\u2028\u2029]")
# C0 controls become their visible Control Pictures; bidi overrides (spoofing) become U+FFFD.
_CONTROLS = {c: 0x2400 + c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)}
_CONTROLS[0x7F] = 0x2421
_CONTROLS.update({c: 0xFFFD for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})


@functools.lru_cache(maxsize=4096)  # a class's reports write the same few marks over and over
def fmt_score(x: float) -> str:
    """Marks as short, stable text: 2.4375, 26.4, 30, 0 (six decimals at most, never -0)."""
    if not math.isfinite(x):
        return str(x)
    text = f"{round(x, 6) + 0.0:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fmt_percent(fraction: float) -> str:
    return f"{100 * fraction:.1f}%"


def visible(text: str) -> str:
    """Control characters made visible (newlines and tabs kept)."""
    return text.translate(_CONTROLS)


def one_line(text: str, sep: str = " ") -> str:
    if text.isascii() and text.isprintable():  # most text: no control, newline, tab or bidi character
        return text
    return _NEWLINES.sub(sep, visible(text)).replace("\t", " ")


def escape_inline(text: str) -> str:
    """Like `escape_text` for a piece inside a line: spaces kept, no block-start handling."""
    return _INLINE.sub(r"\\\1", one_line(text))


def escape_text(text: str) -> str:
    """Student-influenced text as one line of literal Markdown."""
    line = escape_inline(text).strip()
    return _BLOCK_START.sub(lambda m: m.group(0)[:-1] + "\\" + m.group(0)[-1], line)


def code_span(text: str) -> str:
    """Inline code showing `text` literally. Not for table cells: GFM splits rows on `|` even
    inside code, and its `\\|` escape cannot show every string, so student text stays out of tables."""
    body = one_line(text, " ⏎ ")
    if not body:
        return "*(empty)*"
    fence = "`" * (max((len(run) for run in re.findall(r"`+", body)), default=0) + 1) if "`" in body else "`"
    if body[0] in "` " or body[-1] in "` ":
        body = f" {body} "  # CommonMark strips one space each side, so backticks stay apart
    return f"{fence}{body}{fence}"


def code_block(text: str, info: str = "text") -> str:
    """A fenced block that no line of `text` can close."""
    body = _NEWLINES.sub("\n", visible(text)).rstrip("\n")
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", body)), default=0) + 1)
    return f"{fence}{info}\n{body}\n{fence}"
