"""A kind as JSON data (`{"type": "Matrix", "args": [4, 4], "kwargs": {...}}`) and back.

Answer keys store each part's kind this way, so grading needs only the key: the problem set
(and torch with it) is imported only when follow-through must recompute a reference.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from grader.kinds.base import Kind
from grader.sampling import Count, Real

_DOMAINS = {"Real": Real, "Count": Count}


def _encode(value: Any) -> Any:
    if isinstance(value, (Real, Count)):
        return {"__domain__": type(value).__name__, **dataclasses.asdict(value)}
    if isinstance(value, dict):
        return {"__map__": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store a kind argument of type {type(value).__name__} in a key")


def _decode(data: Any) -> Any:
    if isinstance(data, dict) and "__domain__" in data:
        fields = {k: v for k, v in data.items() if k != "__domain__"}
        return _DOMAINS[data["__domain__"]](**fields)
    if isinstance(data, dict) and "__map__" in data:
        return {_decode(k): _decode(v) for k, v in data["__map__"]}
    if isinstance(data, list):
        return [_decode(v) for v in data]
    return data


def kind_to_spec(kind: Kind) -> dict[str, Any]:
    args, kwargs = getattr(kind, "_init_call", ((), {}))
    return {"type": type(kind).__name__, "args": _encode(list(args)), "kwargs": _encode(dict(kwargs))}


def kind_from_spec(spec: dict[str, Any]) -> Kind:
    from grader.kinds import KIND_CLASSES

    cls = KIND_CLASSES[spec["type"]]
    kwargs = _decode(spec.get("kwargs", {"__map__": []}))
    return cls(*_decode(spec.get("args", [])), **kwargs)
