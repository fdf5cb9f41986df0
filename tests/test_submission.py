"""The read step: which files are submissions, and how each file becomes a Submission or is
reported as broken (never an exception, whatever the file holds)."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import write

from grader import submission as sub_mod
from grader.models import BrokenSubmission, Submission
from grader.submission import discover, read_submission


def rel(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


# -- discovery -------------------------------------------------------------------------------


def test_discover_finds_every_layout_at_any_depth_and_sorts(tmp_path: Path) -> None:
    write(tmp_path / "hw4/bob/answers.toml", "")
    write(tmp_path / "hw4/alice/answers.json", "{}")
    write(tmp_path / "deep/a/b/c/carol/answers.yml", "")
    write(tmp_path / "dave.toml", "")
    write(tmp_path / "hw4/loose/erin.yaml", "")
    write(tmp_path / "hw4/notes.txt", "not a submission")
    write(tmp_path / "hw4/script.py", "")
    assert rel(discover(tmp_path), tmp_path) == [
        "dave.toml",
        "deep/a/b/c/carol/answers.yml",
        "hw4/alice/answers.json",
        "hw4/bob/answers.toml",
        "hw4/loose/erin.yaml",
    ]


def test_a_folder_with_answers_file_is_one_student(tmp_path: Path) -> None:
    write(tmp_path / "alice/answers.toml", "")
    write(tmp_path / "alice/scratch.json", "{}")  # beside answers.*: not a submission
    write(tmp_path / "alice/old/answers.toml", "")  # below it: not a submission either
    write(tmp_path / "bob/draft.toml", "")  # no answers.* here: a direct file
    assert rel(discover(tmp_path), tmp_path) == ["alice/answers.toml", "bob/draft.toml"]


def test_hidden_files_and_folders_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / ".git/config.json", "{}")
    write(tmp_path / ".alice/answers.toml", "")
    write(tmp_path / "bob/.answers.toml", "")
    write(tmp_path / "._carol.toml", "")  # macOS resource fork
    write(tmp_path / "dave/answers.toml", "")
    assert rel(discover(tmp_path), tmp_path) == ["dave/answers.toml"]


def test_excluded_folders_are_not_walked(tmp_path: Path) -> None:
    write(tmp_path / "alice.toml", "")
    write(tmp_path / "out/tiny-hw/alice.json", "{}")
    assert rel(discover(tmp_path, exclude=[tmp_path / "out"]), tmp_path) == ["alice.toml"]


def test_symlinks_out_of_the_class_folder_are_reported_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside / "secret.toml", 'assignment = "tiny-hw"\n[answers]\nq1 = "42"\n')
    write(outside / "victim/answers.toml", 'assignment = "tiny-hw"\n[answers]\n')
    root = tmp_path / "class"
    write(root / "alice/answers.toml", 'assignment = "tiny-hw"\n[answers]\nq1 = 42\n')
    os.symlink(outside / "secret.toml", root / "mallory.toml")
    os.symlink(outside / "victim", root / "eve")
    os.symlink(root / "alice", root / "alias")  # inside the class folder: not walked twice

    found = discover(root)
    assert rel(found, root) == ["alice/answers.toml", "eve", "mallory.toml"]
    results = {p.name: read_submission(p, root=root) for p in found}
    assert isinstance(results["answers.toml"], Submission)
    for name in ("eve", "mallory.toml"):
        broken = results[name]
        assert isinstance(broken, BrokenSubmission)
        assert "outside the class folder" in broken.reason
        assert broken.source == name


def test_symlink_loops_do_not_stop_discovery(tmp_path: Path) -> None:
    write(tmp_path / "alice/answers.toml", 'assignment = "hw"\n[answers]\n')
    os.symlink(tmp_path / "loop1", tmp_path / "loop2")
    os.symlink(tmp_path / "loop2", tmp_path / "loop1")
    os.symlink(tmp_path / "loop1", tmp_path / "bob.toml")
    found = discover(tmp_path, exclude=[tmp_path / "loop1"])
    assert rel(found, tmp_path) == ["alice/answers.toml", "bob.toml"]
    broken = read_submission(tmp_path / "bob.toml", root=tmp_path)
    assert isinstance(broken, BrokenSubmission) and "symlink loop" in broken.reason


def test_a_single_file_can_be_the_root(tmp_path: Path) -> None:
    f = write(tmp_path / "alice.toml", "")
    assert discover(f) == [f]


# -- reading ---------------------------------------------------------------------------------

TOML = """
assignment = "csc321-hw4"
student = "s1234567"
submitted_at = 2020-03-12T21:30:00-04:00

[answers]
"q1.conv1.params" = "34,944"
"q2a" = \"\"\"
 2  1
-3 -2
\"\"\"
"q2b" = [[2, 1], [1, 1]]
"q3.flag" = true
"q3.n" = 7
"""


def test_toml_submission_is_read_with_native_values(tmp_path: Path) -> None:
    path = write(tmp_path / "s1234567/answers.toml", TOML)
    sub = read_submission(path, root=tmp_path)
    assert isinstance(sub, Submission)
    assert sub.assignment == "csc321-hw4"
    assert sub.student == "s1234567"
    assert sub.submitted_at == datetime(2020, 3, 12, 21, 30, tzinfo=timezone(timedelta(hours=-4)))
    assert sub.answers == {
        "q1.conv1.params": "34,944",
        "q2a": " 2  1\n-3 -2\n",
        "q2b": [[2, 1], [1, 1]],
        "q3.flag": True,
        "q3.n": 7,
    }
    assert sub.source == "s1234567/answers.toml"
    assert sub.warnings == []


def test_yaml_and_json_give_the_same_submission(tmp_path: Path) -> None:
    yaml_file = write(
        tmp_path / "a/answers.yaml",
        """
        assignment: tiny-hw
        submitted_at: "2020-03-12T21:30:00-04:00"
        answers:
          q1: 42
          q2: [1, 2]
          3: "numeric key"
        """,
    )
    json_file = write(
        tmp_path / "a.json",
        json.dumps(
            {"assignment": "tiny-hw", "submitted_at": "2020-03-12T21:30:00-04:00", "answers": {"q1": 42, "q2": [1, 2], "3": "numeric key"}}
        ),
    )
    y, j = read_submission(yaml_file), read_submission(json_file)
    assert isinstance(y, Submission) and isinstance(j, Submission)
    assert y.answers == j.answers == {"q1": 42, "q2": [1, 2], "3": "numeric key"}
    assert y.submitted_at == j.submitted_at == datetime(2020, 3, 12, 21, 30, tzinfo=timezone(timedelta(hours=-4)))
    assert y.student == "a"  # answers.* -> the folder's name
    assert j.student == "a"  # a direct file -> its stem


def test_dotted_toml_keys_and_nested_tables_become_part_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.toml",
        """
        assignment = "hw"
        [answers]
        q1.conv1.params = 1
        "q1.conv1.connections" = 2
        [answers.q3a]
        loss = "log(2)"
        """,
    )
    sub = read_submission(path)
    assert isinstance(sub, Submission)
    assert sub.answers == {"q1.conv1.params": 1, "q1.conv1.connections": 2, "q3a.loss": "log(2)"}


def test_assignment_override(tmp_path: Path) -> None:
    missing = write(tmp_path / "a.toml", "[answers]\nq1 = 1\n")
    other = write(tmp_path / "b.toml", 'assignment = "hw04"\n[answers]\nq1 = 1\n')
    assert isinstance(read_submission(missing), BrokenSubmission)
    assert "no 'assignment'" in read_submission(missing).reason  # type: ignore[union-attr]
    a = read_submission(missing, assignment_override="hw4")
    b = read_submission(other, assignment_override="hw4")
    assert isinstance(a, Submission) and isinstance(b, Submission)
    assert a.assignment == b.assignment == "hw4"
    assert a.warnings == []
    assert any("'hw04'" in w and "'hw4'" in w for w in b.warnings)


def test_bad_toml_reports_the_parser_message_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "alice.toml", 'assignment = "hw"\n[answers]\nq1 = = 2\n')
    broken = read_submission(path)
    assert isinstance(broken, BrokenSubmission)
    assert broken.reason.startswith("invalid TOML")
    assert "line 3" in broken.reason


def test_bad_json_and_yaml_report_where(tmp_path: Path) -> None:
    j = read_submission(write(tmp_path / "a.json", '{"assignment": "hw",\n "answers": {"q1": }}'))
    y = read_submission(write(tmp_path / "b.yaml", "assignment: hw\nanswers: [unclosed\n"))
    assert isinstance(j, BrokenSubmission) and "line 2" in j.reason
    assert isinstance(y, BrokenSubmission) and y.reason.startswith("invalid YAML") and "line" in y.reason


@pytest.mark.parametrize(
    "text, reason",
    [
        ('assignment = "hw"\n', "no [answers] table"),
        ('assignment = "hw"\nanswers = [1, 2]\n', "'answers' must be a table"),
        ('assignment = ["hw"]\n[answers]\n', "'assignment' must be a string"),
        ('assignment = "hw"\nstudent = "' + "x" * 201 + '"\n[answers]\n', "'student' is longer than 200 characters"),
    ],
)
def test_structural_problems_are_clear(tmp_path: Path, text: str, reason: str) -> None:
    broken = read_submission(write(tmp_path / "a.toml", text))
    assert isinstance(broken, BrokenSubmission)
    assert reason in broken.reason


def test_missing_answers_keeps_the_assignment_for_the_report(tmp_path: Path) -> None:
    broken = read_submission(write(tmp_path / "a.toml", 'assignment = "tiny-hw"\n'))
    assert isinstance(broken, BrokenSubmission) and broken.assignment == "tiny-hw"


def test_top_level_that_is_not_a_table(tmp_path: Path) -> None:
    broken = read_submission(write(tmp_path / "a.json", "[1, 2, 3]"))
    assert isinstance(broken, BrokenSubmission) and "got an array" in broken.reason


def test_unknown_top_level_keys_and_duplicate_json_keys_warn(tmp_path: Path) -> None:
    path = write(tmp_path / "a.json", '{"assignment": "hw", "name": "x", "answers": {"q1": 1, "q1": 2}}')
    sub = read_submission(path)
    assert isinstance(sub, Submission)
    assert sub.answers == {"q1": 2}
    assert any("duplicate key 'q1'" in w for w in sub.warnings)
    assert any("unknown top-level key 'name'" in w for w in sub.warnings)


def test_student_and_dates(tmp_path: Path) -> None:
    future = (datetime.now(timezone.utc) + timedelta(days=400)).isoformat()
    path = write(tmp_path / "f.json", json.dumps({"assignment": "hw", "student": 1234567, "submitted_at": future, "answers": {}}))
    sub = read_submission(path)
    assert isinstance(sub, Submission)
    assert sub.student == "f"  # the file's name: a student line never decides who it is
    assert "the file says student = '1234567', but it was handed in by 'f'; graded as 'f'" in sub.warnings
    assert any("in the future" in w for w in sub.warnings)

    local = read_submission(write(tmp_path / "g.toml", 'assignment = "hw"\nsubmitted_at = 2020-03-12\n[answers]\n'))
    assert isinstance(local, Submission) and local.submitted_at == datetime(2020, 3, 12)
    junk = read_submission(write(tmp_path / "h.json", '{"assignment": "hw", "submitted_at": "yesterday", "answers": {}}'))
    assert isinstance(junk, Submission) and junk.submitted_at is None
    assert any("not a date" in w for w in junk.warnings)


# -- hostile files ---------------------------------------------------------------------------


def test_huge_file_is_refused_without_reading_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.json"
    with path.open("wb") as fh:  # sparse: 100 MB on paper, nothing on disk
        fh.truncate(100 * 1024 * 1024)
    opened: list[Path] = []
    real_open = Path.open
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: opened.append(self) or real_open(self, *a, **k))
    broken = read_submission(path)
    assert isinstance(broken, BrokenSubmission)
    assert "too large" in broken.reason and "100.0 MB" in broken.reason
    assert opened == []


def test_a_yaml_file_has_a_smaller_cap(tmp_path: Path) -> None:
    path = write(tmp_path / "a.yaml", "assignment: hw\nanswers: {q1: '" + "x" * (sub_mod.MAX_YAML_BYTES + 10) + "'}\n")
    broken = read_submission(path)
    assert isinstance(broken, BrokenSubmission) and "too large" in broken.reason


DEEP = {
    "deep.json": '{"assignment": "hw", "answers": {"q1": ' + "[" * 100_000 + "]" * 100_000 + "}}",
    "deep.toml": 'assignment = "hw"\n[answers]\nq1 = ' + "[" * 100_000 + "]" * 100_000 + "\n",
    "inline-tables.toml": 'assignment = "hw"\n[answers]\nq1 = ' + "{a = " * 100_000 + "1" + "}" * 100_000 + "\n",
    # PyYAML's scanner is quadratic in flow depth: this must be stopped early, not parsed.
    "deep.yaml": "assignment: hw\nanswers:\n  q1: " + "[" * 200_000 + "]" * 200_000 + "\n",
    "block.yaml": "assignment: hw\nanswers:\n  q1:\n" + "- " * 100_000 + "x\n",
    "medium.json": '{"assignment": "hw", "answers": {"q1": ' + "[" * 200 + "]" * 200 + "}}",
}


@pytest.mark.parametrize("name", sorted(DEEP))
def test_deep_nesting_is_reported_not_a_crash(tmp_path: Path, name: str) -> None:
    started = time.perf_counter()
    broken = read_submission(write(tmp_path / name, DEEP[name]))
    assert isinstance(broken, BrokenSubmission)
    assert "nested too deeply" in broken.reason
    assert time.perf_counter() - started < 5


def test_yaml_alias_bomb_is_capped(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):  # 10**9 leaves if expanded
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    text = "assignment: hw\nanswers:\n  " + "\n  ".join(lines) + "\n"
    broken = read_submission(write(tmp_path / "bomb.yaml", text))
    assert isinstance(broken, BrokenSubmission)
    assert "too many values" in broken.reason


def test_recursive_yaml_is_refused(tmp_path: Path) -> None:
    broken = read_submission(write(tmp_path / "loop.yaml", "assignment: hw\nanswers:\n  q1: &a [*a]\n"))
    assert isinstance(broken, BrokenSubmission) and "nested too deeply" in broken.reason


def test_yaml_token_budget(tmp_path: Path) -> None:
    text = "assignment: hw\nanswers:\n  q1: [" + "1," * (sub_mod.MAX_YAML_TOKENS) + "]\n"
    broken = read_submission(write(tmp_path / "wide.yaml", text))
    assert isinstance(broken, BrokenSubmission) and "too many elements" in broken.reason


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("latin1.toml", 'assignment = "hw"\n[answers]\nq1 = "caf\xe9"\n'.encode("latin-1"), "not UTF-8"),
        ("bigint.json", b'{"assignment": "hw", "answers": {"q1": ' + b"9" * 5000 + b"}}", "invalid JSON"),
        ("multi.yaml", b"assignment: hw\n---\nanswers: {}\n", "invalid YAML"),
    ],
)
def test_other_unreadable_content(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    broken = read_submission(path)
    assert isinstance(broken, BrokenSubmission)
    assert reason in broken.reason


def test_unsafe_yaml_tags_are_refused(tmp_path: Path) -> None:
    text = "assignment: hw\nanswers:\n  q1: !!python/object/apply:os.system ['echo pwned']\n"
    broken = read_submission(write(tmp_path / "evil.yaml", text))
    assert isinstance(broken, BrokenSubmission) and "invalid YAML" in broken.reason


def test_a_fifo_is_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    broken = read_submission(fifo)  # opening it would block forever
    assert isinstance(broken, BrokenSubmission) and "not a regular file" in broken.reason


def test_lone_surrogates_cannot_break_report_writing(tmp_path: Path) -> None:
    sub = read_submission(write(tmp_path / "s.json", '{"assignment": "hw", "student": "\\ud800x", "answers": {"q\\udfff": "\\ud800"}}'))
    assert isinstance(sub, Submission)
    sub.model_dump_json().encode("utf-8")  # would raise on a surrogate
    assert sub.student == "s" and "'?x'" in sub.warnings[0]
    assert sub.answers == {"q?": "?"}
