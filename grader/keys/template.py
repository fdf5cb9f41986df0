"""Answer-file templates for students: every part in order, with its marks, kind, prompt and
the answer forms it accepts, and an empty answer to fill in.

An empty answer is read as `missing`, so an untouched template grades as all-missing, never as
broken. `render` can also fill answers in (a solution file, or a test's reference answers).
TOML and YAML templates carry the guidance as comments; JSON has no comments, so its template
is the bare structure and the guidance goes to stderr (see `guidance`).
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal, Mapping

import yaml

from grader.problemset import Part, ProblemSet
from grader.variants import Variant

Format = Literal["toml", "yaml", "json"]
FORMATS: tuple[str, ...] = ("toml", "yaml", "json")
MAX_EXAMPLES = 4


# -- values in each format -------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """numpy scalars and arrays (a key's values) as plain Python data."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def toml_value(value: Any) -> str:
    """A TOML value: strings as basic strings, numbers, booleans, arrays, inline tables."""
    value = plain(value)
    if isinstance(value, str):
        # JSON string escapes are TOML basic-string escapes; TOML also forbids a raw DEL.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_value(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    if value is None:
        return '""'
    raise TypeError(f"no TOML form for {type(value).__name__}")


def yaml_string(text: str) -> str:
    """A double-quoted YAML scalar holding `text` exactly, in printable ASCII.

    Not json.dumps: PyYAML reads JSON's surrogate pairs (an emoji as \\ud83d\\ude00) as two
    lone surrogates, and refuses some raw characters (U+0085, U+FEFF) outside escapes."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def yaml_value(value: Any) -> str:
    """A YAML value on one line (flow style), readable by `yaml.safe_load`."""
    value = plain(value)
    if isinstance(value, str):
        return yaml_string(value)
    if value is None:
        return '""'
    text = yaml.safe_dump(value, default_flow_style=True, width=2**31, allow_unicode=False)
    return text.removesuffix("\n").removesuffix("\n...").strip()


# -- guidance --------------------------------------------------------------------------------------


def _form(example: str) -> str:
    """An example as a student types it: multi-line or quoted ones as a quoted string."""
    return json.dumps(example, ensure_ascii=False) if ("\n" in example or '"' in example) else example


def part_notes(part: Part, variant: Variant | None = None) -> list[str]:
    """The comment lines above one part's answer (the prompt with a variant's numbers)."""
    kind = part.kind
    marks = f"{part.marks:g} mark" + ("" if part.marks == 1 else "s")
    described = kind.describe()
    head = f"{part.id} · {marks} · {kind.name}" + (f" ({described})" if described and described != kind.name else "")
    lines = [head]
    text = part.problem_set.render(part.prompt_template, variant) if variant is not None and part.problem_set else part.prompt
    # The whole prompt, every line of it: a matrix or a table printed in it is part of the question.
    lines += text.strip("\n").splitlines()
    if kind.manual:
        lines.append("Free text, graded by course staff. For several lines use triple quotes.")
    elif kind.examples:
        lines.append("Accepted forms: " + "  |  ".join(_form(e) for e in kind.examples[:MAX_EXAMPLES]))
    return lines


def header(ps: ProblemSet, variant: Variant | None = None, assignment: str | None = None) -> list[str]:
    lines = [
        f"Answer file for {assignment or ps.id}: {ps.title} ({ps.total:g} marks).",
        "Fill in each answer; an answer left empty counts as not answered.",
        "Any accepted form will do (see the answer format); the examples below show a few.",
    ]
    if variant is not None:
        exact = ps.exact(variant)
        lines += ["", f"Your own numbers (variant {variant.code}); answer with these:"]
        lines += [f"  {spec.label or name}: {name} = {spec.show(exact[name], '-')}" for name, spec in ps.inputs.items()]
    return lines


def guidance(ps: ProblemSet, variant: Variant | None = None, assignment: str | None = None) -> str:
    """All the comments of a template as plain text (for JSON templates, which cannot hold them)."""
    blocks = ["\n".join(header(ps, variant, assignment))] + ["\n".join(part_notes(p, variant)) for p in ps]
    return "\n\n".join(blocks) + "\n"


# -- templates -------------------------------------------------------------------------------------


def _comment(lines: list[str], indent: str = "") -> list[str]:
    return [f"{indent}# {line}".rstrip() for text in lines for line in text.splitlines()]


def render(
    ps: ProblemSet, fmt: Format = "toml", answers: Mapping[str, Any] | None = None, variant: Variant | None = None, assignment: str | None = None
) -> str:
    """The answer file for `ps` (under the course's `assignment` id, with a student's `variant`
    in the prompts); parts without an entry in `answers` are left empty."""
    answers = answers or {}
    name = assignment or ps.id
    if fmt == "json":
        data = {"assignment": name, "answers": {p.id: plain(answers.get(p.id, "")) for p in ps}}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    top = _comment(header(ps, variant, assignment))
    if fmt == "toml":
        lines = top + [f"assignment = {toml_value(name)}", '# student = "your student id"   (optional)', "", "[answers]"]
        for part in ps:
            lines += [""] + _comment(part_notes(part, variant)) + [f"{toml_value(part.id)} = {toml_value(answers.get(part.id, ''))}"]
    elif fmt == "yaml":
        lines = top + [f"assignment: {yaml_value(name)}", '# student: "your student id"   (optional)', "", "answers:"]
        for part in ps:
            lines += [""] + _comment(part_notes(part, variant), "  ") + [f"  {yaml_value(part.id)}: {yaml_value(answers.get(part.id, ''))}"]
    else:
        raise ValueError(f"unknown template format {fmt!r} (choose from {', '.join(FORMATS)})")
    return "\n".join(lines) + "\n"
