"""The episode timeline, as SVG drawn on the server.

One lane per kind of record (medication trials, procedures, psychotherapy, courses); each
record is a bar from its start to its end, or an arrow to the chart's end while it goes on.
A bar's ``kind`` sets its colour (see ``STYLES``: a trial by its adequacy and outcome, a
procedure by its response, a course by its status) and the legend repeats it in words, so
colour is never the only carrier. Records that started before the episode are faded.
Pure: data in, text out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from trdnav.web.svg import DateAxis, element, esc, text, title

__all__ = ["LANES", "STYLES", "Bar", "Marker", "timeline"]

LANES = ("Medication", "Procedures", "Psychotherapy", "Courses")

# kind: (fill, legend text)
STYLES: dict[str, tuple[str, str]] = {
    "failed": ("#c62828", "failed adequate trial"),
    "adequate": ("#2e7d32", "adequate trial, responded"),
    "pending": ("#5c6bc0", "adequate trial, outcome open"),
    "not_adequate": ("#9e9e9e", "not an adequate trial"),
    "intolerance": ("#ef6c00", "stopped for intolerance"),
    "augmentation": ("#7b1fa2", "augmentation"),
    "procedure_failed": ("#ad1457", "procedure, no or partial response"),
    "procedure_response": ("#00897b", "procedure, response or remission"),
    "procedure_unknown": ("#546e7a", "procedure, response unknown"),
    "psychotherapy": ("#00838f", "psychotherapy"),
    "course_active": ("#1565c0", "course in progress"),
    "course_completed": ("#33691e", "course completed"),
    "course_stopped": ("#757575", "course stopped"),
}

WIDTH = 960
LEFT, RIGHT, TOP = 112, 20, 26
ROW, GAP, LANE_GAP = 18, 4, 10
CHAR_WIDTH = 6.4


@dataclass(frozen=True)
class Bar:
    lane: str
    label: str
    start: date
    end: date | None
    kind: str
    detail: str = ""
    outside: bool = False
    """Started outside the current episode (drawn faded)."""


@dataclass(frozen=True)
class Marker:
    day: date
    label: str
    kind: str  # "onset" or "today"


@dataclass(frozen=True)
class _Placed:
    """A bar's shape in pixels: the bar, where its label goes, and the span both cover."""

    bar: Bar
    x1: float
    x2: float
    label_x: float
    label_inside: bool

    @property
    def left(self) -> float:
        return min(self.x1, self.label_x)

    @property
    def right(self) -> float:
        label_end = self.label_x + len(self.bar.label) * CHAR_WIDTH + 4
        arrow = 10 if self.bar.end is None else 0
        return max(self.x2 + arrow, label_end)


def _place(bar: Bar, axis: DateAxis) -> _Placed:
    x1 = axis.x(bar.start)
    x2 = max(x1 + 3, axis.x(bar.end) if bar.end else axis.right)
    label_width = len(bar.label) * CHAR_WIDTH + 8
    if label_width <= x2 - x1:
        return _Placed(bar, x1, x2, x1 + 4, True)
    after = x2 + (12 if bar.end is None else 4)
    if after + label_width <= WIDTH:
        return _Placed(bar, x1, x2, after, False)
    return _Placed(bar, x1, x2, max(0.0, x1 - label_width), False)


def _pack(placed: Sequence[_Placed]) -> list[tuple[_Placed, int]]:
    """Rows within a lane so that no bar or label overlaps another (greedy, by start)."""
    rows: list[float] = []
    out = []
    for p in sorted(placed, key=lambda p: (p.left, p.right)):
        for index, busy_until in enumerate(rows):
            if busy_until + 6 <= p.left:
                rows[index] = p.right
                out.append((p, index))
                break
        else:
            rows.append(p.right)
            out.append((p, len(rows) - 1))
    return out


def _legend(kinds: list[str], y: float) -> tuple[list[str], float]:
    parts: list[str] = []
    x = float(LEFT)
    for kind in kinds:
        fill, words = STYLES[kind]
        width = 16 + len(words) * CHAR_WIDTH + 18
        if x + width > WIDTH - RIGHT:
            x, y = float(LEFT), y + 18
        parts.append(element("rect", x=x, y=y - 10, width=12.0, height=12.0, fill=fill, rx="2"))
        parts.append(text(x + 16, y, words, font_size="11", fill="#333"))
        x += width
    return parts, y + 10


def timeline(
    bars: Sequence[Bar],
    *,
    start: date,
    end: date,
    markers: Sequence[Marker] = (),
    chart_id: str = "timeline",
) -> str:
    """The SVG timeline of ``bars`` from ``start`` to ``end``."""
    days = [start, end, *(b.start for b in bars), *(b.end for b in bars if b.end)]
    axis = DateAxis.around(days, LEFT, WIDTH - RIGHT, pad=7)
    parts: list[str] = []
    y = float(TOP)
    for index, lane in enumerate(LANES):
        placed = _pack([_place(b, axis) for b in bars if b.lane == lane])
        rows = max((row for _, row in placed), default=0) + 1
        height = rows * (ROW + GAP) - GAP
        parts.append(
            element(
                "rect",
                x=0.0,
                y=y - 3,
                width=float(WIDTH),
                height=float(height + 6),
                fill="#f5f7f9" if index % 2 == 0 else "#ffffff",
            )
        )
        parts.append(
            text(8, y + ROW / 2 + 4, lane, font_size="12", font_weight="bold", fill="#263238")
        )
        if not placed:
            parts.append(text(LEFT, y + ROW / 2 + 4, "none", font_size="11", fill="#666"))
        for shape, row in placed:
            parts.append(_bar(shape, y + row * (ROW + GAP)))
        y += height + LANE_GAP

    chart_bottom = y - LANE_GAP + 4
    for x, label in axis.ticks(8):
        parts.append(
            element("line", x1=x, x2=x, y1=float(TOP - 6), y2=chart_bottom, stroke="#cfd8dc")
        )
        anchor = "end" if x > WIDTH - RIGHT - 30 else "middle"
        parts.append(
            text(x, float(TOP - 10), label, text_anchor=anchor, font_size="11", fill="#333")
        )
    for marker in markers:
        x = axis.x(marker.day)
        colour = "#b71c1c" if marker.kind == "today" else "#263238"
        parts.append(
            element(
                "line",
                title(f"{marker.label}: {marker.day.isoformat()}"),
                x1=x,
                x2=x,
                y1=float(TOP - 4),
                y2=chart_bottom,
                stroke=colour,
                stroke_width="2",
                stroke_dasharray="4 3" if marker.kind == "today" else None,
                class_=f"marker marker-{marker.kind}",
            )
        )
        near_end = x > WIDTH - RIGHT - 60
        parts.append(
            text(
                x - 3 if near_end else x + 3,
                chart_bottom + 12,
                marker.label,
                font_size="11",
                fill=colour,
                text_anchor="end" if near_end else None,
            )
        )
    used = [k for k in STYLES if any(b.kind == k for b in bars)]
    legend, bottom = _legend(used, chart_bottom + 32)
    parts += legend
    height = int(bottom + 6)
    counts = ", ".join(f"{sum(1 for b in bars if b.lane == lane)} {lane.lower()}" for lane in LANES)
    summary = f"From {start.isoformat()} to {end.isoformat()}: {counts} records."
    cid = esc(chart_id)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart timeline" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" font-family="DejaVu Sans, Arial, sans-serif">'
        f'<title id="{cid}-title">Episode timeline</title>'
        f'<desc id="{cid}-desc">{esc(summary)}</desc>'
    )
    return head + "".join(parts) + "</svg>"


def _bar(shape: _Placed, y: float) -> str:
    bar = shape.bar
    fill, words = STYLES[bar.kind]
    tip = f"{bar.label} ({words}): {bar.start.isoformat()} to "
    tip += bar.end.isoformat() if bar.end else "ongoing"
    if bar.detail:
        tip += f". {bar.detail}"
    if bar.outside:
        tip += ". Before this episode: not counted."
    shapes = element(
        "rect",
        x=shape.x1,
        y=y,
        width=shape.x2 - shape.x1,
        height=float(ROW),
        fill=fill,
        rx="3",
        opacity="0.45" if bar.outside else None,
    )
    if bar.end is None:
        shapes += element(
            "path",
            d=f"M{shape.x2:.1f},{y - 2:.1f} L{shape.x2 + 8:.1f},{y + ROW / 2:.1f} "
            f"L{shape.x2:.1f},{y + ROW + 2:.1f} Z",
            fill=fill,
        )
    colour = "#fff" if shape.label_inside else "#263238"
    shapes += text(shape.label_x, y + ROW - 5, bar.label, font_size="11", fill=colour)
    return element("g", title(tip) + shapes, class_=f"bar bar-{bar.kind}")
