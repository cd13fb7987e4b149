"""What every runner shares: reading the OMOP tables into a backend, running the definition,
returning Arrow tables. The engine-specific runners (``duckdb_runner``, ``spark_runner``,
``postgres_runner``) only say how to connect, where the tables are and how to keep an
intermediate result.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from trdnav.cohort.checks import Finding, data_checks, run_checks
from trdnav.cohort.concepts import CohortKnowledge
from trdnav.cohort.definition import Definition
from trdnav.cohort.lookups import (
    EngineParams,
    condition_lookup,
    drug_lookup,
    measurement_lookup,
    procedure_lookup,
)
from trdnav.cohort.omop import REQUIRED, SCHEMAS
from trdnav.core.knowledge import KnowledgeBase
from trdnav.errors import InputError, Problem

__all__ = [
    "CohortRun",
    "Runner",
    "day_columns_to_dates",
    "omop_table",
    "run_cohort",
    "sort_rows",
    "unconverted",
]

EPOCH = date(1970, 1, 1)


class Runner(ABC):
    """A backend holding the OMOP tables. Subclasses set ``con`` and implement ``raw``."""

    name = "runner"
    con: Any

    @abstractmethod
    def raw(self, table: str) -> ir.Table | None:
        """The table as stored, or None when the data has no such table."""

    def no_person_table(self) -> Problem:
        """The problem of data without a person table, naming where it was looked for."""
        return Problem("--data", self.name, "data with an OMOP person table")

    def materialize(self, table: ir.Table) -> ir.Table:
        """Keep an intermediate result (a temporary table, a cached DataFrame)."""
        return table.cache()

    def execute(self, expr: ir.Table) -> pa.Table:
        return expr.to_pyarrow()

    def keep_result(self, expr: ir.Table) -> tuple[pa.Table, ir.Table]:
        """A result wanted both in memory and by a later step: its rows, and a table of
        this backend holding them (kept by the engine, then fetched)."""
        kept = self.materialize(expr)
        return self.execute(kept), kept

    def memtable(self, data: pa.Table) -> ir.Table:
        return ibis.memtable(data)

    def close(self) -> None:  # noqa: B027  (a hook: nothing to release by default)
        """Release the backend (subclasses that own a connection close it)."""

    def tables(self) -> tuple[dict[str, ir.Table], list[Finding]]:
        """Every table of :data:`SCHEMAS` with its columns cast to the expected types;
        missing tables are empty and missing columns null, each reported."""
        out: dict[str, ir.Table] = {}
        findings: list[Finding] = []
        for name, schema in SCHEMAS.items():
            table = self.raw(name)
            if table is None:
                if name in REQUIRED:
                    raise InputError([self.no_person_table()])
                findings.append(
                    Finding(
                        "missing_table", name, f"table {name} is missing: treated as empty", 1, []
                    )
                )
                empty = pa.Table.from_pylist([], schema=ibis.schema(schema).to_pyarrow())
                out[name] = self.memtable(empty)
                continue
            typed, wrong, missing = omop_table(name, table)
            findings.extend(
                Finding(
                    "missing_column",
                    name,
                    f"column {name}.{column} is missing: treated as empty",
                    1,
                    [],
                )
                for column in missing
            )
            if wrong:
                raise InputError(wrong)
            out[name] = typed
        return out, findings

    def default_as_of(self, tables: dict[str, ir.Table]) -> date:
        """The latest observation-period end, else the latest start date of any record
        (the large tables are read only when no observation period has an end)."""
        obs = tables["observation_period"]
        ends = self.execute(obs.aggregate(latest=obs.observation_period_end_date.max()))
        latest = ends.column("latest")[0].as_py()
        if latest is not None:
            return date.fromisoformat(str(latest)[:10])
        starts = [
            ("drug_exposure", "drug_exposure_start_date"),
            ("condition_occurrence", "condition_start_date"),
            ("procedure_occurrence", "procedure_date"),
            ("measurement", "measurement_date"),
        ]
        maxima = [
            tables[name].aggregate(latest=tables[name][column].max()) for name, column in starts
        ]
        rows = self.execute(maxima[0].union(*maxima[1:])).column("latest").to_pylist()
        days = [date.fromisoformat(str(value)[:10]) for value in rows if value is not None]
        return max(days, default=EPOCH)


_TYPE_NAMES = {"int64": "integers", "float64": "numbers", "string": "text", "date": "dates"}
_VALUE_NAMES = {
    "int64": "an integer from -2^63 to 2^63-1",
    "float64": "a number",
    "string": "text",
    "date": "a date",
}


def omop_table(name: str, table: ir.Table) -> tuple[ir.Table, list[Problem], list[str]]:
    """OMOP table ``name`` as stored (``table``) with the columns of :data:`SCHEMAS`, each
    cast to its OMOP type, a missing column null: that table, a problem for each column of a
    type refused (see :func:`_castable`; the table is to be used only when there is none),
    and the missing columns. Every runner reads its tables through this, and so does
    ``cohort load``: both accept and refuse the same data."""
    columns: dict[str, ir.Value] = {}
    wrong: list[Problem] = []
    missing: list[str] = []
    for column, dtype in SCHEMAS[name].items():
        if column not in table.columns:
            missing.append(column)
            columns[column] = ibis.null(dtype)
            continue
        given = table[column].type()
        if not _castable(given, dtype):
            wrong.append(
                Problem(
                    f"{name}.{column}",
                    f"a column of {given}",
                    f"a column of {_TYPE_NAMES[dtype]} (OMOP CDM v5.4)",
                )
            )
        columns[column] = table[column].cast(dtype)
    return table.select(**columns), wrong, missing


def unconverted(name: str, table: ir.Table) -> list[Problem]:
    """For OMOP table ``name`` as stored (``table``, whose column types
    :func:`omop_table` accepts), a problem for each column holding a value that still does
    not convert to its OMOP type (an unsigned integer above 2^63-1), naming the first such
    value. Each column is read once: this is for explaining a conversion that failed."""
    problems = []
    for column, dtype in SCHEMAS[name].items():
        if column not in table.columns:
            continue
        values = table[column]
        bad = table.filter(values.notnull() & values.try_cast(dtype).isnull())
        first = bad.select(values).limit(1).to_pyarrow().column(0).to_pylist()
        if first:
            expected = f"{_VALUE_NAMES[dtype]} (OMOP CDM v5.4)"
            problems.append(Problem(f"{name}.{column}", first[0], expected))
    return problems


def _castable(given: dt.DataType, expected: str) -> bool:
    """Whether a column of type ``given`` converts without loss to the OMOP type
    ``expected``: integers to integers, any number to numbers, dates and timestamps to
    dates, text and integers to text; an all-null column to anything. Other columns (dates
    as text, numbers as text) are refused rather than converted value by value."""
    if given.is_null():
        return True
    if expected == "int64":
        return bool(given.is_integer())
    if expected == "float64":
        return bool(given.is_numeric())
    if expected == "date":
        return bool(given.is_date() or given.is_timestamp())
    return bool(given.is_string() or given.is_integer())


@dataclass
class CohortRun:
    """The results of a run: per person, per episode, and what the data checks found."""

    engine: str
    as_of: date
    persons: pa.Table
    episodes: pa.Table
    findings: list[Finding] = field(default_factory=list)
    params: EngineParams | None = None


def day_columns_to_dates(table: pa.Table) -> pa.Table:
    """Columns named ``*_day`` hold day numbers; return them as dates named ``*_date``."""
    for index, name in enumerate(table.column_names):
        if name.endswith("_day"):
            as_dates = pc.cast(pc.cast(table.column(name), pa.int32()), pa.date32())
            table = table.set_column(index, name[: -len("_day")] + "_date", as_dates)
    return table


def sort_rows(table: pa.Table, keys: list[tuple[str, str]]) -> pa.Table:
    """``table`` sorted by ``keys`` (as ``Table.sort_by``), its columns reordered two at a
    time: taking each column's rows in the new order is most of the sort's time."""
    order = pc.sort_indices(table, sort_keys=keys)
    with ThreadPoolExecutor(2) as pool:
        columns = list(pool.map(lambda column: column.take(order), table.columns))
    return pa.Table.from_arrays(columns, schema=table.schema)


def _lookups(runner: Runner, ck: CohortKnowledge) -> dict[str, ir.Table]:
    return {
        "condition": runner.memtable(condition_lookup(ck)),
        "drug": runner.memtable(drug_lookup(ck)),
        "procedure": runner.memtable(procedure_lookup(ck)),
        "measurement": runner.memtable(measurement_lookup(ck)),
    }


def run_cohort(
    runner: Runner,
    kb: KnowledgeBase,
    ck: CohortKnowledge,
    *,
    as_of: date | None = None,
    era_gap_days: int | None = None,
    adequate_trial_days: int | None = None,
    step: Callable[[str], Any] | None = None,
) -> CohortRun:
    """Run the definition on ``runner``'s data. ``step(description)`` is called before each
    stage (the command line shows it as a progress bar)."""
    tell = step or (lambda _: None)
    tell("reading tables")
    tables, findings = runner.tables()
    when = as_of or runner.default_as_of(tables)
    params = EngineParams.from_knowledge(
        kb, ck, when, era_gap_days=era_gap_days, adequate_trial_days=adequate_trial_days
    )
    lookups = _lookups(runner, ck)
    definition = Definition(tables, lookups, params, materialize=runner.materialize)
    tell("checking the data")
    findings.extend(run_checks(data_checks(tables, definition), runner.execute))
    tell("episodes, trials and staging")
    episodes, kept = runner.keep_result(definition.episode_results())
    tell("person results")
    # The episodes are sorted while the engine computes the persons.
    with ThreadPoolExecutor(1) as pool:
        by_episode = [("person_id", "ascending"), ("episode", "ascending")]
        sorted_episodes = pool.submit(sort_rows, episodes, by_episode)
        persons = runner.execute(definition.person_results(kept))
        episodes = sorted_episodes.result()
    persons = sort_rows(persons, [("person_id", "ascending")])
    tell("done")
    return CohortRun(
        engine=runner.name,
        as_of=when,
        persons=day_columns_to_dates(persons),
        episodes=day_columns_to_dates(episodes),
        findings=findings,
        params=params,
    )
