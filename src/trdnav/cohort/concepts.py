"""The cohort engine's facts: OMOP concept sets and parameters, read from the knowledge data.

``knowledge/data/concepts/*.yaml`` hold the concept sets (MDD conditions, antidepressant and
augmentation ingredients, treatments received) and ``knowledge/data/cohort.yaml`` the
parameters (era gap, episode gap, ...). Both are validated against the knowledge base when
they load: every source exists, every drug is a knowledge-base drug (whose class and minimum
adequate dose are used, not repeated), every treatment is a procedure type of the
patient-history model. The PHQ-9 measurement concept is the instrument's LOINC total code
in ``instruments.yaml``.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trdnav.core.history import PROCEDURE_TYPES
from trdnav.core.knowledge import Confidence, KnowledgeBase
from trdnav.core.rule_params import AdequacyParams, FailedEctParams, ResponseParams, TrdParams
from trdnav.errors import KnowledgeError, format_path
from trdnav.knowledge import DATA_DIR

__all__ = [
    "PARAMETER_IDS",
    "CohortKnowledge",
    "ConceptEntry",
    "ConceptSet",
    "load_cohort_knowledge",
]

Severity = Literal["subsyndromal", "mild", "moderate", "severe"]
SEVERITY_RANK: dict[str, int] = {"subsyndromal": 1, "mild": 2, "moderate": 3, "severe": 4}
PARAMETER_IDS: tuple[str, ...] = (
    "era_gap_days",
    "next_step_window_days",
    "episode_gap_days",
    "ect_course_gap_days",
    "phq9_index_min_total",
    "phq9_followup_months",
    "phq9_followup_window_days",
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConceptEntry(_Model):
    """One code of a concept set: ``vocabulary`` + ``code``, and the OMOP ``concept_id``
    where a cited source gives it."""

    vocabulary: str = Field(min_length=1)
    code: str = Field(min_length=1)
    concept_id: int | None = Field(default=None, gt=0)
    name: str | None = None
    drug: str | None = None
    treatment: str | None = None
    severity: Severity | None = None
    psychotic: bool = False
    recurrent: bool = False


class ConceptSet(_Model):
    id: str
    title: str
    domain: Literal["condition", "drug", "procedure"]
    sources: list[str] = Field(min_length=1)
    confidence: Confidence
    note: str | None = None
    concepts: list[ConceptEntry] = Field(min_length=1)


class Parameter(_Model):
    id: str
    value: int = Field(ge=0)
    statement: str
    sources: list[str] = Field(min_length=1)
    confidence: Confidence


class CohortKnowledge(_Model):
    """Concept sets by id, parameters by id, and the knowledge-base facts the engine uses."""

    concept_sets: dict[str, ConceptSet]
    parameters: dict[str, Parameter]
    phq9_loinc: str
    phq9_remission_max: int
    phq9_max_total: int
    response_fraction: tuple[int, int]
    """The response threshold as a fraction (numerator, denominator): 0.5 is (1, 2)."""
    min_duration_days: int
    min_failed_drugs: int
    ect_min_sessions: int
    drug_class: dict[str, str]
    min_dose_mg: dict[str, float | None]
    knowledge_version: str

    @model_validator(mode="after")
    def _complete(self) -> CohortKnowledge:
        missing = sorted(set(PARAMETER_IDS) - set(self.parameters))
        extra = sorted(set(self.parameters) - set(PARAMETER_IDS))
        if missing or extra:
            raise ValueError(f"cohort.yaml: missing parameters {missing}, unknown {extra}")
        return self

    def param(self, name: str) -> int:
        return self.parameters[name].value

    def entries(self, domain: str) -> list[tuple[ConceptSet, ConceptEntry]]:
        return [
            (cs, entry)
            for cs in self.concept_sets.values()
            if cs.domain == domain
            for entry in cs.concepts
        ]


def _read(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except FileNotFoundError:
        raise KnowledgeError([f"{path.name}: file is missing"]) from None
    except yaml.YAMLError as exc:
        raise KnowledgeError([f"{path.name}: not valid YAML: {exc}"]) from None


def _check(sets: dict[str, ConceptSet], params: dict[str, Parameter], kb: KnowledgeBase) -> None:
    problems: list[str] = []
    seen: dict[tuple[str, str, str], str] = {}
    for cs in sets.values():
        for source in cs.sources:
            if source not in kb.sources:
                problems.append(f"concepts: {cs.id}.sources: unknown source {source!r}")
        for index, entry in enumerate(cs.concepts):
            where = f"concepts: {cs.id}.concepts[{index}]"
            kind = "treatment" if entry.treatment else cs.domain
            key = (kind, entry.vocabulary, entry.code)
            if key in seen:
                problems.append(f"{where}: {entry.vocabulary} {entry.code} is also in {seen[key]}")
            seen[key] = cs.id
            if entry.drug is not None and entry.drug not in kb.drugs:
                problems.append(f"{where}.drug: {entry.drug!r} is not a knowledge-base drug")
            if entry.treatment is not None and entry.treatment not in PROCEDURE_TYPES:
                problems.append(
                    f"{where}.treatment: {entry.treatment!r} is not one of "
                    f"{', '.join(PROCEDURE_TYPES)}"
                )
            if cs.domain == "procedure" and entry.treatment is None:
                problems.append(f"{where}: a procedure concept needs a treatment")
    for param in params.values():
        for source in param.sources:
            if source not in kb.sources:
                problems.append(f"cohort.yaml: {param.id}.sources: unknown source {source!r}")
    if problems:
        raise KnowledgeError(problems)


def build_cohort_knowledge(kb: KnowledgeBase, folder: Path = DATA_DIR) -> CohortKnowledge:
    """Validate ``concepts/*.yaml`` and ``cohort.yaml`` in ``folder`` against ``kb``."""
    raw_sets: dict[str, Any] = {}
    for path in sorted((folder / "concepts").glob("*.yaml")):
        data = _read(path)
        items = data.get("concept_sets") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise KnowledgeError(
                [f"concepts/{path.name}: expected a top-level 'concept_sets' list"]
            )
        for item in items:
            set_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(set_id, str) or set_id in raw_sets:
                raise KnowledgeError([f"concepts/{path.name}: missing or duplicate id {set_id!r}"])
            raw_sets[set_id] = item
    params = _read(folder / "cohort.yaml")
    raw_params = params.get("parameters") if isinstance(params, dict) else None
    if not isinstance(raw_params, list):
        raise KnowledgeError(["cohort.yaml: expected a top-level 'parameters' list"])
    phq9 = kb.instruments["PHQ-9"]
    if phq9.loinc.total is None:
        raise KnowledgeError(["instruments.yaml: PHQ-9.loinc.total is needed by the cohort engine"])
    fraction = Fraction(str(kb.params("outcome.response", ResponseParams).max_fraction_of_baseline))
    try:
        result = CohortKnowledge.model_validate(
            {
                "concept_sets": raw_sets,
                "parameters": {p.get("id"): p for p in raw_params if isinstance(p, dict)},
                "phq9_loinc": phq9.loinc.total,
                "phq9_remission_max": phq9.remission_max,
                "phq9_max_total": phq9.max_total,
                "response_fraction": (fraction.numerator, fraction.denominator),
                "min_duration_days": kb.params("trial.adequate", AdequacyParams).min_duration_days,
                "min_failed_drugs": kb.params(
                    "trd.definition", TrdParams
                ).min_failed_adequate_trials,
                "ect_min_sessions": kb.params("ect.failed_course", FailedEctParams).min_sessions,
                "drug_class": {d.id: d.drug_class for d in kb.drugs.values()},
                "min_dose_mg": {d.id: d.min_daily_dose_mg for d in kb.drugs.values()},
                "knowledge_version": kb.version,
            }
        )
    except ValidationError as exc:
        raise KnowledgeError(
            [f"{format_path(e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)]
        ) from None
    _check(result.concept_sets, result.parameters, kb)
    return result


_LOADED: dict[tuple[int, Path], tuple[KnowledgeBase, CohortKnowledge]] = {}


def load_cohort_knowledge(kb: KnowledgeBase, folder: Path = DATA_DIR) -> CohortKnowledge:
    """The cohort facts for ``kb`` (the packaged data by default), loaded once per pair."""
    key = (id(kb), folder)
    if key not in _LOADED:
        _LOADED[key] = (kb, build_cohort_knowledge(kb, folder))
    return _LOADED[key][1]
