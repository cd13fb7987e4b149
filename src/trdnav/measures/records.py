"""The FHIR-derived data of one patient that the measures read.

Each record keeps only the elements the measure logic uses, already checked and converted by
the adapter that read the FHIR resources (:mod:`trdnav.fhir.resources`). Codes are kept as
every coding of the element; value-set membership is decided by system and code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trdnav.measures.timing import Moment, Span

__all__ = [
    "Age",
    "AgeRange",
    "Coding",
    "Concept",
    "Condition",
    "ConditionTiming",
    "Encounter",
    "MedicationRequest",
    "Observation",
    "PatientRecord",
    "Procedure",
    "ServiceRequest",
    "Supply",
]


@dataclass(frozen=True, slots=True)
class Coding:
    system: str
    code: str
    display: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.code} {self.display}" if self.display else self.code


Concept = tuple[Coding, ...]
"""Every coding of a CodeableConcept (or of several, for repeating elements)."""


@dataclass(frozen=True, slots=True)
class Observation:
    id: str
    status: str
    code: Concept
    effective: Span | None = None
    value_number: float | None = None
    """``valueInteger``, or the value of ``valueQuantity``."""
    value_concept: Concept = ()
    has_value: bool = False
    """Whether the observation has any ``value[x]`` at all."""
    issued: Moment | None = None
    not_done_reason: Concept = ()
    """The QI-Core ``notDoneReason`` extension of a cancelled observation."""

    @property
    def reference(self) -> str:
        return f"Observation/{self.id}"


@dataclass(frozen=True, slots=True)
class Age:
    """An age (a FHIR Age, or a bound of an age Range): a number of calendar units counted
    from the birth date. ``unit`` is one of CQL's calendar units (``year``, ``month``,
    ``week``, ``day``, ``hour``, ``minute``, ``second``, ``millisecond``)."""

    value: float
    unit: str

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit}{'' if self.value == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class AgeRange:
    """A FHIR Range of ages; either bound may be missing."""

    low: Age | None = None
    high: Age | None = None

    def __str__(self) -> str:
        return f"{self.low or '?'} to {self.high or '?'}"


ConditionTiming = Moment | Span | Age | AgeRange
"""``onset[x]`` or ``abatement[x]`` as given: a dateTime, a Period, an Age or a Range."""


@dataclass(frozen=True, slots=True)
class Condition:
    id: str
    code: Concept
    clinical_status: Concept = ()
    verification_status: Concept = ()
    categories: frozenset[str] = frozenset()
    """Category codes: ``problem-list-item``, ``health-concern``, ``encounter-diagnosis``."""
    onset: ConditionTiming | None = None
    """``onset[x]``; None when not given (or given as a string)."""
    abatement: ConditionTiming | None = None
    """``abatement[x]``; None when not given (or given as a string or a boolean)."""

    @property
    def reference(self) -> str:
        return f"Condition/{self.id}"

    @property
    def is_problem(self) -> bool:
        """Whether the condition is a QI-Core problem or health concern: any category but
        encounter diagnosis alone (a condition without a category counts as a problem)."""
        return not self.categories or bool(self.categories - {"encounter-diagnosis"})


@dataclass(frozen=True, slots=True)
class Encounter:
    id: str
    status: str
    type: Concept
    period: Span | None = None
    discharge_disposition: Concept = ()

    @property
    def reference(self) -> str:
        return f"Encounter/{self.id}"


@dataclass(frozen=True, slots=True)
class Procedure:
    id: str
    status: str
    code: Concept
    performed: Span | None = None

    @property
    def reference(self) -> str:
        return f"Procedure/{self.id}"


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    id: str
    status: str
    intent: str
    code: Concept
    authored_on: Moment | None = None
    do_not_perform: bool | None = None

    @property
    def reference(self) -> str:
        return f"ServiceRequest/{self.id}"


@dataclass(frozen=True, slots=True)
class Supply:
    """What a medication order says about how long it lasts (CumulativeMedicationDuration)."""

    bounds: Span | None = None
    """``dosageInstruction.timing.repeat.boundsPeriod`` of the single dosage instruction."""
    validity_start: Moment | None = None
    expected_supply_days: float | None = None
    quantity: float | None = None
    dose: float | None = None
    """The dose of the single dose-and-rate (the high end of a range)."""
    frequency: int | None = None
    """``frequencyMax``, else ``frequency``."""
    period: float | None = None
    period_unit: str | None = None
    times_of_day: int = 0
    refills: int = 0


@dataclass(frozen=True, slots=True)
class MedicationRequest:
    id: str
    status: str
    intent: str
    medication: Concept
    authored_on: Moment | None = None
    do_not_perform: bool | None = None
    supply: Supply = field(default_factory=Supply)

    @property
    def reference(self) -> str:
        return f"MedicationRequest/{self.id}"


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """One patient and every resource of theirs that the measures read."""

    id: str
    birth_date: Moment | None = None
    """``birthDate`` as given: to the day, or only to the month or year."""
    deceased: Moment | None = None
    """``deceasedDateTime``; a ``deceasedBoolean`` carries no date and is not kept."""
    observations: tuple[Observation, ...] = ()
    conditions: tuple[Condition, ...] = ()
    encounters: tuple[Encounter, ...] = ()
    procedures: tuple[Procedure, ...] = ()
    service_requests: tuple[ServiceRequest, ...] = ()
    medication_requests: tuple[MedicationRequest, ...] = ()

    @property
    def reference(self) -> str:
        return f"Patient/{self.id}"
