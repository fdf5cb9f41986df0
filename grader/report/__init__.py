"""The write step: per-submission JSON and Markdown reports, the gradebook and the class summary."""

from grader.report.gradebook import gradebook_csv, write_gradebook
from grader.report.json_report import export_schema, write_report
from grader.report.markdown import render_report, write_markdown
from grader.report.summary import PartInfo, render_summary, write_summary

__all__ = [
    "PartInfo",
    "export_schema",
    "gradebook_csv",
    "render_report",
    "render_summary",
    "write_gradebook",
    "write_markdown",
    "write_report",
    "write_summary",
]
