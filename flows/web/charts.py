"""A server-side SVG bar chart of alerts per day: no JavaScript, no chart library.

The SVG is built from numbers and dates we format ourselves; the only text that could
come from outside (the label) is escaped.
"""

from __future__ import annotations

import math
from datetime import date

from markupsafe import Markup, escape


def nice_ceiling(value: int) -> int:
    """The smallest "round" axis maximum >= value: 1, 2, 5, 10, 20, 50, …"""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def y_ticks(top: int) -> list[int]:
    """Evenly spaced whole-number ticks from 0 to ``top`` (a :func:`nice_ceiling` value)."""
    for intervals in (4, 5, 2, 1):
        if top % intervals == 0:
            return list(range(0, top + 1, top // intervals))
    return [0, top]


def alerts_per_day_svg(
    days: list[tuple[date, int]],
    *,
    label: str = "Alerts per day",
    width: int = 1100,
    height: int = 240,
    date_labels: int = 10,
    css_class: str = "chart",
) -> Markup:
    """A bar per day (UTC) with a labelled y axis and at most ``date_labels`` dates."""
    left, right, top_pad, bottom = 40, 12, 12, 34
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    total = sum(count for _, count in days)
    top = nice_ceiling(max((count for _, count in days), default=0))
    slot = plot_w / max(len(days), 1)
    bar_w = max(1.0, slot * 0.72)
    label_every = max(1, math.ceil(len(days) / date_labels))

    def y(value: float) -> float:
        return top_pad + plot_h - plot_h * value / top

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(css_class)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}: {total} in {len(days)} days">',
        f"<title>{escape(label)}</title>",
    ]
    for tick in y_ticks(top):
        ty = y(tick)
        parts.append(f'<line class="grid" x1="{left}" y1="{ty:.1f}" x2="{width - right}" y2="{ty:.1f}"/>')
        parts.append(f'<text class="axis" x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">{tick}</text>')
    for index, (day, count) in enumerate(days):
        x = left + index * slot + (slot - bar_w) / 2
        if count:
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y(count):.1f}" width="{bar_w:.1f}" '
                f'height="{plot_h * count / top:.1f}"><title>{day.isoformat()}: {count} '
                f'alert{"" if count == 1 else "s"}</title></rect>'
            )
        if (len(days) - 1 - index) % label_every == 0:  # counted back from the last day
            cx = left + index * slot + slot / 2
            parts.append(
                f'<text class="axis" x="{cx:.1f}" y="{height - bottom + 16}" '
                f'text-anchor="middle">{day.strftime("%d %b")}</text>'
            )
    base = y(0)
    parts.append(f'<line class="baseline" x1="{left}" y1="{base:.1f}" x2="{width - right}" y2="{base:.1f}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def responsive_alerts_per_day_svg(days: list[tuple[date, int]], *, label: str = "Alerts per day") -> Markup:
    """The chart twice: wide for a desktop, narrow (fewer dates) for a phone; CSS shows one.

    An SVG scales its text with its width, so one drawing cannot be legible at both: the
    wide one's 11 px labels would be 3 px on a 375 px screen.
    """
    wide = alerts_per_day_svg(days, label=label, width=960, height=240, css_class="chart chart-wide")
    narrow = alerts_per_day_svg(
        days, label=label, width=340, height=200, date_labels=4, css_class="chart chart-narrow"
    )
    return Markup(wide + narrow)
