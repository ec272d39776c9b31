"""A small SVG chart drawn on the server: daily volume as bars (the late part in red) and the
daily share answered on time as a line, broken on days with nothing due (a gap, not 0 %). No
script, no CDN; it reads the same in every browser and in a screenshot."""

from __future__ import annotations

from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from marketmsg.metrics.response_times import Day

WIDTH, HEIGHT = 900, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 44, 14, 30


def response_chart(days: list[Day], volume_label: str, share_label: str) -> SafeString:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    most = max((d.received for d in days), default=0) or 1
    step = plot_w / max(len(days), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(volume_label)} / {escape(share_label)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for fraction in (0, 0.5, 1):  # grid, the share's scale on the right, the volume's on the left
        y = TOP + plot_h * (1 - fraction)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{WIDTH - RIGHT + 6}" y="{y + 4:.1f}" class="axis share">{int(fraction * 100)}%</text>'
        )
        if fraction != 0.5 or most >= 4:  # a half of one or three messages is no label
            parts.append(
                f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="axis volume" text-anchor="end">'
                f"{round(most * fraction)}</text>"
            )
    segments: list[list[str]] = [[]]  # the share's line breaks where a day had nothing due
    for index, day in enumerate(days):
        x = LEFT + index * step
        height = plot_h * day.received / most
        title = f"{day.day.isoformat()}: {day.received}"
        if day.share_on_time is not None:
            title += f", {day.share_on_time:.0%}"
        parts.append(
            f'<rect x="{x + step * 0.15:.1f}" y="{TOP + plot_h - height:.1f}" width="{step * 0.7:.1f}" '
            f'height="{height:.1f}" class="bar"><title>{escape(title)}</title></rect>'
        )
        if day.late:  # the late part of the day's messages, in red at the bar's foot
            late = plot_h * min(day.late, day.received or day.late) / most
            parts.append(
                f'<rect x="{x + step * 0.15:.1f}" y="{TOP + plot_h - late:.1f}" width="{step * 0.7:.1f}" '
                f'height="{late:.1f}" class="bar late"><title>{escape(title)}</title></rect>'
            )
        if day.share_on_time is not None:
            segments[-1].append(f"{x + step / 2:.1f},{TOP + plot_h * (1 - day.share_on_time):.1f}")
        elif segments[-1]:
            segments.append([])
        if index % 15 == 0 or index == len(days) - 1:
            label = date_format(day.day, "n/j")
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{HEIGHT - 10}" class="axis" text-anchor="middle">'
                f"{label}</text>"
            )
    for points in segments:
        if len(points) > 1:
            parts.append(f'<polyline points="{" ".join(points)}" class="line"/>')
        for point in points:
            cx, cy = point.split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.2" class="dot"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text in it is escaped or a number
