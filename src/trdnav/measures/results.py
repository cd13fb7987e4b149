"""What a measure says about each patient, and about all of them.

Populations nest as in every FHIR proportion measure: the denominator is within the initial
population; exclusions are within the denominator; the numerator counts only patients in the
denominator and not excluded; exceptions count only patients in the denominator who are
neither excluded nor in the numerator. The score is

    numerator / (denominator - denominator exclusions - denominator exceptions)

and is ``None`` when that is zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from trdnav.measures.timing import Moment

__all__ = [
    "Evidence",
    "MeasureResult",
    "MeasurementPeriod",
    "PatientResult",
    "Population",
    "nest",
]


class Population(StrEnum):
    """The populations of a proportion measure, by their FHIR measure-population code."""

    INITIAL_POPULATION = "initial-population"
    DENOMINATOR = "denominator"
    DENOMINATOR_EXCLUSION = "denominator-exclusion"
    NUMERATOR = "numerator"
    DENOMINATOR_EXCEPTION = "denominator-exception"

    @property
    def key(self) -> str:
        """The population's key in the JSON output: ``initial_population``, ..."""
        return self.value.replace("-", "_")

    @property
    def label(self) -> str:
        """``Initial population``, ``Denominator exclusion``, ..."""
        return self.value.replace("-", " ").capitalize()


P = Population


@dataclass(frozen=True, slots=True)
class MeasurementPeriod:
    """The measurement period: whole days from ``start`` to ``end``, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def year(cls, year: int) -> MeasurementPeriod:
        return cls(date(year, 1, 1), date(year, 12, 31))

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One fact behind a patient's result: which criterion, which resource, when, and what.

    ``day`` is the date as given: a day (a moment with a time gives its day), or a year or
    month (``2013``, a partial :class:`~trdnav.measures.timing.Moment`) where only that was
    recorded."""

    criterion: str
    text: str
    resource: str | None = None
    day: date | Moment | None = None

    def __post_init__(self) -> None:
        if isinstance(self.day, Moment) and not self.day.is_partial:
            object.__setattr__(self, "day", self.day.day)

    def to_json(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "resource": self.resource,
            "date": str(self.day) if self.day else None,
            "text": self.text,
        }


def nest(met: Mapping[Population, bool], populations: Iterable[Population]) -> dict[P, bool]:
    """Apply the nesting of a proportion measure to the criteria each population's
    definition met on its own, for the populations the measure has."""
    ip = met.get(P.INITIAL_POPULATION, False)
    den = ip and met.get(P.DENOMINATOR, False)
    excluded = den and met.get(P.DENOMINATOR_EXCLUSION, False)
    num = den and not excluded and met.get(P.NUMERATOR, False)
    excepted = den and not excluded and not num and met.get(P.DENOMINATOR_EXCEPTION, False)
    nested = {
        P.INITIAL_POPULATION: ip,
        P.DENOMINATOR: den,
        P.DENOMINATOR_EXCLUSION: excluded,
        P.NUMERATOR: num,
        P.DENOMINATOR_EXCEPTION: excepted,
    }
    return {population: nested[population] for population in populations}


@dataclass(frozen=True, slots=True)
class PatientResult:
    """One patient's populations (nested) and the evidence for them."""

    patient: str
    populations: Mapping[Population, bool]
    evidence: tuple[Evidence, ...]

    def __getitem__(self, population: Population) -> bool:
        return self.populations.get(population, False)

    @property
    def in_performance_denominator(self) -> bool:
        """In the denominator, and neither excluded nor excepted."""
        return (
            self[P.DENOMINATOR]
            and not self[P.DENOMINATOR_EXCLUSION]
            and not self[P.DENOMINATOR_EXCEPTION]
        )

    @property
    def score(self) -> float | None:
        """1 or 0 for a patient who counts in the score, else None."""
        if not self.in_performance_denominator:
            return None
        return 1.0 if self[P.NUMERATOR] else 0.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"patient": self.patient}
        for population, met in self.populations.items():
            out[population.key] = int(met)
        out["evidence"] = [e.to_json() for e in self.evidence]
        return out


@dataclass(frozen=True, slots=True)
class MeasureResult:
    """A measure over a group of patients for one measurement period."""

    measure: str
    period: MeasurementPeriod
    populations: tuple[Population, ...]
    patients: tuple[PatientResult, ...]

    def counts(self) -> dict[Population, int]:
        return {p: sum(1 for r in self.patients if r[p]) for p in self.populations}

    @property
    def score(self) -> float | None:
        counts = self.counts()
        performance = (
            counts.get(P.DENOMINATOR, 0)
            - counts.get(P.DENOMINATOR_EXCLUSION, 0)
            - counts.get(P.DENOMINATOR_EXCEPTION, 0)
        )
        if performance <= 0:
            return None
        return counts.get(P.NUMERATOR, 0) / performance

    def to_json(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "period": self.period.to_json(),
            "patients": [r.to_json() for r in self.patients],
            "score": self.score,
        }
