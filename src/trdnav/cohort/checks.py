"""Checks of the OMOP data: what is wrong or left out, with counts and examples.

Nothing is dropped silently: every record that the definition leaves out for a data
problem is counted here, with up to five example ids. Missing tables and columns are found
when the tables are read (:mod:`trdnav.cohort.runner`).

Each OMOP table is read once: one pass keeps the id of every record with a problem and a
column per kind of problem (the runner keeps that small table); the counts and examples
then come from those tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from trdnav.cohort.lookups import ANTIDEPRESSANT, AUGMENTATION, UNMAPPED
from trdnav.cohort.steps import flag, valid_total

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
    """A kind of problem and the rows that have it (``id_column`` names them). With
    ``weight``, a row stands for that many problems (an exposure of a drug that maps to
    several ingredients is one exposure per ingredient)."""

    code: str
    table: str
    message: str
    rows: ir.Table
    id_column: str
    weight: str | None = None


def run_checks(checks: list[Check], execute: Execute) -> list[Finding]:
    """Count every check in one query, then fetch examples of those that found rows."""
    if not checks:
        return []
    counts = [
        c.rows.aggregate(
            check=ibis.literal(i, type="int64"),
            n=c.rows.count() if c.weight is None else c.rows[c.weight].sum().cast("int64"),
        )
        for i, c in enumerate(checks)
    ]
    table = counts[0].union(*counts[1:]) if len(counts) > 1 else counts[0]
    found = {row["check"]: row["n"] for row in execute(table).to_pylist()}
    findings = []
    for index, check in enumerate(checks):
        count = found.get(index) or 0
        if not count:
            continue
        columns = [check.id_column] + ([check.weight] if check.weight else [])
        sample = execute(
            check.rows.select(*columns).order_by(check.id_column).limit(EXAMPLES)
        ).to_pylist()
        examples = (
            [row[check.id_column] for row in sample for _ in range(row[check.weight] or 0)]
            if check.weight
            else [row[check.id_column] for row in sample]
        )
        examples = [e for e in examples if e is not None]  # a missing id is no example
        findings.append(
            Finding(check.code, check.table, check.message, int(count), examples[:EXAMPLES])
        )
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
_AFTER_AS_OF = ("condition_occurrence", "drug_exposure", "procedure_occurrence")
_UNKNOWN_PERSON = "{name} records of a person not in the person table: left out"
_MISSING_DATE = "{name} records without a start date: left out"
_UNKNOWN_CONCEPT = "{name} records with no concept (id 0 or empty): not matched to any concept set"


def _problem_rows(
    definition: Definition,
    name: str,
    t: ir.Table,
    flags: dict[str, ir.BooleanValue],
    weights: dict[str, ir.IntegerValue],
    weighed: ir.BooleanValue | None = None,
) -> tuple[list[Check], dict[str, Check]]:
    """Keep the records of table ``name`` that have a problem (``t``: the table joined to
    what the checks need), a column per problem; return its checks: the common ones in
    order, and the others by code. ``weighed``, when given, is true at least for every
    record with a weight above 0 (a cheaper test than the weights; each check keeps only
    its own records)."""
    id_column = _IDS[name][0]
    # A null condition is no problem: OR-ing the conditions as they are keeps the same rows.
    problems = [*flags.values()]
    problems += [w > 0 for w in weights.values()] if weighed is None else [weighed]
    any_problem = problems[0]
    for p in problems[1:]:
        any_problem = any_problem | p
    rows = t.filter(any_problem).select(
        t[id_column],
        **{c: v.fill_null(False) for c, v in flags.items()},
        **{c: v.fill_null(0).cast("int64") for c, v in weights.items()},
    )
    rows = definition.keep(rows)
    messages = {
        "unknown_person": _UNKNOWN_PERSON.format(name=name),
        "missing_date": _MISSING_DATE.format(name=name),
        "unknown_concept": _UNKNOWN_CONCEPT.format(name=name),
    }
    ids = definition.person_ids()
    no_null_id = ids.filter(ids.person_id.isnull()).count() == 0
    found = {code: rows[code] for code in flags}
    if "unknown_person" in found:
        found["unknown_person"] = found["unknown_person"] & no_null_id
    common = [
        Check(code, name, message, rows.filter(found[code]), id_column)
        for code, message in messages.items()
        if code in flags
    ]
    other = {
        code: Check(code, name, "", rows.filter(rows[code]), id_column)
        for code in flags
        if code not in messages
    }
    other.update(
        {
            code: Check(code, name, "", rows.filter(rows[code] > 0), id_column, code)
            for code in weights
        }
    )
    return common, other


def _with_person(definition: Definition, table: ir.Table) -> ir.Table:
    """``table`` with ``known_person`` (null when the person is not in ``person``)."""
    ids = definition.person_ids()
    known = ids.filter(ids.person_id.notnull()).select(
        known_person="person_id", person_as_of="as_of"
    )
    return table.left_join(known, table.person_id == known.known_person)


def _common_flags(name: str, t: ir.Table) -> dict[str, ir.BooleanValue]:
    # Also kept when the person table holds a null id, though ``x NOT IN (person ids)`` is
    # then never true: the check leaves those out (``_problem_rows``).
    flags = {
        "unknown_person": t.person_id.notnull() & t.known_person.isnull(),
        "missing_date": t[_DATES[name]].isnull(),
    }
    for column in _IDS[name][1]:
        unknown = t[column].isnull() | (t[column] == 0)
        if name == "condition_occurrence":
            source = t.condition_source_concept_id
            unknown = unknown & (source.isnull() | (source == 0))
        flags["unknown_concept"] = unknown
    return flags


def _drug_weights(
    definition: Definition, t: ir.Table
) -> tuple[dict[str, ir.IntegerValue], ir.BooleanValue]:
    """Exposures of known persons (the rows of :meth:`Steps.exposures`), counted once per
    ingredient their drug maps to (``t`` is joined to ``_per_drug``): ending before they
    start, of antidepressants the knowledge base does not know, without a dose; and a
    test true for every exposure with one of these."""
    start, end = t.drug_exposure_start_date, t.drug_exposure_end_date
    counted = t.known_person.notnull() & start.notnull()
    dosed = (t.quantity > 0) & (t.days_supply > 0)
    zero = ibis.literal(0, type="int64")
    # The end of an exposure (steps.exposure_end_day) falls before its start only when its
    # end date does: start + days_supply (> 0) and start + 1 do not.
    weights = {
        "dates_out_of_order": ibis.ifelse(counted & (end < start), t.eras, zero),
        "drug_without_knowledge": ibis.ifelse(counted, t.unmapped, zero),
        "dose_unknown": ibis.ifelse(
            counted, t.without_strength + ibis.ifelse(dosed, zero, t.with_strength), zero
        ),
    }
    weighed = counted & (
        ((t.eras > 0) & (end < start))
        | (t.unmapped > 0)
        | (t.without_strength > 0)
        | ((t.with_strength > 0) & ~dosed.fill_null(False))
    )
    return weights, weighed


def _per_drug(definition: Definition) -> ir.Table:
    dm = definition.drug_map()
    return dm.group_by("drug_concept_id").agg(
        eras=flag(dm.kind.isin([ANTIDEPRESSANT, AUGMENTATION])).sum(),
        unmapped=flag(dm.kind == UNMAPPED).sum(),
        with_strength=flag((dm.kind == ANTIDEPRESSANT) & dm.mg_per_unit.notnull()).sum(),
        without_strength=flag((dm.kind == ANTIDEPRESSANT) & dm.mg_per_unit.isnull()).sum(),
    )


def _table_checks(
    tables: dict[str, ir.Table], definition: Definition, name: str
) -> tuple[list[Check], dict[str, Check]]:
    t = _with_person(definition, tables[name])
    weights: dict[str, ir.IntegerValue] = {}
    weighed: ir.BooleanValue | None = None
    extra: dict[str, ir.BooleanValue] = {}
    if name == "drug_exposure":
        per_drug = _per_drug(definition).rename(per_drug_concept_id="drug_concept_id")
        t = t.left_join(per_drug, t.drug_concept_id == per_drug.per_drug_concept_id)
        weights, weighed = _drug_weights(definition, t)
    elif name == "measurement":
        codes = definition.phq9_codes().select(phq9_id="concept_id")
        t = t.left_join(codes, t.measurement_concept_id == codes.phq9_id)
        phq, v = t.phq9_id.notnull(), t.value_as_number
        top = definition.p.phq9_max_total
        extra = {
            "invalid_value": phq & ~valid_total(v, top),
            "after_as_of": phq & t.known_person.notnull() & (t.measurement_date > t.person_as_of),
        }
    elif name == "observation_period":
        extra = {
            "dates_out_of_order": t.observation_period_end_date < t.observation_period_start_date
        }
    if name in _AFTER_AS_OF:
        dated = t[_DATES[name]]
        extra["after_as_of"] = t.known_person.notnull() & (dated > t.person_as_of)
    flags = {**_common_flags(name, t), **extra}
    return _problem_rows(definition, name, t, flags, weights, weighed)


def data_checks(tables: dict[str, ir.Table], definition: Definition) -> list[Check]:
    """The checks to run, each returning its findings (none when the data is clean)."""
    ids = definition.person_ids()
    checks: list[Check] = [
        Check(
            "duplicate_person",
            "person",
            "person ids that occur more than once: each is counted once",
            ids.filter(ids.records > 1),
            "person_id",
        )
    ]
    other: dict[tuple[str, str], Check] = {}
    for name in _IDS:
        common, rest = _table_checks(tables, definition, name)
        checks.extend(common)
        other.update({(code, name): check for code, check in rest.items()})
    p = definition.p

    def more(code: str, table: str, message: str) -> None:
        check = other[(code, table)]
        checks.append(Check(code, table, message, check.rows, check.id_column, check.weight))

    more(
        "dates_out_of_order",
        "observation_period",
        "observation periods ending before they start: their end still caps the assessment date",
    )
    more(
        "dates_out_of_order",
        "drug_exposure",
        "antidepressant or augmentation exposures ending before they start: left out of "
        "the treatment eras",
    )
    more(
        "drug_without_knowledge",
        "drug_exposure",
        "exposures of antidepressants the knowledge base has no entry for (no class or "
        "adequate dose): not judged as trials",
    )
    more(
        "dose_unknown",
        "drug_exposure",
        "antidepressant exposures without a daily dose (quantity, days_supply or "
        "drug_strength missing): adequacy judged on duration alone",
    )
    more(
        "invalid_value",
        "measurement",
        f"PHQ-9 totals that are empty, not whole numbers or outside 0-{p.phq9_max_total}: left out",
    )
    more(
        "after_as_of",
        "measurement",
        "PHQ-9 totals dated after the person's assessment date (end of observation or "
        "--as-of): not counted",
    )
    for table in _AFTER_AS_OF:
        more(
            "after_as_of",
            table,
            f"{table} records dated after the person's assessment date (end of observation "
            "or --as-of): not counted",
        )
    checks.append(
        Check(
            "missing_id",
            "person",
            "person rows without a person_id: left out",
            ids.filter(ids.person_id.isnull()),
            "person_id",
            "records",
        )
    )
    persons, episodes = definition.persons(), definition.episodes()
    checks.append(
        Check(
            "no_episode",
            "person",
            "persons without a major depressive disorder record up to their assessment "
            "date: no episode, reported with episodes = 0",
            persons.filter(~persons.person_id.isin(episodes.person_id)),
            "person_id",
        )
    )
    return checks
