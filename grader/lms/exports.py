"""The gradebook exports: one table entry per format, one module per format beside this one.

Adding a format is writing its module (an `EXPORT = grader.lms.format.Export(...)`) and one
line here; `grader export NAME ASSIGNMENT` and its flags are made from the entry.
"""

from __future__ import annotations

from grader.lms import canvas, json_reports, long_csv, lti, moodle
from grader.lms.format import Export

EXPORTS: dict[str, Export] = {
    "canvas": canvas.EXPORT,
    "moodle": moodle.EXPORT,
    "csv": long_csv.EXPORT,
    "lti": lti.EXPORT,
    "json": json_reports.EXPORT,
}
