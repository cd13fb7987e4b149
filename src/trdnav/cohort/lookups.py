"""Concept sets as small tables the engines join against, and the engine's parameters.

Each concept set entry becomes a row keyed by vocabulary and code, with the OMOP concept id
where the knowledge data gives one. The definition resolves the rows to the data's concept
ids (through its ``concept`` table, and the given ids), so the same knowledge works on data
whose vocabulary has local or different ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa

from trdnav.cohort.concepts import SEVERITY_RANK, CohortKnowledge
from trdnav.core.knowledge import KnowledgeBase
from trdnav.core.rule_params import MghsParams, MsmParams, ThaseRushParams

__all__ = [
    "ANTIDEPRESSANT",
    "AUGMENTATION",
    "CLASSES",
    "TREATMENT",
    "UNMAPPED",
    "EngineParams",
    "condition_lookup",
    "drug_lookup",
    "procedure_lookup",
]

ANTIDEPRESSANT, AUGMENTATION, TREATMENT, UNMAPPED = 0, 1, 2, 3
"""Kinds of ingredient, as small integers so that the large tables carry no strings."""
_KIND_NO = {
    "antidepressant": ANTIDEPRESSANT,
    "augmentation": AUGMENTATION,
    "treatment": TREATMENT,
    "unmapped": UNMAPPED,
}
CLASSES: tuple[str, ...] = ("atypical", "augmentation", "maoi", "snri", "ssri", "tca")
"""Drug classes by number (``class_no``)."""


@dataclass(frozen=True)
class EngineParams:
    """Every number the definition uses, resolved from the knowledge data and settings."""

    as_of: date
    era_gap_days: int
    next_step_window_days: int
    episode_gap_days: int
    ect_course_gap_days: int
    min_duration_days: int
    min_failed_drugs: int
    ect_min_sessions: int
    phq9_loinc: str
    phq9_max_total: int
    phq9_remission_max: int
    phq9_index_min_total: int
    phq9_followup_months: int
    phq9_followup_window_days: int
    response_fraction: tuple[int, int]
    thase_rush: ThaseRushParams
    mgh_s: MghsParams
    msm: MsmParams

    def __post_init__(self) -> None:
        if self.era_gap_days < 0:  # the eras (Steps.eras) rely on a gap of zero or more
            raise ValueError(f"era_gap_days must be 0 or more, not {self.era_gap_days}")
        if self.episode_gap_days < 0:  # so do the episodes (Steps.episodes)
            raise ValueError(f"episode_gap_days must be 0 or more, not {self.episode_gap_days}")

    @classmethod
    def from_knowledge(
        cls,
        kb: KnowledgeBase,
        ck: CohortKnowledge,
        as_of: date,
        *,
        era_gap_days: int | None = None,
        adequate_trial_days: int | None = None,
    ) -> EngineParams:
        return cls(
            as_of=as_of,
            era_gap_days=ck.param("era_gap_days") if era_gap_days is None else era_gap_days,
            next_step_window_days=ck.param("next_step_window_days"),
            episode_gap_days=ck.param("episode_gap_days"),
            ect_course_gap_days=ck.param("ect_course_gap_days"),
            min_duration_days=(
                ck.min_duration_days if adequate_trial_days is None else adequate_trial_days
            ),
            min_failed_drugs=ck.min_failed_drugs,
            ect_min_sessions=ck.ect_min_sessions,
            phq9_loinc=ck.phq9_loinc,
            phq9_max_total=ck.phq9_max_total,
            phq9_remission_max=ck.phq9_remission_max,
            phq9_index_min_total=ck.param("phq9_index_min_total"),
            phq9_followup_months=ck.param("phq9_followup_months"),
            phq9_followup_window_days=ck.param("phq9_followup_window_days"),
            response_fraction=ck.response_fraction,
            thase_rush=kb.params("staging.thase_rush", ThaseRushParams),
            mgh_s=kb.params("staging.mgh_s", MghsParams),
            msm=kb.params("staging.msm", MsmParams),
        )


def _table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def condition_lookup(ck: CohortKnowledge) -> pa.Table:
    """MDD codes with their episode attributes (severity rank 1-4 or null, 0/1 flags)."""
    rows = [
        {
            "vocabulary_id": e.vocabulary,
            "concept_code": e.code,
            "known_concept_id": e.concept_id,
            "severity_rank": SEVERITY_RANK[e.severity] if e.severity else None,
            "psychotic": int(e.psychotic),
            "recurrent": int(e.recurrent),
        }
        for _, e in ck.entries("condition")
    ]
    schema = pa.schema(
        [
            ("vocabulary_id", pa.string()),
            ("concept_code", pa.string()),
            ("known_concept_id", pa.int64()),
            ("severity_rank", pa.int64()),
            ("psychotic", pa.int64()),
            ("recurrent", pa.int64()),
        ]
    )
    return _table(rows, schema)


def drug_lookup(ck: CohortKnowledge) -> pa.Table:
    """Ingredients: ``key`` (a knowledge-base drug id, a treatment type, or the name of an
    antidepressant without a knowledge-base entry) and ``kind`` (antidepressant,
    augmentation, treatment, unmapped), with the drug class and minimum adequate dose; and
    the same as numbers (``drug_no`` in alphabetical order of ``key``, ``kind_no``,
    ``class_no``)."""
    rows: list[dict[str, Any]] = []
    for _, e in ck.entries("drug") + ck.entries("procedure"):
        if not e.vocabulary.startswith("RxNorm"):
            continue
        if e.treatment:
            key, kind, cls, floor = e.treatment, "treatment", None, None
        elif e.drug:
            cls = ck.drug_class[e.drug]
            key, floor = e.drug, ck.min_dose_mg[e.drug]
            kind = "augmentation" if cls == "augmentation" else "antidepressant"
        else:
            key, kind, cls, floor = e.name or e.code, "unmapped", None, None
        rows.append(
            {
                "vocabulary_id": e.vocabulary,
                "concept_code": e.code,
                "known_concept_id": e.concept_id,
                "key": key,
                "kind": kind,
                "drug_class": cls,
                "min_dose_mg": floor,
            }
        )
    numbers = {key: n for n, key in enumerate(sorted({str(r["key"]) for r in rows}))}
    for row in rows:
        row["drug_no"] = numbers[str(row["key"])]
        row["kind_no"] = _KIND_NO[str(row["kind"])]
        row["class_no"] = CLASSES.index(str(row["drug_class"])) if row["drug_class"] else None
    schema = pa.schema(
        [
            ("vocabulary_id", pa.string()),
            ("concept_code", pa.string()),
            ("known_concept_id", pa.int64()),
            ("key", pa.string()),
            ("kind", pa.string()),
            ("drug_class", pa.string()),
            ("min_dose_mg", pa.float64()),
            ("drug_no", pa.int64()),
            ("kind_no", pa.int64()),
            ("class_no", pa.int64()),
        ]
    )
    return _table(rows, schema)


def procedure_lookup(ck: CohortKnowledge) -> pa.Table:
    """Procedure codes (CPT4, HCPCS, SNOMED, ICD10PCS) of the treatments received."""
    rows = [
        {
            "vocabulary_id": e.vocabulary,
            "concept_code": e.code,
            "known_concept_id": e.concept_id,
            "treatment": e.treatment,
        }
        for _, e in ck.entries("drug") + ck.entries("procedure")
        if e.treatment and not e.vocabulary.startswith("RxNorm")
    ]
    schema = pa.schema(
        [
            ("vocabulary_id", pa.string()),
            ("concept_code", pa.string()),
            ("known_concept_id", pa.int64()),
            ("treatment", pa.string()),
        ]
    )
    return _table(rows, schema)


def measurement_lookup(ck: CohortKnowledge) -> pa.Table:
    """The PHQ-9 total score (LOINC, from instruments.yaml)."""
    return _table(
        [{"vocabulary_id": "LOINC", "concept_code": ck.phq9_loinc, "known_concept_id": None}],
        pa.schema(
            [
                ("vocabulary_id", pa.string()),
                ("concept_code", pa.string()),
                ("known_concept_id", pa.int64()),
            ]
        ),
    )
