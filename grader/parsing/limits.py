"""Caps that bound every parse and evaluation of student text."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Size caps, all checked before (or while, never after) the expensive work.

    - ``max_length``: characters in one formula (checked first, on the raw text).
    - ``max_nesting``: bracket nesting depth (``( [ { | ⌊ ⌈ \\left( ...``), counted by the
      linear tokenizer before the parser runs.
    - ``max_digits``: digits in one numeric literal (mantissa and exponent together).
    - ``max_nodes``: nodes in the expression tree (counted while the tree is built).
    - ``max_tree_depth``: depth of the expression tree (long ``a+b+c+...`` chains, unary
      minus chains, ``2^2^2^...``): keeps any recursive consumer of the tree safe.
    - ``max_exact_bits``: an exact (int/Fraction) result larger than this many bits is
      computed in floating point instead (and a float overflow is ``TooComplex``).
    """

    max_length: int = 2000
    max_nesting: int = 60
    max_digits: int = 40
    max_nodes: int = 2000
    max_tree_depth: int = 200
    max_exact_bits: int = 4000


LIMITS = Limits()
