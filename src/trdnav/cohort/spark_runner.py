"""Spark (PySpark): OMOP tables as Parquet, on ``local[*]`` or a cluster (``master``).

Spark needs Java 17; when ``JAVA_HOME`` is unset it is set from the ``java`` on the PATH.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from trdnav.cohort.duckdb_runner import parquet_path
from trdnav.cohort.runner import Runner
from trdnav.errors import InputError, Problem

__all__ = ["SparkRunner", "ensure_java_home", "spark_session"]


def ensure_java_home() -> None:
    """Set ``JAVA_HOME`` from the ``java`` executable when it is not set."""
    if os.environ.get("JAVA_HOME"):
        return
    java = shutil.which("java")
    if java:
        os.environ["JAVA_HOME"] = str(Path(java).resolve().parent.parent)


def spark_session(master: str = "local[*]", *, shuffle_partitions: int = 8) -> Any:
    """A SparkSession for the cohort engine (no UI, few shuffle partitions)."""
    ensure_java_home()
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(master)
        .appName("trdnav-cohort")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", os.environ.get("TRDNAV_SPARK_DRIVER_MEMORY", "4g"))
        .getOrCreate()
    )


_MASTER = re.compile(r"local(\[(\*|\d+)(,\d+)?\])?|(spark|k8s)://\S+|yarn")
_MASTER_EXPECTED = "local, local[*], local[N], spark://host:port, k8s://..., or yarn"


def _session_for(master: str) -> Any:
    """A session on ``master``, or an input error naming it: a master Spark does not
    accept, or one it could not start on (the reason is Spark's first line)."""
    if not _MASTER.fullmatch(master):
        raise InputError([Problem("--spark-master", master, _MASTER_EXPECTED)])
    try:
        return spark_session(master)
    except Exception as exc:  # Spark's start-up errors are about the master or Java
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        expected = f"a Spark master that starts, with Java 17 installed ({reason})"
        raise InputError([Problem("--spark-master", master, expected)]) from None


class SparkRunner(Runner):
    name = "spark"

    def __init__(self, folder: Path, *, session: Any = None, master: str = "local[*]") -> None:
        if not folder.is_dir():
            raise InputError([Problem("--data", str(folder), "a folder of OMOP Parquet files")])
        self.folder = folder
        self.session = session or _session_for(master)
        self.con = ibis.pyspark.connect(self.session)
        self._kept: list[Any] = []
        self._tables = 0

    def no_person_table(self) -> Problem:
        return Problem(
            "--data", str(self.folder), "a folder holding person.parquet or person/*.parquet"
        )

    def raw(self, table: str) -> ir.Table | None:
        path = parquet_path(self.folder, table)
        if path is None:
            return None
        return self.con.read_parquet(path.removesuffix("/*.parquet"), table_name=f"omop_{table}")

    def execute(self, expr: ir.Table) -> pa.Table:
        """Collect through Arrow (no pandas), with the types the definition declares."""
        frame = self.session.sql(str(self.con.compile(expr)))
        return frame.toArrow().cast(expr.schema().to_pyarrow())

    def memtable(self, data: pa.Table) -> ir.Table:
        self._tables += 1
        name = f"trdnav_lookup_{self._tables}"
        self.session.createDataFrame(data).createOrReplaceTempView(name)
        return self.con.table(name)

    def materialize(self, table: ir.Table) -> ir.Table:
        """Compute the step now and cut its lineage, so later plans stay small (Spark's
        optimizer slows down sharply on deep plans with many self-joins)."""
        self._tables += 1
        name = f"trdnav_step_{self._tables}"
        frame = self.session.sql(str(self.con.compile(table))).localCheckpoint(eager=True)
        frame.createOrReplaceTempView(name)
        self._kept.append(frame)
        return self.con.table(name)

    def close(self) -> None:
        for frame in self._kept:
            frame.unpersist()
        self._kept.clear()
