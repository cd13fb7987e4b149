"""Fixtures of the cohort tests: OMOP data built by hand or generated, and the engines.

The Spark session is started once per test session (``local[2]``, two shuffle partitions).
Without Java the Spark tests are skipped, except under CI, where that is a failure.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trdnav.cohort.concepts import CohortKnowledge, load_cohort_knowledge
from trdnav.cohort.core_runner import read_tables, run_core
from trdnav.cohort.duckdb_runner import DuckDBRunner
from trdnav.cohort.histories import COMPARED
from trdnav.cohort.lookups import EngineParams
from trdnav.cohort.omop import MILLIGRAM, SCHEMAS
from trdnav.cohort.postgres_runner import PostgresRunner, load_parquet
from trdnav.cohort.runner import CohortRun, run_cohort
from trdnav.cohort.spark_runner import SparkRunner
from trdnav.core.knowledge import KnowledgeBase

_TYPES = {"int64": pa.int64(), "float64": pa.float64(), "string": pa.string(), "date": pa.date32()}


def schema(table: str) -> pa.Schema:
    return pa.schema([(c, _TYPES[t]) for c, t in SCHEMAS[table].items()])


class Omop:
    """A small OMOP data set written by hand: ``add_person``, ``drug``, ``mdd``, ... then
    ``write()`` to a folder of Parquet files. Days are dates or ISO strings. Concept ids
    of the knowledge data are class attributes."""

    SERTRALINE = 739138
    CITALOPRAM = 797617
    VENLAFAXINE = 743670
    NORTRIPTYLINE = 721724
    PHENELZINE = 733896
    ISOCARBOXAZID = 781705
    ARIPIPRAZOLE = 757688
    DOXEPIN = 738156
    ESKETAMINE = 1366610
    MDD = 4152280
    MDD_SEVERE_PSYCHOTIC = 438406  # severe major depression, single episode, psychotic
    MDD_MODERATE = 4049623  # moderate major depression, single episode
    ECT = 4030840
    PHQ9 = 2_000_000_500  # a local id for LOINC 44261-6, given through the concept table

    def __init__(self, folder: Path, phq9_loinc: str = "44261-6") -> None:
        self.folder = folder
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in SCHEMAS}
        self.ids: dict[str, int] = dict.fromkeys(SCHEMAS, 0)
        self.rows["concept"].append(
            {
                "concept_id": self.PHQ9,
                "concept_name": "PHQ-9 total",
                "domain_id": "Measurement",
                "vocabulary_id": "LOINC",
                "concept_class_id": "Clinical Observation",
                "standard_concept": "S",
                "concept_code": phq9_loinc,
            }
        )
        self.skip: set[str] = set()

    def _id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    @staticmethod
    def day(value: str | dt.date | None) -> dt.date | None:
        return dt.date.fromisoformat(value) if isinstance(value, str) else value

    def add_person(
        self, pid: int, *, born: str = "1980-01-15", observed_to: str | None = "2025-06-01"
    ) -> Omop:
        b = dt.date.fromisoformat(born)
        self.rows["person"].append(
            {
                "person_id": pid,
                "gender_concept_id": 8532,
                "year_of_birth": b.year,
                "month_of_birth": b.month,
                "day_of_birth": b.day,
            }
        )
        if observed_to:
            self.rows["observation_period"].append(
                {
                    "observation_period_id": self._id("observation_period"),
                    "person_id": pid,
                    "observation_period_start_date": dt.date(2010, 1, 1),
                    "observation_period_end_date": self.day(observed_to),
                }
            )
        return self

    def mdd(self, pid: int, when: str | dt.date, concept: int = 4152280, source: int = 0) -> int:
        rid = self._id("condition_occurrence")
        self.rows["condition_occurrence"].append(
            {
                "condition_occurrence_id": rid,
                "person_id": pid,
                "condition_concept_id": concept,
                "condition_start_date": self.day(when),
                "condition_source_concept_id": source,
            }
        )
        return rid

    def drug(
        self,
        pid: int,
        concept: int,
        start: str | dt.date,
        end: str | dt.date | None,
        *,
        days_supply: int | None = 30,
        quantity: float | None = None,
    ) -> int:
        rid = self._id("drug_exposure")
        self.rows["drug_exposure"].append(
            {
                "drug_exposure_id": rid,
                "person_id": pid,
                "drug_concept_id": concept,
                "drug_exposure_start_date": self.day(start),
                "drug_exposure_end_date": self.day(end),
                "days_supply": days_supply,
                "quantity": quantity,
            }
        )
        return rid

    def strength(self, concept: int, ingredient: int, mg: float, unit: int = MILLIGRAM) -> None:
        self.rows["drug_strength"].append(
            {
                "drug_concept_id": concept,
                "ingredient_concept_id": ingredient,
                "amount_value": mg,
                "amount_unit_concept_id": unit,
            }
        )
        if concept != ingredient:
            self.rows["concept_ancestor"].append(
                {"ancestor_concept_id": ingredient, "descendant_concept_id": concept}
            )

    def procedure(self, pid: int, concept: int, when: str | dt.date) -> int:
        rid = self._id("procedure_occurrence")
        self.rows["procedure_occurrence"].append(
            {
                "procedure_occurrence_id": rid,
                "person_id": pid,
                "procedure_concept_id": concept,
                "procedure_date": self.day(when),
            }
        )
        return rid

    def phq9(self, pid: int, when: str | dt.date, total: float | None) -> int:
        rid = self._id("measurement")
        self.rows["measurement"].append(
            {
                "measurement_id": rid,
                "person_id": pid,
                "measurement_concept_id": self.PHQ9,
                "measurement_date": self.day(when),
                "value_as_number": total,
            }
        )
        return rid

    def write(self) -> Path:
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        for name, rows in self.rows.items():
            if name in self.skip:
                continue
            pq.write_table(
                pa.Table.from_pylist(rows, schema=schema(name)), self.folder / f"{name}.parquet"
            )
        return self.folder


@pytest.fixture(scope="session")
def ck(kb: KnowledgeBase) -> CohortKnowledge:
    return load_cohort_knowledge(kb)


@pytest.fixture
def omop(tmp_path: Path) -> Omop:
    return Omop(tmp_path / "omop")


@pytest.fixture(scope="session")
def new_omop(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Omop]:
    """A fresh, empty data set in a new folder (for hypothesis examples)."""
    return lambda: Omop(tmp_path_factory.mktemp("omop"))


def _java_available() -> bool:
    from trdnav.cohort.spark_runner import ensure_java_home

    ensure_java_home()
    return bool(os.environ.get("JAVA_HOME")) or shutil.which("java") is not None


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One SparkSession for the whole test session."""
    if not _java_available():
        if os.environ.get("CI"):
            pytest.fail("CI needs Java 17 for the Spark tests")
        pytest.skip("Java is needed for the Spark tests")
    from trdnav.cohort.spark_runner import spark_session

    session = spark_session("local[2]", shuffle_partitions=2)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


class Engines:
    """Runs the cohort definition on each engine, and the per-patient core."""

    def __init__(self, kb: KnowledgeBase, ck: CohortKnowledge) -> None:
        self.kb, self.ck = kb, ck
        self._schemas = 0

    def duckdb(self, folder: Path, **options: Any) -> CohortRun:
        runner = DuckDBRunner(folder)
        try:
            return run_cohort(runner, self.kb, self.ck, **options)
        finally:
            runner.close()

    def spark(self, folder: Path, session: Any, **options: Any) -> CohortRun:
        runner = SparkRunner(folder, session=session)
        try:
            return run_cohort(runner, self.kb, self.ck, **options)
        finally:
            runner.close()

    def postgres(self, folder: Path, url: str, **options: Any) -> CohortRun:
        self._schemas += 1
        schema = f"omop_{os.getpid()}_{self._schemas}"
        load_parquet(folder, url, schema=schema)
        runner = PostgresRunner(url, schema=schema)
        try:
            return run_cohort(runner, self.kb, self.ck, **options)
        finally:
            runner.close()

    def core(self, folder: Path, params: EngineParams) -> dict[tuple[int, int], dict[str, Any]]:
        rows = run_core(read_tables(folder), self.kb, self.ck, params)
        return {(r["person_id"], r["episode"]): r for r in rows}

    def core_mismatches(self, run: CohortRun, folder: Path) -> list[str]:
        """Differences between the engine's episodes and the core's, one line each."""
        assert run.params is not None
        core = self.core(folder, run.params)
        engine = {(r["person_id"], r["episode"]): r for r in run.episodes.to_pylist()}
        problems = []
        if set(core) != set(engine):
            problems.append(f"episodes differ: {sorted(set(core) ^ set(engine))[:5]}")
        for key in sorted(set(core) & set(engine)):
            mine, theirs = engine[key], core[key]
            for column in COMPARED:
                if theirs[column] is None and column in ("msm_severity", "msm_total", "msm_band"):
                    continue  # severity not coded: the core was given a stand-in
                if mine[column] != theirs[column]:
                    problems.append(
                        f"{key} {column}: engine {mine[column]!r}, core {theirs[column]!r}"
                    )
        return problems


@pytest.fixture(scope="session")
def engines(kb: KnowledgeBase, ck: CohortKnowledge) -> Engines:
    return Engines(kb, ck)


def findings_of(run: CohortRun) -> list[tuple[str, str, int, list[Any]]]:
    return [(f.check, f.table, f.count, f.examples) for f in run.findings]
