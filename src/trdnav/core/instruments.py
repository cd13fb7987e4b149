"""Rating scales: totals, severity bands, remission, suicide items, response.

Scoring follows the instrument's definition in the knowledge data: the total is the
sum of its domains, each domain scoring the maximum of its items (for most scales
every item is its own domain; QIDS-SR16 groups sleep, appetite/weight and
psychomotor items).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from trdnav.core.knowledge import Instrument

__all__ = ["is_remission", "is_response", "severity", "suicide_item_value", "total"]


def total(instrument: Instrument, items: Sequence[int]) -> int:
    """The instrument's total score from item scores given in questionnaire order."""
    if len(items) != instrument.item_count:
        raise ValueError(f"{instrument.id} takes {instrument.item_count} items, got {len(items)}")
    if instrument.domains is None:
        return sum(items)
    return sum(max(items[n - 1] for n in domain) for domain in instrument.domains)


def severity(instrument: Instrument, score: int) -> str:
    """The severity band label of a total score."""
    for band in instrument.bands:
        if band.min <= score <= band.max:
            return band.label
    raise ValueError(f"{instrument.id} total {score} is outside 0-{instrument.max_total}")


def is_remission(instrument: Instrument, score: int) -> bool:
    return score <= instrument.remission_max


def is_response(baseline: int, latest: int, max_fraction: float) -> bool:
    """Response: the latest total is at most ``max_fraction`` of the baseline total
    (compared exactly, so 50 % of 15 is 7.5 and 7 responds, 8 does not)."""
    return Fraction(latest) <= Fraction(baseline) * Fraction(str(max_fraction))


def suicide_item_value(instrument: Instrument, items: Sequence[int]) -> int:
    return items[instrument.suicide_item.item - 1]
