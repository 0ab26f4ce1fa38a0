"""The SVG charts as markup: well-formed, proportional, gaps where there were no choices."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

from gateway.admin.chart import PLOT_HEIGHT, Series, share_lines, stacked_shares

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [date(2025, 3, 1) + timedelta(days=n) for n in range(4)]


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # raises on anything that is not well-formed XML


def test_stacked_bars_split_each_day_by_share() -> None:
    series = [Series("Accept all", "#009E73", [3, 0, 0, 1]), Series("Reject <all>", "#D55E00", [1, 0, 2, 1])]
    svg = parse(stacked_shares(DAYS, series, "Choices & shares"))
    assert svg.get("role") == "img" and svg.get("aria-label") == "Choices & shares"
    bars = [
        (rect.find(f"{SVG}title").text, float(rect.get("height")))
        for rect in svg.iter(f"{SVG}rect")
        if rect.find(f"{SVG}title") is not None
    ]
    assert [title for title, _ in bars] == [
        "2025-03-01 Accept all: 3 of 4 (75 %)",
        "2025-03-01 Reject <all>: 1 of 4 (25 %)",
        "2025-03-03 Reject <all>: 2 of 2 (100 %)",
        "2025-03-04 Accept all: 1 of 2 (50 %)",
        "2025-03-04 Reject <all>: 1 of 2 (50 %)",
    ]
    heights = [height for _, height in bars]
    assert abs(heights[0] - 0.75 * PLOT_HEIGHT) < 0.01 and abs(heights[2] - PLOT_HEIGHT) < 0.01
    assert "<all>" not in str(stacked_shares(DAYS, series, "x"))  # labels are escaped


def test_share_lines_break_on_days_without_choices() -> None:
    series = [Series("Statistics", "#0072B2", [1, 0, 0, 2])]
    svg = parse(share_lines(DAYS, series, [2, 0, 4, 2], "Granted"))
    [path] = svg.iter(f"{SVG}path")
    moves = re.findall(r"([ML])[\d.]+,([\d.]+)", path.get("d"))
    assert [kind for kind, _ in moves] == ["M", "M", "L"]  # day 2 has no choices: the line starts again
    tops = [float(y) for _, y in moves]
    assert tops[2] < tops[0] < tops[1]  # 100 % is highest, then 50 %, then 0 %
    assert [c.find(f"{SVG}title").text for c in svg.iter(f"{SVG}circle")][
        0
    ] == "2025-03-01 Statistics granted: 1 of 2 (50 %)"


def test_an_empty_period_still_draws_axes() -> None:
    svg = parse(stacked_shares(DAYS, [Series("Accept all", "#009E73", [0, 0, 0, 0])], "Nothing yet"))
    assert [t.text for t in svg.iter(f"{SVG}text")][:5] == ["0 %", "25 %", "50 %", "75 %", "100 %"]
    assert all(rect.find(f"{SVG}title") is None for rect in svg.iter(f"{SVG}rect"))
