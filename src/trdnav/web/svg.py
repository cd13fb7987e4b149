"""Small helpers shared by the SVG charts: escaping, elements, a date axis.

Every text and attribute value goes through :func:`esc`, so data (a drug name, a
psychotherapy type typed by a user) can never become markup.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

__all__ = ["DateAxis", "element", "esc", "fmt", "month_ticks", "text"]

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def fmt(value: float) -> str:
    """A coordinate with at most one decimal."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def element(name: str, content: str = "", /, **attrs: object) -> str:
    """An SVG element; ``class_`` is written ``class``, other underscores become hyphens."""
    parts = []
    for key, value in attrs.items():
        if value is None:
            continue
        attr = "class" if key == "class_" else key.replace("_", "-")
        shown = fmt(value) if isinstance(value, float) else esc(value)
        parts.append(f' {attr}="{shown}"')
    head = f"<{name}{''.join(parts)}"
    return f"{head}>{content}</{name}>" if content else f"{head}/>"


def text(x: float, y: float, value: str, **attrs: object) -> str:
    return element("text", esc(value), x=float(x), y=float(y), **attrs)


def title(value: str) -> str:
    return f"<title>{esc(value)}</title>"


_LAST_MONTH = date.max.year * 12 + date.max.month - 1


def _add_months(day: date, months: int) -> date | None:
    """The first day of the month ``months`` after ``day``'s, or None past the calendar's
    end (9999-12)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1) if index <= _LAST_MONTH else None


def _month_step(span: int, most: int) -> int:
    """Months between ticks: a step of the list, else whole years, so that a span of
    ``span`` months has at most ``most`` ticks."""
    for step in (1, 2, 3, 4, 6, 12, 24, 36, 60):
        if span // step + 1 <= most:
            return step
    years = -(-span // (12 * max(1, most - 1)))  # rounded up
    return 12 * years


def month_ticks(first: date, last: date, most: int = 7) -> list[date]:
    """First days of months between two dates, evenly spaced, at most ``most`` of them."""
    start = _add_months(first, 1) if first.day > 1 else first
    if start is None:
        return []
    span = (last.year - start.year) * 12 + last.month - start.month
    if span < 0:
        return []
    step = _month_step(span, most)
    ticks = []
    current = _add_months(start, (-(start.month - 1)) % step)
    while current is not None and current <= last:
        if current >= first:
            ticks.append(current)
        current = _add_months(current, step)
    return ticks


def tick_label(day: date) -> str:
    return f"{MONTHS[day.month - 1]} {day.year}"


@dataclass(frozen=True)
class DateAxis:
    """Dates to x coordinates between ``left`` and ``right``."""

    first: date
    last: date
    left: float
    right: float

    @classmethod
    def around(cls, days: Iterable[date], left: float, right: float, pad: int = 10) -> DateAxis:
        """An axis covering ``days`` with some padding (at least ``pad`` days each side)."""
        found = sorted(days)
        first, last = found[0], found[-1]
        margin = max(pad, (last - first).days // 20)
        # the padding stops at the ends of the calendar (years 1 and 9999)
        before = min(margin, (first - date.min).days)
        after = min(margin, (date.max - last).days)
        return cls(first - timedelta(days=before), last + timedelta(days=after), left, right)

    def x(self, day: date) -> float:
        span = max(1, (self.last - self.first).days)
        return self.left + (self.right - self.left) * (day - self.first).days / span

    def ticks(self, most: int = 7) -> list[tuple[float, str]]:
        return [(self.x(d), tick_label(d)) for d in month_ticks(self.first, self.last, most)]
