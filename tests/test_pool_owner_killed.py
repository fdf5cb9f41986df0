"""A process grading one submission at a time (`Grading.submit`: a threaded pool, whose workers
come from a fork server) is killed with SIGKILL while a check waits without end: nothing it
started may live on. The fork server outlives its owner while any worker it forked lives,
and such a worker, tied to the fork server by PDEATHSIG and waiting (no CPU, so its CPU timer
never fires), would otherwise keep it, and itself, alive for ever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from _fault_fixtures import end_session, make_fault_course, markers, session_members, wait_until

OWNER = textwrap.dedent(
    """
    import sys, time
    from grader.course import load_course
    from grader.keys.catalog import Catalog
    from grader.models import Submission
    from grader.run.grading import Grading

    course = load_course(sys.argv[1])
    grading = Grading(Catalog(course.problems, course.reference, course), budget=2.0)
    grading.submit(Submission(assignment="faults-hw", student="ann", answers={"q1": "hang owner", "q2": "7"}, source="ann"))
    time.sleep(300)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_owner_leaves_no_grading_process_behind(tmp_path: Path) -> None:
    course = make_fault_course(tmp_path / "course")
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(course)], cwd=course, start_new_session=True,
        env={**os.environ, "GRADER_TEST_MARKERS": str(course / "markers")},
    )
    try:
        wait_until(lambda: markers(course, "owner"), timeout=60, what="the check started")
        [check] = [int(m.rsplit(".", 1)[1]) for m in markers(course, "owner")]
        assert check in session_members(owner.pid) and check != owner.pid
        os.kill(owner.pid, signal.SIGKILL)  # only the owner, as the OOM killer or a hard time limit does
        owner.wait(timeout=10)
        wait_until(lambda: not session_members(owner.pid), timeout=10, what="every process the owner started ended")
    finally:
        end_session(owner)
