"""Which variant a student gets: an HMAC of the course secret, and the short code that names it.

A student's variant is seeded by HMAC-SHA256(course secret, assignment, student, variant version),
so nobody without the secret can work out another student's numbers, and bumping the variant
version deals new numbers to everyone. The seed's first 40 bits are the variant: its code
(`1-K7QX-M2PA`: the generator version, then the 40 bits in Crockford's base 32) is printed on
the student's sheet and recorded in their report, and reproduces the variant without the secret.

The secret is 32 random bytes, kept as hex in a file of the course (default
`.grader/secret`, which .gitignore keeps out of the repository), created on first use.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from grader.variants.generator import CURRENT_VERSION, SEED_BITS, VERSIONS

SECRET_BYTES = 32
CODE_CHARS = SEED_BITS // 5
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # no I, L, O, U: nothing to misread
_READ_AS = {"O": "0", "I": "1", "L": "1"}


class SecretError(Exception):
    """The course secret is missing or unreadable (and may not be created here)."""


def create_secret(path: Path) -> bytes:
    """A new random secret at `path` (readable by its owner only); refuses to overwrite one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(SECRET_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SecretError(f"{path} exists already; a course keeps its secret (delete it to deal every variant anew)") from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secret.hex() + "\n")
    return secret


def read_secret(path: Path) -> bytes:
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise SecretError(f"no course secret at {path}: run `grader course init` (or any command that deals variants) to create one") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretError(f"cannot read the course secret {path}: {exc}") from None
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        raise SecretError(f"{path} is not a course secret (expected {2 * SECRET_BYTES} hex digits)") from None
    if len(secret) < 16:
        raise SecretError(f"{path}: a course secret has at least 16 bytes (32 hex digits)")
    return secret


def ensure_secret(path: Path) -> bytes:
    """The course secret, created on first use."""
    return read_secret(path) if Path(path).exists() else create_secret(path)


def variant_seed(secret: bytes, assignment: str, student: str, version: int = 1) -> int:
    """The seed of a student's variant of an assignment (`version` is the course's variant version)."""
    message = "\x1f".join(("grader-variant", assignment, student, str(version))).encode("utf-8")
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - SEED_BITS)


def variant_code(seed: int, generator: int = CURRENT_VERSION) -> str:
    """`1-K7QX-M2PA`: the generator version and the seed, short enough to print on a sheet."""
    if not 0 <= seed < 2**SEED_BITS:
        raise ValueError(f"a variant seed has {SEED_BITS} bits")
    chars = "".join(CROCKFORD[(seed >> (5 * i)) & 31] for i in reversed(range(CODE_CHARS)))
    return f"{generator}-{chars[:4]}-{chars[4:]}"


def parse_code(code: str) -> tuple[int, int]:
    """(generator version, seed) of a variant code; case, spaces and 0/O, 1/I/L mix-ups are forgiven."""
    text = code.strip().upper().replace(" ", "")
    version_text, sep, rest = text.partition("-")
    rest = "".join(_READ_AS.get(c, c) for c in rest.replace("-", ""))
    if not sep or not version_text.isdigit() or len(rest) != CODE_CHARS or any(c not in CROCKFORD for c in rest):
        raise ValueError(f"{code!r} is not a variant code (like 1-K7QX-M2PA)")
    version = int(version_text)
    if version not in VERSIONS:
        raise ValueError(f"variant code {code!r} needs generator version {version}; this grader has {', '.join(map(str, VERSIONS))}")
    seed = 0
    for c in rest:
        seed = seed * 32 + CROCKFORD.index(c)
    return version, seed
