"""Facts about the current episode that the staging models and option rules share.

Computed once per assessment from the judged trials and the history, so every rule
reads the same numbers and every reason can quote them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from trdnav.core.adequacy import TrialFinding
from trdnav.core.dates import age_in_years, completed_months
from trdnav.core.history import PatientHistory, Procedure
from trdnav.core.knowledge import KnowledgeBase
from trdnav.core.rule_params import FailedEctParams, TrdParams

__all__ = ["EpisodeFacts", "episode_facts", "is_failed_ect"]


class EpisodeFacts(BaseModel):
    model_config = ConfigDict(frozen=True)

    age_years: int
    episode_months: int
    failed_drugs: tuple[str, ...]
    """Distinct drugs with a failed adequate antidepressant trial in the episode, in order."""
    failed_classes: tuple[str, ...]
    failed_trials: int
    """Failed adequate antidepressant trials in the episode (a drug may count twice)."""
    dose_optimized_failed_trials: int
    augmentation_trials: int
    ect_courses: int
    failed_ect_courses: int
    psychotherapy_courses: int
    trd: bool

    @property
    def failed_adequate_trials(self) -> int:
        return len(self.failed_drugs)


def is_failed_ect(procedure: Procedure, params: FailedEctParams) -> bool:
    return (
        procedure.type == "ECT"
        and procedure.sessions >= params.min_sessions
        and procedure.response in params.failing_responses
    )


def episode_facts(
    history: PatientHistory, trials: list[TrialFinding], kb: KnowledgeBase
) -> EpisodeFacts:
    failed = [t for t in trials if t.in_episode and t.failed]
    failed_drugs = tuple(dict.fromkeys(t.drug for t in failed))
    failed_classes = tuple(dict.fromkeys(t.drug_class for t in failed))
    ect_params = kb.params("ect.failed_course", FailedEctParams)
    ect = [p for p in history.procedures if p.type == "ECT" and history.in_episode(p.start)]
    min_failed = kb.params("trd.definition", TrdParams).min_failed_adequate_trials
    return EpisodeFacts(
        age_years=age_in_years(history.patient.birth_date, history.as_of),
        episode_months=completed_months(history.episode.onset, history.as_of),
        failed_drugs=failed_drugs,
        failed_classes=failed_classes,
        failed_trials=len(failed),
        dose_optimized_failed_trials=sum(1 for t in failed if t.dose_optimized),
        augmentation_trials=sum(1 for t in trials if t.in_episode and t.role == "augmentation"),
        ect_courses=len(ect),
        failed_ect_courses=sum(1 for p in ect if is_failed_ect(p, ect_params)),
        psychotherapy_courses=sum(1 for p in history.psychotherapy if history.in_episode(p.start)),
        trd=len(failed_drugs) >= min_failed,
    )
