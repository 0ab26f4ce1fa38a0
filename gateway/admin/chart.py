"""Server-rendered SVG charts of choices per day: no script, readable in any browser and in print.

Both charts show shares (0-100 %) per UTC day, so a quiet Sunday and a busy
Monday compare at a glance; the counts are in each shape's ``<title>``
(a tooltip, read out by screen readers) and in the table beside the chart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from html import escape

from markupsafe import Markup

WIDTH = 760
HEIGHT = 280
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 40, 36
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
MAX_X_LABELS = 8
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


@dataclass(frozen=True)
class Series:
    """One coloured series: a count per day, in the order of the chart's days."""

    label: str
    colour: str
    counts: list[int]


Tip = Callable[..., str]  # the words of a shape's <title>, from day, label, count, total and percent


def english_share(**values: object) -> str:
    return "{day} {label}: {count} of {total} ({percent} %)".format(**values)


def english_granted_share(**values: object) -> str:
    return "{day} {label} granted: {count} of {total} ({percent} %)".format(**values)


def stacked_shares(days: list[date], series: list[Series], title: str, tip: Tip = english_share) -> Markup:
    """A 100 % stacked bar per day: each series' share of that day's total."""
    band = PLOT_WIDTH / max(len(days), 1)
    shapes: list[str] = []
    for index, day in enumerate(days):
        total = sum(s.counts[index] for s in series)
        if total == 0:
            continue
        x = LEFT + index * band + band * 0.1
        bottom = TOP + PLOT_HEIGHT
        for s in series:
            count = s.counts[index]
            if count == 0:
                continue
            height = PLOT_HEIGHT * count / total
            bottom -= height
            words = tip(
                day=day.isoformat(), label=s.label, count=count, total=total, percent=f"{100 * count / total:.0f}"
            )
            shapes.append(
                f'<rect x="{x:.2f}" y="{bottom:.2f}" width="{band * 0.8:.2f}" height="{height:.2f}" '
                f'fill="{s.colour}"><title>{escape(words)}</title></rect>'
            )
    return _frame(days, series, title, shapes)


def share_lines(
    days: list[date], series: list[Series], totals: list[int], title: str, tip: Tip = english_granted_share
) -> Markup:
    """A line per series: its count as a share of the day's total; days without choices leave a gap."""
    band = PLOT_WIDTH / max(len(days), 1)
    shapes: list[str] = []
    for s in series:
        path: list[str] = []
        dots: list[str] = []
        pen_down = False
        for index, day in enumerate(days):
            if totals[index] == 0:
                pen_down = False
                continue
            share = s.counts[index] / totals[index]
            x = LEFT + (index + 0.5) * band
            y = TOP + PLOT_HEIGHT * (1 - share)
            path.append(f"{'L' if pen_down else 'M'}{x:.2f},{y:.2f}")
            pen_down = True
            words = tip(
                day=day.isoformat(),
                label=s.label,
                count=s.counts[index],
                total=totals[index],
                percent=f"{100 * share:.0f}",
            )
            dots.append(
                f'<circle cx="{x:.2f}" cy="{y:.2f}" r="3" fill="{s.colour}"><title>{escape(words)}</title></circle>'
            )
        if path:
            shapes.append(f'<path d="{" ".join(path)}" fill="none" stroke="{s.colour}" stroke-width="2"/>')
        shapes.extend(dots)
    return _frame(days, series, title, shapes)


def _frame(days: list[date], series: list[Series], title: str, shapes: list[str]) -> Markup:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        *_y_axis(),
        *_x_axis(days),
        *_legend(series),
        *shapes,
        "</svg>",
    ]
    return Markup("".join(parts))


def _y_axis() -> list[str]:
    lines = []
    for percent in (0, 25, 50, 75, 100):
        y = TOP + PLOT_HEIGHT * (1 - percent / 100)
        lines.append(f'<line x1="{LEFT}" y1="{y:.2f}" x2="{LEFT + PLOT_WIDTH}" y2="{y:.2f}" stroke="#d0d0d0"/>')
        lines.append(f'<text x="{LEFT - 6}" y="{y + 4:.2f}" text-anchor="end" fill="#333" {FONT}>{percent} %</text>')
    return lines


def _x_axis(days: list[date]) -> list[str]:
    if not days:
        return []
    band = PLOT_WIDTH / len(days)
    step = max(1, -(-len(days) // MAX_X_LABELS))
    baseline = TOP + PLOT_HEIGHT
    labels = [f'<line x1="{LEFT}" y1="{baseline}" x2="{LEFT + PLOT_WIDTH}" y2="{baseline}" stroke="#333"/>']
    for index in range(0, len(days), step):
        x = LEFT + (index + 0.5) * band
        labels.append(f'<line x1="{x:.2f}" y1="{baseline}" x2="{x:.2f}" y2="{baseline + 4}" stroke="#333"/>')
        labels.append(
            f'<text x="{x:.2f}" y="{baseline + 18}" text-anchor="middle" fill="#333" {FONT}>'
            f"{days[index].strftime('%d %b')}</text>"
        )
    return labels


def _legend(series: list[Series]) -> list[str]:
    items = []
    x = LEFT
    for s in series:
        items.append(f'<rect x="{x}" y="12" width="12" height="12" fill="{s.colour}"/>')
        items.append(f'<text x="{x + 18}" y="22" fill="#222" {FONT}>{escape(s.label)}</text>')
        x += 30 + 7 * len(s.label)
    return items
