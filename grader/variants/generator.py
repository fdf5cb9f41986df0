"""The grader's own random numbers for per-student variants: versioned, exact, the same everywhere.

numpy's and torch's streams may change between releases (numpy's policy allows it; torch's
depends on the device and the build), and a variant must come out byte for byte the same years
later, from its code alone. So variants are drawn from a generator defined here, on integers
only: version 1 is SHA-256 in counter mode (block `i` of seed `s` is
`sha256(b"grader-variants/1" + s (8 bytes, big-endian) + i (8 bytes, big-endian))`, read as four
big-endian 64-bit words), integers in a range by rejection on the smallest covering power of two
(unbiased), rationals as integers over a fixed denominator. A version, once released, is never
changed: `tests/data/variant_generator_v1.json` holds its expected draws and the suite compares.
"""

from __future__ import annotations

import hashlib
from fractions import Fraction
from typing import Sequence, TypeVar

T = TypeVar("T")

#: Versions this grader can reproduce; new variants use the last.
VERSIONS = (1,)
CURRENT_VERSION = VERSIONS[-1]
#: A variant's seed is the number its code spells (grader.variants.seeds): 40 bits, 8 characters.
SEED_BITS = 40


class Generator:
    """Exact draws from a seed: integers, rationals and choices; nothing platform-dependent."""

    def __init__(self, seed: int, version: int = CURRENT_VERSION) -> None:
        if version not in VERSIONS:
            raise ValueError(f"unknown variant generator version {version} (this grader knows {', '.join(map(str, VERSIONS))})")
        if not 0 <= seed < 2**SEED_BITS:
            raise ValueError(f"a variant seed is an integer in [0, 2**{SEED_BITS})")
        self.seed = seed
        self.version = version
        self._prefix = b"grader-variants/%d" % version + seed.to_bytes(8, "big")
        self._block = 0
        self._words: list[int] = []

    def word(self) -> int:
        """The next 64-bit word of the stream."""
        if not self._words:
            digest = hashlib.sha256(self._prefix + self._block.to_bytes(8, "big")).digest()
            self._block += 1
            self._words = [int.from_bytes(digest[i : i + 8], "big") for i in (24, 16, 8, 0)]  # popped from the end
        return self._words.pop()

    def below(self, n: int) -> int:
        """An integer in [0, n), uniformly: words masked to the bits of n - 1, rejected when ≥ n."""
        if n <= 0:
            raise ValueError("below(n) needs n ≥ 1")
        if n == 1:
            return 0
        bits = (n - 1).bit_length()
        if bits > 64:
            raise ValueError("ranges wider than 2**64 are not supported")
        mask = (1 << bits) - 1
        while True:
            value = self.word() & mask
            if value < n:
                return value

    def integer(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi], both included."""
        if hi < lo:
            raise ValueError(f"empty range [{lo}, {hi}]")
        return lo + self.below(hi - lo + 1)

    def rational(self, lo: Fraction, hi: Fraction, denominator: int) -> Fraction:
        """A multiple of 1/denominator in [lo, hi], uniformly among those multiples."""
        first, last = _ceil(Fraction(lo) * denominator), _floor(Fraction(hi) * denominator)
        return Fraction(self.integer(first, last), denominator)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.below(len(options))]


def _floor(q: Fraction) -> int:
    return q.numerator // q.denominator


def _ceil(q: Fraction) -> int:
    return -((-q.numerator) // q.denominator)
