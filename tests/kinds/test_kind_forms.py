"""Each kind carries its model answers: every form `Kind.forms` writes a value in reads back as
that value (full marks), in each syntax the kind accepts; formula and free-text kinds have none."""

from __future__ import annotations

import numpy as np
import pytest

from grader.kinds import (
    Choice,
    Expr,
    IndexExpr,
    Int,
    Location,
    LocationTarget,
    Matrix,
    Number,
    Shape,
    ShapeFormula,
    Text,
    Vector,
)
from grader.sampling import Count, Sample

MASK = np.zeros((3, 4), dtype=bool)
MASK[1, 2] = MASK[2, 0] = True

CASES = [
    (Int(), [0, 7, -5, 999, 61706, -1_234_567, 10**20]),
    (Number(), [0.0, 0.9933, -1.2e-3, 123456.789, 2.5e-8, -7.0]),
    (Number(rel_tol=0.05), [3.14159]),
    (Vector(3), [[1.0, -2.5, 0.125], [0.0, 0.0, 0.0]]),
    (Vector(1), [[-40.0]]),
    (Matrix(2, 3), [[[1, 2, 3], [4, 5.5, -6]]]),
    (Matrix(3, 1), [[[1], [2], [3]]]),
    (Shape(), [(46, 62, 20), (10,), (1, 1)]),
    (Shape(batch=True), [(32, 32, 3)]),
    (Location(base=0, name="Z"), [LocationTarget(values=None, mask=MASK)]),
    (Location(base=1, name="A"), [LocationTarget(values=np.arange(12.0).reshape(3, 4), mask=MASK)]),
    (Choice(["smaller", "larger", "same"]), ["smaller", "larger", "same"]),
    (Choice(["true", "false"]), ["true", "false"]),
]


@pytest.mark.parametrize("kind, values", CASES, ids=lambda c: type(c).__name__ if not isinstance(c, list) else "")
def test_every_form_reads_back_with_full_marks(kind, values):
    for value in values:
        target = kind.normalise(value)
        forms = kind.forms(target)
        assert len(forms) >= 2
        if not isinstance(kind, Choice):  # typed text and a native TOML/JSON value
            assert any(isinstance(f, str) for f in forms) and any(not isinstance(f, str) for f in forms)
        for form in forms:
            match = kind.compare(kind.parse(form), target)
            assert match.full, (form, match.feedback)


def test_forms_name_the_syntaxes_a_student_uses():
    assert Int().forms(61706) == ["61706", 61706, "61,706", "61 706", "61_706"]
    assert "\u22125" in Int().forms(-5)
    assert Matrix(2, 2).forms(np.array([[2.0, 1.0], [1.0, 1.0]]))[:5] == [
        "2 1\n1 1", "2\t1\n1\t1", "2, 1\n1, 1", "[[2, 1], [1, 1]]", "[2 1; 1 1]"]
    assert Shape().forms((46, 62, 20))[:2] == ["46x62x20", "46 × 62 × 20"]
    # the first qualifying location, in the question's numbering
    assert Location(base=1, name="A").forms(LocationTarget(values=None, mask=MASK))[:4] == [
        "(2, 3)", "2,3", "[2, 3]", "A[2,3]"]
    # a one-letter answer only where it names one option
    assert "S" not in Choice(["smaller", "same", "larger"]).forms("smaller")
    assert "L" in Choice(["smaller", "same", "larger"]).forms("larger")


def test_a_location_nothing_qualifies_for_has_no_form():
    assert Location().forms(LocationTarget(values=None, mask=np.zeros((2, 2), dtype=bool))) == []


def test_formula_and_free_text_kinds_have_no_value_to_write():
    sample = Sample({"V": np.array([1.0, 2.0, 3.0])}, np.array([4.0, 7.0, 10.0]))
    assert Expr({"V": Count(1, 9)}).forms(sample) == []
    assert ShapeFormula({"V": Count(1, 9)}).forms(sample) == []
    assert IndexExpr({"w": 1}, free=("i",)).forms(sample) == []
    assert Text().forms("anything") == []
