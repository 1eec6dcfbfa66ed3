"""Inline SVG charts drawn in Python: no JavaScript, no external resources.

Every text taken from data goes through :func:`esc`, including ``<title>`` tooltips.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

from promptsearch.reports._data import GroupStats, HistoryPoint, LengthPoint

__all__ = ["bar_chart", "box_chart", "color", "esc", "history_chart", "scatter_chart"]

WIDTH, HEIGHT = 720, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 60, 20, 16, 48

_ORIGINS = {"seed": "#1f77b4", "grammar": "#17becf"}  # candidates that no operator made
#: Operators' colours, in their registration order (plugins included, while colours last).
_OPERATORS = ("#d62728", "#9467bd", "#2ca02c", "#ff7f0e", "#8c564b", "#e377c2")
_EXTRA = ("#bcbd22", "#7f7f7f", "#393b79", "#637939", "#8c6d31", "#843c39")


def esc(value: object) -> str:
    """HTML-escape any value (quotes too, so the result is safe in attributes)."""
    return html.escape(str(value), quote=True)


def color(name: str) -> str:
    """A stable colour for an operator (origin) or any other group name."""
    from promptsearch.generators import operators

    if name in _ORIGINS:
        return _ORIGINS[name]
    registered = operators.registered()
    if name in registered and registered.index(name) < len(_OPERATORS):
        return _OPERATORS[registered.index(name)]
    return _EXTRA[sum(map(ord, name)) % len(_EXTRA)]


def _fmt(value: float) -> str:
    return f"{value:.3f}"


@dataclass(frozen=True)
class _Scale:
    lo: float
    hi: float
    px0: float
    px1: float

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo
        return (
            self.px0 + (value - self.lo) / span * (self.px1 - self.px0) if span else (self.px0 + self.px1) / 2
        )


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, n)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    out = []
    v = start
    while v <= hi + step * 1e-9:
        out.append(round(v, 10))
        v += step
    return out


def _padded(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.05 or max(abs(hi) * 0.05, 0.05)
    return lo - pad, hi + pad


def _open(chart_id: str, label: str, height: int = HEIGHT) -> list[str]:
    return [
        f'<svg id="{esc(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" role="img" aria-label="{esc(label)}">',
        f"<title>{esc(label)}</title>",
    ]


def _y_axis(y: _Scale, label: str, height: int = HEIGHT) -> list[str]:
    parts = [f'<line class="axis" x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{height - _BOTTOM}"/>']
    for t in _ticks(min(y.lo, y.hi), max(y.lo, y.hi)):
        py = y(t)
        parts.append(f'<line class="grid" x1="{_LEFT}" y1="{py:.1f}" x2="{WIDTH - _RIGHT}" y2="{py:.1f}"/>')
        parts.append(f'<text class="tick" x="{_LEFT - 6}" y="{py + 4:.1f}" text-anchor="end">{t:g}</text>')
    mid = (_TOP + height - _BOTTOM) / 2
    parts.append(
        f'<text class="label" x="14" y="{mid:.1f}" transform="rotate(-90 14 {mid:.1f})" '
        f'text-anchor="middle">{esc(label)}</text>'
    )
    return parts


def _x_axis(x: _Scale, label: str, height: int = HEIGHT, *, integer: bool = False) -> list[str]:
    base = height - _BOTTOM
    parts = [f'<line class="axis" x1="{_LEFT}" y1="{base}" x2="{WIDTH - _RIGHT}" y2="{base}"/>']
    for t in _ticks(x.lo, x.hi):
        if integer and t != int(t):
            continue
        px = x(t)
        parts.append(f'<text class="tick" x="{px:.1f}" y="{base + 16}" text-anchor="middle">{t:g}</text>')
    parts.append(
        f'<text class="label" x="{(_LEFT + WIDTH - _RIGHT) / 2:.1f}" y="{height - 8}" '
        f'text-anchor="middle">{esc(label)}</text>'
    )
    return parts


def _legend(names: Sequence[str]) -> list[str]:
    parts = ['<g class="legend">']
    for i, name in enumerate(names):
        top = _TOP + 4 + 16 * i
        parts.append(f'<circle cx="{WIDTH - _RIGHT - 110}" cy="{top}" r="4" fill="{color(name)}"/>')
        parts.append(f'<text class="tick" x="{WIDTH - _RIGHT - 100}" y="{top + 4}">{esc(name)}</text>')
    parts.append("</g>")
    return parts


def _empty(chart_id: str, label: str, message: str) -> str:
    return "\n".join(
        [
            *_open(chart_id, label, 60),
            f'<text class="empty" x="{WIDTH / 2}" y="34" text-anchor="middle">{esc(message)}</text>',
            "</svg>",
        ]
    )


def history_chart(points: Sequence[HistoryPoint], *, chart_id: str = "history-chart") -> str:
    """Each trial's objective (hollow when pruned) and a step line of the best value so far."""
    label = "Optimization history: objective by trial, with the best value so far"
    scored = [p for p in points if p.value is not None]
    if not scored:
        return _empty(chart_id, label, "No trial has a value yet.")
    lo, hi = _padded([p.value for p in scored if p.value is not None])
    x = _Scale(
        min(p.number for p in points) - 0.5, max(p.number for p in points) + 0.5, _LEFT, WIDTH - _RIGHT
    )
    y = _Scale(lo, hi, HEIGHT - _BOTTOM, _TOP)
    parts = [*_open(chart_id, label), *_y_axis(y, "objective"), *_x_axis(x, "trial", integer=True)]
    steps: list[str] = []
    for p in points:
        if p.best is None:
            continue
        steps.append(
            f"{'L' if steps else 'M'}{x(p.number - 0.5):.1f},{y(p.best):.1f} H{x(p.number + 0.5):.1f}"
        )
    if steps:
        parts.append(f'<path class="best" d="{" ".join(steps)}"/>')
    for p in scored:
        cls = "dot pruned" if p.pruned else "dot"
        parts.append(
            f'<circle class="{cls}" cx="{x(p.number):.1f}" cy="{y(p.value or 0.0):.1f}" r="3.5">'
            f"<title>{esc(f'trial {p.number}: {_fmt(p.value or 0.0)} ({p.state}')}"
            f"{esc(', pruned' if p.pruned else '')}; best so far {esc(_fmt(p.best or 0.0))})</title>"
            "</circle>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def box_chart(groups: Sequence[GroupStats], *, chart_id: str, label: str, axis: str) -> str:
    """A box plot (quartiles, whiskers at min/max) per group with every value as a jittered dot."""
    groups = [g for g in groups if g.n]
    if not groups:
        return _empty(chart_id, label, "No completed trial to group.")
    lo, hi = _padded([v for g in groups for v in g.values])
    y = _Scale(lo, hi, HEIGHT - _BOTTOM, _TOP)
    band = (WIDTH - _LEFT - _RIGHT) / len(groups)
    parts = [*_open(chart_id, label), *_y_axis(y, "objective")]
    base = HEIGHT - _BOTTOM
    parts.append(f'<line class="axis" x1="{_LEFT}" y1="{base}" x2="{WIDTH - _RIGHT}" y2="{base}"/>')
    for i, g in enumerate(groups):
        cx = _LEFT + band * (i + 0.5)
        half = min(band * 0.3, 40)
        c = color(g.name)
        summary = (
            f"{g.name}: n={g.n}, mean {_fmt(g.mean)}, median {_fmt(g.median)}, "
            f"IQR [{_fmt(g.q1)}, {_fmt(g.q3)}], range [{_fmt(g.minimum)}, {_fmt(g.maximum)}]"
        )
        parts.append(f'<g class="group" data-group="{esc(g.name)}"><title>{esc(summary)}</title>')
        parts.append(
            f'<line class="whisker" x1="{cx:.1f}" y1="{y(g.minimum):.1f}" x2="{cx:.1f}" '
            f'y2="{y(g.maximum):.1f}"/>'
        )
        top, bottom = y(g.q3), y(g.q1)
        parts.append(
            f'<rect class="box" x="{cx - half:.1f}" y="{top:.1f}" width="{2 * half:.1f}" '
            f'height="{max(bottom - top, 1):.1f}" fill="{c}" fill-opacity="0.18" stroke="{c}"/>'
        )
        parts.append(
            f'<line class="median" x1="{cx - half:.1f}" y1="{y(g.median):.1f}" x2="{cx + half:.1f}" '
            f'y2="{y(g.median):.1f}" stroke="{c}"/>'
        )
        for j, v in enumerate(g.values):
            jitter = ((j * 0.618034) % 1 - 0.5) * half * 1.4  # deterministic, evenly spread
            parts.append(
                f'<circle class="point" cx="{cx + jitter:.1f}" cy="{y(v):.1f}" r="2.5" fill="{c}">'
                f"<title>{esc(f'{g.name}: {_fmt(v)}')}</title></circle>"
            )
        parts.append(
            f'<text class="tick" x="{cx:.1f}" y="{base + 16}" text-anchor="middle">{esc(g.name)}</text>'
        )
        parts.append(f'<text class="tick" x="{cx:.1f}" y="{base + 30}" text-anchor="middle">n={g.n}</text>')
        parts.append("</g>")
    parts.append(
        f'<text class="label" x="{(_LEFT + WIDTH - _RIGHT) / 2:.1f}" y="{HEIGHT - 2}" '
        f'text-anchor="middle">{esc(axis)}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def bar_chart(items: Sequence[tuple[str, float]], *, chart_id: str, label: str) -> str:
    """Horizontal bars, one per ``(name, value)``, values in ``[0, 1]``."""
    if not items:
        return _empty(chart_id, label, "Nothing to show.")
    row, left = 26, 180
    height = _TOP + row * len(items) + 12
    parts = _open(chart_id, label, height)
    scale = _Scale(0.0, max(1e-12, max(v for _, v in items)), left, WIDTH - _RIGHT - 60)
    for i, (name, value) in enumerate(items):
        top = _TOP + i * row
        parts.append(f'<g class="bar"><title>{esc(f"{name}: {value:.3f}")}</title>')
        parts.append(f'<text class="tick" x="{left - 8}" y="{top + 15}" text-anchor="end">{esc(name)}</text>')
        parts.append(
            f'<rect x="{left}" y="{top + 3}" width="{max(scale(value) - left, 1):.1f}" height="{row - 8}" '
            f'fill="#4c78a8"/>'
        )
        parts.append(f'<text class="tick" x="{scale(value) + 6:.1f}" y="{top + 15}">{value:.3f}</text></g>')
    parts.append("</svg>")
    return "\n".join(parts)


def scatter_chart(points: Sequence[LengthPoint], *, chart_id: str = "length-chart") -> str:
    """Objective against prompt length, coloured by operator."""
    label = "Objective against prompt length (characters of instruction + template)"
    if not points:
        return _empty(chart_id, label, "No completed trial.")
    lo, hi = _padded([p.value for p in points])
    xlo, xhi = _padded([float(p.length) for p in points])
    x = _Scale(max(0.0, xlo), xhi, _LEFT, WIDTH - _RIGHT)
    y = _Scale(lo, hi, HEIGHT - _BOTTOM, _TOP)
    parts = [*_open(chart_id, label), *_y_axis(y, "objective"), *_x_axis(x, "prompt length (characters)")]
    parts += _legend(sorted({p.origin for p in points}))
    for p in points:
        parts.append(
            f'<circle class="point" cx="{x(p.length):.1f}" cy="{y(p.value):.1f}" r="3.5" '
            f'fill="{color(p.origin)}" fill-opacity="0.75">'
            f"<title>{esc(f'trial {p.number} ({p.origin}): {p.length} characters, {_fmt(p.value)}')}"
            "</title></circle>"
        )
    parts.append("</svg>")
    return "\n".join(parts)
