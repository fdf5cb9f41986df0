"""Seeds and codes: an HMAC of the course secret picks a student's variant; its code names it."""

from __future__ import annotations

import hashlib
import hmac
import stat

import pytest

from grader.variants.seeds import (
    SecretError,
    create_secret,
    ensure_secret,
    parse_code,
    read_secret,
    variant_code,
    variant_seed,
)

SECRET = bytes(range(32))


def test_the_seed_is_the_hmac_of_assignment_student_and_version():
    digest = hmac.new(SECRET, b"grader-variant\x1fcsc321-hw4\x1fs1001\x1f1", hashlib.sha256).digest()
    assert variant_seed(SECRET, "csc321-hw4", "s1001", 1) == int.from_bytes(digest[:5], "big")


def test_each_of_secret_assignment_student_and_version_changes_the_seed():
    base = variant_seed(SECRET, "hw", "s1", 1)
    others = {
        variant_seed(bytes(32), "hw", "s1", 1),
        variant_seed(SECRET, "hw2", "s1", 1),
        variant_seed(SECRET, "hw", "s2", 1),
        variant_seed(SECRET, "hw", "s1", 2),
    }
    assert base not in others and len(others) == 4
    # no field can leak into its neighbour: ("a", "bc") and ("ab", "c") differ
    assert variant_seed(SECRET, "a", "bc") != variant_seed(SECRET, "ab", "c")


@pytest.mark.parametrize("seed", [0, 1, 31, 32, 2**40 - 1, 0x123456789A])
def test_a_code_spells_its_seed_and_reads_back(seed):
    code = variant_code(seed)
    assert code.startswith("1-") and len(code) == len("1-K7QX-M2PA")
    assert parse_code(code) == (1, seed)


def test_codes_forgive_case_spaces_and_lookalike_letters():
    code = variant_code(0x0123456789)
    assert parse_code(code.lower()) == parse_code(code) == parse_code(" " + code.replace("-", " - ") + " ")
    assert parse_code("1-0000-0001") == parse_code("1-OOOO-OOOI") == parse_code("1-oooo-000l") == (1, 1)


@pytest.mark.parametrize("bad", ["", "K7QX-M2PA", "1-K7QX", "1-K7QX-M2PA9", "1-K7QX-M2P!", "x-K7QX-M2PA", "9-K7QX-M2PA"])
def test_what_is_not_a_code_is_refused(bad):
    with pytest.raises(ValueError):
        parse_code(bad)


def test_the_secret_is_created_once_private_and_kept(tmp_path):
    path = tmp_path / ".grader" / "secret"
    first = ensure_secret(path)
    assert len(first) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_secret(path) == first == read_secret(path)
    with pytest.raises(SecretError, match="exists already"):
        create_secret(path)
    other = ensure_secret(tmp_path / "elsewhere")
    assert other != first


def test_a_missing_or_broken_secret_says_what_to_do(tmp_path):
    with pytest.raises(SecretError, match="grader course init"):
        read_secret(tmp_path / "none")
    (tmp_path / "bad").write_text("not hex\n")
    with pytest.raises(SecretError, match="hex digits"):
        read_secret(tmp_path / "bad")
    (tmp_path / "short").write_text("abcd\n")
    with pytest.raises(SecretError, match="at least 16 bytes"):
        read_secret(tmp_path / "short")
