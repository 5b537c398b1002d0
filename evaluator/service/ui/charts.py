"""Server-side SVG charts for the dashboard: bars and lines, with a title and an accessible
name; every chart is also shown as a table by its template. Labels are escaped."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "line_chart"]

WIDTH, HEIGHT, PAD = 640, 200, 36
COLOURS = ("#1f5fbf", "#b3261e", "#1e7b34", "#7a4fbf")


def _scale(values: Sequence[float]) -> float:
    top = max((v for v in values), default=0.0)
    return top if top > 0 else 1.0


def bar_chart(title: str, points: Sequence[tuple[str, float]], *, unit: str = "") -> Markup:
    """One bar per point, labelled underneath, its value on top."""
    top = _scale([v for _, v in points])
    count = max(len(points), 1)
    step = (WIDTH - 2 * PAD) / count
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 40}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(points):
        height = (HEIGHT - PAD) * value / top
        x = PAD + i * step + step * 0.1
        y = HEIGHT - height
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.8:.1f}" height="{height:.1f}" '
            f'fill="{COLOURS[0]}"><title>{escape(label)}: {value:g}{escape(unit)}</title></rect>'
            f'<text x="{x + step * 0.4:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
            f'font-size="11">{value:.3g}</text>'
            f'<text x="{x + step * 0.4:.1f}" y="{HEIGHT + 14}" text-anchor="middle" '
            f'font-size="10">{escape(label[:14])}</text>'
        )
    parts.append(f'<line x1="{PAD}" y1="{HEIGHT}" x2="{WIDTH - PAD}" y2="{HEIGHT}" stroke="#333"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]]
) -> Markup:
    """One line per series over shared x labels (gaps where a value is missing), a legend."""
    values = [v for s in series.values() for v in s if v is not None]
    top = _scale(values)
    count = max(len(labels) - 1, 1)
    step = (WIDTH - 2 * PAD) / count
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 56}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<text x="4" y="{PAD - 8}" font-size="10">{top:.3g}</text>',
        f'<line x1="{PAD}" y1="{HEIGHT}" x2="{WIDTH - PAD}" y2="{HEIGHT}" stroke="#333"/>',
    ]
    for n, (name, points) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        xy = [
            (PAD + i * step, HEIGHT - (HEIGHT - PAD) * v / top)
            for i, v in enumerate(points)
            if v is not None
        ]
        if xy:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>'
            )
            parts.extend(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in xy
            )
        parts.append(
            f'<text x="{PAD + n * 150}" y="{HEIGHT + 48}" font-size="11" '
            f'fill="{colour}">■ {escape(name)}</text>'
        )
    for i, label in enumerate(labels):
        if len(labels) <= 10 or i % max(len(labels) // 8, 1) == 0:
            parts.append(
                f'<text x="{PAD + i * step:.1f}" y="{HEIGHT + 14}" font-size="10" '
                f'text-anchor="middle">{escape(label[5:])}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
