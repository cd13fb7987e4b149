"""Spark (local[2], one session for the test run) against DuckDB and the per-patient core.

PySpark leaves the socket it collects results through to the garbage collector, which
reports it as a ResourceWarning outside any test's code; only that is ignored here.
"""

from __future__ import annotations

import pytest

from trdnav.cohort.synth import SynthConfig, generate

pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def test_spark_duckdb_and_the_core_agree(engines, ck, tmp_path, spark):
    generate(SynthConfig(persons=120, seed=11), ck, tmp_path)
    duck = engines.duckdb(tmp_path)
    spark_run = engines.spark(tmp_path, spark)
    assert duck.as_of == spark_run.as_of
    assert duck.episodes.to_pylist() == spark_run.episodes.to_pylist()
    assert duck.persons.to_pylist() == spark_run.persons.to_pylist()
    assert duck.persons.schema == spark_run.persons.schema
    assert [f.to_dict() for f in duck.findings] == [f.to_dict() for f in spark_run.findings]
    assert engines.core_mismatches(duck, tmp_path) == []
    assert duck.persons.column("trd").to_pylist().count(True) > 10
