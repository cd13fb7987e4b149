"""The per-patient path: read OMOP Parquet, convert each person, run the core on each.

This is the reference the engines are tested against, and the baseline of the benchmark.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from trdnav.cohort.concepts import CohortKnowledge
from trdnav.cohort.duckdb_runner import parquet_path
from trdnav.cohort.histories import Vocabulary, core_episode_results, group_by_person
from trdnav.cohort.lookups import (
    EngineParams,
    condition_lookup,
    drug_lookup,
    measurement_lookup,
    procedure_lookup,
)
from trdnav.cohort.omop import SCHEMAS
from trdnav.core.knowledge import KnowledgeBase

__all__ = ["read_tables", "run_core"]


def _types(table: str) -> pa.Schema:
    types = {
        "int64": pa.int64(),
        "float64": pa.float64(),
        "string": pa.string(),
        "date": pa.date32(),
    }
    return pa.schema([(c, types[t]) for c, t in SCHEMAS[table].items()])


def read_tables(folder: Path, persons: set[int] | None = None) -> dict[str, pa.Table]:
    """Every OMOP table of ``folder`` with the engine's columns and types (empty when
    missing); with ``persons``, only their rows."""
    out = {}
    for name in SCHEMAS:
        schema = _types(name)
        path = parquet_path(folder, name)
        if path is None:
            out[name] = schema.empty_table()
            continue
        dataset = ds.dataset(path.removesuffix("/*.parquet"))
        present = [c for c in schema.names if c in dataset.schema.names]
        where = None
        if persons is not None and "person_id" in present:
            where = ds.field("person_id").isin(sorted(persons))
        table = dataset.to_table(columns=present, filter=where)
        columns = []
        for f in schema:
            if f.name in present:
                columns.append(table.column(f.name).cast(f.type))
            else:
                columns.append(pa.nulls(table.num_rows, f.type))
        out[name] = pa.Table.from_arrays(columns, schema=schema)
    return out


def run_core(
    tables: dict[str, pa.Table],
    kb: KnowledgeBase,
    ck: CohortKnowledge,
    params: EngineParams,
    *,
    progress: Callable[[int], Any] | None = None,
) -> list[dict[str, Any]]:
    """The compared episode results of every person, by the core."""
    lookups = {
        "condition": condition_lookup(ck),
        "drug": drug_lookup(ck),
        "procedure": procedure_lookup(ck),
        "measurement": measurement_lookup(ck),
    }
    vocab = Vocabulary.build(lookups, tables)
    rows: list[dict[str, Any]] = []
    for person in group_by_person(tables):
        rows.extend(core_episode_results(person, vocab, params, kb))
        if progress:
            progress(1)
    return rows
