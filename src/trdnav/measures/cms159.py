"""CMS159FHIR v0.3.000, Depression Remission at Twelve Months.

The CQL of the measure, restated over a patient's records (every number, code and value set
comes from ``knowledge/data/measures/cms159.yaml``; MP is the measurement period):

* **Denominator identification period** (DIP): from 14 months to 2 months before the start of
  the MP, the latter excluded (2024-11-01..2025-10-31 for 2026).
* **Depression encounter**: a finished Contact or Office Visit that overlaps the prevalence of
  a confirmed active diagnosis of major depression or dysthymia and ends in the DIP.
* **Index assessment**: the earliest PHQ-9/PHQ-9M above 9 (final, amended or corrected) taken
  from 7 days before the start of a depression encounter to its end.
* **Initial population** = **denominator**: age 12 or more on the day of the index assessment.
* **Measure assessment period** (MAP): the index day plus 12 months, ± 60 days, inclusive.
* **Numerator**: the last PHQ-9/PHQ-9M (final, amended or corrected) in the MAP is below 5.
* **Denominator exclusions**: hospice care or palliative care in the window from the start of
  the DIP to the end of the MAP, death on or before the end of the MAP, or a confirmed active
  bipolar, emotionally labile personality, psychotic or pervasive developmental disorder
  starting on or before the end of the MAP.

A date given only to the year or month keeps that precision (:mod:`trdnav.measures.timing`): a
comparison it cannot settle is unknown and not met, an age from a birth year may be 11 or 12
(not known to be 12 or more), and an index known to the month gives an MAP of months.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trdnav.measures.conditions import is_confirmed_active, onset_start, onset_text, prevalence
from trdnav.measures.measure import Judgement, MeasureLogic
from trdnav.measures.records import (
    Condition,
    Encounter,
    Observation,
    PatientRecord,
)
from trdnav.measures.results import Evidence, MeasurementPeriod, Population
from trdnav.measures.terminology import CodeTerms, Match, ValueSetTerms
from trdnav.measures.timing import (
    Bound,
    Edge,
    Moment,
    Span,
    Truth,
    add_months,
    age_in_years_at,
    date_of,
    days_during,
    days_overlap,
    end_of,
    ends_on_days,
    in_days,
    on_or_before,
    overlaps,
    shift_days,
    shift_months,
    start_of,
)

__all__ = ["LOGIC", "Config"]

NonNegative = Annotated[int, Field(ge=0)]
_FROZEN = ConfigDict(frozen=True, extra="forbid")
_TERMS = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class MonthsBefore(BaseModel):
    model_config = _FROZEN

    start: NonNegative
    end: NonNegative

    @model_validator(mode="after")
    def _start_before_end(self) -> MonthsBefore:
        if self.start <= self.end:
            raise ValueError("start must be more months before the period than end")
        return self


class Parameters(BaseModel):
    model_config = _FROZEN

    identification_period_months_before: MonthsBefore
    index_score_above: float
    index_days_before_encounter: NonNegative
    minimum_age: NonNegative
    assessment_months_after_index: Annotated[int, Field(ge=1)]
    assessment_window_days: NonNegative
    remission_score_below: float


class ValueSets(BaseModel):
    model_config = _TERMS

    phq9: ValueSetTerms
    depression_diagnosis: ValueSetTerms
    depression_encounter: ValueSetTerms
    inpatient_encounter: ValueSetTerms
    hospice_encounter: ValueSetTerms
    hospice_care: ValueSetTerms
    hospice_diagnosis: ValueSetTerms
    palliative_diagnosis: ValueSetTerms
    palliative_encounter: ValueSetTerms
    palliative_intervention: ValueSetTerms
    mental_health_disorder: ValueSetTerms


class Codes(BaseModel):
    model_config = _TERMS

    hospice_discharge: CodeTerms
    hospice_assessment: CodeTerms
    hospice_assessment_yes: CodeTerms
    palliative_assessment: CodeTerms
    condition_active: CodeTerms
    condition_confirmed: CodeTerms


class Statuses(BaseModel):
    model_config = _FROZEN

    assessment: frozenset[str]
    finished_encounter: frozenset[str]
    hospice_encounter_not: frozenset[str]
    procedure_not: frozenset[str]
    hospice_order: frozenset[str]
    order_intent: frozenset[str]


class Config(BaseModel):
    """Everything CMS159's logic reads from its data file."""

    model_config = _TERMS

    parameters: Parameters
    value_sets: ValueSets
    codes: Codes
    statuses: Statuses


POPULATIONS = (
    Population.INITIAL_POPULATION,
    Population.DENOMINATOR,
    Population.DENOMINATOR_EXCLUSION,
    Population.NUMERATOR,
)


@dataclass(frozen=True, slots=True)
class _Index:
    assessment: Observation
    start: Moment
    encounter: Encounter
    encounter_match: Match
    diagnosis: Condition
    diagnosis_match: Match


def _days(first: Bound, last: Bound) -> str:
    return f"{first}..{last}"


def _born(birth: Moment) -> str:
    """``, born 2013`` for a birth date given only to the year or month, else nothing."""
    return f", born {birth}" if birth.is_partial else ""


def _verdict(old_enough: Truth, minimum: int) -> str:
    """``at least 12``, ``under 12``, or that it is unknown (and so not met)."""
    if old_enough is None:
        return f"unknown whether at least {minimum}, so not in the population"
    return f"{'at least' if old_enough else 'under'} {minimum}"


def _score(value: float | None) -> str:
    if value is None:
        return "no numeric value"
    return str(int(value)) if value == int(value) else str(value)


class _Cms159:
    """One evaluation: a patient, a measurement period and the configuration."""

    def __init__(self, patient: PatientRecord, period: MeasurementPeriod, cfg: Config) -> None:
        self.patient = patient
        self.cfg = cfg
        self.p = cfg.parameters
        self.vs = cfg.value_sets
        self.codes = cfg.codes
        self.st = cfg.statuses
        months = self.p.identification_period_months_before
        self.dip_first = Moment(add_months(period.start, -months.start))
        self.dip_last = Moment(add_months(period.start, -months.end) - timedelta(days=1))
        self.evidence: list[Evidence] = []

    def note(
        self,
        criterion: str,
        text: str,
        resource: str | None = None,
        day: date | Moment | None = None,
    ) -> None:
        self.evidence.append(Evidence(criterion, text, resource, day))

    def confirmed_active(self, condition: Condition) -> bool:
        return is_confirmed_active(
            condition, self.codes.condition_active, self.codes.condition_confirmed
        )

    def prevalence(self, condition: Condition) -> Span:
        return prevalence(condition, self.codes.condition_active, self.patient.birth_date)

    def onset(self, condition: Condition) -> tuple[str | None, Moment | None]:
        """The condition's onset for the evidence: its text and its date."""
        birth = self.patient.birth_date
        return onset_text(condition, birth), onset_start(condition, birth)

    # --- index --------------------------------------------------------------------------

    def depression_diagnoses(self) -> list[tuple[Condition, Match]]:
        found = []
        for condition in self.patient.conditions:
            match = self.vs.depression_diagnosis.match(condition.code)
            if match is not None and self.confirmed_active(condition):
                found.append((condition, match))
        return found

    def depression_encounters(
        self, diagnoses: list[tuple[Condition, Match]]
    ) -> Iterator[tuple[Encounter, Match, Condition, Match]]:
        for encounter in self.patient.encounters:
            match = self.vs.depression_encounter.match(encounter.type)
            period = encounter.period
            if (
                match is None
                or period is None
                or encounter.status not in self.st.finished_encounter
                or ends_on_days(period, self.dip_first, self.dip_last) is not True
            ):
                continue
            for condition, dx_match in diagnoses:
                if overlaps(period, self.prevalence(condition)) is True:
                    yield encounter, match, condition, dx_match
                    break

    def phq9(self, observation: Observation) -> Match | None:
        return self.vs.phq9.match(observation.code)

    def index(self) -> _Index | None:
        diagnoses = self.depression_diagnoses()
        if not diagnoses:
            self.note(
                "depression_diagnosis",
                f"no confirmed active diagnosis of {self.vs.depression_diagnosis}",
            )
            return None
        encounters = list(self.depression_encounters(diagnoses))
        if not encounters:
            self.note(
                "depression_encounter",
                f"no finished {self.vs.depression_encounter} encounter ending in the "
                f"identification period {_days(self.dip_first, self.dip_last)} during a "
                "depression diagnosis",
            )
            return None
        windows = [self.around(encounter) for encounter, *_ in encounters]
        candidates: list[_Index] = []
        for obs in self.patient.observations:
            effective = obs.effective
            if (
                effective is None
                or effective.start is None
                or obs.status not in self.st.assessment
                or obs.value_number is None
                or not obs.value_number > self.p.index_score_above
                or self.phq9(obs) is None
            ):
                continue
            for (encounter, enc_match, condition, dx_match), (first, last) in zip(
                encounters, windows, strict=True
            ):
                if days_during(effective, first, last) is True:
                    start = effective.start
                    candidates.append(_Index(obs, start, encounter, enc_match, condition, dx_match))
                    break
        if not candidates:
            self.note(
                "index_assessment",
                f"no {self.vs.phq9} score above {_score(self.p.index_score_above)} "
                f"({', '.join(sorted(self.st.assessment))}) from "
                f"{self.p.index_days_before_encounter} days before a depression encounter "
                "to its end",
            )
            return None
        index = min(candidates, key=lambda c: c.start.sort_key)  # the first of equal times
        dx, enc = index.diagnosis, index.encounter
        onset, onset_day = self.onset(dx)
        self.note(
            "depression_diagnosis",
            f"{index.diagnosis_match}, confirmed active" + (f", onset {onset}" if onset else ""),
            dx.reference,
            onset_day,
        )
        assert enc.period is not None
        self.note(
            "depression_encounter",
            f"{index.encounter_match}, finished, {enc.period}, ending in the identification "
            f"period {_days(self.dip_first, self.dip_last)}",
            enc.reference,
            enc.period.end,
        )
        match = self.phq9(index.assessment)
        self.note(
            "index_assessment",
            f"{match} score {_score(index.assessment.value_number)}, above "
            f"{_score(self.p.index_score_above)}: the index assessment",
            index.assessment.reference,
            index.start,
        )
        return index

    def around(self, encounter: Encounter) -> tuple[Bound, Bound]:
        """``Interval[ToDate((start of period) - 7 days), end of period]`` of an encounter: a
        null bound (a period without a start) is closed there, so it reaches the beginning of
        time."""
        assert encounter.period is not None
        begins, ends = start_of(encounter.period), end_of(encounter.period)
        first = (
            shift_days(date_of(begins), -self.p.index_days_before_encounter)
            if isinstance(begins, Moment)
            else Edge.EARLIEST
        )
        return first, ends if isinstance(ends, Moment) else Edge.LATEST

    # --- numerator ----------------------------------------------------------------------

    def remission(self, first: Moment, last: Moment) -> bool:
        in_window: list[tuple[Observation, Moment]] = []
        for obs in self.patient.observations:
            start = obs.effective.start if obs.effective else None
            if (
                start is not None
                and obs.status in self.st.assessment
                and in_days(start, first, last) is True
                and self.phq9(obs) is not None
            ):
                in_window.append((obs, start))
        if not in_window:
            self.note(
                "remission",
                f"no {self.vs.phq9} ({', '.join(sorted(self.st.assessment))}) in the "
                f"assessment period {_days(first, last)}",
            )
            return False
        # Last of a stable sort: the latest, and the last given of equal times
        obs, start = sorted(in_window, key=lambda pair: pair[1].sort_key)[-1]
        met = obs.value_number is not None and obs.value_number < self.p.remission_score_below
        below = _score(self.p.remission_score_below)
        verdict = f"below {below}: remission" if met else f"not below {below}: no remission"
        self.note(
            "remission",
            f"last {self.phq9(obs)} in the assessment period {_days(first, last)}: "
            f"score {_score(obs.value_number)}, {verdict}",
            obs.reference,
            start,
        )
        return met

    # --- exclusions ---------------------------------------------------------------------

    def exclusions(self, first: Moment, last: Moment) -> bool:
        """Hospice, palliative care, death or a mental-health disorder; notes each one found."""
        window = _days(first, last)
        found = 0

        def exclude(criterion: str, text: str, resource: str, day: Moment | None) -> None:
            nonlocal found
            found += 1
            self.note(f"exclusion.{criterion}", text, resource, day)

        vs, codes, st = self.vs, self.codes, self.st
        for enc in self.patient.encounters:
            period = enc.period
            if period is None:
                continue
            inpatient = vs.inpatient_encounter.match(enc.type)
            discharge = codes.hospice_discharge.match(enc.discharge_disposition)
            if (
                inpatient
                and discharge
                and enc.status in st.finished_encounter
                and ends_on_days(period, first, last) is True
            ):
                exclude(
                    "hospice",
                    f"{inpatient} ending {period.end}, discharged: {discharge.label}",
                    enc.reference,
                    period.end,
                )
            hospice = vs.hospice_encounter.match(enc.type)
            if (
                hospice
                and enc.status not in st.hospice_encounter_not
                and days_overlap(period, first, last) is True
            ):
                exclude(
                    "hospice",
                    f"{hospice}, {enc.status}, {period}, overlapping {window}",
                    enc.reference,
                    period.start,
                )
            palliative = vs.palliative_encounter.match(enc.type)
            if (
                palliative
                and enc.status in st.finished_encounter
                and days_overlap(period, first, last) is True
            ):
                exclude(
                    "palliative_care",
                    f"{palliative}, finished, {period}, overlapping {window}",
                    enc.reference,
                    period.start,
                )
        for obs in self.patient.observations:
            effective = obs.effective
            if effective is None or obs.status not in st.assessment:
                continue
            hospice_mds = codes.hospice_assessment.match(obs.code)
            yes = codes.hospice_assessment_yes.match(obs.value_concept)
            if hospice_mds and yes and days_overlap(effective, first, last) is True:
                exclude(
                    "hospice",
                    f"{hospice_mds}: {yes.label}, {effective}",
                    obs.reference,
                    effective.start,
                )
            facit = codes.palliative_assessment.match(obs.code)
            if facit and days_overlap(effective, first, last) is True:
                exclude(
                    "palliative_care",
                    f"{facit}, {effective}, overlapping {window}",
                    obs.reference,
                    effective.start,
                )
        for req in self.patient.service_requests:
            order = vs.hospice_care.match(req.code)
            if (
                order
                and req.authored_on is not None
                and in_days(req.authored_on, first, last) is True
                and req.status in st.hospice_order
                and req.intent in st.order_intent
                and req.do_not_perform is not True
            ):
                exclude(
                    "hospice",
                    f"{order} ordered {req.authored_on} ({req.status}, {req.intent})",
                    req.reference,
                    req.authored_on,
                )
        for proc in self.patient.procedures:
            performed = proc.performed
            if (
                performed is None
                or proc.status in st.procedure_not
                or days_overlap(performed, first, last) is not True
            ):
                continue
            hospice = vs.hospice_care.match(proc.code)
            if hospice:
                exclude(
                    "hospice",
                    f"{hospice} performed {performed} ({proc.status})",
                    proc.reference,
                    performed.start,
                )
            palliative = vs.palliative_intervention.match(proc.code)
            if palliative:
                exclude(
                    "palliative_care",
                    f"{palliative} performed {performed} ({proc.status})",
                    proc.reference,
                    performed.start,
                )
        for condition in self.patient.conditions:
            if not self.confirmed_active(condition):
                continue
            prevalent = self.prevalence(condition)
            onset, onset_day = self.onset(condition)
            since = f", onset {onset}" if onset else ", no onset given"
            for criterion, terms in (
                ("hospice", vs.hospice_diagnosis),
                ("palliative_care", vs.palliative_diagnosis),
            ):
                match = terms.match(condition.code)
                if match and days_overlap(prevalent, first, last) is True:
                    exclude(
                        criterion,
                        f"{match}, confirmed active{since}, prevalent during {window}",
                        condition.reference,
                        onset_day,
                    )
            disorder = vs.mental_health_disorder.match(condition.code)
            if disorder and on_or_before(start_of(prevalent), last) is True:
                exclude(
                    "mental_health_disorder",
                    f"{disorder}, confirmed active{since}, starting on or before {last}",
                    condition.reference,
                    onset_day,
                )
        deceased = self.patient.deceased
        if deceased is not None and on_or_before(deceased, last) is True:
            exclude(
                "death",
                f"died {deceased}, on or before the end of the assessment period {last}",
                self.patient.reference,
                deceased,
            )
        if not found:
            self.note(
                "exclusion",
                f"no hospice or palliative care during {window}, and no death or "
                f"{vs.mental_health_disorder} by {last}",
            )
        return found > 0

    # --- the populations ----------------------------------------------------------------

    def judge(self) -> Judgement:
        no = dict.fromkeys(POPULATIONS, False)
        index = self.index()
        if index is None:
            return Judgement(no, tuple(self.evidence))
        birth = self.patient.birth_date
        if birth is None:
            self.note("age", "no birth date", self.patient.reference)
            return Judgement(no, tuple(self.evidence))
        age = age_in_years_at(birth, index.start)
        old_enough = age.at_least(self.p.minimum_age)
        self.note(
            "age",
            f"age {age} on the index date{_born(birth)} "
            f"({_verdict(old_enough, self.p.minimum_age)})",
            self.patient.reference,
            index.start,
        )
        if old_enough is not True:
            return Judgement(no, tuple(self.evidence))
        due = shift_months(date_of(index.start), self.p.assessment_months_after_index)
        window = self.p.assessment_window_days
        first, last = shift_days(due, -window), shift_days(due, window)
        self.note(
            "assessment_period",
            f"{self.p.assessment_months_after_index} months ± {self.p.assessment_window_days} "
            f"days after the index: {_days(first, last)}",
            day=due,
        )
        remission = self.remission(first, last)
        excluded = self.exclusions(self.dip_first, last)
        met = {
            Population.INITIAL_POPULATION: True,
            Population.DENOMINATOR: True,
            Population.DENOMINATOR_EXCLUSION: excluded,
            Population.NUMERATOR: remission,
        }
        return Judgement(met, tuple(self.evidence))


def judge(patient: PatientRecord, period: MeasurementPeriod, config: Config) -> Judgement:
    """CMS159's criteria for one patient and measurement period, with their evidence."""
    return _Cms159(patient, period, config).judge()


LOGIC = MeasureLogic(id="cms159", populations=POPULATIONS, config=Config, judge=judge)
