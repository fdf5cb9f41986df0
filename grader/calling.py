"""The one calling convention of a problem set: every function it hands the grader is called by
the names of its parameters.

A reference, an accepted alternative, a named mistake, a follow-through route, a constraint on
the inputs and a formula part's per-point set-up are all plain functions whose parameters say
what they need:

- the values of the parts in `uses`, in that order, as the leading positional parameters (or
  all of them as `*args`): the references when the key is built, the student's own answers
  when follow-through is tried;
- by name, the sheet's inputs (`hw.given(X=..., bias=...)`): the printed numbers, or the
  student's own when variants are on;
- by name, for a formula part, the symbols and tensors of one sampled point (`V`, `dZ`, ...) and
  `gen`, a torch generator the library seeds for the part.

The library does the drawing, the looping over points and the conversions; problem files hold
only what the homework sheet says.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence


class CallError(TypeError):
    """A problem-set function asks for something the grader cannot give it."""


@dataclass(frozen=True)
class Signature:
    """How to call one function: how many leading `uses` values, and which names."""

    takes_all_used: bool  # *args: every used value
    positional: int  # leading parameters filled from the used values
    names: tuple[str, ...]  # parameters filled by name
    optional: frozenset[str]  # those with a default (left to it when no value has that name)


_SIGNATURES: dict[Callable[..., Any], Signature] = {}


def signature(fn: Callable[..., Any], n_used: int) -> Signature:
    """The parameters of `fn` read as the convention says (cached: this runs once per call)."""
    cache_key = (fn, n_used)
    found = _SIGNATURES.get(cache_key)  # type: ignore[call-overload]
    if found is not None:
        return found
    params = list(inspect.signature(fn).parameters.values())
    takes_all = any(p.kind is p.VAR_POSITIONAL for p in params)
    positional_kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    leading = 0 if takes_all else min(n_used, sum(1 for p in params if p.kind in positional_kinds))
    rest = [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    rest = rest[leading:] if not takes_all else [p for p in rest if p.kind is p.KEYWORD_ONLY]
    found = Signature(
        takes_all_used=takes_all,
        positional=leading,
        names=tuple(p.name for p in rest),
        optional=frozenset(p.name for p in rest if p.default is not p.empty),
    )
    _SIGNATURES[cache_key] = found  # type: ignore[index]
    return found


def names_of(fn: Callable[..., Any], n_used: int = 0) -> tuple[str, ...]:
    """The names `fn` asks for beyond its used values."""
    return signature(fn, n_used).names


def call(fn: Callable[..., Any], used: Sequence[Any], names: Mapping[str, Any], what: str = "") -> Any:
    """Call `fn` with the used values first and every other parameter by name from `names`."""
    sig = signature(fn, len(used))
    if not sig.takes_all_used and sig.positional < len(used):
        raise CallError(f"{what or _name(fn)} takes {sig.positional} of the {len(used)} values of the parts it uses")
    kwargs = {}
    for name in sig.names:
        if name in names:
            kwargs[name] = names[name]
        elif name not in sig.optional:
            known = ", ".join(sorted(names)) or "nothing"
            raise CallError(f"{what or _name(fn)} asks for {name!r}, which is not given (it may ask for: {known})")
    return fn(*used, **kwargs)


def _name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__qualname__', fn)!s}()"
