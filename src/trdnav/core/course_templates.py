"""What a course template is: the validated shape of ``courses.yaml``.

A template runs one treatment option as phases of sessions. A phase places ``sessions``
sessions on the given weekdays, at most ``per_week`` in a calendar week (``sessions_per_day``
back to back, ``gap_minutes`` apart), in every ``every_weeks``-th week. ``start`` as a
weekday means the weekday of the first open day on or after the course start.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from trdnav.core.facts import Cited, Id, Model, Text

__all__ = [
    "WEEKDAYS",
    "CourseTemplate",
    "DoseSpec",
    "MeasurementPoint",
    "Monitoring",
    "ParameterSpec",
    "Phase",
    "Review",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun", "start"]


PHASE_NAME_LENGTH = 32
"""The longest phase name: it is kept with each planned session in a column of this length."""
PhaseName = Annotated[
    str, StringConstraints(min_length=1, max_length=PHASE_NAME_LENGTH, strip_whitespace=True)
]


class Phase(Model):
    name: PhaseName
    sessions: int = Field(ge=1)
    per_week: int = Field(ge=1)
    every_weeks: int = Field(default=1, ge=1)
    weekdays: list[Weekday] = Field(min_length=1)
    sessions_per_day: int = Field(default=1, ge=1)
    gap_minutes: int = Field(default=0, ge=0)
    session_minutes: int | None = Field(default=None, ge=1)


class MeasurementPoint(Model):
    instrument: Text
    when: Literal["before_first", "weekly", "daily", "after_every", "at_session", "at_end"]
    every: int | None = Field(default=None, ge=1)
    session: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _has_its_number(self) -> MeasurementPoint:
        if self.when == "after_every" and self.every is None:
            raise ValueError("after_every needs `every`")
        if self.when == "at_session" and self.session is None:
            raise ValueError("at_session needs `session`")
        return self


class Review(Model):
    """At ``at_session``, improvement on the course instrument below ``min_improvement``
    (a fraction of the baseline total) raises the early non-response alert."""

    at_session: int = Field(ge=1)
    min_improvement: float = Field(gt=0, lt=1)


class DoseSpec(Model):
    unit: Literal["mg", "mg/kg"]
    allowed: list[float] | None = None
    minimum: float | None = None
    maximum: float | None = None
    first_dose: float = Field(gt=0)
    first_dose_from_age_65: float | None = None
    allowed_before_age_65: list[float] | None = Field(
        default=None, description="the labelled doses under age 65, when fewer than allowed"
    )

    @model_validator(mode="after")
    def _younger_doses_allowed(self) -> DoseSpec:
        younger = set(self.allowed_before_age_65 or [])
        if younger and (self.allowed is None or not younger <= set(self.allowed)):
            raise ValueError("allowed_before_age_65 must be doses of allowed")
        if younger and self.first_dose not in younger:
            raise ValueError("first_dose must be one of allowed_before_age_65")
        return self


class Monitoring(Model):
    observe_minutes: int = Field(ge=0)
    bp_after_minutes: int = Field(ge=0)
    bp_limit_systolic: int = Field(ge=1)
    bp_limit_diastolic: int = Field(ge=1)


class ParameterSpec(Cited):
    id: Id
    label: Text
    kind: Literal["number", "choice", "blood_pressure"]
    min: float | None = None
    max: float | None = None
    options: list[Id] | None = None

    @model_validator(mode="after")
    def _complete(self) -> ParameterSpec:
        if self.kind == "number" and (self.min is None or self.max is None):
            raise ValueError(f"{self.id}: a number needs min and max")
        if self.kind == "choice" and not self.options:
            raise ValueError(f"{self.id}: a choice needs options")
        return self


class CourseTemplate(Cited):
    id: Id
    treatment: Id
    name: Text
    summary: Text
    session_minutes: int = Field(ge=1)
    phases: list[Phase] = Field(min_length=1)
    instrument: Text
    measurements: list[MeasurementPoint] = Field(default_factory=list)
    review: Review | None = None
    dose: DoseSpec | None = None
    monitoring: Monitoring | None = None
    parameters: list[Id] = Field(default_factory=list)
    required_parameters: list[Id] = Field(
        default_factory=list, description="parameters every delivered session must record"
    )
    note: str | None = None

    @model_validator(mode="after")
    def _required_are_parameters(self) -> CourseTemplate:
        unknown = [p for p in self.required_parameters if p not in self.parameters]
        if unknown:
            raise ValueError(f"{self.id}: required_parameters not in parameters: {unknown}")
        return self

    @property
    def planned_sessions(self) -> int:
        return sum(p.sessions for p in self.phases)
