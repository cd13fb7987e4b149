"""Read and validate the FHIR code files (``data/fhir/*.yaml``) into
:class:`~trdnav.fhir.codes.FhirCodes`.

Each file is validated by its model, then the files are checked against the knowledge base and
the measures' value sets: every source, drug, condition, instrument and treatment they name
exists; every code system they use is declared in ``codes.yaml``; every value-set OID is in
``measures/valuesets.yaml``; no code means two things. Errors name the file and the field, and
are raised together as a :class:`~trdnav.errors.KnowledgeError`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from trdnav.core.history import PROCEDURE_TYPES
from trdnav.core.knowledge import KnowledgeBase
from trdnav.errors import KnowledgeError, format_path
from trdnav.fhir.code_files import (
    CodeList,
    CodesFile,
    ConditionsFile,
    InstrumentsFile,
    MedicationsFile,
    ProceduresFile,
)
from trdnav.fhir.codes import FhirCodes
from trdnav.knowledge.loader import DATA_DIR, _read, load_knowledge
from trdnav.knowledge.measures import MEASURES_DIR, load_value_sets
from trdnav.measures.terminology import ValueSet

__all__ = ["FHIR_DIR", "build_fhir_codes", "load_fhir_codes"]

FHIR_DIR = DATA_DIR / "fhir"
M = TypeVar("M", bound=BaseModel)

ASSESSMENT_CODES = (
    "trd",
    "failed-adequate-trials",
    "thase-rush-stage",
    "mgh-s",
    "msm",
    "msm-band",
    "option-verdict",
    "treatment",
    "alert",
)
"""The assessment codes the export writes; ``codes.yaml`` must define each."""
SYSTEMS_USED = ("snomed", "icd10cm", "loinc", "rxnorm", "cpt", "ucum")


def _parse(folder: Path, name: str, model: type[M], problems: list[str]) -> M | None:
    data = _read(folder / f"{name}.yaml")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(
            f"fhir/{name}.yaml: {format_path(err['loc'])}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        return None


class _Checker:
    def __init__(self, kb: KnowledgeBase, value_sets: dict[str, ValueSet], systems: set[str]):
        self.kb, self.value_sets, self.systems = kb, value_sets, systems
        self.problems: list[str] = []

    def bad(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def sources(self, where: str, ids: list[str]) -> None:
        for source in ids:
            if source not in self.kb.sources:
                self.bad(where, f"unknown source {source!r} (not in sources.yaml)")

    def system(self, where: str, name: str) -> None:
        if name not in self.systems:
            self.bad(where, f"unknown code system {name!r} (not in fhir/codes.yaml systems)")

    def code_list(self, where: str, codes: CodeList) -> None:
        for name in (*codes.codes, *codes.prefixes):
            self.system(where, name)
        for oid in codes.value_sets:
            if oid not in self.value_sets:
                self.bad(where, f"unknown value set {oid} (not in measures/valuesets.yaml)")

    def condition(self, where: str, condition: str) -> None:
        if condition not in self.kb.conditions:
            self.bad(where, f"unknown condition {condition!r} (not in conditions.yaml)")

    def unique(self, where: str, pairs: list[tuple[Any, str]]) -> None:
        """Each key maps to one target only."""
        seen: dict[Any, str] = {}
        for key, target in pairs:
            if seen.setdefault(key, target) != target:
                self.bad(where, f"{key} means both {seen[key]!r} and {target!r}")


def _check(
    checker: _Checker,
    codes: CodesFile,
    conditions: ConditionsFile,
    medications: MedicationsFile,
    procedures: ProceduresFile,
    instruments: InstrumentsFile,
) -> None:
    c, kb = checker, checker.kb
    c.sources("fhir/codes.yaml: systems_sources", codes.systems_sources)
    c.sources("fhir/codes.yaml: local_sources", codes.local_sources)
    c.sources("fhir/codes.yaml: required_bindings_sources", codes.required_bindings_sources)
    c.sources("fhir/codes.yaml: other_versions_sources", codes.other_versions_sources)
    for name in SYSTEMS_USED:
        c.system("fhir/codes.yaml: systems", name)
    for code in ASSESSMENT_CODES:
        if code not in codes.local.assessment:
            c.bad("fhir/codes.yaml: local.assessment", f"missing the code {code!r}")

    where = "fhir/conditions.yaml"
    ep = conditions.episode
    for key, group in (("major_depression", ep.major_depression), ("dysthymia", ep.dysthymia)):
        c.sources(f"{where}: episode.{key}", group.sources)
        c.code_list(f"{where}: episode.{key}", group)
    c.sources(f"{where}: episode.facets", ep.facets.sources)
    for i, facet in enumerate(ep.facets.codes):
        c.system(f"{where}: episode.facets.codes[{i}]", facet.system)
    c.unique(f"{where}: episode.facets", [((f.system, f.code), str(f)) for f in ep.facets.codes])
    facets = {f.code: f for f in ep.facets.codes if f.system == "icd10cm"}
    for kind, table in (("single", ep.export.single), ("recurrent", ep.export.recurrent)):
        for key, code in table.items():
            known = facets.get(code)
            if known is None or known.recurrent is not (kind == "recurrent"):
                c.bad(
                    f"{where}: episode.export.{kind}.{key}",
                    f"{code} must be an ICD-10-CM facet with recurrent: {kind == 'recurrent'}",
                )
    c.sources(f"{where}: episode.severity_codes", ep.severity_codes.sources)
    c.sources(f"{where}: bipolar", conditions.bipolar.sources)
    c.code_list(f"{where}: bipolar", conditions.bipolar)
    for i, finding in enumerate(conditions.findings):
        c.sources(f"{where}: findings[{i}]", finding.sources)
        c.code_list(f"{where}: findings[{i}]", finding)
        c.condition(f"{where}: findings[{i}].condition", finding.condition)
    for i, allergy in enumerate(conditions.allergies):
        c.sources(f"{where}: allergies[{i}]", allergy.sources)
        c.condition(f"{where}: allergies[{i}].condition", allergy.condition)

    where = "fhir/medications.yaml"
    c.sources(f"{where}: drugs", medications.drugs.sources)
    for drug in medications.drugs.codes:
        if drug not in kb.drugs:
            c.bad(f"{where}: drugs.codes.{drug}", "unknown drug (not in drugs.yaml)")
    c.unique(
        f"{where}: drugs.codes",
        [(code, drug) for drug, codes_ in medications.drugs.codes.items() for code in codes_],
    )
    c.code_list(
        f"{where}: antidepressant_value_sets",
        CodeList(value_sets=medications.antidepressant_value_sets),
    )
    c.sources(f"{where}: orders", medications.orders.sources)
    for treatment in medications.orders.medications:
        if treatment not in kb.treatments:
            c.bad(f"{where}: orders.medications.{treatment}", "unknown treatment")
    for section in ("statuses", "status_reasons", "dosage"):
        c.sources(f"{where}: {section}", getattr(medications, section).sources)
    for kind in ("MedicationStatement", "MedicationRequest"):
        rules = getattr(medications.statuses, kind)
        allowed = set(codes.required_bindings.get(f"{kind}.status", []))
        for status in (*rules.taken, *rules.not_taken, *rules.unknown):
            if status not in allowed:
                c.bad(f"{where}: statuses.{kind}", f"{status!r} is not a {kind}.status code")
    for i, reason in enumerate(medications.status_reasons.codes):
        c.system(f"{where}: status_reasons.codes[{i}]", reason.system)

    where = "fhir/procedures.yaml"
    types = []
    for i, proc in enumerate(procedures.procedures):
        c.sources(f"{where}: procedures[{i}]", proc.sources)
        c.code_list(f"{where}: procedures[{i}]", proc)
        types.append(proc.type)
    if sorted(types) != sorted(PROCEDURE_TYPES):
        c.bad(f"{where}: procedures", f"expected each of {', '.join(PROCEDURE_TYPES)} once")
    c.unique(
        f"{where}: procedures",
        [
            ((system, code), proc.type)
            for proc in procedures.procedures
            for system, codes_ in proc.codes.items()
            for code in codes_
        ],
    )
    c.sources(f"{where}: psychotherapy", procedures.psychotherapy.sources)
    c.code_list(f"{where}: psychotherapy", procedures.psychotherapy)
    c.sources(f"{where}: statuses", procedures.statuses.sources)
    allowed = set(codes.required_bindings.get("Procedure.status", []))
    statuses = procedures.statuses
    for status in (*statuses.performed, *statuses.not_performed, *statuses.unknown):
        if status not in allowed:
            c.bad(f"{where}: statuses", f"{status!r} is not a Procedure.status code")
    c.sources(f"{where}: orders", procedures.orders.sources)
    for treatment, ptypes in procedures.orders.services.items():
        if treatment not in kb.treatments:
            c.bad(f"{where}: orders.services.{treatment}", "unknown treatment")
        for ptype in ptypes:
            if ptype not in PROCEDURE_TYPES:
                c.bad(f"{where}: orders.services.{treatment}", f"unknown procedure type {ptype!r}")

    where = "fhir/instruments.yaml"
    local = instruments.local
    if "{instrument}" not in local.panel or "{instrument}" not in local.total:
        c.bad(f"{where}: local", "panel and total codes need {instrument}")
    if "{instrument}" not in local.item or "{item}" not in local.item:
        c.bad(f"{where}: local.item", "item codes need {instrument} and {item}")
    c.code_list(f"{where}: totals_value_sets", CodeList(value_sets=instruments.totals_value_sets))
    c.sources(f"{where}: answers", instruments.answers.sources)
    for i, answer in enumerate(instruments.answers.codes):
        c.system(f"{where}: answers.codes[{i}]", answer.system)
    c.unique(
        f"{where}: answers",
        [((a.system, a.code), str(a.score)) for a in instruments.answers.codes],
    )
    c.sources(f"{where}: questionnaires", instruments.questionnaires.sources)
    for inst in instruments.questionnaires.urls:
        if inst not in kb.instruments:
            c.bad(f"{where}: questionnaires.urls.{inst}", "unknown instrument")


def build_fhir_codes(
    folder: Path = FHIR_DIR,
    kb: KnowledgeBase | None = None,
    measures_folder: Path = MEASURES_DIR,
) -> FhirCodes:
    """Validate the FHIR code files in ``folder`` against ``kb`` (no caching)."""
    kb = kb or load_knowledge()
    problems: list[str] = []
    codes = _parse(folder, "codes", CodesFile, problems)
    conditions = _parse(folder, "conditions", ConditionsFile, problems)
    medications = _parse(folder, "medications", MedicationsFile, problems)
    procedures = _parse(folder, "procedures", ProceduresFile, problems)
    instruments = _parse(folder, "instruments", InstrumentsFile, problems)
    if problems:
        raise KnowledgeError(problems)
    assert codes is not None
    assert conditions is not None
    assert medications is not None
    assert procedures is not None
    assert instruments is not None
    value_sets = load_value_sets(measures_folder)
    checker = _Checker(kb, value_sets, set(codes.systems))
    _check(checker, codes, conditions, medications, procedures, instruments)
    if checker.problems:
        raise KnowledgeError(checker.problems)
    return FhirCodes(codes, conditions, medications, procedures, instruments, kb, value_sets)


@cache
def load_fhir_codes(knowledge_dir: Path = DATA_DIR) -> FhirCodes:
    """The FHIR codes of the knowledge base in ``knowledge_dir`` (its ``fhir/`` folder, checked
    against its knowledge files and ``measures/`` value sets), loaded once."""
    return build_fhir_codes(
        knowledge_dir / "fhir", load_knowledge(knowledge_dir), knowledge_dir / "measures"
    )
