"""The grade store: runs, results, manual scores, overrides and regrade history (SQLAlchemy).

`db` holds the schema and engine, `repository` the reads and writes, `merge` folds manual
scores and overrides into a report, `recorder` records a run's reports, `loading` gives every
consumer the class's current reports. Persistence only: nothing here imports the runs, the
reports, the workflow or the command line.

Names are imported on first use, so `grader --help` does not pay for importing SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "DEFAULT_DB_NAME": "grader.store.db",
    "database_url": "grader.store.db",
    "class_reports": "grader.store.loading",
    "apply_adjustments": "grader.store.merge",
    "status_for": "grader.store.merge",
    "ManualScore": "grader.store.models",
    "Override": "grader.store.models",
    "RegradeRecord": "grader.store.models",
    "RunInfo": "grader.store.models",
    "RunRecorder": "grader.store.recorder",
    "Store": "grader.store.repository",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'grader.store' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


if TYPE_CHECKING:
    from grader.store.db import DEFAULT_DB_NAME, database_url
    from grader.store.loading import class_reports
    from grader.store.merge import apply_adjustments, status_for
    from grader.store.models import ManualScore, Override, RegradeRecord, RunInfo
    from grader.store.recorder import RunRecorder
    from grader.store.repository import Store
