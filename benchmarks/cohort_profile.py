"""Where a DuckDB cohort run spends its CPU: each query's operator time, from DuckDB's profile.

    .venv/bin/python benchmarks/cohort_profile.py --data /tmp/omop-1000000
    .venv/bin/python benchmarks/cohort_profile.py --data /tmp/omop-1000000 --threads 2

Runs the phenotype as ``benchmarks/cohort.py duckdb`` does, with DuckDB's profiling on, and
prints for each query (in the order the run makes them, named by the run's stage) its wall
seconds and the CPU seconds its operators took, with the largest operators; then the total per
kind of operator. Operator time leaves out what happens outside DuckDB's operators (building
and compiling the Ibis expressions, converting results), which the wall time includes.

Why this rather than the wall time of ``cohort.py``: on this machine the wall time of the same
run moves by 10% and more from one run to the next with two threads (its two CPUs slow each
other down, see ``machine_speed.py``), more than most changes to the definition do. With one
thread (the default here) the summed operator time of the same code stayed within about 2%
over repeated runs, so two versions of the code can be told apart by a few alternated runs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from trdnav.cohort.concepts import load_cohort_knowledge
from trdnav.cohort.duckdb_runner import DuckDBRunner
from trdnav.cohort.runner import run_cohort
from trdnav.knowledge import load_knowledge


def _operators(node: dict[str, Any]) -> Iterator[tuple[str, float]]:
    name = str(node.get("operator_name") or node.get("operator_type") or "?").strip()
    yield name, float(node.get("operator_timing") or 0.0)
    for child in node.get("children", []):
        yield from _operators(child)


def _largest(times: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(times.items(), key=lambda item: -item[1])


class ProfiledRunner(DuckDBRunner):
    """The DuckDB runner, writing DuckDB's JSON profile of each query it runs."""

    def __init__(self, folder: Path, out: Path, **options: Any) -> None:
        super().__init__(folder, **options)
        self.out = out
        self.stage = "start"
        self.queries: list[tuple[str, float, Path]] = []
        self.con.con.execute("PRAGMA enable_profiling = 'json'")

    def _profiled(self, run: Callable[[ir.Table], Any], expr: ir.Table) -> Any:
        path = self.out / f"{len(self.queries) + 1:02d}.json"
        self.con.con.execute(f"PRAGMA profile_output = '{path}'")
        start = time.perf_counter()
        result = run(expr)
        self.queries.append((self.stage, time.perf_counter() - start, path))
        return result

    def execute(self, expr: ir.Table) -> pa.Table:
        return self._profiled(super().execute, expr)

    def materialize(self, table: ir.Table) -> ir.Table:
        return self._profiled(super().materialize, table)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="folder of OMOP Parquet tables")
    parser.add_argument("--threads", type=int, default=1, help="DuckDB threads")
    parser.add_argument("--memory-limit", default="3GB", help="DuckDB memory_limit")
    parser.add_argument("--top", type=int, default=3, help="largest operators shown per query")
    args = parser.parse_args()
    kb = load_knowledge()
    ck = load_cohort_knowledge(kb)
    with tempfile.TemporaryDirectory() as folder:
        runner = ProfiledRunner(
            Path(args.data), Path(folder), memory_limit=args.memory_limit, threads=args.threads
        )
        start = time.perf_counter()
        result = run_cohort(runner, kb, ck, step=lambda stage: setattr(runner, "stage", stage))
        seconds = time.perf_counter() - start
        runner.close()
        by_kind: defaultdict[str, float] = defaultdict(float)
        print(f"{'query':>5}  {'stage':<30} {'wall s':>7} {'operator CPU s':>15}  largest")
        for number, (stage, wall, path) in enumerate(runner.queries, 1):
            if not path.exists():  # DuckDB wrote no profile (seen for the run's first query)
                print(f"{number:>5}  {stage:<30} {wall:7.2f} {'-':>15}")
                continue
            ops: defaultdict[str, float] = defaultdict(float)
            for root in json.loads(path.read_text()).get("children", []):
                for name, timing in _operators(root):
                    ops[name] += timing
                    by_kind[name] += timing
            largest = ", ".join(f"{name} {t:.2f}" for name, t in _largest(ops)[: args.top])
            print(f"{number:>5}  {stage:<30} {wall:7.2f} {sum(ops.values()):15.2f}  {largest}")
    print(
        f"\n{result.persons.num_rows:,} persons, {result.episodes.num_rows:,} episodes, "
        f"{seconds:.2f} s, threads {args.threads}; operator CPU s "
        f"{sum(by_kind.values()):.2f}: "
        + ", ".join(f"{name} {t:.2f}" for name, t in _largest(by_kind) if t >= 0.005)
    )


if __name__ == "__main__":
    main()
