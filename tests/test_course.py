"""The course file: found from --course, GRADER_COURSE or the folders above; validated with one
line per mistake; late and feedback policies computed from it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from grader.course import (
    COURSE_ENV,
    CourseError,
    FeedbackLevel,
    LatePolicy,
    find_course_file,
    load_course,
    read_course_file,
)

ROOT = Path(__file__).resolve().parents[1]

GOOD = """
[course]
title = "Test course"
timezone = "America/Toronto"
problems = "sets"
roster = "class.csv"
store = "grades/store.sqlite"

[defaults]
late = { per_day = 0.2 }

[assignments.hw1]
due = 2026-03-12T23:59:00-05:00
feedback = { before_due = "verdicts", after_due = "mistakes" }

[assignments.hw1-variants]
problem_set = "hw1"
variants = true
due = 2026-03-14            # a day: due at its end, in the course's time zone

[assignments.hw2]
due = 2026-04-01T12:00:00   # no offset: the course's time zone
attempts = 3
"""


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "grader.toml").write_text(text)
    return folder / "grader.toml"


def test_the_demo_course_names_the_repository_folders() -> None:
    course = read_course_file(ROOT / "grader.toml")
    assert course.problems == ROOT / "problems" and course.reference == ROOT / "reference"
    assert course.submissions == ROOT / "submissions" and course.out == ROOT / "out"
    assert sorted(course.assignments) == ["ai6126-hw1", "assignment4", "csc321-hw4", "csc321-hw4-variants", "nyu-dl-hw2", "nyu-dl-hw2-code", "nyu-intro-ml-hw8"]
    # the five seed assignments keep variants off; the variant edition grades the same problem set
    assert [a for a, s in sorted(course.assignments.items()) if s.variants] == ["csc321-hw4-variants"]
    assert course.assignment("csc321-hw4-variants").problem_set == "csc321-hw4"
    assert course.check([p.stem.replace("_", "-") for p in (ROOT / "problems").glob("*.py")]) == []


def test_paths_are_relative_to_the_course_folder(tmp_path: Path) -> None:
    course = read_course_file(write(tmp_path / "c", GOOD))
    root = (tmp_path / "c").resolve()
    assert course.root == root
    assert course.problems == root / "sets"
    assert course.reference == root / "reference"  # a default, also under the course
    assert course.roster == root / "class.csv"
    assert course.store == str(root / "grades" / "store.sqlite")
    assert course.assignment("hw1").roster == root / "class.csv"  # the course's roster by default


def test_assignment_settings_take_the_defaults_and_their_own(tmp_path: Path) -> None:
    course = read_course_file(write(tmp_path, GOOD))
    hw1, variants, hw2 = course.assignment("hw1"), course.assignment("hw1-variants"), course.assignment("hw2")
    assert hw1.late.per_day == 0.2 and hw2.late.per_day == 0.2
    assert hw1.feedback.before_due is FeedbackLevel.verdicts and hw1.feedback.after_due is FeedbackLevel.mistakes
    assert hw2.feedback.before_due is FeedbackLevel.mistakes and hw2.feedback.after_due is FeedbackLevel.reference
    assert variants.problem_set == "hw1" and variants.variants and not hw1.variants
    assert hw2.attempts == 3 and hw1.attempts is None
    # unlisted assignments get the defaults
    other = course.assignment("hw9")
    assert other.problem_set == "hw9" and other.due is None and other.late.per_day == 0.2


def test_due_dates_without_an_offset_are_in_the_course_time_zone(tmp_path: Path) -> None:
    course = read_course_file(write(tmp_path, GOOD))
    toronto_end_of_day = datetime(2026, 3, 15, 3, 59, 59, tzinfo=timezone.utc)  # 23:59:59 EDT (UTC-4)
    assert course.assignment("hw1-variants").due == toronto_end_of_day
    assert course.assignment("hw2").due == datetime(2026, 4, 1, 16, 0, tzinfo=timezone.utc)
    assert course.assignment("hw1").due == datetime(2026, 3, 13, 4, 59, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[course]\nproblemz = 'x'\n", "course.problemz: unknown setting"),
        ("[assignments.hw1]\ndue = 'next friday'\n", "assignments.hw1.due: not a date ('next friday')"),
        ("[assignments.hw1]\nfeedback = { before_due = 'all' }\n", "assignments.hw1.feedback.before_due: 'all' is not a feedback policy; choose one of score, verdicts, mistakes, reference"),
        ("[defaults]\nlate = { per_day = 2 }\n", "defaults.late.per_day: Input should be less than or equal to 1"),
        ("[course]\ntimezone = 'Mars/Olympus'\n", "course.timezone: unknown time zone 'Mars/Olympus'"),
        ("[assignments.hw1]\nattempts = 0\n", "assignments.hw1.attempts: Input should be greater than or equal to 1"),
        ("[course\n", "invalid TOML"),
    ],
)
def test_each_mistake_is_one_clear_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(CourseError) as caught:
        read_course_file(write(tmp_path, text))
    assert len(caught.value.problems) == 1, caught.value.problems
    assert caught.value.problems[0].startswith(expected), caught.value.problems[0]
    assert str(tmp_path / "grader.toml") in str(caught.value)


def test_several_mistakes_are_all_reported(tmp_path: Path) -> None:
    with pytest.raises(CourseError) as caught:
        read_course_file(write(tmp_path, "[course]\ntitel = 'x'\n[assignments.a]\ndue = 'soon'\nlate = { per_dya = 1 }\n"))
    assert [p.split(":")[0] for p in caught.value.problems] == ["course.titel", "assignments.a.due", "assignments.a.late.per_dya"]


def test_unknown_assignments_and_missing_rosters_are_found_against_the_problem_sets(tmp_path: Path) -> None:
    course = read_course_file(write(tmp_path, GOOD))
    problems = course.check(["hw1"])
    assert any(p.startswith("assignments.hw2: unknown assignment") and "known: hw1" in p for p in problems)
    assert not any(p.startswith("assignments.hw1-variants:") for p in problems)  # its problem set hw1 exists
    assert any(p.startswith("course.roster: no such file") for p in problems)
    (tmp_path / "class.csv").write_text("student\nalice\n")
    assert course.check(["hw1", "hw2"]) == []


def test_the_course_is_found_from_a_subfolder_the_flag_and_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = write(tmp_path / "course", GOOD)
    deep = tmp_path / "course" / "submissions" / "alice"
    deep.mkdir(parents=True)
    monkeypatch.delenv(COURSE_ENV, raising=False)
    assert find_course_file(cwd=deep) == file.resolve()
    assert find_course_file(cwd=tmp_path) is None
    assert find_course_file(tmp_path / "course", cwd=tmp_path) == file.resolve()
    assert find_course_file(file, cwd=tmp_path) == file.resolve()
    monkeypatch.setenv(COURSE_ENV, str(tmp_path / "course"))
    assert find_course_file(cwd=tmp_path) == file.resolve()
    assert load_course(cwd=tmp_path).problems == (tmp_path / "course" / "sets").resolve()
    monkeypatch.setenv(COURSE_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(CourseError, match="GRADER_COURSE .*nowhere: no grader.toml there"):
        find_course_file(cwd=tmp_path)
    with pytest.raises(CourseError, match="--course .*elsewhere: no grader.toml there"):
        find_course_file(tmp_path / "elsewhere")


def test_without_a_course_file_the_folders_are_under_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(COURSE_ENV, raising=False)
    course = load_course(cwd=tmp_path)
    assert course.file is None and course.problems == tmp_path.resolve() / "problems"
    assert course.out == tmp_path.resolve() / "out" and course.store is None


DUE = datetime(2026, 3, 12, 23, 59, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("policy", "late_by", "factor", "refused", "text"),
    [
        (LatePolicy(per_day=0.1), timedelta(0), 1.0, False, "on time"),
        (LatePolicy(per_day=0.1), -timedelta(hours=3), 1.0, False, "on time"),
        (LatePolicy(per_day=0.1), timedelta(hours=26), 0.8, False, "submitted 26 h late: × 0.8"),  # 2 started days
        (LatePolicy(per_day=0.1), timedelta(hours=24), 0.9, False, "submitted 24 h late: × 0.9"),
        (LatePolicy(per_day=0.1, grace_minutes=15), timedelta(minutes=10), 1.0, False, "on time"),
        (LatePolicy(per_day=0.1, grace_minutes=15), timedelta(minutes=20), 0.9, False, "submitted 20 min late: × 0.9"),
        (LatePolicy(per_day=0.3, minimum=0.5), timedelta(days=4), 0.5, False, "submitted 4 days late: × 0.5"),
        (LatePolicy(per_day=0.1, cutoff_days=2), timedelta(days=3), 0.0, True, "submitted 3 days late, after the cut-off: not credited"),
        (LatePolicy(), timedelta(days=30), 1.0, False, "submitted 30 days late: × 1"),
    ],
)
def test_late_policy(policy: LatePolicy, late_by: timedelta, factor: float, refused: bool, text: str) -> None:
    lateness = policy.apply(DUE + late_by, DUE)
    assert lateness.factor == pytest.approx(factor) and lateness.refused is refused
    assert lateness.describe() == text


def test_no_due_date_or_no_time_means_on_time() -> None:
    assert LatePolicy(per_day=1).apply(None, DUE).factor == 1.0
    assert LatePolicy(per_day=1).apply(DUE + timedelta(days=9), None).factor == 1.0
    # a submission time without an offset is taken as UTC rather than refused
    assert LatePolicy(per_day=0.5).apply(datetime(2026, 3, 13, 23, 0), DUE).factor == 0.5


def test_feedback_level_switches_at_the_due_date(tmp_path: Path) -> None:
    hw1 = read_course_file(write(tmp_path, GOOD)).assignment("hw1")
    assert hw1.feedback_level(hw1.due - timedelta(seconds=1)) is FeedbackLevel.verdicts
    assert hw1.feedback_level(hw1.due) is FeedbackLevel.mistakes
    assert FeedbackLevel.reference.allows(FeedbackLevel.mistakes) and not FeedbackLevel.score.allows(FeedbackLevel.verdicts)
