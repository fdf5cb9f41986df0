"""The per-submission JSON report (the LMS-facing contract) and its exported JSON schema."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from grader.models import SubmissionReport


def _stable(value: Any, *, sort: bool = False) -> Any:
    """JSON-safe and deterministic: non-finite floats -> null, `details` mappings key-sorted.

    Top-level fields keep the model's order (the contract reads best that way); free-form
    `details` come from kinds, so they are sorted rather than trusted to be ordered.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0])) if sort else value.items()
        return {str(k): _stable(v, sort=sort or k == "details") for k, v in items}
    if isinstance(value, list):
        return [_stable(v, sort=sort) for v in value]
    return value


def dumps(model: BaseModel) -> str:
    """A model as indented UTF-8 JSON text, byte-identical for equal models."""
    data = _stable(model.model_dump(mode="json"))
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(model: BaseModel, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(model), encoding="utf-8", newline="\n")
    return path


def write_report(report: SubmissionReport, path: Path) -> Path:
    """OUT/<assignment>/<student>.json"""
    return write_json(report, path)


def export_schema() -> dict[str, Any]:
    """JSON schema of the per-submission report (`grader schema`)."""
    return SubmissionReport.model_json_schema()
