"""The validated shape of each FHIR code file of ``knowledge/data/fhir/`` (pydantic models).

:mod:`trdnav.knowledge.fhir_codes` reads the files with these models and checks them against
the knowledge base; :class:`trdnav.fhir.codes.FhirCodes` compiles them for lookups.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "CodeList",
    "CodesFile",
    "ConditionsFile",
    "EpisodeFacet",
    "InstrumentsFile",
    "LocalExtension",
    "LocalSystem",
    "MedicationsFile",
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
