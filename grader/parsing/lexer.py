"""Cleaning and tokenizing student text (ASCII maths, unicode maths and a LaTeX subset).

Everything here is a single left-to-right pass over at most ``Limits.max_length`` characters:
no backtracking regexes, no recursion.  The token stream is fed to the LALR parser in
:mod:`grader.parsing.parser`.  Bracket nesting is counted and matched here, so the parser
never sees more than ``Limits.max_nesting`` nested brackets and unbalanced brackets get a
precise message.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from lark import Token

from grader.errors import InvalidAnswer, TooComplex
from grader.parsing.brackets import Event, Pairs, Unbalanced, depths, match
from grader.parsing.limits import Limits
from grader.parsing.text import folded_char
from grader.parsing.vocabulary import VOCABULARY

# --------------------------------------------------------------------------- tables

GREEK_UNICODE = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ϵ": "epsilon",
    "ζ": "zeta", "η": "eta", "θ": "theta", "ϑ": "theta", "ι": "iota", "κ": "kappa",
    "λ": "lambda", "μ": "mu", "µ": "mu", "ν": "nu", "ξ": "xi", "π": "pi", "ρ": "rho",
    "ϱ": "rho", "σ": "sigma", "ς": "sigma", "τ": "tau", "υ": "upsilon", "φ": "phi",
    "ϕ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega",
    "Γ": "Gamma", "Δ": "Delta", "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi", "Π": "Pi",
    "Υ": "Upsilon", "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega",
}

GREEK_LATEX = {
    "alpha": "alpha", "beta": "beta", "gamma": "gamma", "delta": "delta",
    "epsilon": "epsilon", "varepsilon": "epsilon", "zeta": "zeta", "eta": "eta",
    "theta": "theta", "vartheta": "theta", "iota": "iota", "kappa": "kappa",
    "lambda": "lambda", "mu": "mu", "nu": "nu", "xi": "xi", "pi": "pi", "rho": "rho",
    "varrho": "rho", "sigma": "sigma", "varsigma": "sigma", "tau": "tau",
    "upsilon": "upsilon", "phi": "phi", "varphi": "phi", "chi": "chi", "psi": "psi",
    "omega": "omega", "Gamma": "Gamma", "Delta": "Delta", "Theta": "Theta",
    "Lambda": "Lambda", "Xi": "Xi", "Pi": "Pi", "Sigma": "Sigma", "Upsilon": "Upsilon",
    "Phi": "Phi", "Psi": "Psi", "Omega": "Omega",
}

# combining marks that turn a letter into a decorated name: ŷ -> yhat
ACCENT_MARKS = {"\u0302": "hat", "\u0304": "bar", "\u0305": "bar", "\u0303": "tilde"}
ACCENT_COMMANDS = {
    "hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar",
    "tilde": "tilde", "widetilde": "tilde",
}

SINGLE = {
    "+": "PLUS", "-": "MINUS", "\u2212": "MINUS", "\u2013": "MINUS", "\u2012": "MINUS",
    "\u2010": "MINUS", "\u2011": "MINUS", "\ufe63": "MINUS", "\uff0d": "MINUS",
    "*": "STAR", "\u00b7": "STAR", "\u22c5": "STAR", "\u00d7": "STAR", "\u2217": "STAR",
    "\u2219": "STAR", "/": "SLASH", "\u00f7": "SLASH", "\u2215": "SLASH",
    "^": "CARET", "_": "UNDERSCORE", ",": "COMMA", "=": "EQUAL",
    "(": "LPAR", ")": "RPAR", "[": "LSQB", "]": "RSQB", "{": "LBRACE", "}": "RBRACE",
    "\u230a": "LFLOOR", "\u230b": "RFLOOR", "\u2308": "LCEIL", "\u2309": "RCEIL",
}

SUPERSCRIPTS = {
    "\u2070": "0", "\u00b9": "1", "\u00b2": "2", "\u00b3": "3", "\u2074": "4",
    "\u2075": "5", "\u2076": "6", "\u2077": "7", "\u2078": "8", "\u2079": "9",
}
SUPER_MINUS = "\u207b"
SUPER_PLUS = "\u207a"

LATEX_IGNORED = {
    ",", ";", "!", ":", " ", ">", "quad", "qquad", "displaystyle", "textstyle",
    "limits", "nolimits", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl",
    "Bigr", "biggl", "biggr", "Biggl", "Biggr", "bigm", "Bigm", "middle",
}
LATEX_OPS = {"cdot": "STAR", "times": "STAR", "ast": "STAR", "div": "SLASH"}
LATEX_FRAC = {"frac", "dfrac", "tfrac", "cfrac"}
PREFIX_OPERAND_START = {"NUMBER", "NAME", "LFUNC", "SQRT", "FRAC", "LBRACE", "LBAR",
                        "LFLOOR", "LCEIL"}
LATEX_DELIMS = {
    "lfloor": "LFLOOR", "rfloor": "RFLOOR", "lceil": "LCEIL", "rceil": "RCEIL",
    "{": "LBRACE", "}": "RBRACE", "lbrace": "LBRACE", "rbrace": "RBRACE",
    "lbrack": "LSQB", "rbrack": "RSQB", "lvert": "LBAR", "rvert": "RBAR",
}
LATEX_BARS = {"vert", "mid", "|"}
LATEX_UNWRAP = {
    "mathrm", "operatorname", "mathit", "text", "textrm", "textit", "mathbf",
    "boldsymbol", "mathsf", "mathnormal", "bm",
}
LATEX_FORBIDDEN = {
    "input", "include", "includeonly", "def", "edef", "gdef", "xdef", "newcommand",
    "renewcommand", "providecommand", "DeclareMathOperator", "write", "immediate",
    "openout", "openin", "closeout", "read", "readline", "csname", "endcsname",
    "catcode", "let", "futurelet", "usepackage", "documentclass", "begin", "end",
    "special", "expandafter", "jobname", "verbatim", "lstinputlisting",
    "includegraphics", "url", "href", "loop", "repeat", "everyjob", "afterassignment",
    "uppercase", "lowercase", "string", "scantokens", "detokenize", "unexpanded",
    "endinput", "message", "errmessage", "typeout", "shipout", "newwrite", "newread",
}
LATEX_UNSUPPORTED_HINTS = {
    "partial": "only the right-hand side of an equation is graded; write 'dR/dw = ...'",
    "prod": "products are not supported: write the factors out",
    "cdots": "write the terms out, or use a sum",
    "ldots": "write the terms out, or use a sum",
    "dots": "write the terms out, or use a sum",
    "infty": "infinity is not a value an answer can take",
    "pm": "give a single value",
    "mathbb": "\\mathbb is only accepted in shape answers",
}

BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
STRIP = set("\u200b\u200c\u200d\ufeff\u00ad\u2060")

OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE", "LBAR": "RBAR",
           "LFLOOR": "RFLOOR", "LCEIL": "RCEIL"}
CLOSERS = {v: k for k, v in OPENERS.items()}
TOKEN_PAIRS = Pairs(OPENERS)
BRACKET_TEXT = {"LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]", "LBRACE": "{",
                "RBRACE": "}", "LBAR": "|", "RBAR": "|", "LFLOOR": "⌊", "RFLOOR": "⌋",
                "LCEIL": "⌈", "RCEIL": "⌉"}
# a token of one of these types can end an operand (so what follows may multiply it)
ENDS_OPERAND = {"NUMBER", "NAME", "RPAR", "RSQB", "RBRACE", "RBAR", "RFLOOR", "RCEIL"}

_NUMBER_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DIGITS_RE = re.compile(r"[0-9]+")
# digit-group separators: `,` `_` a space, and LaTeX's `{,}`, `,\!` and thin spaces (`61\,706`)
_SEP = r"(?:,\\!|\{,\}|\\[,;: ]|~|[,_ ])"
_GROUPED_RE = re.compile(rf"[0-9]+(?:{_SEP}[0-9]+)+")
_SEP_RE = re.compile(_SEP)
_COMMA_SEPS = {",", "{,}", ",\\!"}
_NUMBER_TAIL_RE = re.compile(r"(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?")
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_COMMAND_RE = re.compile(r"\\([A-Za-z]+|.)", re.DOTALL)

NUMBER_EXAMPLE = "(2*7 + 3)*5"
FORMULA_EXAMPLE = "2*(a - b)/c"


# --------------------------------------------------------------------------- errors


def fail(what: str, text: str, pos: int, *, expected: str | None = None,
         example: str | None = None, too_complex: bool = False) -> InvalidAnswer:
    cls = TooComplex if too_complex else InvalidAnswer
    return cls(what, position=pos, expected=expected, example=example, source=text)


def char_name(ch: str) -> str:
    name = unicodedata.name(ch, "")
    if not name and unicodedata.category(ch) == "Cc":
        name = {0: "NUL"}.get(ord(ch), "control character")
    return f"U+{ord(ch):04X} {name}".rstrip()


# --------------------------------------------------------------------------- cleaning


class Cleaned(str):
    """Cleaned text that remembers where each of its characters was in the raw text."""

    origin: list[int] | None  # origin[i]: index in the raw text of character i; None: the same

    def raw_position(self, pos: int) -> int:
        """The raw-text index of cleaned position `pos` (the end maps to the raw end)."""
        if self.origin is None:
            return pos
        if pos >= len(self.origin):
            return self.raw_length if pos >= len(self) else self.origin[-1]
        return self.origin[max(0, pos)]

    raw_length: int


def _cleaned(text: str, origin: list[int] | None, raw_length: int) -> Cleaned:
    out = Cleaned(text)
    out.origin = origin
    out.raw_length = raw_length
    return out


def clean(text: object, limits: Limits, *, what: str = "formula") -> Cleaned:
    """Checks the raw text and returns it NFC-normalised with spaces unified and width and
    font variants folded (``６１７０６``, ``𝑥``), remembering where each character came from.

    Raises ``TooComplex`` past ``max_length`` (checked before anything else) and
    ``InvalidAnswer`` for control characters and bidi overrides.
    """
    if isinstance(text, bytes):
        raise InvalidAnswer("the answer must be text, not bytes")
    if not isinstance(text, str):
        raise InvalidAnswer(f"the answer must be text, got {type(text).__name__}")
    if len(text) > limits.max_length:
        raise TooComplex(
            f"the {what} is too long ({len(text)} characters; the limit is "
            f"{limits.max_length})",
            expected=f"at most {limits.max_length} characters",
        )
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        if ch in BIDI:
            raise InvalidAnswer(
                f"the answer contains an invisible text-direction control character "
                f"({char_name(ch)}); retype it without copy-pasting",
                position=i, expected="plain text without direction marks", source=text,
            )
        if ch in STRIP:
            continue
        cat = unicodedata.category(ch)
        if ch in "\t\n\r":
            out.append(" ")
        elif cat == "Cc":
            raise InvalidAnswer(
                f"the answer contains a control character ({char_name(ch)})",
                position=i, expected="printable characters only", source=text,
            )
        elif cat in ("Cf", "Cs", "Co", "Cn"):
            raise InvalidAnswer(
                f"the answer contains an invisible or unassigned character ({char_name(ch)})",
                position=i, expected="printable characters only", source=text,
            )
        elif cat in ("Zs", "Zl", "Zp"):
            out.append(" ")
        else:
            out.append(ch if ch < "\x80" else folded_char(ch))
        where.append(i)
    joined = "".join(out)
    if joined.isascii():
        cleaned, origin = joined, where
    else:
        cleaned, origin = _nfc(joined, where)
    if len(cleaned) > limits.max_length:  # pragma: no cover - NFC rarely grows text
        raise TooComplex(f"the {what} is too long", expected=f"at most {limits.max_length} characters")
    # nothing dropped and nothing composed: every character is where it was typed
    return _cleaned(cleaned, None if len(cleaned) == len(text) else origin, len(text))


def _nfc(text: str, where: list[int]) -> tuple[str, list[int]]:
    """NFC of `text` cluster by cluster (a character and the combining marks after it), so
    each composed character maps to the raw index of its first part."""
    whole = unicodedata.normalize("NFC", text)
    if whole == text:
        return text, where
    pieces: list[str] = []
    origin: list[int] = []
    i = 0
    while i < len(text):
        j = i + 1
        while j < len(text) and unicodedata.combining(text[j]):
            j += 1
        cluster = unicodedata.normalize("NFC", text[i:j])
        pieces.append(cluster)
        if len(cluster) == j - i:
            origin += where[i:j]
        else:
            origin += [where[i]] * len(cluster)
        i = j
    if "".join(pieces) != whole:  # compositions across clusters (Hangul jamo): keep the text
        return text, where
    return whole, origin


def reject_forbidden_commands(text: str) -> None:
    """Forbidden TeX primitives are refused anywhere, even on an ignored left-hand side."""
    for m in _COMMAND_RE.finditer(text):
        if m.group(1) in LATEX_FORBIDDEN:
            raise fail(f"the LaTeX command '\\{m.group(1)}' is not allowed in an answer", text,
                       m.start(), expected="only maths commands such as \\frac, \\cdot, \\log",
                       example="\\frac{1}{2}")


EQUALS = "=≈"  # `J ≈ 0.8026`: an approximate value is still the value given


def split_equation(text: str, full: str, offset: int) -> tuple[str, int]:
    """The last side of an equation or a chain of them outside brackets (``dR/dw = -2(y-z)h_i``,
    ``3*3*64 + 64 = 640``, ``J ≈ 0.8026``): what a student states as the result.  Earlier
    sides are working and are not read (forbidden commands are refused before this).

    Text whose brackets do not match is not split: the tokenizer then says where they break.
    """
    if not any(c in text for c in EQUALS):
        return text, offset
    try:
        depth = depths(text, escaped_braces=True)
    except InvalidAnswer:
        return text, offset
    eqs = [i for i, ch in enumerate(text) if ch in EQUALS and depth[i] == 0]
    if not eqs:
        return text, offset
    rhs = text[eqs[-1] + 1:]
    if not rhs.strip():
        raise fail(f"nothing after '{text[eqs[-1]]}'", full, offset + eqs[-1],
                   expected="a formula after '='", example="dL/dx = 2*(x - 1)/3")
    return rhs, offset + eqs[-1] + 1


# --------------------------------------------------------------------------- tokenizer


def _tok(type_: str, value: str, pos: int, end: int) -> Token:
    return _NEW_TOKEN(type_, value, pos, 1, pos + 1, 1, end + 1, end)


_NEW_TOKEN = Token._future_new  # Token(...) minus its deprecation-shim overhead


def decorated_letter(ch: str) -> str | None:
    """``ŷ`` -> ``yhat``; None when ``ch`` is not an ASCII letter with a known accent."""
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[0], decomposed[1:]
    if not ("a" <= base <= "z" or "A" <= base <= "Z") or not marks:
        return None
    suffix = ""
    for m in marks:
        if m not in ACCENT_MARKS:
            return None
        suffix += ACCENT_MARKS[m]
    return base + suffix


class Tokenizer:
    """One pass over ``text[start:]``; positions are offsets into ``text``."""

    def __init__(self, text: str, start: int, limits: Limits, example: str,
                 grouping: bool = False) -> None:
        self.grouping = grouping
        self.text = text
        self.i = start
        self.limits = limits
        self.example = example
        self.tokens: list[Token] = []
        self.bar_depth = 0
        self.bar_hint: str | None = None  # "open"/"close" after \left / \right

    # -- helpers
    def err(self, what: str, pos: int, expected: str | None = None,
            example: str | None = None, too_complex: bool = False) -> InvalidAnswer:
        return fail(what, self.text, pos, expected=expected,
                    example=example or self.example, too_complex=too_complex)

    def emit(self, type_: str, value: str, pos: int, end: int) -> None:
        self.bar_hint = None
        self.tokens.append(_tok(type_, value, pos, end))

    def prev_type(self) -> str | None:
        return self.tokens[-1].type if self.tokens else None

    def skip_spaces(self) -> None:
        t = self.text
        while self.i < len(t) and t[self.i] == " ":
            self.i += 1

    # -- main loop
    def run(self) -> list[Token]:
        t = self.text
        while self.i < len(t):
            ch = t[self.i]
            pos = self.i
            if ch == " ":
                self.i += 1
                continue
            if ch == "\\":
                self.command()
                continue
            if "0" <= ch <= "9" or (ch == "." and self.i + 1 < len(t) and "0" <= t[self.i + 1] <= "9"):
                self.number()
                continue
            if ch in "xX" and self.grouping and self.times_sign():
                self.emit("STAR", ch, pos, pos + 1)  # `3 x 4`, `6x6x256`: a number has no x
                self.i += 1
                continue
            if ("a" <= ch <= "z") or ("A" <= ch <= "Z"):
                self.name()
                continue
            if ch == "/" and self.i + 1 < len(t) and t[self.i + 1] == "/":
                self.emit("DSLASH", "//", pos, pos + 2)  # integer division: floor(a/b)
                self.i += 2
                continue
            if ch == "*" and self.i + 1 < len(t) and t[self.i + 1] == "*":
                self.emit("CARET", "**", pos, pos + 2)
                self.i += 2
                continue
            if ch == "|":
                self.bar(pos, pos + 1)
                self.i += 1
                continue
            if ch in SINGLE:
                self.emit(SINGLE[ch], ch, pos, pos + 1)
                self.i += 1
                continue
            if ch in SUPERSCRIPTS or ch in (SUPER_MINUS, SUPER_PLUS):
                self.superscript()
                continue
            if ch in ("Σ", "∑"):
                self.emit("SUM", ch, pos, pos + 1)
                self.i += 1
                continue
            if ch in GREEK_UNICODE:
                self.emit("NAME", GREEK_UNICODE[ch], pos, pos + 1)
                self.i += 1
                continue
            dec = decorated_letter(ch)
            if dec is not None:
                self.emit("NAME", dec, pos, pos + 1)
                self.i += 1
                continue
            self.bad_char(ch, pos)
        self.post_pass()
        return self.tokens

    def times_sign(self) -> bool:
        """An `x` between two numbers (`3 x 4`, `6x6x256`) in a number answer."""
        t, j = self.text, self.i + 1
        if self.prev_type() not in ("NUMBER", "RPAR") or (j < len(t) and t[j].isalpha()):
            return False
        while j < len(t) and t[j] == " ":
            j += 1
        return j < len(t) and ("0" <= t[j] <= "9" or t[j] in "(.")

    def bad_char(self, ch: str, pos: int) -> None:
        if unicodedata.category(ch).startswith("M"):
            raise self.err(f"a combining mark ({char_name(ch)}) that is not supported here",
                           pos, expected="plain letters, digits and operators",
                           example="yhat or \\hat{y}")
        hints = {
            "!": "factorials are not supported",
            "%": "write a percentage as a number (0.05, not 5%)",
            ";": "';' is not an operator; separate arguments with ','",
            "'": "primes are not supported; name the derivative, e.g. dR/dw = ...",
            "$": "'$' is only accepted around the whole answer",
            "<": "comparisons are not accepted; give a value or a formula",
            ">": "comparisons are not accepted; give a value or a formula",
            "\"": "quotes are not part of a formula",
            "∞": "infinity is not a value an answer can take",
        }
        if ch in hints:
            what = f"unexpected '{ch}': {hints[ch]}"
        else:
            shown = ch if ch.isprintable() else "?"
            what = f"unsupported character '{shown}' ({char_name(ch)})"
        raise self.err(what, pos, expected="digits, letters, + - * / ^ ( ) and the "
                       "supported LaTeX commands")

    def grouped_number(self) -> bool:
        """Number answers only: ``61,706``, ``61 706``, ``61_706`` (groups of three digits).
        Rejects a decimal comma (``1,5``, ``0,9933``).  Returns True if it emitted a token."""
        t, pos = self.text, self.i
        m = _GROUPED_RE.match(t, pos)
        if m is None:
            return False
        run = m.group(0)
        seps = {"," if sep in _COMMA_SEPS else "_" if sep == "_" else " " for sep in _SEP_RE.findall(run)}
        groups = _SEP_RE.split(run)
        if len(seps) == 1:
            sep = next(iter(seps))
            valid = 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])
            if sep == "," and groups[0] == "0":
                valid = False
            if valid:
                tail = _NUMBER_TAIL_RE.match(t, m.end())
                end = tail.end() if tail else m.end()
                literal = "".join(groups) + t[m.end():end]
                self.check_digits(literal, pos)
                self.emit("NUMBER", literal, pos, end)
                self.i = end
                return True
        if "," in seps:
            if len(groups) == 2 and seps == {","}:
                raise self.err(f"'{run}' looks like a decimal comma, which is ambiguous (it could "
                               "also be a thousands separator): use a decimal point", pos,
                               expected="a decimal point, or groups of three digits",
                               example=".".join(groups))
            raise self.err(f"'{run}' is not a valid thousands grouping: separate groups of "
                           "exactly three digits with one kind of separator", pos,
                           expected="groups of three digits, or no separators",
                           example="1234567  or  1,234,567")
        if "_" in seps:
            raise self.err(f"'{run}': underscores may only separate groups of three digits", pos,
                           expected="groups of three digits", example="12345  or  12_345")
        return False  # spaces that are not a grouping: the parser explains ('2 3')

    def check_digits(self, literal: str, pos: int) -> None:
        digits = sum(1 for c in literal if "0" <= c <= "9")
        if digits > self.limits.max_digits:
            raise self.err(f"a number with {digits} digits (the limit is "
                           f"{self.limits.max_digits})", pos, too_complex=True,
                           expected=f"at most {self.limits.max_digits} digits per number",
                           example="1.2e-3")

    def number(self) -> None:
        t, pos = self.text, self.i
        in_sub = self.prev_type() == "UNDERSCORE"
        if self.grouping and not in_sub and self.grouped_number():
            return
        m = (_DIGITS_RE if in_sub else _NUMBER_RE).match(t, pos)
        assert m is not None
        literal = m.group(0)
        self.check_digits(literal, pos)
        self.emit("NUMBER", literal, pos, m.end())
        self.i = m.end()

    def name(self) -> None:
        t, pos = self.text, self.i
        m = _NAME_RE.match(t, pos)
        assert m is not None
        end = m.end()
        if end < len(t) and t[end] in ACCENT_MARKS:
            # x̂ : the accent belongs to the last letter only
            last = end - 1
            if not t[last].isalpha():
                raise self.err(f"a combining mark ({char_name(t[end])}) after a digit", end)
            if last > pos:
                self.emit("NAME", t[pos:last], pos, last)
            suffix = ""
            j = end
            while j < len(t) and t[j] in ACCENT_MARKS:
                suffix += ACCENT_MARKS[t[j]]
                j += 1
            self.emit("NAME", t[last] + suffix, last, j)
            self.i = j
            return
        self.emit("NAME", m.group(0), pos, end)
        self.i = end

    def superscript(self) -> None:
        t, pos = self.text, self.i
        self.emit("CARET", "^", pos, pos)
        if t[self.i] in (SUPER_MINUS, SUPER_PLUS):
            self.emit("MINUS" if t[self.i] == SUPER_MINUS else "PLUS", t[self.i], self.i, self.i + 1)
            self.i += 1
        start = self.i
        digits = ""
        while self.i < len(t) and t[self.i] in SUPERSCRIPTS:
            digits += SUPERSCRIPTS[t[self.i]]
            self.i += 1
        if not digits:
            raise self.err("a superscript sign without digits", pos, expected="a superscript number",
                           example="10⁻³ or 10^-3")
        if len(digits) > self.limits.max_digits:
            raise self.err("a superscript number with too many digits", start, too_complex=True)
        self.emit("NUMBER", digits, start, self.i)

    def bar(self, pos: int, end: int) -> None:
        hint, self.bar_hint = self.bar_hint, None
        if hint == "close" or (hint is None and self.bar_depth > 0
                               and self.prev_type() in ENDS_OPERAND):
            self.bar_depth = max(0, self.bar_depth - 1)
            self.emit("RBAR", "|", pos, end)
        else:
            self.bar_depth += 1
            self.emit("LBAR", "|", pos, end)

    def braced_word(self, cmd: str, cmd_pos: int) -> tuple[str, int]:
        """Reads ``{word}`` (or a single letter / Greek command) after ``\\hat``, ``\\mathrm``...

        Returns the word (Greek commands mapped to ASCII) and the end offset."""
        t = self.text
        self.skip_spaces()
        if self.i < len(t) and t[self.i] == "{":
            close = t.find("}", self.i + 1)
            if close < 0:
                raise self.err(f"'\\{cmd}{{' is never closed", self.i, expected="'}'")
            inner = t[self.i + 1:close].strip()
            end = close + 1
        elif self.i < len(t) and (t[self.i].isascii() and t[self.i].isalpha()):
            inner = t[self.i]
            end = self.i + 1
        elif self.i < len(t) and t[self.i] == "\\":
            m = _COMMAND_RE.match(t, self.i)
            inner = m.group(0) if m else "\\"
            end = self.i + len(inner)
        else:
            raise self.err(f"'\\{cmd}' needs an argument", cmd_pos,
                           expected=f"a name in braces after \\{cmd}", example=f"\\{cmd}{{y}}")
        word = inner.replace(" ", "")
        if word.startswith("\\") and word[1:] in GREEK_LATEX:
            word = GREEK_LATEX[word[1:]]
        elif len(word) == 1 and word in GREEK_UNICODE:
            word = GREEK_UNICODE[word]
        if not _NAME_RE.fullmatch(word):
            raise self.err(f"'\\{cmd}{{{inner}}}': only a single name may appear inside "
                           f"\\{cmd}{{...}}", cmd_pos, expected="a name such as y or sigma",
                           example=f"\\{cmd}{{y}}")
        return word, end

    def command(self) -> None:
        t, pos = self.text, self.i
        m = _COMMAND_RE.match(t, pos)
        if m is None:
            raise self.err("a lone backslash at the end", pos, expected="a LaTeX command",
                           example="\\frac{1}{2}")
        name = m.group(1)
        self.i = m.end()
        end = m.end()
        if name in LATEX_IGNORED:
            return
        if name in ("left", "right"):
            self.skip_spaces()
            if self.i < len(t) and t[self.i] == ".":
                self.i += 1
            else:
                self.bar_hint = "open" if name == "left" else "close"
            return
        if name in LATEX_OPS:
            self.emit(LATEX_OPS[name], "\\" + name, pos, end)
            return
        if name in LATEX_FRAC:
            self.emit("FRAC", "\\" + name, pos, end)
            for _ in range(2):  # \frac12, \frac ab: single-character arguments
                self.skip_spaces()
                if self.i < len(t) and t[self.i].isascii() and t[self.i].isalnum():
                    c = self.i
                    self.emit("LBRACE", "{", c, c)
                    self.emit("NUMBER" if t[c].isdigit() else "NAME", t[c], c, c + 1)
                    self.emit("RBRACE", "}", c + 1, c + 1)
                    self.i += 1
                else:
                    break
            return
        if name == "sqrt":
            self.skip_spaces()
            if self.i < len(t) and t[self.i] == "[":
                raise self.err("only square roots are supported", self.i,
                               expected="\\sqrt{...}", example="\\sqrt{x}  or  x^(1/3)")
            if self.i < len(t) and t[self.i] == "{":
                self.emit("SQRT", "\\sqrt", pos, end)
            else:
                self.emit("LFUNC", "sqrt", pos, end)
            return
        if name in VOCABULARY.latex:
            self.emit("LFUNC", VOCABULARY.latex[name], pos, end)
            return
        if name == "sum":
            self.emit("SUM", "\\sum", pos, end)
            return
        if name in GREEK_LATEX:
            self.emit("NAME", GREEK_LATEX[name], pos, end)
            return
        if name in ACCENT_COMMANDS:
            word, stop = self.braced_word(name, pos)
            self.emit("NAME", word + ACCENT_COMMANDS[name], pos, stop)
            self.i = stop
            return
        if name in LATEX_UNWRAP:
            word, stop = self.braced_word(name, pos)
            self.emit("NAME", word, pos, stop)
            self.i = stop
            return
        if name in LATEX_DELIMS:
            type_ = LATEX_DELIMS[name]
            self.bar_hint = None
            if type_ == "LBAR":
                self.bar_depth += 1
            elif type_ == "RBAR":
                self.bar_depth = max(0, self.bar_depth - 1)
            self.emit(type_, "\\" + name, pos, end)
            return
        if name in LATEX_BARS:
            self.bar(pos, end)
            return
        if name in ("(", ")", "[", "]"):
            raise self.err(f"'\\{name}' inside the answer: math delimiters are only accepted "
                           "around the whole answer", pos, example="\\( 5a - 7 \\)")
        if name in LATEX_FORBIDDEN:
            raise self.err(f"the LaTeX command '\\{name}' is not allowed in an answer", pos,
                           expected="only maths commands such as \\frac, \\cdot, \\log",
                           example="\\frac{1}{2}")
        if name in LATEX_UNSUPPORTED_HINTS:
            raise self.err(f"the LaTeX command '\\{name}' is not supported here: "
                           f"{LATEX_UNSUPPORTED_HINTS[name]}", pos,
                           expected="a supported LaTeX command", example="\\frac{1}{2}")
        if name == "\\":
            raise self.err("a LaTeX line break '\\\\' inside a formula", pos,
                           expected="a single-line formula")
        shown = name if name.isprintable() else "?"
        raise self.err(f"unknown LaTeX command '\\{shown}'", pos,
                       expected="one of \\frac \\cdot \\times \\left \\right \\log \\ln \\exp "
                                "\\sqrt \\sum \\hat \\lfloor \\lceil and Greek letters",
                       example="\\frac{1}{2}")

    def post_pass(self) -> None:
        """Names followed by '(' become FNAME (function or implicit product, decided by the
        resolver), names followed by '[' become TNAME (indexed tensor), 'sum_' becomes SUM;
        then brackets are matched and their nesting checked."""
        toks = self.tokens
        reserved, prefix = VOCABULARY.reserved, VOCABULARY.prefix
        for k, tok in enumerate(toks):
            nxt = toks[k + 1].type if k + 1 < len(toks) else None
            prev = toks[k - 1].type if k > 0 else None
            if tok.type == "NAME":
                if tok.value == "sum" and nxt != "LPAR" and prev not in ("UNDERSCORE", "CARET"):
                    toks[k] = Token.new_borrow_pos("SUM", tok.value, tok)
                elif prev == "UNDERSCORE":
                    continue
                elif prev == "CARET":
                    # an exponent: 'e^x(1+x)' multiplies, but '2^exp(x)' and 'x^X[i]' bind
                    if nxt == "LPAR" and tok.value in reserved:
                        toks[k] = Token.new_borrow_pos("FNAME", tok.value, tok)
                    elif nxt == "LSQB":
                        toks[k] = Token.new_borrow_pos("TNAME", tok.value, tok)
                elif nxt == "LPAR":
                    toks[k] = Token.new_borrow_pos("FNAME", tok.value, tok)
                elif tok.value in prefix and (nxt in PREFIX_OPERAND_START or nxt == "CARET"):
                    # 'y log ŷ', 'exp x': a known function name before an operand ('log^2 n':
                    # before the power of its value)
                    toks[k] = Token.new_borrow_pos("LFUNC", tok.value, tok)
                elif nxt == "LSQB":
                    toks[k] = Token.new_borrow_pos("TNAME", tok.value, tok)
            elif tok.type == "LFUNC" and nxt == "LPAR":
                toks[k] = Token.new_borrow_pos("FNAME", tok.value, tok)
        if "TNAME" in {t.type for t in toks}:
            self.tokens = toks = _chained_indices(toks)
        self.match_brackets()

    def match_brackets(self) -> None:
        limit = self.limits.max_nesting
        events = [Event(tok.start_pos, tok.type) for tok in self.tokens
                  if tok.type in OPENERS or tok.type in CLOSERS]
        if not events:
            return
        try:
            match(events, TOKEN_PAIRS, max_depth=limit)
        except Unbalanced as exc:
            ev, top = exc.event, exc.opener
            if exc.problem == "too deep":
                raise self.err(f"brackets nested more than {limit} deep", ev.pos, too_complex=True,
                               expected=f"at most {limit} levels of brackets") from None
            if exc.problem == "unopened":
                want = BRACKET_TEXT[CLOSERS[ev.bracket]]
                raise self.err(f"'{BRACKET_TEXT[ev.bracket]}' has no matching '{want}'", ev.pos,
                               expected=f"an opening '{want}' before it") from None
            if exc.problem == "mismatched":
                raise self.err(
                    f"the '{BRACKET_TEXT[top.bracket]}' opened at column {top.pos + 1} "
                    f"is closed by '{BRACKET_TEXT[ev.bracket]}'", ev.pos,
                    expected=f"'{BRACKET_TEXT[OPENERS[top.bracket]]}'") from None
            raise self.err(f"'{BRACKET_TEXT[top.bracket]}' is never closed", top.pos,
                           expected=f"a closing '{BRACKET_TEXT[OPENERS[top.bracket]]}'") from None


def _chained_indices(toks: list[Token]) -> list[Token]:
    """``dU[i][j][m]`` as ``dU[i, j, m]``: a tensor's index bracket directly followed by
    another bracket continues its index list."""
    out: list[Token] = []
    stack: list[bool] = []  # per open '[': is it a tensor's index bracket?
    skip = False
    for k, tok in enumerate(toks):
        if skip:
            skip = False
            continue
        if tok.type == "LSQB":
            stack.append(bool(out) and out[-1].type == "TNAME")
        elif tok.type == "RSQB" and stack:
            indexing = stack.pop()
            if indexing and k + 1 < len(toks) and toks[k + 1].type == "LSQB":
                out.append(Token.new_borrow_pos("COMMA", ",", tok))
                stack.append(True)
                skip = True
                continue
        out.append(tok)
    return out


def tokenize(text: str, start: int, limits: Limits, example: str = FORMULA_EXAMPLE,
             grouping: bool = False) -> list[Token]:
    """Tokens of ``text[start:]`` (positions index ``text``).  ``grouping`` (number answers)
    accepts thousands separators inside literals and rejects decimal commas."""
    return Tokenizer(text, start, limits, example, grouping).run()


@functools.lru_cache(maxsize=4096)
def normalize_name(name: str) -> str:
    """A declared name in the tokenizer's spelling: ``σ`` -> ``sigma``, ``ŷ`` -> ``yhat``,
    ``\\hat{y}`` -> ``yhat``; spaces removed.  Cached: only declared names come here (a part's
    symbols, functions and indices), so every parse would otherwise redo the same few."""
    name = unicodedata.normalize("NFC", str(name)).replace(" ", "")
    if name.startswith("\\"):
        body = name[1:]
        if body in GREEK_LATEX:
            return GREEK_LATEX[body]
        m = re.fullmatch(r"(hat|widehat|bar|overline|tilde|widetilde)\{?([A-Za-z]+)\}?", body)
        if m:
            return m.group(2) + ACCENT_COMMANDS[m.group(1)]
        return name
    out = []
    for ch in name:
        if ch in GREEK_UNICODE:
            out.append(GREEK_UNICODE[ch])
        elif ch in ACCENT_MARKS and out:
            out.append(ACCENT_MARKS[ch])
        else:
            out.append(decorated_letter(ch) or ch)
    return "".join(out)
