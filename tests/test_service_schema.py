"""Schemathesis over the service's /openapi.json: generated requests to every API operation
(as a signed-in student) never get a 5xx, and every response matches the documented schema.
Bounded: a few examples per operation, so it stays a test rather than a fuzzing campaign."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from _service_fixtures import make_course

from grader.course import load_course
from grader.service.app import create_app
from grader.service.courseware import Courseware
from grader.service.limits import Rate

# built at import: schemathesis makes one test per operation from the schema at collection
_ROOT = Path(tempfile.mkdtemp(prefix="grader-schema-"))
atexit.register(shutil.rmtree, _ROOT, True)
_CW = Courseware(load_course(make_course(_ROOT / "course")), budget=None)
atexit.register(_CW.close)
TOKEN = _CW.service.issue_token("alice", "student")
APP = create_app(_CW, check_rate=Rate(1e6, 1e6), submit_rate=Rate(1e6, 1e6), identity_ttl=60)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})
