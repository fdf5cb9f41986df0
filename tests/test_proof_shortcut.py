"""A formula typed as the model answer is proved equal without sympy (grader.kinds.symbolic).

`prove` answers "equal" for two equal parse trees that `plainly_convertible` accepts, before
importing sympy (a second of start-up for Gradescope's one submission). That is sympy's own
first step (the difference as built is 0), so the verdict must be the one sympy gives: checked
here against sympy itself, on every model answer of the committed keys and on trees the rule
must refuse (where sympy is asked, as before).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grader.keys.build import read_key
from grader.kinds.spec import kind_from_spec
from grader.kinds.symbolic import OPAQUE, prove, symbols_for
from grader.parsing.symbolic import Unsupported, plainly_convertible, to_symbolic

ROOT = Path(__file__).resolve().parents[1]


def model_answer_trees() -> list[tuple[str, object, dict]]:
    """(part, tree, the kind's symbol domains) for every formula dimension of every committed key's model answers."""
    out = []
    for path in sorted((ROOT / "reference").glob("*.json")):
        key = read_key(path)
        for pk in key.parts:
            formula = (pk.reference or {}).get("meta", {}).get("formula") if isinstance(pk.reference, dict) else None
            if not formula:
                continue
            kind = kind_from_spec(pk.kind_spec)
            parsed = kind.parse(str(formula))
            for tree in parsed if isinstance(parsed, tuple) else (parsed,):
                out.append((f"{key.assignment} {pk.id}", tree, kind.symbols))
    return out


TREES = model_answer_trees()


def sympy_verdict(tree, domains) -> str | None:
    """What sympy says of `tree` minus a second, separately built copy of it: "equal", or None
    when it cannot build it or the difference as built is not 0."""
    import sympy

    syms = symbols_for(sympy, list(domains), domains)
    try:
        difference = to_symbolic(tree, sympy, syms, OPAQUE) - to_symbolic(tree, sympy, syms, OPAQUE)
    except Unsupported:
        return None
    return "equal" if difference == 0 else None


def test_the_committed_keys_have_model_answers_the_rule_accepts():
    accepted = [part for part, tree, domains in TREES if plainly_convertible(tree, domains, OPAQUE)]
    assert len(TREES) >= 5 and len(accepted) >= 3, (len(TREES), accepted)


@pytest.mark.parametrize("part,tree,domains", TREES, ids=[t[0] for t in TREES])
def test_an_accepted_model_answer_is_equal_to_itself_for_sympy_too(part, tree, domains):
    if plainly_convertible(tree, domains, OPAQUE):
        assert sympy_verdict(tree, domains) == "equal"
    assert prove(tree, tree, list(domains), domains) == sympy_verdict(tree, domains) or not plainly_convertible(tree, domains, OPAQUE)


@pytest.mark.parametrize(
    "text,accepted",
    [
        ("3V + 1", True),
        ("floor((V + 2 - 3)/2) + 1", True),
        ("V^2 - 4V/3", True),
        ("0.5 V", True),
        ("V^100", False),  # a power beyond MAX_EXPONENT: sympy's rule, not this one
        ("2^V", False),  # a number's power
        ("(V + 1)^2", False),  # only a symbol's literal power is plain
        ("tan(pi/2) + V", False),  # sympy makes it zoo: its verdict, not "equal"
        ("exp(V)", False),  # a function sympy builds
    ],
)
def test_the_rule_accepts_only_what_sympy_builds_as_written(text, accepted):
    from grader.kinds import Expr
    from grader.sampling import Count

    domains = {"V": Count(1, 5000)}
    tree = Expr(domains, functions=["floor", "exp", "tan"]).parse(text)
    assert plainly_convertible(tree, domains, OPAQUE) is accepted
    if accepted:
        assert prove(tree, tree, ["V"], domains) == "equal" == sympy_verdict(tree, domains)


def test_a_formula_typed_as_the_model_answer_is_proved_without_importing_sympy():
    code = (
        "import sys\n"
        "from grader.kinds import Expr\n"
        "from grader.kinds.symbolic import prove\n"
        "from grader.sampling import Count\n"
        "d = {'V': Count(1, 5000)}\n"
        "k = Expr(d)\n"
        "assert prove(k.parse('3V + 1'), k.parse('3 V + 1'), ['V'], d) == 'equal'\n"
        "assert 'sympy' not in sys.modules\n"
        "assert prove(k.parse('1 + 3V'), k.parse('3V + 1'), ['V'], d) == 'equal'\n"
        "assert 'sympy' in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
