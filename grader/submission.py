"""The read step: find submission files below a class folder and read each into a `Submission`.

Every file is untrusted. Whatever is wrong with one (too large, not UTF-8, bad TOML, nested a
million deep, a YAML alias bomb, a symlink out of the class folder) comes back as a
`BrokenSubmission` with a reason a person can act on; nothing here raises for a bad file.

Accepted layouts (answer-format.md): `<student>/answers.{toml,yaml,yml,json}` (the folder is the
student's: nothing else in it or below it is a submission, and other answer files there are
warnings), or any `*.toml|yaml|yml|json` file elsewhere in the tree (the file stem is the
student). The student is always where the file was handed in, never its `student` line.
Hidden files and folders are skipped. Code (`*.py`, `*.ipynb`) in a student's folder is
handed in with the answers file (`Submission.code`); a folder holding a notebook but no
answers file is a code-only submission (its assignment from `--assignment`, or from where it
was handed in).
Answers given as nested tables (TOML dotted keys, `[answers.q1.conv1]`, nested YAML/JSON
mappings) are flattened to dotted part ids, so `q1.conv1.params = 1` means `"q1.conv1.params"`.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tomllib
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any

import yaml

from grader.models import BrokenSubmission, Submission, Superseded
from grader.notices import Warnings, listed, shown

ANSWER_NAMES = ("answers.toml", "answers.yaml", "answers.yml", "answers.json")
SUFFIXES = (".toml", ".yaml", ".yml", ".json")
MAX_FILE_BYTES = 2 * 1024 * 1024
# PyYAML's safe loader is pure Python (~1 µs a byte, ~70 µs a node): a smaller cap and a token
# budget keep one hostile YAML file to a second or two. (The C loader is not used: it
# segfaults on deep nesting.)
MAX_YAML_BYTES = 512 * 1024
MAX_YAML_TOKENS = 20_000
# Caps on the loaded structure. A whole homework is a few hundred values, a native 100×100
# matrix 10k; aliases can make a small YAML file expand without bound, so the walk counts.
MAX_VALUES = 200_000
MAX_DEPTH = 32
TOP_LEVEL_KEYS = ("assignment", "student", "submitted_at", "answers")
CODE_SUFFIXES = (".py", ".ipynb")
MAX_CODE_BYTES = 8 * 1024 * 1024  # a notebook with its outputs; only tagged cells are run
MAX_CODE_FILES = 16
MAX_NAME_CHARS = 200  # an assignment or student id longer than this is not one
#: How the warning about a `student` line that disagrees with where the file was handed in
#: starts (the run repeats these in run.json).
STUDENT_LINE_WARNING = "the file says student = "


class Unreadable(Exception):
    """Why a file is not a submission (becomes `BrokenSubmission.reason`)."""


# -- discovery -------------------------------------------------------------------------------


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _resolved(path: Path) -> Path | None:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop
        return None


def _inside(path: Path, root: Path) -> bool:
    target, base = _resolved(path), _resolved(root)
    return target is not None and base is not None and target.is_relative_to(base)


def discover(root: Path, *, exclude: Iterable[Path] = ()) -> list[Path]:
    """Every submission file below `root`, sorted by path.

    Symlinks are never followed into folders. A symlink (to a file or a folder) that points
    outside `root` is still returned, so that `read_submission(..., root=root)` reports it.
    Folders in `exclude` (e.g. the output folder when it lies inside `root`) are skipped.
    """
    root = Path(root)
    if root.is_file():
        return [root]
    skip = {_resolved(p) for p in map(Path, exclude) if p.exists()} - {None}
    found: list[Path] = []
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(folder)
        kept = []
        for d in sorted(dirnames):
            sub = here / d
            if _hidden(d) or _resolved(sub) in skip:
                continue
            if sub.is_symlink():
                if not _inside(sub, root):
                    found.append(sub)  # reported by read_submission, never walked
                continue
            kept.append(d)
        dirnames[:] = kept
        files = sorted(f for f in filenames if not _hidden(f))
        answers = [f for f in files if f.lower() in ANSWER_NAMES]
        notebooks = [f for f in files if f.lower().endswith(".ipynb")]
        if answers:
            dirnames[:] = []  # a student's folder: nothing below it is another submission
            # one answer file per folder (answers.toml first); the others are warnings (read_submission)
            files = [min(answers, key=lambda f: ANSWER_NAMES.index(f.lower()))]
        elif notebooks and here != root and not any(Path(f).suffix.lower() in SUFFIXES for f in files):
            dirnames[:] = []  # a student's folder of code only: its first notebook stands for it
            files = notebooks[:1]
        for f in files:
            if Path(f).suffix.lower() in SUFFIXES or f in notebooks:
                found.append(here / f)
    return sorted(set(found), key=lambda p: p.as_posix())


class NoAnswerFile(Exception):
    """An upload without exactly one answer file; the message tells the student what to upload."""


def _uploaded(folder: Path) -> list[str]:
    """Names of the uploaded files (for messages), hidden files and macOS zip debris left out."""
    names = []
    for here, dirs, files in os.walk(folder):  # symlinked folders are not followed
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__MACOSX")
        names += [(Path(here) / f).relative_to(folder).as_posix() for f in sorted(files) if not f.startswith(".")]
    return names


def find_answer_file(upload: Path) -> Path:
    """The answer file in one student's upload (an LMS hand-in folder): an `answers.*` (the
    shallowest), else the only *.toml|yaml|yml|json. Raises `NoAnswerFile` otherwise."""
    if not upload.is_dir():
        raise NoAnswerFile(f"No submission folder was found ({upload}). Please resubmit.")
    found = [p for p in discover(upload) if "__MACOSX" not in p.relative_to(upload).parts]
    named = [p for p in found if p.name.lower() in ANSWER_NAMES]
    if named:
        return min(named, key=lambda p: (len(p.relative_to(upload).parts), ANSWER_NAMES.index(p.name.lower())))
    found = [p for p in found if p.suffix.lower() in SUFFIXES] or found
    if len(found) == 1:
        return found[0]
    code = sorted(p for p in upload.iterdir() if p.suffix.lower() in CODE_SUFFIXES and p.is_file() and not p.is_symlink() and not _hidden(p.name))
    if not found and code:
        return code[0]  # code only: the upload's code files are the submission
    if not found:
        shown = ", ".join(_uploaded(upload)[:20]) or "nothing"
        raise NoAnswerFile(
            "No answer file was found in your submission. Upload answers.toml "
            f"(answers.yaml and answers.json are also accepted). You uploaded: {shown}."
        )
    shown = ", ".join(p.relative_to(upload).as_posix() for p in found[:20])
    raise NoAnswerFile(f"Your submission has several possible answer files ({shown}). Upload one file, or name it answers.toml.")


# -- reading ---------------------------------------------------------------------------------


def _read_bounded(path: Path, root: Path | None) -> bytes:
    if _resolved(path) is None:
        raise Unreadable("cannot resolve the path (a symlink loop?)")
    if root is not None and not _inside(path, root):
        raise Unreadable("leads outside the class folder (a symlink?); not followed")
    try:
        info = path.stat()
    except OSError as exc:
        raise Unreadable(f"cannot read file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
        raise Unreadable("not a regular file")
    limit = MAX_YAML_BYTES if path.suffix.lower() in (".yaml", ".yml") else MAX_FILE_BYTES
    if info.st_size > limit:
        raise Unreadable(f"file is too large ({_size(info.st_size)}; the limit is {_size(limit)})")
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)  # the file may have grown since stat()
    except OSError as exc:
        raise Unreadable(f"cannot read file: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise Unreadable(f"file is too large (more than {_size(limit)})")
    return data


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{math.ceil(n / 1024)} KB"


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "…"


def _parse(text: str, suffix: str, warnings: Warnings) -> Any:
    """The document as Python data; parser errors become `Unreadable` with their position."""
    try:
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix == ".json":
            return json.loads(text, object_pairs_hook=_pairs_hook(warnings))
        _check_yaml_tokens(text)
        return yaml.load(text, Loader=_YAML_LOADER)  # safe: a SafeLoader, after the caps above
    except RecursionError:
        raise Unreadable("the file is nested too deeply to read") from None
    except tomllib.TOMLDecodeError as exc:
        raise Unreadable(f"invalid TOML: {exc}") from None
    except json.JSONDecodeError as exc:
        raise Unreadable(f"invalid JSON: {exc.msg} (at line {exc.lineno}, column {exc.colno})") from None
    except yaml.YAMLError as exc:
        raise Unreadable(f"invalid YAML: {_one_line(str(exc))}") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. an integer of 5000 digits
        raise Unreadable(f"invalid {suffix[1:].upper()}: {_one_line(str(exc))}") from None


# libyaml's safe loader when PyYAML has it (several times faster). Its scanner does not
# recurse; its composer does, which is why nesting is capped by the token scan first.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_OPEN = (yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken, yaml.BlockSequenceStartToken, yaml.BlockMappingStartToken)
_YAML_CLOSE = (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken, yaml.BlockEndToken)


def _check_yaml_tokens(text: str) -> None:
    """Stop a YAML file before it gets expensive: PyYAML's scanner costs O(nesting) per token
    (so `[[[[...` is quadratic) and its composer recurses, so cap both tokens and depth."""
    depth = 0
    try:
        for count, token in enumerate(yaml.scan(text, Loader=_YAML_LOADER), 1):
            if count > MAX_YAML_TOKENS:
                raise Unreadable(f"YAML file has too many elements (more than {MAX_YAML_TOKENS})")
            if isinstance(token, _YAML_OPEN):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep()
            elif isinstance(token, _YAML_CLOSE):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        # The scanner reads ahead, and newer libyaml has a nesting limit of its own: classify
        # by our own measure of the text it had read, not by the library's wording.
        mark = exc.problem_mark or exc.context_mark
        if mark is not None and _flow_depth(text[: mark.index + 1]) > MAX_DEPTH:
            raise _too_deep() from None
        raise


def _too_deep() -> Unreadable:
    return Unreadable(f"the file is nested too deeply (more than {MAX_DEPTH} levels)")


def _flow_depth(text: str) -> int:
    """The deepest nesting of YAML flow brackets in `text` (quotes ignored: a bound, not a parse)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
    return deepest


def _pairs_hook(warnings: Warnings):
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                warnings.repeated("duplicate keys", f"duplicate key {_show(k)} in JSON; the last value was used")
            out[k] = v
        return out

    return hook


def _clean_str(s: str) -> str:
    # A lone surrogate (legal in JSON "\ud800") cannot be written out as UTF-8 later.
    return s.encode("utf-8", "replace").decode("utf-8")


class _Budget:
    def __init__(self) -> None:
        self.values = 0

    def spend(self) -> None:
        self.values += 1
        if self.values > MAX_VALUES:
            raise Unreadable(f"the file holds too many values (more than {MAX_VALUES})")


def _plain(value: Any, budget: _Budget, depth: int = 0) -> Any:
    """A bounded copy as JSON-like data: str keys, lists, numbers, strings, booleans, None.

    Copying breaks YAML alias sharing (and cycles), which the budget and depth cap bound.
    Dates become ISO strings; anything else exotic (YAML !!binary, !!set) becomes its str().
    """
    budget.spend()
    if depth > MAX_DEPTH:
        raise Unreadable(f"the file is nested too deeply (more than {MAX_DEPTH} levels)")
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return _clean_str(value)
    if isinstance(value, dict):
        return {_key(k): _plain(v, budget, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, budget, depth + 1) for v in value]
    if isinstance(value, (datetime, date, time)):
        # kept a date: its text (`2020-01-01`) would read as arithmetic, 2020 - 1 - 1
        return value
    if isinstance(value, (set, frozenset)):
        return [_plain(v, budget, depth + 1) for v in sorted(value, key=repr)]
    return _clean_str(str(value))


def _key(k: Any) -> str:
    """YAML keys may be numbers, booleans or null; part ids are strings."""
    if isinstance(k, bool) or k is None:
        return json.dumps(k)
    return _clean_str(k if isinstance(k, str) else str(k))


def _flatten(answers: dict[str, Any], warnings: Warnings, prefix: str = "") -> dict[str, Any]:
    """Nested tables -> dotted part ids (TOML `q1.conv1.params = ...` is a nested table)."""
    out: dict[str, Any] = {}
    for k, v in answers.items():
        key = f"{prefix}.{k}" if prefix else k
        items = _flatten(v, warnings, key).items() if isinstance(v, dict) and v else [(key, v)]
        for part_id, value in items:
            if part_id in out:
                warnings.repeated("answers given twice", f"answer {_show(part_id)} given twice; the last one was used")
            out[part_id] = value
    return out


# A hand-in time outside these years is a typo or an attack: year 9999 with an offset of
# -23:59 is past datetime's range once converted to UTC (the store's form).
EARLIEST_YEAR, LATEST_YEAR = 1970, 2999


def storable_time(when: datetime) -> bool:
    """Whether `when` is a plausible hand-in time that converts to UTC without overflowing."""
    try:
        utc = when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)
    except (OverflowError, ValueError):
        return False
    return EARLIEST_YEAR <= utc.year <= LATEST_YEAR


def _submitted_at(raw: Any, warnings: list[str]) -> datetime | None:
    when: datetime | None = None
    if isinstance(raw, datetime):
        when = raw
    elif isinstance(raw, date):
        when = datetime(raw.year, raw.month, raw.day)
    elif isinstance(raw, str):
        try:
            when = datetime.fromisoformat(raw.strip())
        except ValueError:
            pass
    if when is None:
        warnings.append(f"submitted_at {_one_line(repr(raw), 80)} is not a date and time; ignored")
        return None
    if not storable_time(when):
        warnings.append(f"submitted_at {when.isoformat()} is outside the years {EARLIEST_YEAR}-{LATEST_YEAR} (in UTC); ignored")
        return None
    now = datetime.now(timezone.utc) if when.tzinfo else datetime.now()
    if when > now:
        warnings.append(f"submitted_at {when.isoformat()} is in the future")
    return when


def _text_field(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, (date, time)):  # read as written (dates stay dates only for answers)
        value = value.isoformat()
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Unreadable(f"'{name}' must be a string, got {type(value).__name__}")
    text = _clean_str(str(value)).strip()
    if len(text) > MAX_NAME_CHARS:
        raise Unreadable(f"'{name}' is longer than {MAX_NAME_CHARS} characters")
    return text or None


_show = shown  # a key quoted for a warning, cut short: a key can be megabytes long


MAX_OTHER_FILES_SCANNED = 1000


def other_answer_files(path: Path) -> list[str]:
    """Files in the folder of `answers.*` (and below it) that look like answers but are not read:
    a student who left `answers.yaml` beside `answers.toml` must be told which one counted."""
    found: list[str] = []
    folder, seen = path.parent, 0
    for here, dirs, files in os.walk(folder):  # symlinked folders are not followed
        dirs[:] = sorted(d for d in dirs if not _hidden(d) and d != "__MACOSX")
        for f in sorted(files):
            seen += 1
            if seen > MAX_OTHER_FILES_SCANNED:
                return found
            candidate = Path(here) / f
            if not _hidden(f) and candidate.suffix.lower() in SUFFIXES and candidate != path:
                found.append(candidate.relative_to(folder).as_posix())
    return found


def _others_warning(path: Path) -> list[str]:
    if path.name.lower() not in ANSWER_NAMES:
        return []
    others = other_answer_files(path)
    if not others:
        return []
    return [f"other answer files in the folder were not read: {listed(others)} (only {path.name} is graded)"]


def default_student(path: Path) -> str:
    """The folder's name for `answers.*` (or a folder of code only), else the file's stem."""
    return path.parent.name if path.name.lower() in ANSWER_NAMES or path.suffix.lower() in CODE_SUFFIXES else path.stem


def display_source(path: Path, root: Path | None) -> str:
    """The path as reports show it: relative to the class folder, so runs are reproducible."""
    if root is not None:
        base = Path(root)
        base = base.parent if base.is_file() else base
        try:
            return Path(os.path.relpath(path, base)).as_posix()
        except ValueError:
            pass
    return Path(path).as_posix()


def code_files(folder: Path, root: Path | None, warnings: list[str]) -> dict[str, str]:
    """The code files of a student's folder (name -> text): bounded in number and size, never
    followed out of the class folder. Nothing is run or parsed here."""
    found: dict[str, str] = {}
    try:
        names = sorted(p for p in folder.iterdir() if p.suffix.lower() in CODE_SUFFIXES and not _hidden(p.name))
    except OSError:
        return found
    for path in names:
        if len(found) >= MAX_CODE_FILES:
            warnings.append(f"more than {MAX_CODE_FILES} code files; {path.name} and later ones were not read")
            break
        if root is not None and not _inside(path, root) or path.is_symlink():
            warnings.append(f"code file {path.name} is a symlink; not read")
            continue
        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):
                continue
            if info.st_size > MAX_CODE_BYTES:
                warnings.append(f"code file {path.name} is too large ({_size(info.st_size)}; the limit is {_size(MAX_CODE_BYTES)}); not read")
                continue
            with path.open("rb") as fh:
                data = fh.read(MAX_CODE_BYTES + 1)
        except OSError as exc:
            warnings.append(f"code file {path.name} cannot be read: {exc.strerror or exc}")
            continue
        found[_clean_str(path.name)] = _clean_str(data[:MAX_CODE_BYTES].decode("utf-8", "replace"))
    return found


def read_submission(
    path: Path,
    *,
    assignment_override: str | None = None,
    root: Path | None = None,
    assignment_default: str | None = None,
    handed_in_by: str | None = None,
) -> Submission | BrokenSubmission:
    """Read one file. `root` (the class folder) forbids symlinks that lead out of it.

    The student is who handed the file in: `handed_in_by` (an LMS upload's account) when the
    caller knows it, else the folder of `answers.*` or the file's stem. A `student = ...` line
    never decides it; one that disagrees is a warning in the report.

    `assignment_override` (`--assignment`) is used for files that name no assignment, and wins
    (with a warning) over a file that names another one. `assignment_default` is used only
    for files that name none (where a submission was handed in says which assignment it is for).
    """
    path = Path(path)
    source = display_source(path, root)
    warnings = Warnings()
    try:
        suffix = path.suffix.lower()
        code: dict[str, str] = {}
        if suffix in CODE_SUFFIXES:  # a folder of code only: no answers file
            if root is not None and not _inside(path, root):
                raise Unreadable("leads outside the class folder (a symlink?); not followed")
            doc: Any = {}
            code = code_files(path.parent, root, warnings)
            if not code:
                raise Unreadable("no readable code file (.py or .ipynb) in the folder")
        else:
            data = _read_bounded(path, root)
            if suffix not in SUFFIXES:
                _decoded(data)
                raise Unreadable(f"unsupported file type {suffix or '(none)'!r}; use .toml, .yaml, .yml or .json")
            doc = _document(_decoded(data), suffix, warnings)
            if path.name.lower() in ANSWER_NAMES:  # a student's folder: the code beside the answers
                code = code_files(path.parent, root, warnings)
    except Unreadable as exc:
        return BrokenSubmission(source=source, reason=str(exc))
    student = handed_in_by or _clean_str(default_student(path))
    return _from_document(
        doc, code, warnings, source=source, student=student, others=lambda: _others_warning(path),
        assignment_override=assignment_override, assignment_default=assignment_default,
    )


def read_answer_text(
    text: str, suffix: str, *, source: str, handed_in_by: str, assignment_override: str | None = None
) -> Submission | BrokenSubmission:
    """An answer file's text handed in some other way than as a file (an LMS's text box): read
    exactly as `read_submission` reads a file with that suffix (.toml, .yaml, .yml or .json),
    under the same bounds. The student is `handed_in_by`, from where it was handed in."""
    warnings = Warnings()
    try:
        suffix = suffix.lower()
        if suffix not in SUFFIXES:
            raise Unreadable(f"unsupported answer format {suffix!r}; use .toml, .yaml, .yml or .json")
        data = text.encode("utf-8", "replace")
        limit = MAX_YAML_BYTES if suffix in (".yaml", ".yml") else MAX_FILE_BYTES
        if len(data) > limit:
            raise Unreadable(f"the answers are too large ({_size(len(data))}; the limit is {_size(limit)})")
        doc = _document(_decoded(data), suffix, warnings)
    except Unreadable as exc:
        return BrokenSubmission(source=source, reason=str(exc), assignment=assignment_override)
    return _from_document(
        doc, {}, warnings, source=source, student=handed_in_by, others=list, assignment_override=assignment_override, assignment_default=None
    )


def _decoded(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not UTF-8 text (byte {exc.start})") from None


def _document(text: str, suffix: str, warnings: Warnings) -> Any:
    """The parsed document as bounded, plain JSON-like data."""
    return _plain(_parse(text, suffix, warnings), _Budget())


def _from_document(
    doc: Any,
    code: dict[str, str],
    warnings: Warnings,
    *,
    source: str,
    student: str,
    others: Callable[[], list[str]],
    assignment_override: str | None,
    assignment_default: str | None,
) -> Submission | BrokenSubmission:
    """The submission a parsed answer document makes, handed in by `student`."""
    assignment: str | None = None
    try:
        if not isinstance(doc, dict):
            raise Unreadable(f"expected a table of keys at the top level, got {_type_name(doc)}")

        named = _text_field(doc, "assignment")
        assignment = assignment_override or named or assignment_default
        if named and assignment_override and named != assignment_override:
            warnings.append(f"file names assignment {named!r}; graded as {assignment_override!r} (--assignment)")
        if assignment is None:
            raise Unreadable("no 'assignment' given (add assignment = \"<id>\" or pass --assignment)")
        for extra in sorted(set(doc) - set(TOP_LEVEL_KEYS)):
            warnings.repeated("unknown top-level keys", f"unknown top-level key {_show(extra)} ignored")
        if "answers" not in doc and not code:
            raise Unreadable("no [answers] table: put the answers under [answers] (TOML) or an 'answers' mapping")
        answers = doc.get("answers", {})
        if not isinstance(answers, dict):
            raise Unreadable(f"'answers' must be a table of part id = answer, got {_type_name(answers)}")
        typed = _text_field(doc, "student")
        if typed is not None and typed != student:
            warnings.append(
                f"{STUDENT_LINE_WARNING}{_show(typed)}, but it was handed in by {_show(student)}; graded as {_show(student)}"
            )
        warnings += others()
        when = _submitted_at(doc["submitted_at"], warnings) if doc.get("submitted_at") is not None else None
        return Submission(
            assignment=assignment,
            student=student,
            answers=_flatten(answers, warnings),
            submitted_at=when,
            source=source,
            warnings=warnings.closed(),
            handed_in_by=student,
            code=code,
        )
    except Unreadable as exc:
        return BrokenSubmission(source=source, reason=str(exc), assignment=assignment)


def _moment(when: datetime | None) -> tuple[int, float]:
    """`submitted_at` as a sortable number; none sorts before any (a naive time is UTC)."""
    if when is None:
        return (0, 0.0)
    try:
        return (1, (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp())
    except (OverflowError, ValueError, OSError):  # a year-1 time with a far offset
        return (1, -math.inf if when.year < 1970 else math.inf)


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


def one_per_student(
    items: list[Submission | BrokenSubmission], paths: list[Path]
) -> tuple[list[Submission | BrokenSubmission], list[Superseded]]:
    """One submission per student and assignment: the latest (`submitted_at`, then the file's
    modification time, then its path) is kept; the others are returned as `Superseded`, to be
    listed in run.json and the summary, never graded, dropped or merged silently."""
    latest: dict[tuple[str, str], int] = {}
    order = {i: (_moment(item.submitted_at), _mtime(paths[i]), item.source) for i, item in enumerate(items) if isinstance(item, Submission)}
    for i, item in enumerate(items):
        if isinstance(item, Submission):
            who = (item.assignment, item.identity)
            if who not in latest or order[i] > order[latest[who]]:
                latest[who] = i
    kept = {i for i in latest.values()}
    superseded = []
    for i, item in enumerate(items):
        if isinstance(item, Submission) and i not in kept:
            graded = items[latest[(item.assignment, item.identity)]]
            superseded.append(
                Superseded(source=item.source, assignment=item.assignment, student=item.identity, submitted_at=item.submitted_at, graded=graded.source)
            )
    earlier: dict[str, list[str]] = {}
    for old in superseded:
        earlier.setdefault(old.graded, []).append(old.source)
    survivors = []
    for i, item in enumerate(items):
        if isinstance(item, Submission) and i in kept and item.source in earlier:
            others = sorted(earlier[item.source])
            note = f"this is the latest of {len(others) + 1} submissions for this assignment and the one graded; not graded: {listed(others)}"
            item = item.model_copy(update={"warnings": [*item.warnings, note]})
        if not isinstance(item, Submission) or i in kept:
            survivors.append(item)
    return survivors, sorted(superseded, key=lambda s: (s.assignment, s.student, s.source))


def _type_name(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "nothing" if value is None else type(value).__name__
    )
