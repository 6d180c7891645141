"""Small inline-SVG chart builders (pure string functions; every label is escaped).

Each value label carries ``data-metric`` (its key in ``dashboard.json``) and ``data-value`` (the
raw number), so tests can check the rendered page against the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

FONT = 12
ROW = 22
LABEL_WIDTH = 190
GREY = "#9aa5b1"


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def number(value: float | int | None, *, percent: bool = False) -> str:
    """Thousands separators; percentages with one decimal; ``—`` for no data."""
    if value is None:
        return "—"
    if percent:
        return f"{value * 100:.1f}%"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def metric_attrs(metric: str | None, value: float | int | None) -> str:
    if metric is None:
        return ""
    raw = "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
    return f' data-metric="{esc(metric)}" data-value="{esc(raw)}"'


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}" '
        f'font-family="system-ui, sans-serif" font-size="{FONT}">'
        f"<title>{esc(title)}</title>" + "".join(body) + "</svg>"
    )


def _clip(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    metric: str | None = None
    color: str = "#3b6fb6"
    note: str = ""  # extra text after the value


def hbar_chart(bars: Sequence[Bar], title: str, *, width: int = 600, empty: str = "") -> str:
    """Horizontal bars, one per row, scaled to the largest value; value printed at the bar end."""
    if not bars:
        return f'<p class="empty">{esc(empty or "no data")}</p>'
    top = max((b.value for b in bars), default=0) or 1
    area = width - LABEL_WIDTH - 110
    body = []
    for i, bar in enumerate(bars):
        y = i * ROW + 4
        w = max(bar.value / top * area, 1 if bar.value else 0)
        body.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 14}" text-anchor="end" fill="#1f2933">'
            f"<title>{esc(bar.label)}</title>{esc(_clip(bar.label))}</text>"
            f'<rect x="{LABEL_WIDTH}" y="{y + 2}" width="{w:.1f}" height="{ROW - 6}" rx="2" '
            f'fill="{esc(bar.color)}"><title>{esc(bar.label)}: {number(bar.value)}</title></rect>'
            f'<text x="{LABEL_WIDTH + w + 6:.1f}" y="{y + 14}" fill="#1f2933"'
            f"{metric_attrs(bar.metric, bar.value)}>{number(bar.value)}</text>"
        )
        if bar.note:
            body.append(
                f'<text x="{LABEL_WIDTH + w + 14 + 7.5 * len(number(bar.value)):.1f}" '
                f'y="{y + 14}" fill="#616e7c">{esc(bar.note)}</text>'
            )
    return _svg(width, len(bars) * ROW + 8, body, title)


@dataclass(frozen=True, slots=True)
class Stack:
    label: str
    segments: tuple[tuple[str, float], ...]  # (series name, value)
    metric: str | None = None  # for the row total


def stacked_hbar(
    rows: Sequence[Stack], colors: dict[str, str], title: str, *, width: int = 600
) -> str:
    """Horizontal stacked bars with a legend; the row total is printed at the end."""
    if not rows:
        return '<p class="empty">no data</p>'
    totals = [sum(v for _, v in r.segments) for r in rows]
    top = max(totals) or 1
    area = width - LABEL_WIDTH - 80
    series = [s for s in colors if any(name == s and v for r in rows for name, v in r.segments)]
    body = []
    x, y_legend = LABEL_WIDTH, 4
    for name in series:
        step = 22 + 7 * len(name)
        if x + step > width and x > LABEL_WIDTH:
            x, y_legend = LABEL_WIDTH, y_legend + 16
        body.append(
            f'<rect x="{x}" y="{y_legend}" width="10" height="10" fill="{esc(colors[name])}"/>'
            f'<text x="{x + 14}" y="{y_legend + 9}" fill="#3e4c59">{esc(name)}</text>'
        )
        x += step
    legend_h = y_legend + 18
    for i, (row, total) in enumerate(zip(rows, totals, strict=True)):
        y = legend_h + i * ROW + 4
        body.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 14}" text-anchor="end" fill="#1f2933">'
            f"<title>{esc(row.label)}</title>{esc(_clip(row.label))}</text>"
        )
        x0 = float(LABEL_WIDTH)
        for name, value in row.segments:
            if not value:
                continue
            w = value / top * area
            body.append(
                f'<rect x="{x0:.1f}" y="{y + 2}" width="{max(w, 1):.1f}" height="{ROW - 6}" '
                f'fill="{esc(colors.get(name, GREY))}"><title>{esc(row.label)} · {esc(name)}: '
                f"{number(value)}</title></rect>"
            )
            x0 += w
        body.append(
            f'<text x="{x0 + 6:.1f}" y="{y + 14}" fill="#1f2933"'
            f"{metric_attrs(row.metric, total)}>{number(total)}</text>"
        )
    return _svg(width, legend_h + len(rows) * ROW + 8, body, title)


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: tuple[float | None, ...]
    color: str


def _ticks(labels: Sequence[str], count: int = 6) -> list[int]:
    if len(labels) <= count:
        return list(range(len(labels)))
    step = (len(labels) - 1) / (count - 1)
    return sorted({round(i * step) for i in range(count)})


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    title: str,
    *,
    width: int = 640,
    height: int = 220,
    percent: bool = True,
) -> str:
    """Lines over dates; ``None`` values leave a gap (a day without data is not zero)."""
    if not labels:
        return '<p class="empty">no runs recorded</p>'
    left, right, top_pad, bottom = 48, 12, 26, 34
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    peak = 1.0 if percent else max((v or 0 for s in series for v in s.values), default=1) or 1
    n = len(labels)

    def px(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def py(v: float) -> float:
        return top_pad + plot_h - v / peak * plot_h

    body = []
    for frac in (0, 0.25, 0.5, 0.75, 1):
        y = py(frac * peak)
        label = f"{frac * 100:.0f}%" if percent else number(round(frac * peak))
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e4e7eb"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#616e7c">{label}</text>'
        )
    for i in _ticks(labels):
        body.append(
            f'<text x="{px(i):.1f}" y="{height - 12}" text-anchor="middle" fill="#616e7c">'
            f"{esc(labels[i])}</text>"
        )
    x = left
    for s in series:
        body.append(
            f'<rect x="{x}" y="6" width="10" height="10" fill="{esc(s.color)}"/>'
            f'<text x="{x + 14}" y="15" fill="#3e4c59">{esc(s.name)}</text>'
        )
        x += 30 + 7 * len(s.name)
        points = [(i, v) for i, v in enumerate(s.values) if v is not None]
        if not points:
            body.append(f'<text x="{x - 10}" y="15" fill="#9aa5b1">(no data)</text>')
            x += 70
            continue
        path = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in points)
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{esc(s.color)}" stroke-width="1.5" '
            f'stroke-opacity="0.6"/>'
        )
        for i, v in points:
            shown = f"{v * 100:.1f}%" if percent else number(v)
            body.append(
                f'<circle cx="{px(i):.1f}" cy="{py(v):.1f}" r="2.5" fill="{esc(s.color)}">'
                f"<title>{esc(labels[i])} {esc(s.name)}: {shown}</title></circle>"
            )
    return _svg(width, height, body, title)


def column_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    title: str,
    *,
    width: int = 640,
    height: int = 200,
) -> str:
    """Stacked columns per date (e.g. empty vs non-empty runs per day)."""
    if not labels:
        return '<p class="empty">no runs recorded</p>'
    left, right, top_pad, bottom = 48, 12, 26, 34
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    peak = max(totals) or 1
    slot = plot_w / len(labels)
    bar_w = max(slot * 0.8, 1)
    body = []
    for frac in (0, 0.5, 1):
        y = top_pad + plot_h - frac * plot_h
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e4e7eb"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#616e7c">'
            f"{number(round(frac * peak))}</text>"
        )
    for i in _ticks(labels):
        body.append(
            f'<text x="{left + slot * (i + 0.5):.1f}" y="{height - 12}" text-anchor="middle" '
            f'fill="#616e7c">{esc(labels[i])}</text>'
        )
    x = left
    for s in series:
        body.append(
            f'<rect x="{x}" y="6" width="10" height="10" fill="{esc(s.color)}"/>'
            f'<text x="{x + 14}" y="15" fill="#3e4c59">{esc(s.name)}</text>'
        )
        x += 30 + 7 * len(s.name)
    for i, label in enumerate(labels):
        base = float(top_pad + plot_h)
        parts = []
        for s in series:
            value = s.values[i] or 0
            if not value:
                continue
            h = value / peak * plot_h
            base -= h
            parts.append(
                f'<rect x="{left + slot * i + (slot - bar_w) / 2:.1f}" y="{base:.1f}" '
                f'width="{bar_w:.1f}" height="{h:.1f}" fill="{esc(s.color)}">'
                f"<title>{esc(label)} {esc(s.name)}: {number(value)}</title></rect>"
            )
        body += parts
    return _svg(width, height, body, title)
