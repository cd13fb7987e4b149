"""What a knowledge base is: the validated shape of trdnav's clinical facts.

The facts themselves live in data files (``trdnav/knowledge/data``); the loader
reads them and builds a :class:`KnowledgeBase`, which checks on construction that
every reference (source, rule, condition) resolves. Every fact carries the ids of
its sources and a confidence tag:

* ``verified``: seen in the source text itself;
* ``secondary``: seen only in a secondary source (review, label mirror, clinic page);
* ``unverified``: background knowledge or a partial excerpt; shown, never hidden,
  and flagged as such wherever it is displayed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    model_validator,
)

from trdnav.core.course_templates import CourseTemplate, ParameterSpec
from trdnav.core.dates import PARTIAL_DATE_PATTERN, partial_date_start
from trdnav.core.facts import Cited, Confidence, Id, Model, Text
from trdnav.core.history import ProcedureName
from trdnav.core.rule_params import RULE_PARAMETERS

__all__ = [
    "TREATMENT_IDS",
    "Condition",
    "Confidence",
    "Drug",
    "DrugClass",
    "EfficacyFigure",
    "FindingRef",
    "Instrument",
    "KnowledgeBase",
    "RegulatoryEvent",
    "RegulatoryStatus",
    "Rule",
    "Setting",
    "SideEffect",
    "Source",
    "Treatment",
    "normalise_name",
]

RegulatoryStatus = Literal[
    "fda_approved", "fda_cleared", "off_label", "investigational", "standard_care"
]
Setting = Literal["office", "monitored_clinic", "anaesthesia", "surgery"]
DrugClass = Literal["ssri", "snri", "tca", "maoi", "atypical", "augmentation"]
TreatmentKind = Literal["psychological", "pharmacological", "neuromodulation"]

TREATMENT_IDS: tuple[str, ...] = (
    "psychotherapy",
    "medication_change",
    "tms",
    "ect",
    "esketamine",
    "ketamine",
    "vns",
    "dbs",
    "psilocybin",
    "botox",
    "celecoxib",
)


def _date_text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


PartialDate = Annotated[
    str, BeforeValidator(_date_text), StringConstraints(pattern=PARTIAL_DATE_PATTERN)
]
P = TypeVar("P", bound=BaseModel)


def normalise_name(name: str) -> str:
    """Case-, space- and punctuation-insensitive key for matching names."""
    return re.sub(r"[\s_\-]+", " ", name.strip().casefold())


class Source(Model):
    id: Id
    citation: Text
    url: str | None = None
    doi: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _has_locator(self) -> Source:
        if not (self.url or self.doi):
            raise ValueError(f"source {self.id!r} needs a url or a doi")
        return self

    def reference(self) -> str:
        """The citation with its locator, as shown to clinicians."""
        locator = f"https://doi.org/{self.doi}" if self.doi else self.url
        return f"{self.citation} {locator}"


class Rule(Cited):
    id: Id
    title: Text
    statement: Text
    parameters: dict[str, Any] = Field(default_factory=dict)


class Condition(Model):
    id: Id
    name: Text
    description: Text
    synonyms: list[Text] = Field(default_factory=list)
    derived_from: str | None = Field(
        default=None,
        description="set for findings computed from the history rather than listed in conditions",
    )
    implied_by_procedures: list[ProcedureName] = Field(
        default_factory=list,
        description="procedure types whose record in the history means the finding applies "
        "(an implant stays after its procedure); the finding can also be listed directly",
    )


class Drug(Cited):
    id: Id
    name: Text
    drug_class: DrugClass
    synonyms: list[Text] = Field(default_factory=list)
    brands: list[Text] = Field(default_factory=list)
    min_daily_dose_mg: float | None = Field(default=None, gt=0)
    usual_range_mg: tuple[float, float] | None = None
    dose_note: str | None = None

    def names(self) -> list[str]:
        return [self.id, self.name, *self.synonyms, *self.brands]


class InstrumentItem(Model):
    number: int = Field(ge=1)
    label: Text
    min: int = 0
    max: int = Field(ge=1)


class Band(Model):
    min: int = Field(ge=0)
    max: int = Field(ge=0)
    label: Id


class SuicideItem(Model):
    item: int = Field(ge=1)
    alert_at: int = Field(ge=1, description="an answer at or above this value raises the alert")


class Loinc(Model):
    panel: str | None = None
    total: str | None = None
    items: list[str] | None = None


INSTRUMENT_ID_LENGTH = 16
"""The longest instrument id: it is kept with each measurement in a column of this length."""
VERSION_LENGTH = 40
"""The longest knowledge-base version: it is kept with each patient's summary, beside the
trial-days setting, in 64 characters."""
InstrumentId = Annotated[
    str, StringConstraints(min_length=1, max_length=INSTRUMENT_ID_LENGTH, strip_whitespace=True)
]
Version = Annotated[
    str, StringConstraints(min_length=1, max_length=VERSION_LENGTH, strip_whitespace=True)
]


class Instrument(Cited):
    id: InstrumentId
    name: Text
    aliases: list[Text] = Field(default_factory=list)
    rater: Literal["self", "clinician"]
    recall: Text
    items: list[InstrumentItem] = Field(min_length=1)
    domains: list[list[int]] | None = Field(
        default=None,
        description="groups of item numbers scored as their maximum; None means the sum of items",
    )
    bands: list[Band] = Field(min_length=1)
    remission_max: int = Field(ge=0, description="a total at or below this value is remission")
    remission_statement: Text
    suicide_item: SuicideItem
    loinc: Loinc = Loinc()

    @property
    def item_count(self) -> int:
        return len(self.items)

    @property
    def max_total(self) -> int:
        groups = self.domains or [[i.number] for i in self.items]
        by_number = {i.number: i for i in self.items}
        return sum(max(by_number[n].max for n in g) for g in groups)

    @model_validator(mode="after")
    def _consistent(self) -> Instrument:
        numbers = [i.number for i in self.items]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"{self.id}: items must be numbered 1..n in order")
        if self.domains is not None:
            flat = sorted(n for g in self.domains for n in g)
            if flat != numbers:
                raise ValueError(f"{self.id}: domains must cover each item exactly once")
        expected_min = 0
        for band in self.bands:
            if band.min != expected_min or band.max < band.min:
                raise ValueError(f"{self.id}: bands must be contiguous from 0 (at {band.label})")
            expected_min = band.max + 1
        if expected_min - 1 != self.max_total:
            raise ValueError(
                f"{self.id}: bands end at {expected_min - 1}, total max is {self.max_total}"
            )
        if self.suicide_item.item not in numbers:
            raise ValueError(f"{self.id}: suicide item {self.suicide_item.item} does not exist")
        return self


class RegulatoryEvent(Cited):
    id: Id
    date: PartialDate
    status: RegulatoryStatus
    region: str = "US"
    summary: Text

    @property
    def effective(self) -> dt.date:
        return partial_date_start(self.date)


class EfficacyFigure(Cited):
    outcome: Text
    figure: Text
    population: Text
    note: str | None = None


class SideEffect(Cited):
    name: Text
    frequency: str | None = None
    note: str | None = None


class FindingRef(Cited):
    finding: Id
    why: Text


class Protocol(Cited):
    id: Id
    name: Text
    summary: Text
    session_minutes: float | None = None
    sessions_per_week: float | None = None
    sessions_per_day: int | None = None
    course_weeks: str | None = None


class Schedule(Cited):
    summary: Text
    details: list[Text] = Field(default_factory=list)


class Treatment(Model):
    id: Id
    name: Text
    short_name: Text
    kind: TreatmentKind
    setting: Setting
    summary: Text
    plain_language: Text
    regulatory: list[RegulatoryEvent] = Field(min_length=1)
    schedule: Schedule
    protocols: list[Protocol] = Field(default_factory=list)
    efficacy: list[EfficacyFigure] = Field(min_length=1)
    side_effects: list[SideEffect] = Field(min_length=1)
    contraindications: list[FindingRef] = Field(default_factory=list)
    cautions: list[FindingRef] = Field(default_factory=list)
    eligibility_rules: list[Id] = Field(min_length=1)
    sources: list[Id] = Field(min_length=1)

    _timeline: list[tuple[dt.date, RegulatoryStatus]] = PrivateAttr(default_factory=list)

    def model_post_init(self, context: Any, /) -> None:
        self._timeline = sorted((e.effective, e.status) for e in self.regulatory)

    def regulatory_status(self, on: dt.date) -> RegulatoryStatus:
        """Status on a date: that of the latest event in effect, else the earliest event's."""
        timeline: list[tuple[dt.date, RegulatoryStatus]] = self._private("_timeline")
        status = timeline[0][1]
        for effective, event_status in timeline:
            if effective <= on:
                status = event_status
        return status

    def regulatory_event(self, event_id: str) -> RegulatoryEvent:
        for event in self.regulatory:
            if event.id == event_id:
                return event
        raise KeyError(event_id)


class KnowledgeBase(Model):
    version: Version
    released: dt.date
    sources: dict[Id, Source]
    rules: dict[Id, Rule]
    conditions: dict[Id, Condition]
    drugs: dict[Id, Drug]
    instruments: dict[str, Instrument]
    treatments: dict[Id, Treatment]
    courses: dict[Id, CourseTemplate]
    parameters: dict[Id, ParameterSpec]

    _drug_index: dict[str, str] = PrivateAttr(default_factory=dict)
    _condition_index: dict[str, str] = PrivateAttr(default_factory=dict)
    _instrument_index: dict[str, str] = PrivateAttr(default_factory=dict)
    _params: dict[str, BaseModel] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        for rule_id, schema in RULE_PARAMETERS.items():
            if rule_id in self.rules:
                # invalid parameters are reported by _references_resolve
                with contextlib.suppress(ValidationError):
                    self._params[rule_id] = schema.model_validate(self.rules[rule_id].parameters)
        for drug in self.drugs.values():
            for name in drug.names():
                self._drug_index[normalise_name(name)] = drug.id
        for cond in self.conditions.values():
            for name in (cond.id, cond.name, *cond.synonyms):
                self._condition_index[normalise_name(name)] = cond.id
        for inst in self.instruments.values():
            for name in (inst.id, inst.name, *inst.aliases):
                self._instrument_index[normalise_name(name)] = inst.id

    # -- lookups -----------------------------------------------------------------
    def find_drug(self, name: str) -> Drug | None:
        if name in self.drugs:
            return self.drugs[name]
        drug_id = self._private("_drug_index").get(normalise_name(name))
        return self.drugs[drug_id] if drug_id else None

    def find_condition(self, name: str) -> Condition | None:
        cond_id = self._private("_condition_index").get(normalise_name(name))
        return self.conditions[cond_id] if cond_id else None

    def find_instrument(self, name: str) -> Instrument | None:
        if name in self.instruments:
            return self.instruments[name]
        inst_id = self._private("_instrument_index").get(normalise_name(name))
        return self.instruments[inst_id] if inst_id else None

    def close_drug_names(self, name: str, n: int = 3) -> list[str]:
        return _close(name, self._drug_index, n)

    def close_condition_names(self, name: str, n: int = 3) -> list[str]:
        return _close(name, self._condition_index, n)

    def close_instrument_names(self, name: str, n: int = 3) -> list[str]:
        return _close(name, self._instrument_index, n)

    def _course_problems(self) -> list[str]:
        return _course_problems_of(self)

    def rule(self, rule_id: str) -> Rule:
        return self.rules[rule_id]

    def params(self, rule_id: str, schema: type[P]) -> P:
        """The validated parameters of a rule."""
        value = self._private("_params")[rule_id]
        if not isinstance(value, schema):
            raise TypeError(f"rule {rule_id} parameters are {type(value).__name__}")
        return value

    def cite(self, source_ids: list[str]) -> list[str]:
        """References for source ids, in order, without repeats."""
        return [self.sources[s].reference() for s in dict.fromkeys(source_ids)]

    # -- cross-reference validation -----------------------------------------------
    @model_validator(mode="after")
    def _references_resolve(self) -> KnowledgeBase:
        problems: list[str] = []

        def need_sources(where: str, ids: list[str]) -> None:
            problems.extend(f"{where}: unknown source {s!r}" for s in ids if s not in self.sources)

        for key, table in (
            ("sources", self.sources),
            ("rules", self.rules),
            ("conditions", self.conditions),
            ("drugs", self.drugs),
            ("instruments", self.instruments),
            ("treatments", self.treatments),
            ("courses", self.courses),
            ("parameters", self.parameters),
        ):
            problems.extend(
                f"{key}: key {k!r} differs from its id {v.id!r}"
                for k, v in table.items()
                if k != v.id
            )
        for rule in self.rules.values():
            need_sources(f"rule {rule.id}", rule.sources)
            schema = RULE_PARAMETERS.get(rule.id)
            if schema is None and rule.parameters:
                problems.append(f"rule {rule.id}: takes no parameters")
            elif schema is not None:
                try:
                    schema.model_validate(rule.parameters)
                except ValidationError as exc:
                    problems.append(f"rule {rule.id}: invalid parameters: {exc}")
        problems.extend(
            f"rule {rule_id}: has a parameter schema but is missing from the rules"
            for rule_id in RULE_PARAMETERS
            if rule_id not in self.rules
        )
        for drug in self.drugs.values():
            need_sources(f"drug {drug.id}", drug.sources)
        for inst in self.instruments.values():
            need_sources(f"instrument {inst.id}", inst.sources)
        if tuple(self.treatments) != TREATMENT_IDS:
            problems.append(f"treatments must be exactly {list(TREATMENT_IDS)} in that order")
        for t in self.treatments.values():
            need_sources(f"treatment {t.id}", t.sources)
            facts: list[tuple[str, Cited]] = [("schedule", t.schedule)]
            facts += [(f"regulatory {e.id}", e) for e in t.regulatory]
            facts += [(f"protocol {p.id}", p) for p in t.protocols]
            facts += [(f"efficacy {e.outcome}", e) for e in t.efficacy]
            facts += [(f"side effect {s.name}", s) for s in t.side_effects]
            facts += [(f"finding {f.finding}", f) for f in (*t.contraindications, *t.cautions)]
            for where, fact in facts:
                need_sources(f"treatment {t.id} {where}", fact.sources)
            for ref in (*t.contraindications, *t.cautions):
                if ref.finding not in self.conditions:
                    problems.append(f"treatment {t.id}: unknown condition {ref.finding!r}")
            for rule_id in t.eligibility_rules:
                if rule_id not in self.rules:
                    problems.append(f"treatment {t.id}: unknown rule {rule_id!r}")
        problems.extend(self._course_problems())
        seen: dict[str, str] = {}
        for drug in self.drugs.values():
            for name in drug.names():
                key = normalise_name(name)
                if seen.setdefault(key, drug.id) != drug.id:
                    problems.append(f"drug name {name!r} is used by {seen[key]} and {drug.id}")
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _course_problems_of(kb: KnowledgeBase) -> list[str]:
    problems: list[str] = []
    for spec in kb.parameters.values():
        problems.extend(
            f"parameter {spec.id}: unknown source {s!r}"
            for s in spec.sources
            if s not in kb.sources
        )
    for t in kb.courses.values():
        where = f"course template {t.id}"
        problems.extend(f"{where}: unknown source {s!r}" for s in t.sources if s not in kb.sources)
        if t.treatment not in kb.treatments:
            problems.append(f"{where}: unknown treatment {t.treatment!r}")
        instruments = [t.instrument, *(m.instrument for m in t.measurements)]
        problems.extend(
            f"{where}: unknown instrument {i!r}" for i in instruments if i not in kb.instruments
        )
        problems.extend(
            f"{where}: unknown parameter {p!r}" for p in t.parameters if p not in kb.parameters
        )
        if t.review and t.review.at_session > t.planned_sessions:
            problems.append(
                f"{where}: review after session {t.review.at_session} of {t.planned_sessions}"
            )
    return problems


def _close(name: str, index: dict[str, str], n: int) -> list[str]:
    """Ids whose names are close to ``name``, best first, without repeats."""
    matches = difflib.get_close_matches(normalise_name(name), list(index), n=n * 3, cutoff=0.6)
    return list(dict.fromkeys(index[m] for m in matches))[:n]
