"""Horizontal bar charts as inline SVG for the monthly report, drawn offline with no plotting library.

Labels stay SVG text, so the reader's browser renders the Chinese with its own fonts
(matplotlib's bundled fonts have no CJK glyphs); the numbers are drawn exactly as given.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

FONT = "PingFang SC, Microsoft YaHei, Noto Sans CJK SC, Source Han Sans SC, SimHei, sans-serif"
LABEL_WIDTH = 130
BAR_HEIGHT = 18
ROW_GAP = 6
PLOT_WIDTH = 460
VALUE_WIDTH = 90
TOP = 34
LEGEND_HEIGHT = 24


def _frame(title: str, height: int, body: list[str]) -> str:
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="12" role="img" '
            f'aria-label="{escape(title)}">'
            f'<text x="0" y="18" font-size="15" font-weight="bold">{escape(title)}</text>'
            + "".join(body) + "</svg>")


def _row_y(index: int) -> int:
    return TOP + index * (BAR_HEIGHT + ROW_GAP)


def bar_chart_svg(title: str, labels: Sequence[str], values: Sequence[float],
                  value_text: Callable[[float], str], colour: str = "#2f6fb0", scale_max: float | None = None) -> str:
    """One bar per label, scaled to ``scale_max`` (default: the largest value), with the value after the bar."""
    largest = scale_max or max([v for v in values if v == v] + [0.0]) or 1.0  # v == v drops NaN
    body = []
    for i, (label, value) in enumerate(zip(labels, values)):
        y = _row_y(i)
        length = 0.0 if value != value else PLOT_WIDTH * value / largest
        body.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + 13}" text-anchor="end">{escape(label)}</text>')
        body.append(f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" fill="{colour}"/>')
        shown = "—" if value != value else value_text(value)
        body.append(f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{y + 13}">{escape(shown)}</text>')
    return _frame(title, _row_y(len(labels)) + 4, body)


def stacked_bar_svg(title: str, labels: Sequence[str], series: dict[str, Sequence[float]],
                    colours: Sequence[str]) -> str:
    """One bar per label split into the series (e.g. persons by status), scaled to the largest total, with a legend."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    largest = max(totals + [0.0]) or 1.0
    body = []
    for i, label in enumerate(labels):
        y = _row_y(i)
        body.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + 13}" text-anchor="end">{escape(label)}</text>')
        x = float(LABEL_WIDTH)
        for (name, values), colour in zip(series.items(), colours):
            length = PLOT_WIDTH * values[i] / largest
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" fill="{colour}">'
                        f'<title>{escape(label)} {escape(name)}: {values[i]:,.0f}</title></rect>')
            x += length
        body.append(f'<text x="{x + 4:.1f}" y="{y + 13}">{totals[i]:,.0f}</text>')
    legend_y = _row_y(len(labels)) + 8
    x = LABEL_WIDTH
    for name, colour in zip(series, colours):
        body.append(f'<rect x="{x}" y="{legend_y}" width="12" height="12" fill="{colour}"/>')
        body.append(f'<text x="{x + 16}" y="{legend_y + 11}">{escape(name)}</text>')
        x += 30 + 13 * len(name)
    return _frame(title, legend_y + LEGEND_HEIGHT, body)
