"""The kinds package: every kind exported, registered by name and by class name."""

from __future__ import annotations

import grader.kinds as kinds
from grader.kinds import KIND_CLASSES, KINDS, Kind


def test_every_kind_is_exported_and_registered():
    for name in ["Int", "Number", "Vector", "Matrix", "Shape", "ShapeFormula", "Location", "LocationTarget", "Choice", "Code", "Expr", "IndexExpr", "Text"]:
        assert hasattr(kinds, name)
    assert set(KINDS) == {"int", "number", "vector", "matrix", "shape", "shape-formula", "location", "choice", "expr", "index-expr", "text", "code"}
    for key, cls in KINDS.items():
        assert issubclass(cls, Kind)
        assert cls.name == key.replace("-formula", "")
        assert KIND_CLASSES[cls.__name__] is cls


def test_sampled_flags():
    assert {n for n, cls in KINDS.items() if cls.sampled} == {"expr", "shape-formula", "index-expr"}
    assert KINDS["text"].manual
