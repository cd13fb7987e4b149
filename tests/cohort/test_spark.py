"""Spark (local[2], one session for the test run) against DuckDB and the per-patient core;
and a JVM that Spark's launcher ends at once, in a process of its own.

PySpark leaves the socket it collects results through to the garbage collector, which
reports it as a ResourceWarning outside any test's code; only that is ignored here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


_EXITS = """
from trdnav.cohort.spark_runner import _JavaOutput, _settings

output = _JavaOutput()
try:
    output.launch(_settings("yarn", 2))
except Exception:
    print(output.exception())
    print(output.keep())
"""


def test_a_jvm_that_exits_at_once_is_named_by_its_exception(spark, tmp_path):
    """Spark's launcher refuses some settings (here ``yarn`` without its configuration) by
    ending Java with an exception; PySpark said only that the Java gateway exited. Run in
    a process of its own, as the test session has its JVM already (``spark``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("HADOOP_CONF_DIR", "YARN_CONF_DIR")}
    result = subprocess.run(
        [sys.executable, "-c", _EXITS],
        capture_output=True,
        text=True,
        env={**env, "TMPDIR": str(tmp_path)},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    reason, log = result.stdout.splitlines()
    assert reason == (
        "org.apache.spark.SparkException: When running with master 'yarn' either "
        "HADOOP_CONF_DIR or YARN_CONF_DIR must be set in the environment."
    )
    assert Path(log).parent == tmp_path
    assert f'Exception in thread "main" {reason}' in Path(log).read_text()
