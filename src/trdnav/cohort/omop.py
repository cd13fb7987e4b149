"""The OMOP CDM v5.4 tables and columns the cohort engine reads.

Only these columns are read; others may be present. ``person`` is required; every other
table may be missing, in which case it is reported and treated as empty.
"""

from __future__ import annotations

__all__ = ["GRAM", "MICROGRAM", "MILLIGRAM", "REQUIRED", "SCHEMAS", "UNIT_TO_MG"]

SCHEMAS: dict[str, dict[str, str]] = {
    "person": {
        "person_id": "int64",
        "gender_concept_id": "int64",
        "year_of_birth": "int64",
        "month_of_birth": "int64",
        "day_of_birth": "int64",
    },
    "observation_period": {
        "observation_period_id": "int64",
        "person_id": "int64",
        "observation_period_start_date": "date",
        "observation_period_end_date": "date",
    },
    "condition_occurrence": {
        "condition_occurrence_id": "int64",
        "person_id": "int64",
        "condition_concept_id": "int64",
        "condition_start_date": "date",
        "condition_source_concept_id": "int64",
    },
    "drug_exposure": {
        "drug_exposure_id": "int64",
        "person_id": "int64",
        "drug_concept_id": "int64",
        "drug_exposure_start_date": "date",
        "drug_exposure_end_date": "date",
        "days_supply": "int64",
        "quantity": "float64",
    },
    "procedure_occurrence": {
        "procedure_occurrence_id": "int64",
        "person_id": "int64",
        "procedure_concept_id": "int64",
        "procedure_date": "date",
    },
    "measurement": {
        "measurement_id": "int64",
        "person_id": "int64",
        "measurement_concept_id": "int64",
        "measurement_date": "date",
        "value_as_number": "float64",
    },
    "concept": {
        "concept_id": "int64",
        "concept_name": "string",
        "domain_id": "string",
        "vocabulary_id": "string",
        "concept_class_id": "string",
        "standard_concept": "string",
        "concept_code": "string",
    },
    "concept_ancestor": {
        "ancestor_concept_id": "int64",
        "descendant_concept_id": "int64",
    },
    "drug_strength": {
        "drug_concept_id": "int64",
        "ingredient_concept_id": "int64",
        "amount_value": "float64",
        "amount_unit_concept_id": "int64",
    },
}

REQUIRED: tuple[str, ...] = ("person",)

MILLIGRAM = 8576
MICROGRAM = 9655
GRAM = 8504
UNIT_TO_MG: dict[int, float] = {MILLIGRAM: 1.0, MICROGRAM: 0.001, GRAM: 1000.0}
"""UCUM unit concepts of drug_strength.amount_unit_concept_id, as milligrams."""
