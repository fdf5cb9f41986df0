"""Per-student variants: the numbers of a sheet drawn for each student.

- `inputs`: the declarations (`Integer`, `Rational`, `IntVector`, `IntMatrix`, `RationalVector`,
  `OneOf`), each with the sheet's printed value, the variant everyone gets when variants are off;
- `generator`: the grader's own versioned integer/rational generator (not numpy's or torch's
  streams, which are not stable across releases);
- `seeds`: the course secret, a student's seed (an HMAC of it with the assignment, the student and
  the variant version) and the short code that names a variant;
- `variant`: the `Variant` record stored with keys and reports.

A problem set declares its inputs with `ProblemSet.given` and its constraints with
`ProblemSet.require`; `ProblemSet.deal(code)` draws a variant.
"""

from grader.variants.generator import CURRENT_VERSION, Generator
from grader.variants.inputs import Input, Integer, IntMatrix, IntVector, OneOf, Rational, RationalVector
from grader.variants.seeds import SecretError, ensure_secret, parse_code, read_secret, variant_code, variant_seed
from grader.variants.variant import Variant

__all__ = [
    "CURRENT_VERSION",
    "Generator",
    "Input",
    "Integer",
    "IntMatrix",
    "IntVector",
    "OneOf",
    "Rational",
    "RationalVector",
    "SecretError",
    "Variant",
    "ensure_secret",
    "parse_code",
    "read_secret",
    "variant_code",
    "variant_seed",
]
