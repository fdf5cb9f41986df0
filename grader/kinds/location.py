"""A location (i, j) in an array where something holds, checked against the array itself.

The reference is not a list of right answers typed in: it is a `LocationTarget` holding the
array (`values`) and a boolean `mask` of the locations that qualify (e.g. `Z == Z.max()`),
so any qualifying location earns full marks. Indices are typed as the question numbers them
(`base`: 0 or 1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.errors import InvalidAnswer
from grader.kinds.base import Kind, Match
from grader.kinds.values import array_of
from grader.parsing.brackets import split_top
from grader.parsing.numbers import fmt_number
from grader.parsing.text import check_length, describe_native, example_for, fold_width, short, strip_math

LOCATION_TEXT_LIMIT = 500
MAX_INDICES = 16
_SEP = re.compile(r"\s*[,;]\s*|\s+")
_INT = re.compile(r"^[+\-−]?\d{1,12}$")
MAX_INDEX = 10**12
_NAMED = re.compile(
    r"^(?P<name>[^\W\d_][^\W_]*)\s*(?:_\s*\{(?P<sub>.*)\}|_\s*(?P<bare>\w+)|(?P<br>[\[(].*[\])]))$", re.S
)
_GROUPS = re.compile(r"[\[(][^\[\]()]*[\])]")  # one bracketed group of indices
_ASSIGNED = re.compile(r"[^\W\d]\w*\s*=\s*")
_ASSIGNMENTS = re.compile(r"\s*[^\W\d]\w*\s*=\s*[^,;=]+(?:[,;]\s*[^\W\d]\w*\s*=\s*[^,;=]+)*\s*")


@dataclass(frozen=True)
class LocationTarget:
    """What a location part's reference returns: the array and where the answer may point."""

    values: np.ndarray | None
    mask: np.ndarray

    def __post_init__(self) -> None:
        mask = array_of(self.mask, bool)
        object.__setattr__(self, "mask", mask)
        if self.values is not None:
            values = array_of(self.values, np.float64)
            if values.shape != mask.shape:
                raise ValueError(f"values {values.shape} and mask {mask.shape} differ in shape")
            object.__setattr__(self, "values", values)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.mask.shape)


class Location(Kind):
    """A location in the array called `name`, indices from `base`."""

    name = "location"

    def __init__(self, base: int = 0, name: str = "Z") -> None:
        if base not in (0, 1):
            raise ValueError("indices start from 0 or 1")
        self.base = base
        self.array = name
        self.examples = ("(1, 3)", "1,3", "[1, 3]", f"{name}[1,3]", f"{name}_{{1,3}}")  # type: ignore[misc]

    # -- reading --------------------------------------------------------------------------------
    def parse(self, raw: Any) -> tuple[int, ...]:
        with example_for(self.examples[0]):
            return self._parse(raw)

    def _parse(self, raw: Any) -> tuple[int, ...]:
        if isinstance(raw, bool):
            raise InvalidAnswer("true/false is not a location", example=self.examples[0])
        if isinstance(raw, int):
            return (self._index(raw, 1),)  # the same bounds as a typed index
        if isinstance(raw, (list, tuple)):
            if not raw or len(raw) > MAX_INDICES:
                raise InvalidAnswer(f"expected a location such as (1, 3), got {describe_native(raw)}", example=self.examples[0])
            return tuple(self._index(x, i) for i, x in enumerate(raw, 1))
        if not isinstance(raw, str):
            raise InvalidAnswer(f"expected a location, got {describe_native(raw)}", example=self.examples[0])
        check_length(raw, LOCATION_TEXT_LIMIT, "location")
        text = strip_math(fold_width(raw))
        if _ASSIGNMENTS.fullmatch(text):  # `i=1, j=3`
            text = _ASSIGNED.sub("", text)
        elif "=" in text:  # `(i, j) = (1, 3)` or `Z[1,3] = 6`: the side with the indices
            sides = [s.strip() for s in text.split("=")]
            named_sides = [s for s in sides if _NAMED.match(s) and re.search(r"\d", s)]
            text = named_sides[0] if named_sides else sides[-1]
        if len(_GROUPS.findall(text)) > 1:  # `(0, 1), (0, 2)` or `Z[1][3]`
            raise InvalidAnswer(
                "give one location, with all its indices in one pair of brackets",
                expected="one location, e.g. any one of the places where it holds",
                example=self.examples[0],
            )
        named = _NAMED.match(text)
        if named:
            if named.group("name").casefold() != self.array.casefold():
                raise InvalidAnswer(
                    f"this part asks for a location in {self.array}, not in {named.group('name')}",
                    example=self.examples[3],
                )
            if named.group("bare") is not None:
                raise InvalidAnswer(
                    f"write the indices in braces with a comma, e.g. {self.array}_{{1,3}}, "
                    f"not {short(text)!r}",
                    example=self.examples[4],
                )
            text = named.group("sub") if named.group("sub") is not None else named.group("br")
        text = text.strip()
        if len(text) >= 2 and text[0] in "([" and text[-1] in ")]":
            text = text[1:-1]
        entries = [e for e in split_top(text, _SEP) if e]
        if not entries:
            raise InvalidAnswer("the location is empty", example=self.examples[0])
        if len(entries) > MAX_INDICES:
            raise InvalidAnswer(f"a location has at most {MAX_INDICES} indices", example=self.examples[0])
        return tuple(self._index(e, i) for i, e in enumerate(entries, 1))

    def _index(self, entry: Any, position: int) -> int:
        if isinstance(entry, bool):
            raise InvalidAnswer(f"index {position} is true/false, not a whole number", example=self.examples[0])
        value: int | None = None
        text = str(entry).strip()
        if isinstance(entry, int):
            value = entry
        elif isinstance(entry, float) and entry.is_integer():
            value = int(entry)
        elif _INT.match(text):
            value = int(text.replace("−", "-"))
        if value is not None:
            if abs(value) >= MAX_INDEX:
                raise InvalidAnswer(f"index {position} ({value}) is far too large", example=self.examples[0])
            return value
        raise InvalidAnswer(
            f"index {position} ({short(text)!r}) is not a whole number",
            expected=f"whole-number indices (from {self.base})",
            example=self.examples[0],
        )

    # -- checking -------------------------------------------------------------------------------
    def _at(self, index: tuple[int, ...]) -> str:
        return f"{self.array}[{','.join(str(i) for i in index)}]"

    def compare(self, answer: Any, target: Any) -> Match:
        target = self.normalise(target)
        shape = target.shape
        index = tuple(int(i) for i in answer)
        if len(index) != len(shape):
            return Match(
                0.0,
                f"{self.array} has {len(shape)} dimension{'s' if len(shape) != 1 else ''}: "
                f"give {len(shape)} ind{'ex' if len(shape) == 1 else 'ices'}, you gave {len(index)}.",
            )
        zero_based = tuple(i - self.base for i in index)
        if any(not 0 <= i < n for i, n in zip(zero_based, shape)):
            where = "(" + ", ".join(str(i) for i in index) + ")"
            return Match(
                0.0,
                f"{where} is outside {self.array}, which is {'×'.join(map(str, shape))} (indices from {self.base}).",
            )
        if bool(target.mask[zero_based]):
            return Match(1.0)
        if target.values is not None:
            return Match(0.0, f"{self._at(index)} = {fmt_number(target.values[zero_based])} there.")
        return Match(0.0, f"{self._at(index)} is not a location that qualifies.")

    # -- reference values -----------------------------------------------------------------------
    def normalise(self, value: Any) -> LocationTarget:
        if isinstance(value, LocationTarget):
            return value
        if isinstance(value, (tuple, list)) and len(value) == 2:
            a, b = (array_of(v, None) for v in value)
            if a.dtype == bool and b.dtype != bool:
                return LocationTarget(values=b, mask=a)
            if b.dtype == bool and a.dtype != bool:
                return LocationTarget(values=a, mask=b)
            raise TypeError("a location reference as a pair needs one boolean mask and one array of values")
        arr = array_of(value, None)
        if arr.dtype == bool:
            return LocationTarget(values=None, mask=arr)
        raise TypeError(f"a location reference must be a LocationTarget, (mask, values) or a boolean mask, got {type(value).__name__}")

    def canonical(self, value: Any) -> str:
        if isinstance(value, LocationTarget):
            return f"{int(value.mask.sum())} qualifying location(s) in a {'×'.join(map(str, value.shape))} array"
        return "(" + ", ".join(str(int(i)) for i in value) + ")"

    def encode(self, value: Any) -> dict[str, Any]:
        target = self.normalise(value)
        return {
            "shape": list(target.shape),
            "mask": target.mask.astype(bool).ravel().tolist(),
            "values": None if target.values is None else target.values.ravel().tolist(),
        }

    def decode(self, data: Any) -> LocationTarget:
        shape = tuple(int(n) for n in data["shape"])
        mask = np.asarray(data["mask"], dtype=bool).reshape(shape)
        values = None if data.get("values") is None else np.asarray(data["values"], dtype=np.float64).reshape(shape)
        return LocationTarget(values=values, mask=mask)

    def forms(self, value: Any) -> list[Any]:
        hits = np.argwhere(self.normalise(value).mask)
        if not len(hits):
            return []
        idx = [str(int(i) + self.base) for i in hits[0]]
        return ["(" + ", ".join(idx) + ")", ",".join(idx), "[" + ", ".join(idx) + "]", f"{self.array}[{','.join(idx)}]", [int(i) for i in idx]]

    def describe(self) -> str:
        return f"a location in {self.array} (indices from {self.base})"
