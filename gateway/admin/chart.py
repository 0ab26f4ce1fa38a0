"""Server-rendered SVG charts: no script, readable in any browser and in print.

The consent charts show shares (0-100 %) per UTC day, so a quiet Sunday and a
busy Monday compare at a glance; the statistics chart shows counts side by
side (``count_bars``). The counts are in each shape's ``<title>`` (a tooltip,
read out by screen readers) and in the table beside the chart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from html import escape
from math import floor, log10

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


def english_count(**values: object) -> str:
    return "{day} {label}: {count}".format(**values)


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
    return _frame(_day_labels(days), series, title, shapes, _PERCENT_TICKS)


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
    return _frame(_day_labels(days), series, title, shapes, _PERCENT_TICKS)


def count_bars(
    keys: list[str], labels: list[str], series: list[Series], title: str, tip: Tip = english_count
) -> Markup:
    """A bar per series side by side for each slot (a day, a month), on a count scale from 0.

    ``keys`` name the slots in the tooltips (``2025-03-01``), ``labels`` under the axis (``01 Mar``)."""
    top = nice_top(max((count for s in series for count in s.counts), default=0))
    band = PLOT_WIDTH / max(len(keys), 1)
    width = band * 0.8 / max(len(series), 1)
    shapes: list[str] = []
    for index, key in enumerate(keys):
        for position, s in enumerate(series):
            count = s.counts[index]
            if count == 0:
                continue
            height = PLOT_HEIGHT * count / top
            x = LEFT + index * band + band * 0.1 + position * width
            words = tip(day=key, label=s.label, count=count)
            shapes.append(
                f'<rect x="{x:.2f}" y="{TOP + PLOT_HEIGHT - height:.2f}" width="{width:.2f}" '
                f'height="{height:.2f}" fill="{s.colour}"><title>{escape(words)}</title></rect>'
            )
    ticks = [(step / 4, str(top * step // 4)) for step in range(5)]
    return _frame(labels, series, title, shapes, ticks)


def nice_top(peak: int) -> int:
    """The axis' top: the smallest of 4 x (1, 2 or 5 x a power of ten) that is at least ``peak``."""
    if peak <= 4:
        return 4
    magnitude = 10 ** floor(log10(peak / 4))
    return next(4 * m * magnitude for m in (1, 2, 5, 10) if 4 * m * magnitude >= peak)


_PERCENT_TICKS = [(percent / 100, f"{percent} %") for percent in (0, 25, 50, 75, 100)]


def _day_labels(days: list[date]) -> list[str]:
    return [day.strftime("%d %b") for day in days]


def _frame(
    labels: list[str], series: list[Series], title: str, shapes: list[str], ticks: list[tuple[float, str]]
) -> Markup:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        *_y_axis(ticks),
        *_x_axis(labels),
        *_legend(series),
        *shapes,
        "</svg>",
    ]
    return Markup("".join(parts))


def _y_axis(ticks: list[tuple[float, str]]) -> list[str]:
    """Grid lines at ``ticks``: (height as a fraction of the plot, label)."""
    lines = []
    for fraction, label in ticks:
        y = TOP + PLOT_HEIGHT * (1 - fraction)
        lines.append(f'<line x1="{LEFT}" y1="{y:.2f}" x2="{LEFT + PLOT_WIDTH}" y2="{y:.2f}" stroke="#d0d0d0"/>')
        lines.append(f'<text x="{LEFT - 6}" y="{y + 4:.2f}" text-anchor="end" fill="#333" {FONT}>{label}</text>')
    return lines


def _x_axis(labels: list[str]) -> list[str]:
    if not labels:
        return []
    band = PLOT_WIDTH / len(labels)
    step = max(1, -(-len(labels) // MAX_X_LABELS))
    baseline = TOP + PLOT_HEIGHT
    labels = [f'<line x1="{LEFT}" y1="{baseline}" x2="{LEFT + PLOT_WIDTH}" y2="{baseline}" stroke="#333"/>']
    for index in range(0, len(labels), step):
        x = LEFT + (index + 0.5) * band
        labels.append(f'<line x1="{x:.2f}" y1="{baseline}" x2="{x:.2f}" y2="{baseline + 4}" stroke="#333"/>')
        labels.append(
            f'<text x="{x:.2f}" y="{baseline + 18}" text-anchor="middle" fill="#333" {FONT}>'
            f"{escape(labels[index])}</text>"
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
