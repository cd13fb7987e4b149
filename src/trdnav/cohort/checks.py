"""Checks of the OMOP data: what is wrong or left out, with counts and examples.

Nothing is dropped silently: every record that the definition leaves out for a data
problem is counted here, with up to five example ids. Missing tables and columns are found
when the tables are read (:mod:`trdnav.cohort.runner`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from trdnav.cohort.lookups import ANTIDEPRESSANT, AUGMENTATION, UNMAPPED

if TYPE_CHECKING:
    from trdnav.cohort.definition import Definition

__all__ = ["EXAMPLES", "Check", "Finding", "data_checks", "run_checks"]

EXAMPLES = 5

Execute = Callable[[ir.Table], pa.Table]


@dataclass(frozen=True)
class Finding:
    """One kind of problem: a code, the table, what it means, how many, example ids."""

    check: str
    table: str
    message: str
    count: int
    examples: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "table": self.table,
            "message": self.message,
            "count": self.count,
            "examples": self.examples,
        }


@dataclass(frozen=True)
class Check:
    """A kind of problem and the rows that have it (``id_column`` names them)."""

    code: str
    table: str
    message: str
    rows: ir.Table
    id_column: str


def _check(code: str, table: str, message: str, rows: ir.Table, id_column: str) -> Check:
    return Check(code, table, message, rows, id_column)


def run_checks(checks: list[Check], execute: Execute) -> list[Finding]:
    """Count every check in one query, then fetch examples of those that found rows."""
    if not checks:
        return []
    counts = [
        c.rows.aggregate(check=ibis.literal(i, type="int64"), n=c.rows.count())
        for i, c in enumerate(checks)
    ]
    table = counts[0].union(*counts[1:]) if len(counts) > 1 else counts[0]
    found = {row["check"]: row["n"] for row in execute(table).to_pylist()}
    findings = []
    for index, check in enumerate(checks):
        count = found.get(index) or 0
        if not count:
            continue
        sample = execute(
            check.rows.select(check.id_column).order_by(check.id_column).limit(EXAMPLES)
        )
        examples = sample.column(check.id_column).to_pylist()
        findings.append(Finding(check.code, check.table, check.message, int(count), examples))
    return findings


_IDS = {
    "condition_occurrence": ("condition_occurrence_id", ["condition_concept_id"]),
    "drug_exposure": ("drug_exposure_id", ["drug_concept_id"]),
    "procedure_occurrence": ("procedure_occurrence_id", ["procedure_concept_id"]),
    "measurement": ("measurement_id", ["measurement_concept_id"]),
    "observation_period": ("observation_period_id", []),
}
_DATES = {
    "condition_occurrence": "condition_start_date",
    "drug_exposure": "drug_exposure_start_date",
    "procedure_occurrence": "procedure_date",
    "measurement": "measurement_date",
    "observation_period": "observation_period_start_date",
}


def data_checks(tables: dict[str, ir.Table], definition: Definition) -> list[Check]:
    """The checks to run, each returning its findings (none when the data is clean)."""
    checks: list[Check] = []
    person = tables["person"]
    checks.append(
        _check(
            "duplicate_person",
            "person",
            "person ids that occur more than once: each is counted once",
            person.group_by("person_id").agg(n=person.count()).filter(lambda t: t.n > 1),
            "person_id",
        )
    )
    for name, (id_column, concept_columns) in _IDS.items():
        table = tables[name]
        checks.append(
            _check(
                "unknown_person",
                name,
                f"{name} records of a person not in the person table: left out",
                table.filter(~table.person_id.isin(person.person_id)),
                id_column,
            )
        )
        checks.append(
            _check(
                "missing_date",
                name,
                f"{name} records without a start date: left out",
                table.filter(table[_DATES[name]].isnull()),
                id_column,
            )
        )
        for column in concept_columns:
            unknown = table[column].isnull() | (table[column] == 0)
            if name == "condition_occurrence":
                source = table.condition_source_concept_id
                unknown = unknown & (source.isnull() | (source == 0))
            checks.append(
                _check(
                    "unknown_concept",
                    name,
                    f"{name} records with no concept (id 0 or empty): not matched to any "
                    "concept set",
                    table.filter(unknown),
                    id_column,
                )
            )
    obs = tables["observation_period"]
    checks.append(
        _check(
            "dates_out_of_order",
            "observation_period",
            "observation periods ending before they start: their end still caps the "
            "assessment date",
            obs.filter(obs.observation_period_end_date < obs.observation_period_start_date),
            "observation_period_id",
        )
    )
    exposures = definition.exposures()
    checks.append(
        _check(
            "dates_out_of_order",
            "drug_exposure",
            "antidepressant or augmentation exposures ending before they start: left out of "
            "the treatment eras",
            exposures.filter(
                exposures.kind.isin([ANTIDEPRESSANT, AUGMENTATION])
                & (exposures.end_day < exposures.start_day)
            ),
            "drug_exposure_id",
        )
    )
    checks.append(
        _check(
            "drug_without_knowledge",
            "drug_exposure",
            "exposures of antidepressants the knowledge base has no entry for (no class or "
            "adequate dose): not judged as trials",
            exposures.filter(exposures.kind == UNMAPPED),
            "drug_exposure_id",
        )
    )
    checks.append(
        _check(
            "dose_unknown",
            "drug_exposure",
            "antidepressant exposures without a daily dose (quantity, days_supply or "
            "drug_strength missing): adequacy judged on duration alone",
            exposures.filter((exposures.kind == ANTIDEPRESSANT) & exposures.dose.isnull()),
            "drug_exposure_id",
        )
    )
    m = tables["measurement"]
    persons = definition.persons()
    codes = definition._resolve(definition._lookups["measurement"], [])
    phq = m.filter(m.measurement_concept_id.isin(codes.concept_id))
    v = phq.value_as_number
    bad = v.isnull() | (v.floor() != v) | (v < 0) | (v > definition.p.phq9_max_total)
    checks.append(
        _check(
            "invalid_value",
            "measurement",
            f"PHQ-9 totals that are empty, not whole numbers or outside 0-"
            f"{definition.p.phq9_max_total}: left out",
            phq.filter(bad),
            "measurement_id",
        )
    )
    late = phq.join(persons, phq.person_id == persons.person_id).filter(
        lambda t: t.measurement_date > t.as_of
    )
    checks.append(
        _check(
            "after_as_of",
            "measurement",
            "PHQ-9 totals dated after the person's assessment date (end of observation or "
            "--as-of): not counted",
            late.select(measurement_id=late.measurement_id),
            "measurement_id",
        )
    )
    records = definition.mdd_records()
    checks.append(
        _check(
            "no_episode",
            "person",
            "persons without a major depressive disorder record up to their assessment date: "
            "no episode, reported with episodes = 0",
            persons.filter(~persons.person_id.isin(records.person_id)),
            "person_id",
        )
    )
    return checks
