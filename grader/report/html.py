"""A self-contained HTML class report: one file, inline CSS, plots as inline SVG.

Nothing is fetched (no scripts, fonts or images from elsewhere), so the page can be mailed,
archived or opened offline. Every piece of student text goes through `html.escape`.
"""

from __future__ import annotations

import html
import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote


from grader.models import PartResult, Status, SubmissionReport

REPORT_NAME = "report.html"
WRONG = (Status.incorrect, Status.partial, Status.invalid)
TOP_WRONG = 5
ANSWER_SHOWN = 160


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def num(x: float) -> str:
    return f"{x:.4g}" if abs(x) < 1e4 else f"{x:,.0f}"


# -- statistics -------------------------------------------------------------------------------
@dataclass
class PartStats:
    id: str
    kind: str
    max_score: float
    mean_fraction: float | None  # None: nothing graded yet (all awaiting a person)
    counts: Counter
    wrong: list[tuple[str, int, str]]  # (answer as read, how many, one feedback)


def part_stats(reports: Sequence[SubmissionReport]) -> list[PartStats]:
    order: dict[str, list[PartResult]] = {}
    for report in reports:
        for part in report.parts:
            order.setdefault(part.id, []).append(part)
    out = []
    for part_id, results in order.items():
        graded = [p for p in results if p.status is not Status.manual]
        fractions = [p.score / p.max_score for p in graded if p.max_score > 0]
        wrong: Counter = Counter()
        sample: dict[str, str] = {}
        manual_kind = any(p.kind == "text" for p in results)
        for p in results:
            if p.status in WRONG and not manual_kind:
                key = " ".join((p.canonical or p.answer or "").split())
                if key:
                    wrong[key] += 1
                    sample.setdefault(key, p.feedback)
        out.append(
            PartStats(
                id=part_id,
                kind=results[0].kind,
                max_score=results[0].max_score,
                mean_fraction=statistics.fmean(fractions) if fractions else None,
                counts=Counter(p.status.value for p in results),
                wrong=[(k, n, sample[k]) for k, n in wrong.most_common(TOP_WRONG)],
            )
        )
    return out


# -- SVG plots --------------------------------------------------------------------------------
def _svg_open(width: int, height: int, label: str, css_class: str) -> str:
    return (
        f'<svg class="{css_class}" role="img" aria-label="{esc(label)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{esc(label)}</title>'
    )


def histogram_svg(scores: Sequence[float], max_score: float, bins: int = 10) -> str:
    """Students per score band, 0 to the maximum; a full score falls in the last band."""
    w, h, left, right, top, bottom = 520, 320, 56, 20, 40, 56
    bins = max(1, bins)
    top_edge = max_score if max_score > 0 else max(scores, default=1.0) or 1.0
    width = top_edge / bins
    counts = [0] * bins
    for s in scores:
        counts[min(bins - 1, max(0, int(s / width)))] += 1
    ymax = max(counts, default=0) or 1
    plot_w, plot_h = w - left - right, h - top - bottom
    bar_w = plot_w / bins
    parts = [_svg_open(w, h, "Histogram of total scores", "plot histogram")]
    parts.append(f'<text class="plot-title" x="{w / 2}" y="22" text-anchor="middle">Distribution of total scores</text>')
    for i, c in enumerate(counts):
        bh = plot_h * c / ymax
        x, y = left + i * bar_w, top + plot_h - bh
        lo, hi = i * width, (i + 1) * width
        parts.append(
            f'<rect class="bar" x="{x + 1:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{bh:.1f}">'
            f"<title>{num(lo)}–{num(hi)}: {c} student{'s' if c != 1 else ''}</title></rect>"
        )
        if c:
            parts.append(f'<text class="count" x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">{c}</text>')
    # axes, ticks and labels
    parts.append(f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>')
    parts.append(f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}"/>')
    for i in range(bins + 1):
        x = left + i * bar_w
        parts.append(f'<line class="tick" x1="{x:.1f}" y1="{top + plot_h}" x2="{x:.1f}" y2="{top + plot_h + 5}"/>')
        parts.append(f'<text class="tick-label" x="{x:.1f}" y="{top + plot_h + 18}" text-anchor="middle">{num(i * width)}</text>')
    step = max(1, math.ceil(ymax / 5))
    for v in range(0, ymax + 1, step):
        y = top + plot_h - plot_h * v / ymax
        parts.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick-label" x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{v}</text>')
    parts.append(f'<text class="axis-label" x="{left + plot_w / 2}" y="{h - 12}" text-anchor="middle">Total score (out of {num(max_score)})</text>')
    parts.append(
        f'<text class="axis-label" x="16" y="{top + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {top + plot_h / 2})">Students</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def difficulty_svg(stats: Sequence[PartStats]) -> str:
    """Horizontal bars: the mean fraction of the marks each part earned (low = hard)."""
    row, left, right, top, bottom = 22, 130, 40, 40, 48
    w = 520
    h = top + bottom + row * max(1, len(stats))
    plot_w = w - left - right
    parts = [_svg_open(w, h, "Mean fraction of marks per part", "plot difficulty")]
    parts.append(f'<text class="plot-title" x="{w / 2}" y="22" text-anchor="middle">Mean fraction of marks per part</text>')
    for i in range(0, 5):
        x = left + plot_w * i / 4
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{h - bottom}"/>')
        parts.append(f'<text class="tick-label" x="{x:.1f}" y="{h - bottom + 16}" text-anchor="middle">{25 * i}%</text>')
    for i, s in enumerate(stats):
        y = top + i * row
        parts.append(f'<text class="part-label" x="{left - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end">{esc(s.id)}</text>')
        if s.mean_fraction is None:
            parts.append(f'<text class="pending" x="{left + 4}" y="{y + row / 2 + 4:.1f}">awaiting a grader</text>')
            continue
        f = min(1.0, max(0.0, s.mean_fraction))
        hue = round(120 * f)  # red (hard) to green (easy)
        parts.append(
            f'<rect class="hbar" x="{left}" y="{y + 3}" width="{plot_w * f:.1f}" height="{row - 6}" fill="hsl({hue},55%,45%)">'
            f"<title>{esc(s.id)}: {100 * f:.0f}% of the marks on average</title></rect>"
        )
        waiting = s.counts.get(Status.manual.value, 0)
        label = f"{100 * f:.0f}%" + (f" · {waiting} awaiting a grader" if waiting else "")
        if f > 0.55:  # a long bar carries its label inside, so it never runs off the plot
            parts.append(f'<text class="inside" x="{left + plot_w * f - 4:.1f}" y="{y + row / 2 + 4:.1f}" text-anchor="end">{label}</text>')
        else:
            parts.append(f'<text class="count" x="{left + plot_w * f + 4:.1f}" y="{y + row / 2 + 4:.1f}">{label}</text>')
    parts.append(f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}"/>')
    parts.append(f'<line class="axis" x1="{left}" y1="{h - bottom}" x2="{left + plot_w}" y2="{h - bottom}"/>')
    parts.append(f'<text class="axis-label" x="{left + plot_w / 2}" y="{h - 12}" text-anchor="middle">Mean fraction of the part\'s marks earned</text>')
    parts.append("</svg>")
    return "".join(parts)


# -- the page ---------------------------------------------------------------------------------
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d8dde6;padding-bottom:.3rem}
.meta{color:#5b6473;margin-top:0}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{background:#f4f6fa;border-radius:8px;padding:.6rem 1rem;min-width:7rem}
.card b{display:block;font-size:1.3rem}
.plots{display:flex;gap:1.5rem;flex-wrap:wrap;align-items:flex-start}
svg.plot{background:#fff;border:1px solid #e2e6ee;border-radius:6px}
svg .bar{fill:#3b6fb6}svg .axis{stroke:#333;stroke-width:1}svg .tick{stroke:#333}svg .grid{stroke:#e6e9ef}
svg text{font-size:11px;fill:#333}svg .plot-title{font-size:14px;font-weight:600}svg .axis-label{font-size:12px}
svg .pending{fill:#8a6d00;font-style:italic}svg text.inside{fill:#fff;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0}th,td{border-bottom:1px solid #e2e6ee;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f6fa}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
table.wrong{table-layout:fixed}table.wrong th:first-child{width:40%}table.wrong th.num{width:6rem}
code{background:#f4f6fa;padding:0 .2rem;border-radius:3px;white-space:pre-wrap;word-break:break-word}
.feedback{color:#5b6473;font-size:.85rem}.none{color:#8a93a3;font-style:italic}
.late{color:#8a6d00;font-size:.8rem}.status-manual{color:#8a6d00}.status-error{color:#b00020;font-weight:600}
"""


def _links(stem: str, report_dir: Path | None) -> str:
    links = []
    for suffix, label in ((".md", "feedback"), (".json", "JSON")):
        name = f"{stem}{suffix}"
        if report_dir is None or (report_dir / name).exists():
            links.append(f'<a href="{esc(quote(name, safe=""))}">{label}</a>')
    return " · ".join(links) or '<span class="none">no report file</span>'


def render_class_report(
    reports: Sequence[SubmissionReport],
    *,
    assignment: str,
    title: str | None = None,
    report_dir: Path | None = None,
    generated: datetime | None = None,
    files: Mapping[str, str] | None = None,
) -> str:
    """The page as a string. `files` maps each student to the file stem of their report (the
    run's own naming, grader.run.writer: `a_b` for "a b", `name~2` for a namesake); a student
    it lacks is linked by their id. `report_dir` (where the per-student reports live) is used
    to link only to report files that exist; without it every student gets both links."""
    files = files or {}
    title = title or assignment
    reports = sorted(reports, key=lambda r: r.student)
    scores = [r.score for r in reports]
    max_score = max((r.max_score for r in reports), default=0.0)
    stats = part_stats(reports)
    pending = sum(1 for r in reports if any(p.status is Status.manual for p in r.parts))
    errors = sum(1 for r in reports if r.has_error)
    when = (generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")

    def card(label: str, value: str) -> str:
        return f'<div class="card"><b>{value}</b>{esc(label)}</div>'

    cards = [card("submissions", str(len(reports)))]
    if scores:
        cards += [
            card("mean", f"{num(statistics.fmean(scores))} / {num(max_score)}"),
            card("median", num(statistics.median(scores))),
            card("std. dev.", num(statistics.pstdev(scores))),
            card("lowest", num(min(scores))),
            card("highest", num(max(scores))),
        ]
    cards.append(card("awaiting a grader", str(pending)))
    if errors:
        cards.append(card("with grader errors", str(errors)))

    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)} — class report</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{esc(title)} — class report</h1>",
        f'<p class="meta">Assignment <code>{esc(assignment)}</code> · generated {esc(when)}</p>',
        f'<div class="cards">{"".join(cards)}</div>',
        "<h2>Scores and difficulty</h2>",
        f'<div class="plots">{histogram_svg(scores, max_score)}{difficulty_svg(stats)}</div>',
        "<h2>Parts</h2>",
        '<table class="parts"><thead><tr><th>Part</th><th>Kind</th><th class="num">Marks</th><th class="num">Mean</th>'
        "<th>Statuses</th></tr></thead><tbody>",
    ]
    for s in stats:
        mean = "—" if s.mean_fraction is None else f"{100 * s.mean_fraction:.0f}%"
        statuses = ", ".join(f'<span class="status-{esc(k)}">{esc(k)} {n}</span>' for k, n in sorted(s.counts.items()))
        out.append(
            f"<tr><td><code>{esc(s.id)}</code></td><td>{esc(s.kind)}</td><td class=\"num\">{num(s.max_score)}</td>"
            f'<td class="num">{mean}</td><td>{statuses}</td></tr>'
        )
    out.append("</tbody></table>")

    out.append("<h2>Most common wrong answers</h2>")
    any_wrong = False
    for s in stats:
        if not s.wrong:
            continue
        any_wrong = True
        out.append(f'<h3><code>{esc(s.id)}</code></h3><table class="wrong"><thead><tr><th>Answer (as read)</th>'
                   '<th class="num">Students</th><th>Feedback given</th></tr></thead><tbody>')
        for answer, n, feedback in s.wrong:
            shown = answer if len(answer) <= ANSWER_SHOWN else answer[:ANSWER_SHOWN] + "…"
            out.append(
                f'<tr><td><code>{esc(shown)}</code></td><td class="num">{n}</td><td class="feedback">{esc(feedback)}</td></tr>'
            )
        out.append("</tbody></table>")
    if not any_wrong:
        out.append('<p class="none">No wrong answers recorded.</p>')

    out.append("<h2>Students</h2>")
    out.append('<table class="students"><thead><tr><th>Student</th><th class="num">Score</th><th class="num">%</th>'
               "<th>Awaiting a grader</th><th>Reports</th></tr></thead><tbody>")
    for r in reports:
        pct = f"{100 * r.score / r.max_score:.0f}%" if r.max_score else "—"
        waiting = ", ".join(esc(p.id) for p in r.parts if p.status is Status.manual) or ""
        late = f'<br><span class="late">{esc(r.late.note)}</span>' if r.late is not None else ""
        out.append(
            f"<tr><td>{esc(r.student)}</td><td class=\"num\">{num(r.score)} / {num(r.max_score)}{late}</td>"
            f'<td class="num">{pct}</td><td>{waiting}</td><td>{_links(files.get(r.student, r.student), report_dir)}</td></tr>'
        )
    out.append("</tbody></table></body></html>")
    return "\n".join(out) + "\n"


def write_class_report(
    reports: Sequence[SubmissionReport], out: Path, assignment: str, title: str | None = None, files: Mapping[str, str] | None = None
) -> Path:
    """OUT/<assignment>/report.html, linking to the per-student reports beside it (`files`:
    each student's report file stem)."""
    folder = Path(out) / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / REPORT_NAME
    path.write_text(render_class_report(reports, assignment=assignment, title=title, report_dir=folder, files=files), encoding="utf-8")
    return path
