"""The variant generator: the same numbers on every platform and in every release, from its seed.

`tests/data/variant_generator_v1.json` is the committed table of version 1's expected draws;
the stream itself is also recomputed here from its definition (SHA-256 in counter mode).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest

from grader.variants.generator import CURRENT_VERSION, Generator

TABLE = json.loads((Path(__file__).parent / "data" / "variant_generator_v1.json").read_text())


@pytest.mark.parametrize("case", TABLE["cases"], ids=lambda c: f"seed={c['seed']}")
def test_version_1_gives_the_committed_draws(case):
    g = Generator(case["seed"], version=1)
    assert [g.word() for _ in case["words"]] == case["words"]
    assert [g.integer(-5, 5) for _ in case["integer(-5, 5)"]] == case["integer(-5, 5)"]
    assert [g.integer(0, 1) for _ in case["integer(0, 1)"]] == case["integer(0, 1)"]
    assert [g.integer(1, 1000000007) for _ in case["integer(1, 1000000007)"]] == case["integer(1, 1000000007)"]
    assert [str(g.rational(Fraction(1, 10), Fraction(9, 10), 10)) for _ in case["rational(1/10, 9/10, 10)"]] == case["rational(1/10, 9/10, 10)"]
    assert [str(g.rational(Fraction(-1), Fraction(1), 3)) for _ in case["rational(-1, 1, 3)"]] == case["rational(-1, 1, 3)"]
    assert [g.choice("abcde") for _ in case["choice(a..e)"]] == case["choice(a..e)"]


def test_the_stream_is_sha256_in_counter_mode():
    """Words straight from the definition: block i of seed s is sha256("grader-variants/1" + s + i)."""
    seed = 0x5EED5EED5E
    expected = []
    for block in range(3):
        digest = hashlib.sha256(b"grader-variants/1" + seed.to_bytes(8, "big") + block.to_bytes(8, "big")).digest()
        expected += [int.from_bytes(digest[i : i + 8], "big") for i in range(0, 32, 8)]
    g = Generator(seed)
    assert [g.word() for _ in range(12)] == expected
    assert CURRENT_VERSION == 1 and TABLE["version"] == 1


def test_integers_cover_the_range_evenly_and_stay_inside_it():
    g = Generator(7)
    counts = Counter(g.integer(-2, 3) for _ in range(6000))
    assert set(counts) == {-2, -1, 0, 1, 2, 3}
    assert all(850 < n < 1150 for n in counts.values()), counts  # 1000 each; 5σ is about ±150
    assert {g.integer(4, 4) for _ in range(5)} == {4}


def test_rationals_are_exact_multiples_of_the_denominator():
    g = Generator(3)
    draws = [g.rational(Fraction(1, 10), Fraction(9, 10), 10) for _ in range(200)]
    assert all(isinstance(q, Fraction) and (q * 10).denominator == 1 and Fraction(1, 10) <= q <= Fraction(9, 10) for q in draws)
    assert len(set(draws)) == 9


def test_other_seeds_give_other_streams_and_a_seed_repeats_itself():
    a, b, again = Generator(1), Generator(2), Generator(1)
    first = [a.integer(0, 10**9) for _ in range(5)]
    assert first != [b.integer(0, 10**9) for _ in range(5)]
    assert first == [again.integer(0, 10**9) for _ in range(5)]


@pytest.mark.parametrize("bad", [dict(seed=-1), dict(seed=2**40), dict(seed=1, version=99)])
def test_bad_seeds_and_versions_are_refused(bad):
    with pytest.raises(ValueError):
        Generator(**bad)


def test_an_empty_range_is_refused():
    with pytest.raises(ValueError):
        Generator(1).integer(3, 2)
