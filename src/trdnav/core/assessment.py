"""The assessment of one patient: where they stand and which options remain.

``assess`` runs the rules in order (trials, episode facts, staging, scores and alerts,
options) and returns an :class:`Assessment`. ``Assessment.to_json()`` is the public JSON
contract shared by ``trdnav assess --json`` and the REST API; the model also keeps
details (episode facts, score series, explanations) for reports and the web app.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trdnav.core.adequacy import TrialFinding, assess_trial
from trdnav.core.episode import EpisodeFacts, episode_facts
from trdnav.core.history import PatientHistory
from trdnav.core.knowledge import KnowledgeBase
from trdnav.core.options import OptionVerdict, evaluate_options
from trdnav.core.scores import Alert, Outcome, ScoreLine, score_episode
from trdnav.core.staging import Staging, stage

__all__ = ["Assessment", "assess"]


class Assessment(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    as_of: date
    trd: bool
    failed_adequate_trials: int
    trials: list[TrialFinding]
    staging: Staging
    scores: list[ScoreLine]
    outcome: dict[str, Outcome]
    alerts: list[Alert]
    options: list[OptionVerdict]
    facts: EpisodeFacts = Field(exclude=True)
    series: dict[str, list[ScoreLine]] = Field(exclude=True)
    knowledge_version: str = Field(exclude=True)

    def to_json(self) -> dict[str, Any]:
        """The JSON contract of an assessment."""
        return self.model_dump(mode="json")


def assess(
    history: PatientHistory,
    kb: KnowledgeBase,
    *,
    adequate_trial_days: int | None = None,
) -> Assessment:
    """Assess a patient as of ``history.as_of``.

    ``adequate_trial_days`` overrides the minimum duration of an adequate trial (the
    knowledge-data default is 42 days).
    """
    trials = [assess_trial(t, history, kb, adequate_trial_days) for t in history.medication_trials]
    facts = episode_facts(history, trials, kb)
    scores = score_episode(history, kb)
    suicidal = any(a.code == "suicidal_ideation" for a in scores.alerts)
    return Assessment(
        id=history.id,
        as_of=history.as_of,
        trd=facts.trd,
        failed_adequate_trials=facts.failed_adequate_trials,
        trials=trials,
        staging=stage(facts, history, kb),
        scores=scores.latest,
        outcome=scores.outcome,
        alerts=scores.alerts,
        options=evaluate_options(history, facts, suicidal, kb),
        facts=facts,
        series=scores.series,
        knowledge_version=kb.version,
    )
