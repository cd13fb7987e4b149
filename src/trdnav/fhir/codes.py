"""The codes trdnav reads and writes in FHIR, compiled from the data files in
``knowledge/data/fhir/`` (see :mod:`trdnav.knowledge.fhir_codes`, which loads them).

The file models below are the validated shape of each file; :class:`FhirCodes` is what the
import, the export and the CDS service use: code systems by short name, matchers for each
clinical code list (codes, ICD prefixes and value sets of ``valuesets.yaml``), and trdnav's own
code systems and extensions. Nothing here reads files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from trdnav.core.knowledge import KnowledgeBase, normalise_name
from trdnav.measures.records import Coding
from trdnav.measures.terminology import ValueSet

__all__ = [
    "CodeMatcher",
    "CodesFile",
    "ConditionsFile",
    "EpisodeFacet",
    "FhirCodes",
    "InstrumentsFile",
    "MedicationsFile",
    "NameIndex",
    "ProceduresFile",
]

Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
Url = Annotated[str, StringConstraints(pattern=r"^(https?|urn):\S+$")]
Confidence = Literal["verified", "secondary", "unverified"]
Severity = Literal["subsyndromal", "mild", "moderate", "severe"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cited(Model):
    sources: list[Text] = Field(min_length=1)
    confidence: Confidence


# --- codes.yaml ------------------------------------------------------------------------


class SystemDef(Model):
    url: Url
    aliases: list[Url] = Field(default_factory=list)


LocalSystem = Literal[
    "assessment",
    "verdict",
    "treatment",
    "condition",
    "response",
    "severity",
    "procedure",
    "instrument",
    "alert",
    "override_reason",
    "rule",
]
LocalExtension = Literal["episode", "trial_role", "dose_optimized", "sessions", "reason"]


class LocalDefs(Model):
    code_systems: dict[LocalSystem, Url]
    extensions: dict[LocalExtension, Url]
    identifiers: dict[Literal["patient"], Url]
    assessment: dict[Text, Text]
    override_reasons: dict[Text, Text]


class CodesFile(Model):
    version: Text
    systems: dict[Text, SystemDef]
    systems_sources: list[Text] = Field(min_length=1)
    local: LocalDefs
    local_sources: list[Text] = Field(min_length=1)
    gender_synonyms: dict[Text, Text]
    required_bindings: dict[Text, list[Text]]
    required_bindings_sources: list[Text] = Field(min_length=1)
    other_versions: dict[Text, Text]
    other_versions_sources: list[Text] = Field(min_length=1)


# --- clinical code lists -----------------------------------------------------------------


class CodeList(Model):
    """Codes by system short name, ICD prefixes by system, and value sets by OID."""

    codes: dict[Text, list[Text]] = Field(default_factory=dict)
    prefixes: dict[Text, list[Text]] = Field(default_factory=dict)
    value_sets: list[Text] = Field(default_factory=list)


class CitedCodeList(CodeList, Cited):
    pass


class EpisodeFacet(Model):
    system: Text
    code: Text
    recurrent: bool | None = None
    severity: Severity | None = None
    psychotic_features: bool | None = None
    remission: Literal["partial", "full", "unspecified"] | None = None


class Facets(Cited):
    codes: list[EpisodeFacet] = Field(min_length=1)


class SeverityCode(Model):
    system: Text
    code: Text
    severity: Severity


class SeverityCodes(Cited):
    codes: list[SeverityCode] = Field(min_length=1)


ExportKey = Literal["mild", "moderate", "severe", "severe_psychotic", "other"]


class EpisodeExport(Model):
    single: dict[ExportKey, Text]
    recurrent: dict[ExportKey, Text]


class EpisodeAssumptions(Model):
    severity: Severity
    psychotic_features: bool
    recurrent: bool


class EpisodeCodes(Model):
    major_depression: CitedCodeList
    dysthymia: CitedCodeList
    facets: Facets
    export: EpisodeExport
    assumed: EpisodeAssumptions
    severity_codes: SeverityCodes


class Finding(CitedCodeList):
    condition: Text
    include_inactive: bool = False


class Allergy(Cited):
    condition: Text
    names: list[Text] = Field(default_factory=list)
    rxnorm: list[Text] = Field(default_factory=list)


class ConditionsFile(Model):
    version: Text
    episode: EpisodeCodes
    bipolar: CitedCodeList
    findings: list[Finding]
    allergies: list[Allergy]


class DrugCodes(Cited):
    codes: dict[Text, list[Text]]


class OrderMedication(Model):
    names: list[Text] = Field(default_factory=list)
    rxnorm: list[Text] = Field(default_factory=list)


class MedicationOrders(Cited):
    medications: dict[Text, OrderMedication]


class StatusRules(Model):
    taken: list[Text]
    not_taken: dict[Text, Text]
    unknown: list[Text]
    intents: list[Text] | None = None


class MedicationStatuses(Cited):
    MedicationStatement: StatusRules
    MedicationRequest: StatusRules


class StatusReason(Model):
    system: Text
    code: Text
    response: Literal["none", "partial", "response", "remission", "intolerance", "unknown"]


class StatusReasons(Cited):
    codes: list[StatusReason]


class Dosage(Cited):
    mg_per_unit: dict[Text, float]
    timing_codes: dict[Text, float]


class MedicationsFile(Model):
    version: Text
    drugs: DrugCodes
    antidepressant_value_sets: list[Text]
    orders: MedicationOrders
    statuses: MedicationStatuses
    status_reasons: StatusReasons
    dosage: Dosage


class ExportCode(Model):
    system: Text
    code: Text


class ProcedureCodes(CitedCodeList):
    type: Literal["ECT", "TMS", "VNS", "DBS", "ketamine", "esketamine"]
    export: ExportCode | None = None


class PsychotherapyCodes(CitedCodeList):
    default_type: Text
    export: ExportCode


class ProcedureStatuses(Cited):
    performed: list[Text]
    not_performed: dict[Text, Text]
    unknown: list[Text]


class ServiceOrders(Cited):
    services: dict[Text, list[Text]]


class ProceduresFile(Model):
    version: Text
    procedures: list[ProcedureCodes]
    psychotherapy: PsychotherapyCodes
    course_gap_days: int = Field(ge=1)
    course_gap_note: Text
    statuses: ProcedureStatuses
    orders: ServiceOrders


class LocalInstrumentCodes(Model):
    panel: Text
    total: Text
    item: Text


class Answer(Model):
    system: Text
    code: Text
    score: int = Field(ge=0)


class Answers(Cited):
    codes: list[Answer] = Field(min_length=1)


class Questionnaires(Cited):
    urls: dict[Text, list[Url]]


class InstrumentsFile(Model):
    version: Text
    local: LocalInstrumentCodes
    totals_value_sets: list[Text]
    answers: Answers
    questionnaires: Questionnaires


# --- compiled ----------------------------------------------------------------------------


@dataclass
class CodeMatcher:
    """Matches codings against codes, code prefixes and value sets (by canonical system)."""

    label: str
    exact: set[tuple[str, str]] = field(default_factory=set)
    prefixes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def add(self, system: str, code: str) -> None:
        self.exact.add((system, code))

    def matches(self, coding: Coding) -> bool:
        if (coding.system, coding.code) in self.exact:
            return True
        starts = self.prefixes.get(coding.system)
        return bool(starts) and coding.code.startswith(starts)  # type: ignore[arg-type]

    def first(self, codings: Iterable[Coding]) -> Coding | None:
        return next((c for c in codings if self.matches(c)), None)


class NameIndex:
    """Finds names as whole words in free text (``"Sertraline 100 MG Oral Tablet"``); the
    longest name wins, and text naming two different targets is ambiguous."""

    def __init__(self, names: Mapping[str, str]) -> None:
        ordered = sorted(
            ((normalise_name(n), target) for n, target in names.items()), key=lambda p: -len(p[0])
        )
        self._targets = dict(ordered)
        alternatives = "|".join(re.escape(n) for n, _ in ordered)
        self._pattern = re.compile(rf"(?<![\w]){'(?:' + alternatives + ')'}(?![\w])")

    def find(self, text: str) -> set[str]:
        """The targets named in ``text`` (empty when none)."""
        found = self._pattern.findall(normalise_name(text))
        return {self._targets[m] for m in found}


class FhirCodes:
    """Everything the FHIR adapter needs to know about codes, compiled for lookups."""

    def __init__(
        self,
        codes: CodesFile,
        conditions: ConditionsFile,
        medications: MedicationsFile,
        procedures: ProceduresFile,
        instruments: InstrumentsFile,
        kb: KnowledgeBase,
        value_sets: Mapping[str, ValueSet],
    ) -> None:
        self.file = codes
        self.conditions_file = conditions
        self.medications_file = medications
        self.procedures_file = procedures
        self.instruments_file = instruments
        self.version = "/".join(
            f.version for f in (codes, conditions, medications, procedures, instruments)
        )
        self.systems = {name: s.url for name, s in codes.systems.items()}
        self.aliases = {alias: s.url for s in codes.systems.values() for alias in s.aliases}
        """Other URIs of a code system -> its canonical URI."""
        self.local = codes.local
        self.bindings = {k: frozenset(v) for k, v in codes.required_bindings.items()}
        self.other_versions = dict(codes.other_versions)
        self._value_sets = value_sets

        ep = conditions.episode
        self.major_depression = self.matcher("major depression", ep.major_depression)
        self.dysthymia = self.matcher("dysthymia", ep.dysthymia)
        self.bipolar = self.matcher("bipolar disorder", conditions.bipolar)
        self.facets = {(self.system(f.system), f.code): f for f in ep.facets.codes}
        self.severity_codes = {
            (self.system(s.system), s.code): s.severity for s in ep.severity_codes.codes
        }
        self.findings = [
            (f.condition, f.include_inactive, self.matcher(f.condition, f))
            for f in conditions.findings
        ]
        allergy_names: dict[str, str] = {}
        self.allergy_codes: dict[tuple[str, str], str] = {}
        for allergy in conditions.allergies:
            allergy_names.update(dict.fromkeys(allergy.names, allergy.condition))
            for code in allergy.rxnorm:
                self.allergy_codes[(self.systems["rxnorm"], code)] = allergy.condition
        self.allergy_names = NameIndex(allergy_names)

        self.drug_codes = {
            (self.systems["rxnorm"], code): drug
            for drug, codes_ in medications.drugs.codes.items()
            for code in codes_
        }
        drug_names = {name: drug.id for drug in kb.drugs.values() for name in drug.names()}
        self.drug_names = NameIndex(drug_names)
        self.antidepressants = self.matcher(
            "antidepressant", CodeList(value_sets=medications.antidepressant_value_sets)
        )
        order_names: dict[str, str] = {}
        self.order_codes: dict[tuple[str, str], str] = {}
        for treatment, med in medications.orders.medications.items():
            order_names.update(dict.fromkeys(med.names, treatment))
            for code in med.rxnorm:
                self.order_codes[(self.systems["rxnorm"], code)] = treatment
        self.order_names = NameIndex(order_names)
        self.status_reasons = {
            (self.system(r.system), r.code): r.response for r in medications.status_reasons.codes
        }
        self.mg_per_unit = {normalise_name(k): v for k, v in medications.dosage.mg_per_unit.items()}
        self.timing_codes = dict(medications.dosage.timing_codes)

        self.procedures = [(p.type, self.matcher(p.type, p)) for p in procedures.procedures]
        self.psychotherapy = self.matcher("psychotherapy", procedures.psychotherapy)
        self.service_orders = {
            ptype: treatment
            for treatment, ptypes in procedures.orders.services.items()
            for ptype in ptypes
        }

        self.answers = {(self.system(a.system), a.code): a.score for a in instruments.answers.codes}
        self.totals = self.matcher(
            "rating-scale total", CodeList(value_sets=instruments.totals_value_sets)
        )
        self.questionnaires = {
            url: inst for inst, urls in instruments.questionnaires.urls.items() for url in urls
        }
        self.instrument_codes: dict[tuple[str, str], tuple[str, str, int]] = {}
        """``(system, code)`` -> (instrument id, "panel" | "total" | "item", item number)."""
        loinc, local = self.systems["loinc"], self.local.code_systems["instrument"]
        for inst in kb.instruments.values():
            if inst.loinc.panel:
                self.instrument_codes[(loinc, inst.loinc.panel)] = (inst.id, "panel", 0)
            if inst.loinc.total:
                self.instrument_codes[(loinc, inst.loinc.total)] = (inst.id, "total", 0)
            for number, code in enumerate(inst.loinc.items or [], start=1):
                self.instrument_codes[(loinc, code)] = (inst.id, "item", number)
            self.instrument_codes[(local, self.local_instrument_code(inst.id))] = (
                inst.id,
                "panel",
                0,
            )
            self.instrument_codes[(local, self.local_instrument_code(inst.id, "total"))] = (
                inst.id,
                "total",
                0,
            )
            for item in inst.items:
                code = self.local_instrument_code(inst.id, item.number)
                self.instrument_codes[(local, code)] = (inst.id, "item", item.number)

    def cited(self) -> set[str]:
        """Every source id the FHIR code files cite."""
        found: set[str] = set()

        def walk(value: object) -> None:
            if isinstance(value, BaseModel):
                for name in type(value).model_fields:
                    item = getattr(value, name)
                    if name == "sources" or name.endswith("_sources"):
                        found.update(item)
                    else:
                        walk(item)
            elif isinstance(value, dict):
                for item in value.values():
                    walk(item)
            elif isinstance(value, list | tuple):
                for item in value:
                    walk(item)

        for file in (
            self.file,
            self.conditions_file,
            self.medications_file,
            self.procedures_file,
            self.instruments_file,
        ):
            walk(file)
        return found

    # -- systems ---------------------------------------------------------------------------
    def system(self, name: str) -> str:
        return self.systems[name]

    def canonical(self, url: str) -> str:
        """A system URI as the data files name it (an alias becomes its canonical URI)."""
        return self.aliases.get(url, url)

    def local_system(self, name: LocalSystem) -> str:
        return self.local.code_systems[name]

    def extension(self, name: LocalExtension) -> str:
        return self.local.extensions[name]

    def local_instrument_code(self, instrument: str, part: str | int = "panel") -> str:
        pattern = self.instruments_file.local
        if part == "panel":
            return pattern.panel.format(instrument=instrument)
        if part == "total":
            return pattern.total.format(instrument=instrument)
        return pattern.item.format(instrument=instrument, item=part)

    def matcher(self, label: str, codes: CodeList) -> CodeMatcher:
        out = CodeMatcher(label)
        for name, listed in codes.codes.items():
            for value in listed:
                out.add(self.system(name), value)
        for name, starts in codes.prefixes.items():
            out.prefixes[self.system(name)] = tuple(starts)
        for oid in codes.value_sets:
            for system, expansion in self._value_sets[oid].codes.items():
                for value in expansion:
                    out.add(system, value)
        return out

    def in_binding(self, binding: str, value: str) -> bool:
        return value in self.bindings[binding]
