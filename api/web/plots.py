"""Horizontal bar charts as inline SVG: readable without a script, a CDN or an image request."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["bars"]


def bars(points: Sequence[tuple[str, float]], unit: str, width: int = 560, row: int = 26) -> str:
    """One bar per (label, value), longest for the largest; empty when there is nothing to draw."""
    if not points:
        return ""
    top = max(v for _, v in points) or 1.0
    label_w, value_w = 200, 70
    span = width - label_w - value_w
    height = row * len(points) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(unit)}" class="plot">'
    ]
    for i, (name, value) in enumerate(points):
        y = 4 + i * row
        length = max(1.0, span * value / top)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + row * 0.65:.1f}" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="{row - 8}" fill="#1d5fa6"/>'
            f'<text x="{label_w + length + 6:.1f}" y="{y + row * 0.65:.1f}">{value:.3f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
