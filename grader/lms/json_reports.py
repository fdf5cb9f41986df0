"""Every student's report (manual scores merged) as one JSON list: the result model itself."""

from __future__ import annotations

import json
from collections.abc import Sequence

from grader.lms.format import Export, ExportText
from grader.models import SubmissionReport


def render(reports: Sequence[SubmissionReport], **_: object) -> ExportText:
    return ExportText(json.dumps([r.model_dump(mode="json") for r in reports], indent=1) + "\n", [])


EXPORT = Export("json", "-reports.json", "Every student's report (manual scores merged) as one JSON list.", render)
