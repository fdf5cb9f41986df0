"""Answer kinds: how each kind of answer is read (`parse`) and checked (`compare`).

`KINDS` maps a kind's name (as stored in answer keys) to its class. `Shape` and
`ShapeFormula` share the name "shape" (a student types both the same way); the registry
lists the fixed-size `Shape` under "shape" and the formula one under "shape-formula".
`KIND_CLASSES` maps class names to classes (kinds stored as constructor calls in keys).

A new kind is one module here (a `Kind` subclass: `parse`, `compare`, and `forms` for its
model answers) plus its entry in `KINDS`, the one registry. A kind module reads through
`grader.parsing` and shares only the support modules (`base`, `sampled`, `tolerance`,
`values`), never another kind module (tests/kinds/test_kind_layering.py).
"""

from grader.kinds.array import Matrix, Vector
from grader.kinds.base import Kind, Match
from grader.kinds.choice import Choice
from grader.kinds.code import Code
from grader.kinds.expr import Expr
from grader.kinds.index_expr import IndexExpr
from grader.kinds.integer import Int
from grader.kinds.location import Location, LocationTarget
from grader.kinds.number import Number
from grader.kinds.shape import Shape, ShapeFormula
from grader.kinds.text import Text

KINDS: dict[str, type[Kind]] = {
    "int": Int,
    "number": Number,
    "vector": Vector,
    "matrix": Matrix,
    "shape": Shape,
    "shape-formula": ShapeFormula,
    "location": Location,
    "choice": Choice,
    "expr": Expr,
    "index-expr": IndexExpr,
    "text": Text,
    "code": Code,
}

# By class name, for answer keys that store a kind as its constructor call (grader.kinds.spec).
KIND_CLASSES: dict[str, type[Kind]] = {cls.__name__: cls for cls in KINDS.values()}

__all__ = [
    "KINDS",
    "KIND_CLASSES",
    "Choice",
    "Code",
    "Expr",
    "IndexExpr",
    "Int",
    "Kind",
    "Location",
    "LocationTarget",
    "Match",
    "Matrix",
    "Number",
    "Shape",
    "ShapeFormula",
    "Text",
    "Vector",
]
