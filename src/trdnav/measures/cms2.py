"""CMS2FHIR v0.4.001, Preventive Care and Screening: Screening for Depression and Follow-Up Plan.

The CQL of the measure, restated over a patient's records (every number, code and value set
comes from ``knowledge/data/measures/cms2.yaml``; MP is the measurement period):

* **Qualifying encounter**: a finished Encounter to Screen for Depression, Physical Therapy
  Evaluation or Telephone Visit whose period lies within the MP's days.
* **Initial population** = **denominator**: age 12 or more on the first day of the MP, and a
  qualifying encounter.
* **Denominator exclusion**: a Bipolar Disorder problem whose prevalence starts on a day
  before the day a qualifying encounter starts.
* **Screens**: adolescent (LOINC 73831-0) or adult (73832-8) depression screens, final or
  corrected, with a value, taken (by their end) from 14 days before to the day of the start
  of a qualifying encounter. The most recent one of each kind decides.
* **Numerator**: at ages 12-16 the adolescent screen, at 18 and over the adult screen, at 17
  either: the most recent is negative, or positive with a follow-up: an antidepressant order
  (its duration extends past the encounter), a referral, or a completed follow-up procedure,
  performed during a qualifying encounter or ordered on the day it ends or up to 2 days
  after, and within the MP.
* **Denominator exception**: a cancelled screen of either kind, issued on a qualifying
  encounter's days, with the reason "screening declined" or a Medical Reason, and no screen
  of that kind.

A date given only to the year or month keeps that precision (:mod:`trdnav.measures.timing`): a
comparison it cannot settle is unknown and not met. An age from a birth year may be unknown
(12 or 13 is at least 12; 16 or 17 leaves unknown which screen applies, so no screen meets the
numerator).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trdnav.measures.conditions import onset_start, onset_text, prevalence
from trdnav.measures.measure import Judgement, MeasureLogic
from trdnav.measures.medication import request_period
from trdnav.measures.records import Encounter, Observation, PatientRecord
from trdnav.measures.results import Evidence, MeasurementPeriod, Population
from trdnav.measures.terminology import CodeTerms, Terms, ValueSetTerms
from trdnav.measures.timing import (
    Bound,
    Edge,
    Moment,
    Span,
    Truth,
    Uncertainty,
    age_in_years_at,
    and3,
    before,
    date_of,
    days_during,
    days_overlap_after,
    end_of,
    in_days,
    moment_during,
    or3,
    shift_days,
    start_of,
)

__all__ = ["LOGIC", "Config"]

NonNegative = Annotated[int, Field(ge=0)]
_FROZEN = ConfigDict(frozen=True, extra="forbid")
_TERMS = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class AgeRange(BaseModel):
    model_config = _FROZEN

    minimum: NonNegative
    maximum: NonNegative


class Parameters(BaseModel):
    model_config = _FROZEN

    minimum_age: NonNegative
    adolescent_ages: AgeRange
    either_screen_age: NonNegative
    adult_minimum_age: NonNegative
    screening_days_before_encounter: NonNegative
    follow_up_days_after_encounter: NonNegative

    @model_validator(mode="after")
    def _ages_follow_each_other(self) -> Parameters:
        ages = self.adolescent_ages
        if not (
            self.minimum_age == ages.minimum <= ages.maximum
            and ages.maximum + 1 == self.either_screen_age
            and self.either_screen_age + 1 == self.adult_minimum_age
        ):
            raise ValueError(
                "ages must follow each other: minimum_age = adolescent minimum <= adolescent "
                "maximum, then either_screen_age, then adult_minimum_age"
            )
        return self


class ValueSets(BaseModel):
    model_config = _TERMS

    screening_encounter: ValueSetTerms
    physical_therapy_evaluation: ValueSetTerms
    telephone_visit: ValueSetTerms
    bipolar_disorder: ValueSetTerms
    adolescent_medication: ValueSetTerms
    adult_medication: ValueSetTerms
    adolescent_referral: ValueSetTerms
    adult_referral: ValueSetTerms
    adolescent_follow_up: ValueSetTerms
    adult_follow_up: ValueSetTerms
    medical_reason: ValueSetTerms


class Codes(BaseModel):
    model_config = _TERMS

    adolescent_screen: CodeTerms
    adult_screen: CodeTerms
    screen_negative: CodeTerms
    screen_positive: CodeTerms
    screening_declined: CodeTerms
    condition_active: CodeTerms


class Statuses(BaseModel):
    model_config = _FROZEN

    finished_encounter: frozenset[str]
    screening: frozenset[str]
    not_done_screening: frozenset[str]
    medication_order: frozenset[str]
    order_intent: frozenset[str]
    referral: frozenset[str]
    follow_up_procedure: frozenset[str]


class Config(BaseModel):
    """Everything CMS2's logic reads from its data file."""

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
    Population.DENOMINATOR_EXCEPTION,
)


@dataclass(frozen=True, slots=True)
class _Kind:
    """The adolescent or the adult screen, with the follow-ups that go with it."""

    name: str
    screen: Terms
    medication: Terms
    referral: Terms
    follow_up: Terms


@dataclass(frozen=True, slots=True)
class _Qualifying:
    """A qualifying encounter: its period, and the day from which a screen counts for it."""

    encounter: Encounter
    period: Span
    start: Moment
    end: Moment
    lookback: Moment
    """``start of period - 14 days`` (by day)."""


@dataclass(frozen=True, slots=True)
class _FollowUp:
    reference: str
    label: str
    performed: Span | None
    authored_on: Moment | None


_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _by_start(obs: Observation) -> datetime:
    """Sort key: the start of the effective time; an unknown start sorts first (CQL sorts
    nulls first)."""
    start = obs.effective.start if obs.effective else None
    return start.sort_key if start is not None else _EARLIEST


def _start(obs: Observation) -> Bound:
    """``start of effective.toInterval()``: unknown without an effective time."""
    return start_of(obs.effective) if obs.effective else Edge.UNKNOWN


def _end(obs: Observation) -> Bound:
    """``end of effective.toInterval()``: unknown without an effective time."""
    return end_of(obs.effective) if obs.effective else Edge.UNKNOWN


def _age_verdict(old_enough: Truth, minimum: int, groups: tuple[Truth, ...]) -> str:
    """Whether the age meets the minimum, and that no screen can decide when the age group
    (12-16, 17, 18 and over) is unknown."""
    if old_enough is None:
        return f"unknown whether at least {minimum}, so not in the population"
    if old_enough is False:
        return f"under {minimum}"
    if None in groups:
        return f"at least {minimum}; which screen applies is unknown, so none meets the numerator"
    return f"at least {minimum}"


class _Cms2:
    """One evaluation: a patient, a measurement period and the configuration."""

    def __init__(self, patient: PatientRecord, period: MeasurementPeriod, cfg: Config) -> None:
        self.patient = patient
        self.period = period
        self.p = cfg.parameters
        self.vs = cfg.value_sets
        self.codes = cfg.codes
        self.st = cfg.statuses
        self.mp_first, self.mp_last = Moment(period.start), Moment(period.end)
        self.evidence: list[Evidence] = []
        self.kinds = {
            "adolescent": _Kind(
                "adolescent",
                cfg.codes.adolescent_screen,
                cfg.value_sets.adolescent_medication,
                cfg.value_sets.adolescent_referral,
                cfg.value_sets.adolescent_follow_up,
            ),
            "adult": _Kind(
                "adult",
                cfg.codes.adult_screen,
                cfg.value_sets.adult_medication,
                cfg.value_sets.adult_referral,
                cfg.value_sets.adult_follow_up,
            ),
        }

    def note(
        self,
        criterion: str,
        text: str,
        resource: str | None = None,
        day: date | Moment | None = None,
    ) -> None:
        self.evidence.append(Evidence(criterion, text, resource, day))

    # --- encounters and exclusion -------------------------------------------------------

    def qualifying_encounters(self) -> list[_Qualifying]:
        found = []
        kinds = (
            self.vs.screening_encounter,
            self.vs.physical_therapy_evaluation,
            self.vs.telephone_visit,
        )
        for enc in self.patient.encounters:
            period = enc.period
            match = next((m for t in kinds if (m := t.match(enc.type))), None)
            if (
                match is None
                or period is None
                or enc.status not in self.st.finished_encounter
                or days_during(period, self.mp_first, self.mp_last) is not True
            ):
                continue
            first, last = period.start, period.end
            assert first is not None  # the period lies within the measurement period's days
            assert last is not None
            back = shift_days(date_of(first), -self.p.screening_days_before_encounter)
            found.append(_Qualifying(enc, period, first, last, back))
            self.note(
                "qualifying_encounter",
                f"{match}, finished, {period}, within the measurement period",
                enc.reference,
                first,
            )
        if not found:
            names = " or ".join(str(t) for t in kinds)
            self.note(
                "qualifying_encounter",
                f"no finished {names} encounter within the measurement period {self.period}",
            )
        return found

    def bipolar_history(self, encounters: Sequence[_Qualifying]) -> bool:
        excluded = False
        for condition in self.patient.conditions:
            match = self.vs.bipolar_disorder.match(condition.code)
            if match is None or not condition.is_problem:
                continue
            birth = self.patient.birth_date
            starts = start_of(prevalence(condition, self.codes.condition_active, birth))
            earlier = [q for q in encounters if before(starts, q.start) is True]
            if earlier:
                excluded = True
                onset = onset_text(condition, birth)
                self.note(
                    "exclusion.bipolar_disorder",
                    f"{match}"
                    + (f", onset {onset}" if onset else ", no onset given")
                    + f", before the encounter of {earlier[0].start}",
                    condition.reference,
                    onset_start(condition, birth),
                )
        return excluded

    # --- screens ------------------------------------------------------------------------

    def in_lookback(self, point: Bound, encounters: Iterable[_Qualifying]) -> bool:
        """``point`` is on the day a qualifying encounter starts or up to 14 days before."""
        return any(in_days(point, q.lookback, q.start) is True for q in encounters)

    def screens(self, kind: _Kind, encounters: Sequence[_Qualifying]) -> list[Observation]:
        """``[X depression screens] with a qualifying encounter such that ...``, sorted by
        the start of their effective time (equal times keep their order)."""
        found = [
            obs
            for obs in self.patient.observations
            if kind.screen.match(obs.code) is not None
            and obs.has_value
            and obs.status in self.st.screening
            and self.in_lookback(_end(obs), encounters)
        ]
        return sorted(found, key=_by_start)

    def follow_ups(
        self, kind: _Kind, last: Observation, encounters: Sequence[_Qualifying]
    ) -> list[_FollowUp]:
        """``Follow Up Intervention for Positive X Depression Screening``."""
        found: list[_FollowUp] = []
        for med in self.patient.medication_requests:
            match = kind.medication.match(med.medication)
            if (
                match is None
                or med.status not in self.st.medication_order
                or med.intent not in self.st.order_intent
            ):
                continue
            covered = request_period(med)
            if covered is None:
                continue
            lasts = [
                q
                for q in encounters
                if in_days(_start(last), q.lookback, q.start) is True
                and days_overlap_after(covered, q.period) is True
            ]
            if lasts:
                found.append(_FollowUp(med.reference, str(match), None, med.authored_on))
        for req in self.patient.service_requests:
            match = kind.referral.match(req.code)
            if match is not None and req.status in self.st.referral:
                found.append(_FollowUp(req.reference, str(match), None, req.authored_on))
        for proc in self.patient.procedures:
            match = kind.follow_up.match(proc.code)
            if match is not None and proc.status in self.st.follow_up_procedure:
                found.append(_FollowUp(proc.reference, str(match), proc.performed, None))
        return found

    def timely(self, follow_up: _FollowUp, q: _Qualifying) -> str | None:
        """How the follow-up is timely for the encounter, or None when it is not."""
        performed = follow_up.performed.start if follow_up.performed else None
        authored = follow_up.authored_on
        when = performed if performed is not None else authored
        if when is None or in_days(when, self.mp_first, self.mp_last) is not True:
            return None
        if performed is not None and moment_during(performed, q.period) is True:
            return f"performed {performed}, during the encounter of {q.start}"
        ended = date_of(q.end)
        after = shift_days(ended, self.p.follow_up_days_after_encounter)
        if authored is not None and in_days(authored, ended, after) is True:
            return (
                f"ordered {authored}, on the day the encounter of {q.start} ended or up to "
                f"{self.p.follow_up_days_after_encounter} days after"
            )
        return None

    def screened(self, kind: _Kind, encounters: Sequence[_Qualifying]) -> bool:
        """The most recent screen of this kind is negative, or positive with follow-up."""
        screens = self.screens(kind, encounters)
        if not screens:
            self.note(
                f"screen.{kind.name}",
                f"no {kind.name} depression screen ({kind.screen}) with a result from "
                f"{self.p.screening_days_before_encounter} days before a qualifying "
                "encounter to the day it starts",
            )
            return False
        last = screens[-1]
        start = _start(last)
        day = start if isinstance(start, Moment) else None
        negative = self.codes.screen_negative.match(last.value_concept)
        positive = self.codes.screen_positive.match(last.value_concept)
        result = negative or positive
        self.note(
            f"screen.{kind.name}",
            f"most recent {kind.name} screen ({kind.screen}) "
            + (f"on {day}" if day else "")
            + f": {result.label if result else 'neither negative nor positive'}",
            last.reference,
            day,
        )
        if negative:
            return True
        if not positive:
            return False
        for follow_up in self.follow_ups(kind, last, encounters):
            for q in encounters:
                if in_days(start, q.lookback, q.start) is not True:
                    continue
                how = self.timely(follow_up, q)
                if how:
                    self.note(
                        f"follow_up.{kind.name}",
                        f"{follow_up.label}, {how}",
                        follow_up.reference,
                        (follow_up.performed.start if follow_up.performed else None)
                        or follow_up.authored_on,
                    )
                    return True
        self.note(
            f"follow_up.{kind.name}",
            f"no follow-up for the positive {kind.name} screen during a qualifying encounter "
            f"or ordered up to {self.p.follow_up_days_after_encounter} days after it",
        )
        return False

    def not_screened_for_reason(self, kind: _Kind, encounters: Sequence[_Qualifying]) -> bool:
        """A cancelled screen of this kind with a reason, issued on an encounter's days."""
        excepted = False
        for obs in self.patient.observations:
            if (
                kind.screen.match(obs.code) is None
                or obs.status not in self.st.not_done_screening
                or obs.issued is None
            ):
                continue
            issued = obs.issued
            if not any(in_days(issued, q.start, q.end) is True for q in encounters):
                continue
            reason = self.codes.screening_declined.match(obs.not_done_reason)
            reason = reason or self.vs.medical_reason.match(obs.not_done_reason)
            if reason is not None:
                excepted = True
                self.note(
                    f"exception.{kind.name}",
                    f"{kind.name} screen not done ({obs.status}) on {issued}: {reason}",
                    obs.reference,
                    issued,
                )
        return excepted

    def age_groups(self, age: Uncertainty) -> tuple[Truth, Truth, Truth]:
        """Whether the age is 12-16, 17, and 18 or more (each unknown when the age is)."""
        ages = self.p.adolescent_ages
        return (
            age.within(ages.minimum, ages.maximum),
            age.equals(self.p.either_screen_age),
            age.at_least(self.p.adult_minimum_age),
        )

    def numerator(
        self, groups: tuple[Truth, Truth, Truth], encounters: Sequence[_Qualifying]
    ) -> Truth:
        """``(age 12-16 and adolescent screened) or (age 17 and either screened) or (age 18+
        and adult screened)``, for age groups that may be unknown; each screen that may apply
        is looked at (for its evidence)."""
        young, either, grown = groups
        adolescent = adult = False
        if young is not False or either is not False:
            adolescent = self.screened(self.kinds["adolescent"], encounters)
        if either is not False or grown is not False:
            adult = self.screened(self.kinds["adult"], encounters)
        return or3(
            and3(young, adolescent), and3(either, or3(adolescent, adult)), and3(grown, adult)
        )

    # --- the populations ----------------------------------------------------------------

    def judge(self) -> Judgement:
        no = dict.fromkeys(POPULATIONS, False)
        birth = self.patient.birth_date
        if birth is None:
            self.note("age", "no birth date", self.patient.reference)
            return Judgement(no, tuple(self.evidence))
        age = age_in_years_at(birth, self.mp_first)
        old_enough = age.at_least(self.p.minimum_age)
        groups = self.age_groups(age)
        verdict = _age_verdict(old_enough, self.p.minimum_age, groups)
        born = f", born {birth}" if birth.is_partial else ""
        self.note(
            "age",
            f"age {age} on {self.period.start}, the start of the measurement period{born} "
            f"({verdict})",
            self.patient.reference,
            self.period.start,
        )
        if old_enough is not True:
            return Judgement(no, tuple(self.evidence))
        encounters = self.qualifying_encounters()
        if not encounters:
            return Judgement(no, tuple(self.evidence))
        excluded = self.bipolar_history(encounters)
        numerator = self.numerator(groups, encounters) is True
        exception = False
        if not excluded and not numerator:
            for kind in self.kinds.values():
                if self.not_screened_for_reason(kind, encounters):
                    if self.screens(kind, encounters):
                        self.note(
                            f"exception.{kind.name}",
                            f"but an {kind.name} screen with a result was taken, so the "
                            "reason does not apply",
                        )
                    else:
                        exception = True
        met = {
            Population.INITIAL_POPULATION: True,
            Population.DENOMINATOR: True,
            Population.DENOMINATOR_EXCLUSION: excluded,
            Population.NUMERATOR: numerator,
            Population.DENOMINATOR_EXCEPTION: exception,
        }
        return Judgement(met, tuple(self.evidence))


def judge(patient: PatientRecord, period: MeasurementPeriod, config: Config) -> Judgement:
    """CMS2's criteria for one patient and measurement period, with their evidence."""
    return _Cms2(patient, period, config).judge()


LOGIC = MeasureLogic(id="cms2", populations=POPULATIONS, config=Config, judge=judge)
