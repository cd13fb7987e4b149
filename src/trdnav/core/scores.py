"""Scores of the current episode: latest total per instrument, outcome, suicide-item alert.

* ``scores`` lists each instrument's latest measurement in the episode.
* ``outcome``: baseline = first measurement of the instrument in the episode, latest =
  last; response when latest <= 50 % of baseline (``null`` with a single measurement);
  remission when the latest total meets the instrument's remission threshold.
* Alert ``suicidal_ideation`` when a measurement on the latest day of any instrument has
  its suicide item at or above the instrument's alert value.
* Alert ``suicide_item_before_episode`` when the episode has no measurement and one on the
  latest day before its onset has its suicide item at or above the alert value.

Nothing depends on the order measurements are given in: those of one day are ordered by
total (then items), so of several on the first day the baseline is the lowest and of
several on the last day the latest is the highest, the cautious reading of both.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from trdnav.core import instruments
from trdnav.core.history import Measurement, PatientHistory
from trdnav.core.knowledge import KnowledgeBase
from trdnav.core.rule_params import ResponseParams

__all__ = ["Alert", "EpisodeScores", "Outcome", "ScoreLine", "score_episode"]


class ScoreLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    instrument: str
    date: date
    total: int
    severity: str
    items: tuple[int, ...] = Field(exclude=True)


class Outcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    response: bool | None
    remission: bool
    baseline: ScoreLine = Field(exclude=True)
    latest: ScoreLine = Field(exclude=True)
    measurements: int = Field(exclude=True)


class Alert(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    source: str
    rule_id: str = Field(exclude=True)
    references: list[str] = Field(exclude=True)


class EpisodeScores(BaseModel):
    model_config = ConfigDict(frozen=True)

    series: dict[str, list[ScoreLine]]
    """Every in-episode measurement per instrument, in date order."""
    latest: list[ScoreLine]
    outcome: dict[str, Outcome]
    alerts: list[Alert]


def _line(m: Measurement, kb: KnowledgeBase) -> ScoreLine:
    inst = kb.instruments[m.instrument]
    total = instruments.total(inst, m.items)
    return ScoreLine(
        instrument=inst.id,
        date=m.date,
        total=total,
        severity=instruments.severity(inst, total),
        items=tuple(m.items),
    )


def score_episode(history: PatientHistory, kb: KnowledgeBase) -> EpisodeScores:
    fraction = kb.params("outcome.response", ResponseParams).max_fraction_of_baseline
    series: dict[str, list[ScoreLine]] = {key: [] for key in kb.instruments}
    for m in history.measurements:
        if history.in_episode(m.date):
            series[m.instrument].append(_line(m, kb))
    series = {
        key: sorted(lines, key=lambda line: (line.date, line.total, line.items))
        for key, lines in series.items()
        if lines
    }

    latest: list[ScoreLine] = []
    outcome: dict[str, Outcome] = {}
    flagged: list[str] = []
    for key, lines in series.items():
        inst = kb.instruments[key]
        first, last = lines[0], lines[-1]
        latest.append(last)
        outcome[key] = Outcome(
            # a single measurement, or a baseline of 0, leaves nothing to respond from
            response=None
            if len(lines) == 1 or first.total == 0
            else instruments.is_response(first.total, last.total, fraction),
            remission=instruments.is_remission(inst, last.total),
            baseline=first,
            latest=last,
            measurements=len(lines),
        )
        # Every measurement of the latest day counts: their order within the day is unknown.
        value = max(
            instruments.suicide_item_value(inst, line.items)
            for line in lines
            if line.date == last.date
        )
        if value >= inst.suicide_item.alert_at:
            flagged.append(
                f"{inst.id} item {inst.suicide_item.item} = {value} on {last.date.isoformat()}"
                f" (alert at {inst.suicide_item.alert_at} or more)"
            )

    alerts = []
    if flagged:
        rule = kb.rule("alert.suicidal_ideation")
        alerts.append(
            Alert(
                code="suicidal_ideation",
                message="Suicide item positive on the latest measurement: "
                + "; ".join(flagged)
                + ". Assess suicide risk now.",
                source="; ".join(kb.cite(rule.sources)),
                rule_id=rule.id,
                references=kb.cite(rule.sources),
            )
        )
    if not series:
        alerts.extend(_before_episode(history, kb))
    return EpisodeScores(series=series, latest=latest, outcome=outcome, alerts=alerts)


def _before_episode(history: PatientHistory, kb: KnowledgeBase) -> list[Alert]:
    """With no measurement in the episode, the latest one before its onset is the latest
    answer the patient gave: its suicide item is said (rule alert.suicide_item_before_episode)."""
    earlier = [m for m in history.measurements if m.date < history.episode.onset]
    if not earlier:
        return []
    last_day = max(m.date for m in earlier)
    flagged = []
    for m in earlier:
        inst = kb.instruments[m.instrument]
        value = instruments.suicide_item_value(inst, m.items)
        if m.date == last_day and value >= inst.suicide_item.alert_at:
            flagged.append(
                f"{inst.id} item {inst.suicide_item.item} = {value} on {m.date.isoformat()}"
                f" (alert at {inst.suicide_item.alert_at} or more)"
            )
    if not flagged:
        return []
    rule = kb.rule("alert.suicide_item_before_episode")
    onset = history.episode.onset.isoformat()
    return [
        Alert(
            code="suicide_item_before_episode",
            message=f"Suicide item positive on the latest measurement, before this episode's "
            f"onset ({onset}): "
            + "; ".join(sorted(set(flagged)))
            + ". Nothing measured in the episode since. Assess suicide risk now.",
            source="; ".join(kb.cite(rule.sources)),
            rule_id=rule.id,
            references=kb.cite(rule.sources),
        )
    ]
