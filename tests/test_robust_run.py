"""One bad value costs that value, never the run or the store (issue 10, section 2).

Each test drives the real command line: a student id too long for a file name, a hand-in time
past datetime's range, an OUT that is the class folder, a full or read-only disk, a bad
`--db`, two runs into one OUT, and `grader run` killed mid-run by SIGKILL and SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import build_keys_without_torch, write, write_problems
from grader.cli import app
from grader.models import RunSummary, SubmissionReport
from grader.run.writer import MAX_NAME_BYTES, safe_name
from grader.store import Store

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]

# A problem set whose every check computes for ~40 ms: a class of it is still being graded
# a few seconds after the first reports are written, so a kill lands mid-run.
SLOW_PROBLEMS = '''
import time
from grader.kinds.base import Kind, Match
from grader.problemset import ProblemSet


class Slow(Kind):
    name = "slow"

    def parse(self, raw):
        return str(raw).strip()

    def compare(self, answer, target):
        end = time.process_time() + 0.04
        while time.process_time() < end:
            pass
        return Match(1.0 if answer == target else 0.0)


slow = ProblemSet("slow-hw", title="Slow")


@slow.part("a", 1, Slow())
def a():
    return "yes"


@slow.part("b", 1, Slow())
def b():
    return "no"
'''


def run_args(course: dict[str, Path], klass: Path, out: Path, *extra: str) -> list[str]:
    return ["run", str(klass), "--out", str(out), "--problems", str(course["problems"]), "--reference", str(course["reference"]), *extra]


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def grader_process(args: list[str], **kw) -> subprocess.Popen:
    """`grader ARGS` as a user starts it, in its own process."""
    return subprocess.Popen([sys.executable, "-m", "grader", *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def reports_in(out: Path, assignment: str) -> dict[str, SubmissionReport]:
    """The per-student JSON reports in OUT (every one must parse: none is ever truncated)."""
    folder = out / assignment
    found = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if path.name not in ("variants.json",):
            report = SubmissionReport.model_validate_json(path.read_text(encoding="utf-8"))
            found[report.student] = report
    return found


def leftovers(out: Path) -> list[str]:
    """Temporary files a write left behind (an atomic write leaves none)."""
    return sorted(p.name for p in out.rglob(".tmp-*"))


# -- a student id too long for a file name ------------------------------------------------------
def test_ids_too_long_for_a_file_name_get_bounded_unique_stable_names(course: dict[str, Path], tmp_path: Path) -> None:
    # 63 four-byte characters: 252 bytes, a legal folder name; "<id>.json" is 257 bytes, which
    # no file system takes (the run used to stop there with ENAMETOOLONG).
    long_a, long_b = "\U00020000" * 63, "\U00020000" * 62 + "x"
    for student in (long_a, long_b, "ann"):
        write(course["class"] / student / "answers.toml", 'assignment = "tiny-hw"\n[answers]\nq1 = "42"\n')
    out = tmp_path / "out"
    result = invoke(*run_args(course, course["class"], out, "--budget", "0", "-q"))
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (out / "tiny-hw").glob("*.json"))
    assert len(names) == 3 and all(len(n.encode()) <= MAX_NAME_BYTES + len(".json") for n in names)
    assert set(reports_in(out, "tiny-hw")) == {long_a, long_b, "ann"}  # distinct names, every report there
    summary = RunSummary.model_validate_json((out / "run.json").read_text())
    first = {e.student: e.file for e in summary.reports}
    invoke(*run_args(course, course["class"], out, "--budget", "0", "-q"))
    again = RunSummary.model_validate_json((out / "run.json").read_text())
    assert {e.student: e.file for e in again.reports} == first  # stable from run to run


def test_safe_names_are_bounded_in_bytes_and_keep_long_ids_apart() -> None:
    for student in ("\U00020000" * 200, "é" * 200, "漢" * 200, "a" * 500):
        assert len(safe_name(student).encode()) <= MAX_NAME_BYTES
    assert safe_name("漢" * 100 + "a") != safe_name("漢" * 100 + "b")  # same start, different ids
    assert safe_name("漢" * 100) == safe_name("漢" * 100)
    assert safe_name("ann") == "ann"  # short ids are unchanged


# -- a hand-in time past datetime's range ---------------------------------------------------------
EXTREME_TIMES = {
    "max": "9999-12-31T23:59:00-23:59",  # past year 9999 once in UTC
    "min": "0001-01-01T00:00:00+23:59",  # before year 1 once in UTC
    "far": "8999-06-01T00:00:00Z",  # storable, but no hand-in time
}


def test_an_extreme_submitted_at_costs_that_value_not_the_store(course: dict[str, Path], tmp_path: Path) -> None:
    for student, when in EXTREME_TIMES.items():
        write(course["class"] / f"{student}.toml", f'assignment = "tiny-hw"\nsubmitted_at = {when}\n[answers]\nq1 = "42"\n')
    write(course["class"] / "ok.toml", 'assignment = "tiny-hw"\nsubmitted_at = 2026-11-30T20:11:45-05:00\n[answers]\nq1 = "42"\n')
    out = tmp_path / "out"
    result = invoke(*run_args(course, course["class"], out, "--budget", "0", "-q"))
    assert result.exit_code == 0, result.output  # the run used to end in an OverflowError, the store empty
    on_disk = reports_in(out, "tiny-hw")
    for student in EXTREME_TIMES:
        assert on_disk[student].submitted_at is None
        assert any("submitted_at" in w and "ignored" in w for w in on_disk[student].warnings)
    assert on_disk["ok"].submitted_at is not None and on_disk["ok"].submitted_at.utcoffset().total_seconds() == -5 * 3600
    with Store.open(out) as store:
        assert {r.student for r in store.latest_reports("tiny-hw")} == {"max", "min", "far", "ok"}
    # and a regrade of the same class (it used to fail the same way)
    regrade = invoke("regrade", str(course["class"]), "--out", str(out), "--problems", str(course["problems"]), "--reference", str(course["reference"]), "--budget", "0")
    assert regrade.exit_code == 0, regrade.output
    with Store.open(out) as store:
        assert [r.kind for r in store.runs()] == ["run", "regrade"]


def test_the_store_records_a_batch_with_an_unstorable_time(tmp_path: Path) -> None:
    # Readers refuse such times; a report built elsewhere (a service, an LMS) still never
    # costs the batch: that value is stored as unknown.
    from datetime import datetime, timedelta, timezone

    extreme = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(-timedelta(hours=23, minutes=59)))
    reports = [SubmissionReport(assignment="a", student=s, score=1, max_score=1, parts=[], submitted_at=when)
               for s, when in (("x", extreme), ("y", datetime(2026, 1, 1, tzinfo=timezone.utc)))]
    with Store.open(tmp_path) as store:
        run = store.begin_run("test")
        store.record_reports(run, reports)
        got = {r.student: r.submitted_at for r in store.latest_reports("a")}
    assert got == {"x": None, "y": datetime(2026, 1, 1, tzinfo=timezone.utc)}


# -- OUT and the class folder ------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["the class folder", "inside it", "class inside OUT/<assignment>"])
def test_an_out_that_overlaps_the_class_folder_is_refused_before_anything_is_written(course: dict[str, Path], tmp_path: Path, where: str) -> None:
    # Reports are written as OUT/<assignment>/<student>.json and stale ones deleted: with the
    # class folder as OUT, a submission tiny-hw/ann.json was overwritten by ann's report.
    klass = course["class"] if where != "class inside OUT/<assignment>" else tmp_path / "out" / "tiny-hw"
    write(klass / "tiny-hw" / "ann.json", '{"assignment": "tiny-hw", "answers": {"q1": "41"}}')
    write(klass / "bob.toml", 'assignment = "tiny-hw"\n[answers]\nq1 = "42"\n')
    out = {"the class folder": klass, "inside it": klass / "reports", "class inside OUT/<assignment>": tmp_path / "out"}[where]
    before = {p: p.read_bytes() for p in klass.rglob("*") if p.is_file()}
    result = invoke(*run_args(course, klass, out, "--budget", "0"))
    assert result.exit_code == 2 and "--out" in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert {p: p.read_bytes() for p in klass.rglob("*") if p.is_file()} == before  # nothing written, nothing deleted
    regrade = invoke("regrade", str(klass), "--out", str(out), "--problems", str(course["problems"]), "--reference", str(course["reference"]), "--budget", "0")
    assert regrade.exit_code == 2 and {p: p.read_bytes() for p in klass.rglob("*") if p.is_file()} == before


# -- a full or read-only disk, a bad --db ---------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 160 kB file system (tmpfs), for a disk that fills up or turns read-only."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs needs root (CAP_SYS_ADMIN)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def _many(klass: Path, n: int) -> None:
    for i in range(n):
        write(klass / f"s{i:03d}.toml", f'assignment = "tiny-hw"\n[answers]\nq1 = "{40 + i % 3}"\nq2 = "1 2"\nq3 = "{"why " * 100}"\n')


def test_a_full_disk_is_one_line_and_exit_2_and_leaves_no_truncated_report(course: dict[str, Path], tmp_path: Path, small_disk: Path) -> None:
    _many(course["class"], 120)  # ~0.5 MB of reports for a 160 kB disk
    out = small_disk / "out"
    result = invoke(*run_args(course, course["class"], out, "--budget", "0", "--db", str(tmp_path / "grades.sqlite"), "-q"))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: could not write") and "No space left on device" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    written = reports_in(out, "tiny-hw")  # every file there parses
    assert 0 < len(written) < 120 and leftovers(out) == []
    assert all(md.read_text().endswith("\n") for md in (out / "tiny-hw").glob("*.md"))  # whole, or not there


def test_a_read_only_out_is_one_line_and_exit_2_and_keeps_the_previous_reports(course: dict[str, Path], tmp_path: Path, small_disk: Path) -> None:
    _many(course["class"], 5)
    out = small_disk / "out"
    db = str(tmp_path / "grades.sqlite")
    assert invoke(*run_args(course, course["class"], out, "--budget", "0", "--db", db, "-q")).exit_code == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    write(course["class"] / "s000.toml", 'assignment = "tiny-hw"\n[answers]\nq1 = "42"\n')  # a change to write
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    result = invoke(*run_args(course, course["class"], out, "--budget", "0", "--db", db, "-q"))
    assert result.exit_code == 2 and "Read-only file system" in result.stderr and result.stderr.count("\n") == 1, result.output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file permissions (the tmpfs test above covers root)")
def test_an_out_without_write_permission_is_one_line_and_exit_2(course: dict[str, Path], tmp_path: Path) -> None:
    _many(course["class"], 3)
    out = tmp_path / "out"
    assert invoke(*run_args(course, course["class"], out, "--budget", "0", "-q")).exit_code == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    for folder in (out, out / "tiny-hw"):
        folder.chmod(0o555)
    try:
        result = invoke(*run_args(course, course["class"], out, "--budget", "0", "-q", "--db", str(tmp_path / "grades.sqlite")))
    finally:
        for folder in (out, out / "tiny-hw"):
            folder.chmod(0o755)
    assert result.exit_code == 2 and "Permission denied" in result.stderr and result.stderr.count("\n") == 1, result.output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize(
    "db, said",
    [
        ("nonsense://x/y", "cannot open the grade store nonsense://x/y"),
        ("postgresql://nobody:secret@127.0.0.1:1/none", "cannot open the grade store postgresql://nobody:***@127.0.0.1:1/none"),
        ("/proc/no/such/dir/grades.sqlite", "cannot open the grade store"),
    ],
)
def test_a_bad_db_is_one_line_and_exit_2_before_anything_is_graded(course: dict[str, Path], tmp_path: Path, db: str, said: str) -> None:
    write(course["class"] / "ann.toml", 'assignment = "tiny-hw"\n[answers]\nq1 = "42"\n')
    out = tmp_path / "out"
    result = invoke(*run_args(course, course["class"], out, "--budget", "0", "--db", db))
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {said}") and result.stderr.count("\n") == 1, result.stderr
    assert "secret" not in result.stderr and reports_in(out, "tiny-hw") == {}


# -- two runs into one OUT; killing a run ----------------------------------------------------------------
@pytest.fixture
def slow_class(tmp_path: Path) -> dict[str, Path]:
    """A course with the slow problem set and a class of 80 submissions of it (~6 s of checks)."""
    problems = write_problems(tmp_path / "problems")
    (problems / "slow_hw.py").write_text(textwrap.dedent(SLOW_PROBLEMS))
    build_keys_without_torch(problems, tmp_path / "reference")
    for i in range(80):
        # answers differ from student to student: no verdict is recalled from the cache
        write(tmp_path / "class" / f"s{i:03d}.toml", f'assignment = "slow-hw"\n[answers]\na = "yes {i}"\nb = "no {i}"\n')
    return {"problems": problems, "reference": tmp_path / "reference", "class": tmp_path / "class", "out": tmp_path / "out"}


def start_run(course: dict[str, Path], *extra: str) -> subprocess.Popen:
    return grader_process(run_args(course, course["class"], course["out"], "--workers", "2", "-q", *extra))


def wait_for_reports(out: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while len(list((out / "slow-hw").glob("*.json"))) < n:
        assert proc.poll() is None, f"the run ended before {n} reports: {proc.communicate()}"
        assert time.monotonic() < end, "no reports in time"
        time.sleep(0.05)


def descendants(pid: int) -> set[int]:
    """Live processes below `pid` (from /proc: the workers a run started)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    def running(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    return {p for p in pids if running(p)}


def wait_gone(pids: set[int], timeout: float = 10) -> set[int]:
    """The processes of `pids` still alive after `timeout`; killed then, so that a failing
    test leaves no orphan behind."""
    end = time.monotonic() + timeout
    while alive(pids) and time.monotonic() < end:
        time.sleep(0.05)
    survivors = alive(pids)
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    return survivors


def stored(out: Path) -> dict[str, tuple[float, int]]:
    """Per student in the store: (score, parts recorded); the database must be whole."""
    db = sqlite3.connect(out / "grades.sqlite")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        parts = dict(db.execute("SELECT student, COUNT(*) FROM results GROUP BY student").fetchall())
        return {s: (score, parts.get(s, 0)) for s, score in db.execute("SELECT student, score FROM submissions")}
    finally:
        db.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_second_run_into_the_same_out_is_refused_and_the_lock_dies_with_its_holder(slow_class: dict[str, Path]) -> None:
    first = start_run(slow_class)
    try:
        wait_for_reports(slow_class["out"], 2, first)
        second = grader_process(run_args(slow_class, slow_class["class"], slow_class["out"], "--budget", "0", "-q"))
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2 and f"another grader command (process {first.pid}) is writing into" in err, err
        assert err.count("\n") == 1
    finally:
        first.kill()  # even SIGKILL releases the lock: the kernel drops it with the process
        first.wait()
    again = grader_process(run_args(slow_class, slow_class["class"], slow_class["out"], "--budget", "0", "-q"))
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert len(reports_in(slow_class["out"], "slow-hw")) == 80


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_mid_run_leaves_no_worker_and_a_whole_store(slow_class: dict[str, Path]) -> None:
    run, workers = start_run(slow_class), set()
    try:
        wait_for_reports(slow_class["out"], 4, run)
        time.sleep(1.5)  # past a store commit (FLUSH_SECONDS)
        workers = descendants(run.pid)
        assert workers, "the run grades in worker processes"
        written = set(reports_in(slow_class["out"], "slow-hw"))
        run.kill()
        run.wait()
        assert wait_gone(workers) == set()  # they died with their parent (they used to grade on, orphaned)
    finally:
        run.kill()
        wait_gone(workers, 0)
    in_store = stored(slow_class["out"])
    assert in_store and set(in_store) <= set(reports_in(slow_class["out"], "slow-hw")) and len(written) < 80
    assert all(parts == 2 for _, parts in in_store.values())  # no report half-recorded
    assert leftovers(slow_class["out"]) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_mid_run_commits_every_report_and_stops_every_worker(slow_class: dict[str, Path]) -> None:
    run, workers = start_run(slow_class), set()
    try:
        wait_for_reports(slow_class["out"], 4, run)
        workers = descendants(run.pid)
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=60)  # it used to hang here
        assert wait_gone(workers) == set()
    finally:
        run.kill()
        wait_gone(workers, 0)
    assert run.returncode == 143 and "stopped:" in err and "Traceback" not in err, err
    on_disk = reports_in(slow_class["out"], "slow-hw")
    in_store = stored(slow_class["out"])
    assert 4 <= len(on_disk) < 80 and set(on_disk) <= set(in_store)  # every report written is in the store
    assert {s: on_disk[s].score for s in on_disk} == {s: in_store[s][0] for s in on_disk}
    assert f"{len(in_store)} report(s) were recorded" in err
    with Store.open(slow_class["out"]) as store:
        assert store.runs()[-1].finished_at is not None
    assert leftovers(slow_class["out"]) == []


@pytest.mark.parametrize(
    "command",
    [["manual", "import", "{sheet}"], ["manual", "tiny-hw"], ["export", "csv", "tiny-hw"], ["report", "tiny-hw"]],
)
def test_every_command_that_opens_the_store_says_a_bad_db_in_one_line(tmp_path: Path, command: list[str]) -> None:
    sheet = write(tmp_path / "scores.csv", "student,part,score\nann,q3,1\n")
    args = [a.replace("{sheet}", str(sheet)) for a in command] + ["--out", str(tmp_path / "out"), "--db", "nonsense://x/y"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "error: cannot open the grade store nonsense://x/y" in result.output, result.output
    assert "Traceback" not in result.output


SERVICE = """
import sys, time
from pathlib import Path
from grader.keys.catalog import Catalog
from grader.run.grading import Grading

if __name__ == "__main__":
    grading = Grading(Catalog(Path(sys.argv[1]), Path(sys.argv[2])), workers=2)
    print(grading.grade(grading.submission("tiny-hw", "ann", {"q1": "42"}, source="web")).score, flush=True)
    time.sleep(120)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_service_leaves_no_worker_of_its_fork_server(course: dict[str, Path], tmp_path: Path) -> None:
    # One submission at a time (a web service): the workers come from a fork server, not from
    # the process itself, and must die with it all the same.
    script = write(tmp_path / "service.py", SERVICE)
    proc = subprocess.Popen([sys.executable, str(script), str(course["problems"]), str(course["reference"])], cwd=REPO, stdout=subprocess.PIPE, text=True)
    workers: set[int] = set()
    try:
        assert proc.stdout.readline().strip() == "2.0"
        workers = descendants(proc.pid)
        assert len(workers) >= 3  # the fork server and its two workers (and a resource tracker)
        proc.kill()
        proc.wait()
        assert wait_gone(workers) == set()
    finally:
        proc.kill()
        wait_gone(workers, 0)
