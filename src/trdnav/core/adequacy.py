"""Which medication trials were adequate, and which of those failed.

Rules ``trial.adequate`` and ``trial.failed`` (parameters in the knowledge data):

* adequate: role ``antidepressant``, daily dose at or above the drug's minimum adequate
  dose, and a duration of at least ``min_duration_days``; a trial stopped for
  intolerance is not adequate;
* failed: adequate, with a response in ``failing_responses`` (none, partial).

Duration is ``min(end or as_of, as_of) - start`` in days. Adequacy is judged for every
trial, whichever episode it belongs to; only trials of the current episode count
towards TRD and staging (rule ``episode.window``).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from trdnav.core.history import MedicationTrial, PatientHistory
from trdnav.core.knowledge import KnowledgeBase
from trdnav.core.rule_params import AdequacyParams, FailedTrialParams

__all__ = ["TrialFinding", "assess_trial", "duration_days"]


class TrialFinding(BaseModel):
    """The verdict on one medication trial. Fields marked ``exclude`` are details kept for
    displays; the JSON contract carries the others."""

    model_config = ConfigDict(frozen=True)

    drug: str
    start: date
    in_episode: bool
    adequate: bool
    failed: bool
    why: str
    drug_class: str = Field(exclude=True)
    role: str = Field(exclude=True)
    daily_dose_mg: float = Field(exclude=True)
    duration_days: int = Field(exclude=True)
    dose_optimized: bool = Field(exclude=True)
    response: str = Field(exclude=True)


def duration_days(start: date, end: date | None, as_of: date) -> int:
    """Days from start to the end of the trial, or to ``as_of`` if that comes first."""
    return (min(end or as_of, as_of) - start).days


def _mg(value: float) -> str:
    return f"{value:g} mg/day"


def assess_trial(
    trial: MedicationTrial,
    history: PatientHistory,
    kb: KnowledgeBase,
    min_duration_days: int | None = None,
) -> TrialFinding:
    """Judge one trial. ``min_duration_days`` overrides the knowledge-data default."""
    drug = kb.drugs[trial.drug]
    min_days = (
        min_duration_days
        if min_duration_days is not None
        else kb.params("trial.adequate", AdequacyParams).min_duration_days
    )
    failing = kb.params("trial.failed", FailedTrialParams).failing_responses
    as_of = history.as_of
    days = duration_days(trial.start, trial.end, as_of)
    in_episode = history.in_episode(trial.start)

    shortfalls: list[str] = []
    if trial.role == "augmentation":
        adequate = False
        basis = (
            f"augmentation with {drug.id}: counted in the MGH-S and Maudsley augmentation "
            "items, not as an antidepressant trial"
        )
    else:
        if trial.start > as_of:
            shortfalls.append(f"it starts after the assessment date ({as_of.isoformat()})")
        if trial.response == "intolerance":
            shortfalls.append("it was stopped for intolerance")
        if drug.min_daily_dose_mg is None:
            shortfalls.append(f"no minimum adequate antidepressant dose is set for {drug.id}")
        elif trial.daily_dose_mg < drug.min_daily_dose_mg:
            shortfalls.append(
                f"{_mg(trial.daily_dose_mg)} is below the {_mg(drug.min_daily_dose_mg)} "
                f"minimum adequate dose of {drug.id}"
            )
        if trial.start <= as_of and days < min_days:
            shortfalls.append(f"{days} days is shorter than the {min_days}-day minimum")
        adequate = not shortfalls
        if adequate:
            floor = _mg(drug.min_daily_dose_mg or 0)
            basis = (
                f"adequate: {_mg(trial.daily_dose_mg)} (minimum {floor}) "
                f"for {days} days (minimum {min_days})"
            )
        else:
            basis = "not adequate: " + "; ".join(shortfalls)

    failed = adequate and trial.response in failing
    if adequate:
        outcome = "failed" if failed else "not failed"
        basis += f"; {outcome} (response: {trial.response})"
    if not in_episode:
        when = "before the episode onset" if trial.start < history.episode.onset else "after as_of"
        basis = f"outside the current episode ({when}), not counted; {basis}"
    return TrialFinding(
        drug=drug.id,
        start=trial.start,
        in_episode=in_episode,
        adequate=adequate,
        failed=failed,
        why=basis,
        drug_class=drug.drug_class,
        role=trial.role,
        daily_dose_mg=trial.daily_dose_mg,
        duration_days=days,
        dose_optimized=trial.dose_optimized,
        response=trial.response,
    )
