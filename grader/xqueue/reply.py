"""The reply edX shows: `{correct, score, msg}` from a graded report.

`score` is points, as edX's CodeResponse takes it: the fraction of the graded parts' marks
earned (manual scores and overrides applied) times the response's points (1 unless the payload
says otherwise); `correct` is full marks. `msg` is an HTML fragment of the report as the
course's feedback policy lets the student see it then (grader.report.policy, applied by the
caller), every piece of text escaped: student text and kinds' messages can never open a tag.
"""

from __future__ import annotations

import html

from grader.models import SubmissionReport
from grader.report.format import fmt_score, visible
from grader.xqueue.protocol import Result

#: Bounds on what is sent back (XQueue stores the reply in a text column, edX in its state).
MAX_TEXT_CHARS = 2000
MAX_PARTS_SHOWN = 200


def esc(text: object, limit: int = MAX_TEXT_CHARS) -> str:
    value = visible(str(text))
    if len(value) > limit:
        value = value[:limit] + "…"
    return html.escape(value, quote=True)


def graded_reply(adjusted: SubmissionReport, shown: SubmissionReport, parts: list[str] | None, points: float) -> Result:
    """The reply for `adjusted` (the whole report, for the score) shown as `shown` (the
    student's view of it), over `parts` (None: all of them)."""
    counted = [p for p in adjusted.parts if parts is None or p.id in parts]
    if parts is None:
        earned, possible = adjusted.score, adjusted.max_score
    else:
        earned, possible = sum(p.score for p in counted), sum(p.max_score for p in counted)
        if adjusted.late is not None:
            earned = adjusted.late.applied(earned)  # the late rule, as it scaled the whole score
    fraction = min(1.0, max(0.0, earned / possible)) if possible > 0 else 0.0
    correct = possible > 0 and earned >= possible - 1e-9
    lines = ['<div class="grader-result">', f'<p class="grader-score">Score: {esc(fmt_score(earned))} / {esc(fmt_score(possible))}</p>']
    if shown.late is not None:
        lines.append(f'<p class="grader-late">{esc(shown.late.note)}</p>')
    visible_parts = [p for p in shown.parts if parts is None or p.id in parts][:MAX_PARTS_SHOWN]
    if visible_parts:
        lines.append('<ul class="grader-parts">')
        for p in visible_parts:
            item = f'<li class="grader-part grader-{esc(p.status.value)}"><strong>{esc(p.id)}</strong> {esc(fmt_score(p.score))} / {esc(fmt_score(p.max_score))} ({esc(p.status.value)})'
            if p.canonical:
                item += f"<br>Read as: <code>{esc(p.canonical)}</code>"
            if p.feedback:
                item += f"<br>{esc(p.feedback)}"
            if p.reveals:
                item += f"<br>{esc(p.reveals)}"
            lines.append(item + "</li>")
        lines.append("</ul>")
    for warning in shown.warnings[:20]:
        lines.append(f'<p class="grader-warning">Note: {esc(warning)}</p>')
    lines.append("</div>")
    return Result(correct=correct, score=round(fraction * points, 6), msg="\n".join(lines))


def message_reply(message: str) -> Result:
    """No grade: the submission could not be read or graded (nothing credited, the reason said)."""
    return Result(correct=False, score=0.0, msg=f'<div class="grader-result"><p class="grader-error">{esc(message, 4 * MAX_TEXT_CHARS)}</p></div>')
