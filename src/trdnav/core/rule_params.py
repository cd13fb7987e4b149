"""Parameter schemas of the rules that take numbers from the knowledge data.

The values live in ``rules.yaml``; these models validate them on load and give the
logic typed access. A rule without parameters has no entry here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "RULE_PARAMETERS",
    "AdequacyParams",
    "CoursePlateauParams",
    "EsketamineEligibilityParams",
    "EsketamineOralParams",
    "FailedEctParams",
    "MghsParams",
    "MsmParams",
    "ResponseParams",
    "ThaseRushParams",
    "TmsEligibilityParams",
    "TrdParams",
    "VnsEligibilityParams",
]

Response = Literal["none", "partial", "response", "remission", "intolerance", "unknown"]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AdequacyParams(Params):
    min_duration_days: int = Field(ge=1)
    shortest_duration_days: int = Field(ge=1, description="the shortest any source accepts")


class FailedTrialParams(Params):
    failing_responses: list[Response] = Field(min_length=1)


class TrdParams(Params):
    min_failed_adequate_trials: int = Field(ge=1)


class FailedEctParams(Params):
    min_sessions: int = Field(ge=1)
    failing_responses: list[Response] = Field(min_length=1)


class ThaseRushParams(Params):
    stage_2_min_classes: int = Field(ge=2)
    stage_3_class: str
    stage_4_class: str


class MghsParams(Params):
    per_failed_trial: float
    per_dose_optimized_trial: float
    per_augmentation_trial: float
    failed_ect_course: float


class Step(Params):
    """``points`` apply up to and including ``max`` (no ``max``: everything above)."""

    max: int | None = None
    points: int


class BandStep(Params):
    max: int | None = None
    label: str


def _check_steps(steps: list[Step] | list[BandStep], name: str) -> None:
    maxima = [s.max for s in steps]
    if maxima[-1] is not None or any(m is None for m in maxima[:-1]):
        raise ValueError(f"{name}: only the last step may (and must) be open-ended")
    bounded = [m for m in maxima if m is not None]
    if bounded != sorted(set(bounded)):
        raise ValueError(f"{name}: maxima must increase")


class MsmParams(Params):
    duration_months: list[Step] = Field(min_length=1)
    severity: dict[Literal["subsyndromal", "mild", "moderate", "severe", "severe_psychotic"], int]
    failed_antidepressants: list[Step] = Field(min_length=1)
    augmentation_used: int
    ect_used: int
    bands: list[BandStep] = Field(min_length=1)

    @model_validator(mode="after")
    def _steps_ordered(self) -> MsmParams:
        _check_steps(self.duration_months, "duration_months")
        _check_steps(self.failed_antidepressants, "failed_antidepressants")
        _check_steps(self.bands, "bands")
        return self


class ResponseParams(Params):
    max_fraction_of_baseline: float = Field(gt=0, lt=1)


class TmsEligibilityParams(Params):
    min_failed_adequate_trials: int = Field(ge=0)
    adult_age_years: int = Field(ge=0)
    adolescent_min_age_years: int = Field(ge=0)
    adolescent_event: str


class EsketamineEligibilityParams(Params):
    min_age_years: int = Field(ge=0)


class EsketamineOralParams(Params):
    monotherapy_event: str


class VnsEligibilityParams(Params):
    min_age_years: int = Field(ge=0)
    min_failed_treatments: int = Field(ge=1)
    chronic_min_months: int = Field(ge=1)


class CoursePlateauParams(Params):
    min_treatments: int = Field(ge=1)


RULE_PARAMETERS: dict[str, type[Params]] = {
    "course.ect_plateau": CoursePlateauParams,
    "trial.adequate": AdequacyParams,
    "trial.failed": FailedTrialParams,
    "trd.definition": TrdParams,
    "ect.failed_course": FailedEctParams,
    "staging.thase_rush": ThaseRushParams,
    "staging.mgh_s": MghsParams,
    "staging.msm": MsmParams,
    "outcome.response": ResponseParams,
    "option.tms.eligibility": TmsEligibilityParams,
    "option.esketamine.eligibility": EsketamineEligibilityParams,
    "option.esketamine.oral_antidepressant": EsketamineOralParams,
    "option.vns.eligibility": VnsEligibilityParams,
}


def step_points(steps: list[Step], value: int) -> int:
    """Points of the first step whose ``max`` is at or above ``value``."""
    for step in steps:
        if step.max is None or value <= step.max:
            return step.points
    raise AssertionError("steps end with an open-ended step")  # pragma: no cover


def band_label(steps: list[BandStep], value: int) -> str:
    for step in steps:
        if step.max is None or value <= step.max:
            return step.label
    raise AssertionError("bands end with an open-ended step")  # pragma: no cover
