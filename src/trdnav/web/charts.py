"""The score chart of one instrument, as SVG drawn on the server.

The chart shades the instrument's severity bands (from its knowledge data), draws the
remission threshold and the response line (the rule's fraction of the baseline total), and
plots the totals of the episode over time; a measurement whose suicide item reaches the
alert value is marked. The same SVG is used on the patient page, in the printable reports
and in the PDFs. Pure: data in, text out.

``chart_state`` names what the series shows: ``none``, ``single``, ``remission``,
``improving``, ``worsening`` or ``unchanged``.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Literal

from trdnav.core import instruments
from trdnav.core.knowledge import Instrument
from trdnav.core.scores import ScoreLine
from trdnav.web.svg import DateAxis, element, esc, fmt, text, title

__all__ = ["STATE_TEXT", "ChartState", "band_label", "chart_state", "score_chart"]

ChartState = Literal["none", "single", "remission", "improving", "worsening", "unchanged"]

STATE_TEXT: dict[str, str] = {
    "none": "no measurements in this episode",
    "single": "a single measurement: no trend yet",
    "remission": "in remission",
    "improving": "improving",
    "worsening": "worsening",
    "unchanged": "unchanged",
}

# light to dark, mild to severe; picked evenly for instruments with fewer bands
BAND_FILLS = ("#e3f1e6", "#f1f4d6", "#fcefcf", "#fbe0c9", "#f8d0c8", "#f3c0c0")

WIDTH, HEIGHT = 640, 250
LEFT, RIGHT, TOP, BOTTOM = 34, 150, 14, 30


def band_label(label: str) -> str:
    """A band id as words: ``moderately_severe`` is ``moderately severe``."""
    return label.replace("_", " ")


def chart_state(instrument: Instrument, points: Sequence[ScoreLine]) -> ChartState:
    if not points:
        return "none"
    if len(points) == 1:
        return "single"
    first, last = points[0].total, points[-1].total
    if instruments.is_remission(instrument, last):
        return "remission"
    if last < first:
        return "improving"
    if last > first:
        return "worsening"
    return "unchanged"


def _fills(count: int) -> list[str]:
    if count >= len(BAND_FILLS):
        return list(BAND_FILLS) + [BAND_FILLS[-1]] * (count - len(BAND_FILLS))
    step = (len(BAND_FILLS) - 1) / max(1, count - 1)
    return [BAND_FILLS[round(i * step)] for i in range(count)]


def _describe(instrument: Instrument, points: Sequence[ScoreLine], state: ChartState) -> str:
    if not points:
        return f"{instrument.id}: no measurements in this episode."
    first, last = points[0], points[-1]
    if len(points) == 1:
        return (
            f"{instrument.id}: one measurement, {last.total} ({band_label(last.severity)}) "
            f"on {last.date.isoformat()}."
        )
    return (
        f"{instrument.id}: {len(points)} measurements from {first.total} "
        f"({band_label(first.severity)}) on {first.date.isoformat()} to {last.total} "
        f"({band_label(last.severity)}) on {last.date.isoformat()}; {STATE_TEXT[state]}."
    )


def score_chart(
    instrument: Instrument,
    points: Sequence[ScoreLine],
    *,
    response_fraction: float,
    chart_id: str = "chart",
) -> str:
    """The SVG chart of ``points`` (one instrument's totals in date order)."""
    state = chart_state(instrument, points)
    top_total = instrument.max_total
    plot_left, plot_right = LEFT, WIDTH - RIGHT
    plot_top, plot_bottom = TOP, HEIGHT - BOTTOM

    def y(value: float) -> float:
        return plot_bottom - (plot_bottom - plot_top) * value / top_total

    parts: list[str] = []
    heading = f"{instrument.id} scores in this episode: {STATE_TEXT[state]}"
    parts.append(f'<title id="{esc(chart_id)}-title">{esc(heading)}</title>')
    parts.append(
        f'<desc id="{esc(chart_id)}-desc">{esc(_describe(instrument, points, state))}</desc>'
    )

    # severity bands, labelled on the right
    for band, fill in zip(instrument.bands, _fills(len(instrument.bands)), strict=True):
        low = max(0.0, band.min - 0.5)
        high = min(float(top_total), band.max + 0.5)
        parts.append(
            element(
                "rect",
                title(f"{band_label(band.label)}: {band.min} to {band.max}"),
                x=float(plot_left),
                y=y(high),
                width=float(plot_right - plot_left),
                height=y(low) - y(high),
                fill=fill,
                class_="band",
            )
        )
        parts.append(
            text(
                plot_right + 6,
                (y(low) + y(high)) / 2 + 4,
                f"{band_label(band.label)} {band.min}–{band.max}",
                class_="band-label",
                font_size="11",
                fill="#333",
            )
        )

    # y axis: band boundaries
    ticks = sorted({0, top_total, *(b.min for b in instrument.bands)})
    for value in ticks:
        parts.append(
            element(
                "line",
                x1=float(plot_left - 4),
                x2=float(plot_left),
                y1=y(value),
                y2=y(value),
                stroke="#555",
            )
        )
        parts.append(
            text(
                plot_left - 6,
                y(value) + 4,
                str(value),
                text_anchor="end",
                font_size="11",
                fill="#333",
            )
        )
    parts.append(
        element(
            "rect",
            x=float(plot_left),
            y=float(plot_top),
            width=float(plot_right - plot_left),
            height=float(plot_bottom - plot_top),
            fill="none",
            stroke="#888",
        )
    )

    # remission threshold
    remission_y = y(instrument.remission_max + 0.5)
    parts.append(
        element(
            "line",
            title(f"remission: total of {instrument.remission_max} or less"),
            x1=float(plot_left),
            x2=float(plot_right),
            y1=remission_y,
            y2=remission_y,
            stroke="#1b5e20",
            stroke_width="2",
            stroke_dasharray="2 3",
            class_="remission-line",
        )
    )
    parts.append(
        text(
            plot_left + 4,
            remission_y + 13,
            f"remission ≤ {instrument.remission_max}",
            font_size="11",
            fill="#1b5e20",
            class_="line-label",
        )
    )

    if not points:
        parts.append(
            text(
                (plot_left + plot_right) / 2,
                (plot_top + plot_bottom) / 2,
                "No measurements in this episode",
                text_anchor="middle",
                font_size="14",
                fill="#333",
                class_="empty",
            )
        )
        return _svg(parts, chart_id, state)

    baseline = points[0]
    target = Fraction(baseline.total) * Fraction(str(response_fraction))
    response_y = y(float(target))
    pct = f"{response_fraction:.0%}"
    parts.append(
        element(
            "line",
            title(
                f"response: {pct} of the baseline total {baseline.total} or less "
                f"(up to {float(target):g})"
            ),
            x1=float(plot_left),
            x2=float(plot_right),
            y1=response_y,
            y2=response_y,
            stroke="#0d47a1",
            stroke_width="2",
            stroke_dasharray="7 4",
            class_="response-line",
        )
    )
    parts.append(
        text(
            plot_right - 4,
            response_y - 4,
            f"response ≤ {float(target):g} ({pct} of {baseline.total})",
            text_anchor="end",
            font_size="11",
            fill="#0d47a1",
            class_="line-label",
        )
    )

    axis = DateAxis.around([p.date for p in points], plot_left + 10, plot_right - 10)
    for x, label in axis.ticks(6):
        parts.append(
            element(
                "line", x1=x, x2=x, y1=float(plot_bottom), y2=float(plot_bottom + 4), stroke="#555"
            )
        )
        parts.append(
            text(x, plot_bottom + 17, label, text_anchor="middle", font_size="11", fill="#333")
        )

    coords = [(axis.x(p.date), y(p.total)) for p in points]
    if len(coords) > 1:
        parts.append(
            element(
                "polyline",
                points=" ".join(f"{fmt(px)},{fmt(py)}" for px, py in coords),
                fill="none",
                stroke="#263238",
                stroke_width="2",
                class_="series",
            )
        )
    item = instrument.suicide_item
    for point, (px, py) in zip(points, coords, strict=True):
        value = instruments.suicide_item_value(instrument, point.items)
        flagged = value >= item.alert_at
        tip = f"{point.date.isoformat()}: {point.total} ({band_label(point.severity)})"
        if flagged:
            tip += f"; item {item.item} = {value}: suicide item positive"
        marker = element("circle", cx=px, cy=py, r=4.5, fill="#263238", stroke="#fff")
        if flagged:
            marker += element(
                "circle",
                cx=px,
                cy=py,
                r=8.5,
                fill="none",
                stroke="#b71c1c",
                stroke_width="2.5",
            )
        parts.append(
            element(
                "g",
                title(tip) + marker,
                class_="point flagged" if flagged else "point",
                data_date=point.date.isoformat(),
                data_total=str(point.total),
            )
        )
    last_x, last_y = coords[-1]
    parts.append(
        text(
            last_x,
            last_y - 10,
            str(points[-1].total),
            text_anchor="middle",
            font_size="12",
            font_weight="bold",
            fill="#263238",
        )
    )
    return _svg(parts, chart_id, state)


def _svg(parts: list[str], chart_id: str, state: ChartState) -> str:
    cid = esc(chart_id)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart score-chart state-{state}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" data-state="{state}" '
        f'font-family="DejaVu Sans, Arial, sans-serif">' + "".join(parts) + "</svg>"
    )
