"""Fuzzing every parser (short CI profile; `run_long.py` is the long one).

Grammar-shaped formulas, mutated valid answers, random unicode, hypothesis' own random text
and native TOML/JSON values go into grader.parsing and every kind's `parse`; see fuzz_targets
for the invariants. HYPOTHESIS_PROFILE=ci (default, ~10 s in all) or long.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

from fuzz_targets import ANSWERS, TARGETS, TEXT, Target, check, known

settings.register_profile(
    "ci", max_examples=100, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long", max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
@given(data=ANSWERS)
def test_parser_invariants(target: Target, data: object) -> None:
    raw = data if not target.text_only or isinstance(data, str) else str(data)
    outcome = check(target, raw)
    assert outcome.problem is None or known(target, raw), f"{target.name}({raw!r}): {outcome.problem}"


@pytest.mark.parametrize("target", [t for t in TARGETS if t.name in ("parse_math", "expr", "index-expr")], ids=lambda t: t.name)
@given(text=TEXT)
def test_formula_parsers_on_text(target: Target, text: str) -> None:
    outcome = check(target, text)
    assert outcome.problem is None, f"{target.name}({text!r}): {outcome.problem}"


_PROOF_BUDGET = 3.0  # seconds; sympy on a fuzzed formula of a few hundred nodes at most


@pytest.fixture(scope="module")
def sympy_cleared():
    """sympy's expression cache, filled by the fuzzed proofs, is emptied afterwards: a heap that
    large makes a garbage collection inside a later timed test (the hostile strings) slow."""
    yield
    import gc

    from sympy.core.cache import clear_cache

    clear_cache()
    gc.collect()


@pytest.mark.usefixtures("sympy_cleared")
@given(text=TEXT)
def test_a_formula_is_never_proved_different_from_itself(text: str) -> None:
    """The second method for formula parts (grader.kinds.symbolic) on fuzzed formulas: the sympy
    expression is built from the parse tree without an unhandled exception (only Unsupported),
    within a bound, and a formula is never shown to differ from itself."""
    import time

    from grader.errors import InvalidAnswer
    from grader.kinds.symbolic import prove, sympy_module
    from grader.parsing.symbolic import Unsupported, to_symbolic

    from fuzz_targets import _EXPR

    try:
        node = _EXPR.parse(text)
    except InvalidAnswer:
        return
    sp = sympy_module()
    t0 = time.perf_counter()
    try:
        to_symbolic(node, sp, {name: sp.Symbol(name, real=True) for name in _EXPR.symbols})
    except Unsupported:
        pass
    assert prove(node, node, list(_EXPR.symbols), _EXPR.symbols, [{name: 0.5 for name in _EXPR.symbols}]) != "different"
    assert time.perf_counter() - t0 < _PROOF_BUDGET, text
