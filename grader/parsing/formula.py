"""Reading one formula answer against what its part declares: symbols, functions, indices.

Functions are declared by name. Aliases: an entry `"alias=name"` accepts another spelling
(`functions=("sigmoid", "s=sigmoid")` makes `s(x)` the sigmoid; a bare `"s"` means the same,
as does `"ln"` for log). Declaring a function also accepts the spellings the vocabulary
implies for it (`sigmoid`: `σ(x)`, `\\sigma(x)`, `sigma(x)`; `log`: `ln`) unless one of them
is itself a declared symbol. A name may not be both a symbol and a function.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from grader.parsing.ast import Call, Node, fold, rebuild
from grader.parsing.parser import parse_math
from grader.parsing.resolve import resolve_names
from grader.parsing.vocabulary import VOCABULARY


def function_table(functions: Sequence[str] | Mapping[str, str], symbols: Sequence[str] | Mapping[str, Any] = ()) -> dict[str, str]:
    """Every accepted function spelling -> its canonical function name.

    `functions` lists names and `alias=name` entries, or is a mapping alias -> name.
    """
    table: dict[str, str] = {}
    items = list(functions.items()) if isinstance(functions, Mapping) else []
    if not isinstance(functions, Mapping):
        for entry in functions:
            alias, eq, target = (part.strip() for part in entry.partition("="))
            if not eq:  # a bare known alias (`s`, `ln`) declares its function too
                target = VOCABULARY.aliases.get(alias, alias)
            items.append((alias, target))
    for alias, target in items:
        table[alias] = target
        table.setdefault(target, target)
    declared = set(symbols)
    clash = declared & set(table)
    if clash:
        raise ValueError(f"{sorted(clash)} declared both as symbols and as functions")
    for target in dict.fromkeys(table.values()):
        for alias in VOCABULARY.implied(target):
            if alias not in declared:
                table.setdefault(alias, target)
    return table


def _rename_calls(node: Node, table: Mapping[str, str]) -> Node:
    def up(n: Node, kids: list[Any], _ctx: Any) -> Node:
        if isinstance(n, Call) and table.get(n.func, n.func) != n.func:
            return Call(table[n.func], tuple(kids))
        return rebuild(n, kids)

    return fold(node, up)


def read_formula(
    text: str,
    symbols: Sequence[str],
    functions: Mapping[str, str],
    *,
    indices: Sequence[str] = (),
    tensors: Mapping[str, int] | None = None,
    elementwise: Sequence[str] = (),
) -> Node:
    """Parse and resolve one formula against the declared symbols and functions (a
    `function_table`).

    Aliases the vocabulary knows (`s`, `sigma` -> sigmoid, `ln` -> log) are passed on to the
    resolver; a part's own aliases (`f=relu`) are renamed here first.
    """
    node = parse_math(text)
    aliases = VOCABULARY.aliases
    custom = {a: t for a, t in functions.items() if a != t and aliases.get(a) != t}
    if custom:
        node = _rename_calls(node, custom)
    known = {a for a, t in functions.items() if a == t or aliases.get(a) == t}
    return resolve_names(
        node, symbols=list(symbols), functions=sorted(known | set(functions.values())), indices=indices, tensors=tensors,
        elementwise=tuple(elementwise),
    )
