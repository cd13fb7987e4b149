"""A quality measure: its published identity (data), its logic (code) and its configuration.

* :class:`MeasureInfo` is what the measure's data file says about it: canonical URL, version,
  steward, scoring, populations, and where the definition comes from.
* :class:`MeasureLogic` is the code of one measure: the model of its configuration (numbers,
  value sets, codes, statuses from the data file) and a function deciding one patient.
* :class:`Measure` puts the two together; :meth:`Measure.evaluate` runs it over patients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

from trdnav.measures.records import PatientRecord
from trdnav.measures.results import (
    Evidence,
    MeasurementPeriod,
    MeasureResult,
    PatientResult,
    Population,
    nest,
)

__all__ = ["Judgement", "Measure", "MeasureInfo", "MeasureLogic", "MeasureSource"]

NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class MeasureSource(BaseModel):
    """Where the measure's definition was taken from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    repository: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
    commit: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{7,40}$")]
    path: NonEmpty
    licence: NonEmpty


class MeasureInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*$")]
    short_name: NonEmpty
    title: NonEmpty
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
    version: NonEmpty
    steward: NonEmpty
    scoring: Literal["proportion"]
    type: Literal["process", "outcome"]
    improvement_notation: Literal["increase", "decrease"]
    populations: tuple[Population, ...]
    source: MeasureSource

    @model_validator(mode="after")
    def _populations_in_order(self) -> MeasureInfo:
        order = list(Population)
        positions = [order.index(p) for p in self.populations]
        if positions != sorted(set(positions)):
            raise ValueError("populations must be distinct and in the order " + ", ".join(order))
        required = {Population.INITIAL_POPULATION, Population.DENOMINATOR, Population.NUMERATOR}
        if not required <= set(self.populations):
            raise ValueError(
                "a proportion measure needs an initial population, a denominator and a numerator"
            )
        return self

    @property
    def canonical(self) -> str:
        """The measure's canonical reference, ``url|version``."""
        return f"{self.url}|{self.version}"


@dataclass(frozen=True, slots=True)
class Judgement:
    """What one patient's data met, population by population (before nesting), and why."""

    met: dict[Population, bool]
    evidence: tuple[Evidence, ...]


C = TypeVar("C", bound=BaseModel)


@dataclass(frozen=True)
class MeasureLogic(Generic[C]):
    """The code of one measure: its populations, the model of its configuration, and the
    function that judges one patient for a measurement period."""

    id: str
    populations: tuple[Population, ...]
    config: type[C]
    judge: Callable[[PatientRecord, MeasurementPeriod, C], Judgement]


@dataclass(frozen=True)
class Measure:
    """A measure ready to run: its data-file identity, its logic and its configuration."""

    info: MeasureInfo
    logic: MeasureLogic[Any]
    config: BaseModel

    def __post_init__(self) -> None:
        if self.info.id != self.logic.id:
            raise ValueError(f"measure {self.info.id!r} given the logic of {self.logic.id!r}")
        if self.info.populations != self.logic.populations:
            raise ValueError(f"measure {self.info.id!r}: populations differ from its logic")
        if not isinstance(self.config, self.logic.config):
            raise ValueError(f"measure {self.info.id!r}: configuration of the wrong type")

    @property
    def id(self) -> str:
        return self.info.id

    def evaluate_patient(self, patient: PatientRecord, period: MeasurementPeriod) -> PatientResult:
        judgement = self.logic.judge(patient, period, self.config)
        return PatientResult(
            patient=patient.id,
            populations=nest(judgement.met, self.info.populations),
            evidence=judgement.evidence,
        )

    def evaluate(
        self, patients: Iterable[PatientRecord], period: MeasurementPeriod
    ) -> MeasureResult:
        """Every patient's result and the score, patients in the order given."""
        return MeasureResult(
            measure=self.info.id,
            period=period,
            populations=self.info.populations,
            patients=tuple(self.evaluate_patient(p, period) for p in patients),
        )
