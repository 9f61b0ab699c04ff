"""Charts as inline SVG, drawn on the server: nothing to fetch, nothing to run in the browser."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 44
COLOURS = ("#1f75cb", "#e9be74", "#108548", "#dd2b0e", "#9475db", "#5b8b99")


@dataclass(frozen=True)
class Series:
    """One line of a chart: a name and its (x, y) points, x ascending."""

    name: str
    points: Sequence[tuple[float, float]]


@dataclass(frozen=True)
class _Scale:
    low: float
    high: float
    start: float
    length: float
    flip: bool = False

    def __call__(self, value: float) -> float:
        span = self.high - self.low or 1.0
        share = (value - self.low) / span
        return self.start + (1 - share if self.flip else share) * self.length


def line_chart(title: str, series: Sequence[Series], x_label: str = "step") -> Markup:
    """A line per series; the points carry their values as tooltips."""
    finite = [(x, y) for s in series for x, y in s.points if _finite(y)]
    if not finite:
        return _empty(title)
    xs, ys = _bounds([x for x, _ in finite]), _bounds([y for _, y in finite])
    sx = _Scale(*xs, LEFT, WIDTH - LEFT - RIGHT)
    sy = _Scale(*ys, TOP, HEIGHT - TOP - BOTTOM, flip=True)
    parts = [_frame(title, sx, sy, x_label)]
    for index, line in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        points = [(sx(x), sy(y), x, y) for x, y in line.points if _finite(y)]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in points)
        parts.append(f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" '
                     f'points="{path}"><title>{escape(line.name)}</title></polyline>')
        parts.extend(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}">'
            f"<title>{escape(line.name)} {x_label} {_tick(x)}: {_tick(y)}</title></circle>"
            for px, py, x, y in points)
    if len(series) > 1:
        parts.append(_legend([s.name for s in series]))
    return _svg(title, parts)


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float],
              reference: float | None = None, reference_label: str = "baseline") -> Markup:
    """A bar per label, and an optional horizontal reference line (the baseline)."""
    shown = [v for v in values if _finite(v)] + ([reference] if _finite(reference) else [])
    if not shown:
        return _empty(title)
    low, high = _bounds([*shown, 0.0])
    sy = _Scale(low, high, TOP, HEIGHT - TOP - BOTTOM, flip=True)
    band = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    sx = _Scale(0, max(len(labels), 1), LEFT, WIDTH - LEFT - RIGHT)
    parts = [_frame(title, sx, sy, "", x_ticks=False)]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        left = LEFT + index * band + band * 0.15
        centre = LEFT + (index + 0.5) * band
        parts.append(f'<text x="{centre:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                     f"{escape(label)}</text>")
        if not _finite(value):
            continue
        top, base = sorted((sy(value), sy(0.0)))
        parts.append(f'<rect class="bar" x="{left:.1f}" y="{top:.1f}" width="{band * 0.7:.1f}" '
                     f'height="{max(base - top, 1):.1f}" fill="{COLOURS[0]}">'
                     f"<title>{escape(label)}: {_tick(value)}</title></rect>")
    if reference is not None and _finite(reference):
        y = sy(reference)
        parts.append(f'<line class="reference" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
                     f'y2="{y:.1f}" stroke="{COLOURS[3]}" stroke-dasharray="6 4" stroke-width="2">'
                     f"<title>{escape(reference_label)}: {_tick(reference)}</title></line>")
    return _svg(title, parts)


def _frame(title: str, sx: _Scale, sy: _Scale, x_label: str, x_ticks: bool = True) -> str:
    bottom = HEIGHT - BOTTOM
    parts = [f'<text class="title" x="{LEFT}" y="16">{escape(title)}</text>',
             f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{bottom}" stroke="#999"/>',
             f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{bottom}" y2="{bottom}" stroke="#999"/>']
    for value in _ticks(sy.low, sy.high):
        y = sy(value)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#eee"/><text x="{LEFT - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{_tick(value)}</text>')
    if x_ticks:
        for value in _ticks(sx.low, sx.high):
            x = sx(value)
            parts.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">'
                         f"{_tick(value)}</text>")
        parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.1f}" y="{HEIGHT - 6}" '
                     f'text-anchor="middle">{escape(x_label)}</text>')
    return "".join(parts)


def _legend(names: Sequence[str]) -> str:
    items = []
    for index, name in enumerate(names):
        x = LEFT + 8 + (index % 4) * 140
        y = TOP + 12 + (index // 4) * 14
        items.append(f'<rect x="{x}" y="{y - 8}" width="10" height="10" '
                     f'fill="{COLOURS[index % len(COLOURS)]}"/>'
                     f'<text x="{x + 14}" y="{y + 1}">{escape(name[:18])}</text>')
    return "".join(items)


def _svg(title: str, parts: list[str]) -> Markup:
    return Markup(f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" '
                  f'aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
                  f'font-family="sans-serif" font-size="11">{"".join(parts)}</svg>')


def _empty(title: str) -> Markup:
    return Markup(f'<p class="chart-empty">{escape(title)}: no values to draw.</p>')


def _bounds(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    return low, high


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    step = (high - low) / (count - 1)
    return [low + step * i for i in range(count)]


def _tick(value: float) -> str:
    return f"{value:.4g}"


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
