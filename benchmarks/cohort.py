"""Throughput and peak memory of the cohort engine and of the per-patient core.

    .venv/bin/python benchmarks/cohort.py generate --persons 1000000 --out /tmp/omop-1000000
    .venv/bin/python benchmarks/cohort.py duckdb --data /tmp/omop-1000000
    .venv/bin/python benchmarks/cohort.py spark --data /tmp/omop-100000
    .venv/bin/python benchmarks/cohort.py core --data /tmp/omop-1000000 --sample 10000
    .venv/bin/python benchmarks/cohort.py ratio --data /tmp/omop-1000000 --sample 3000 --pairs 3

Each measurement runs in a fresh process and prints one JSON line: persons, seconds of the
run (reading the Parquet data to the per-person results in memory; not interpreter start-up
or the knowledge base), persons per second, the process's peak resident memory (for Spark
also the JVM's, which runs as a child process), the CPU seconds of the process and the load
average of the machine before and after (other work on the machine slows the wall time), and
``machine_ms``, the machine's speed just before the run (``machine_speed.py``: a fixed
workload's CPU milliseconds alone and beside a busy CPU, in that order; lower is faster).
``core`` converts each person to the core's patient history and assesses each episode
(with the search for the TRD date), for the first ``--sample`` persons; its rate is
extrapolated to the whole data set. It is given with and without the reading of the sample
(a filter over the whole data set, which a full run would share among all persons).
``ratio`` alternates ``core`` and ``duckdb`` (each in its own process, the machine's speed
taken before each) for ``--pairs`` pairs, printing each run's line, then a line with the
ratio of DuckDB's persons per second to the core's without its reading, per pair and for
the medians: the machine's speed drifts over minutes, so a pair is the fair comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from machine_speed import speed as machine_speed

from trdnav.cohort.concepts import load_cohort_knowledge
from trdnav.knowledge import load_knowledge


def _peak_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # kilobytes on Linux


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _context(start_cpu: float, start_load: float, machine: str) -> dict[str, Any]:
    """CPU seconds of the run, the machine's load (other processes share its 2 cores) and
    its speed just before the run (``machine``: "alone,beside a busy CPU" in ms, see
    machine_speed.py)."""
    return {
        "machine_ms": [float(ms) for ms in machine.split(",")] if machine else None,
        "cpu_seconds": round(_cpu_seconds() - start_cpu, 1),
        "load_average_before": round(start_load, 1),
        "load_average_after": round(os.getloadavg()[0], 1),
    }


def generate(args: argparse.Namespace) -> dict[str, Any]:
    from trdnav.cohort.synth import SynthConfig, generate

    ck = load_cohort_knowledge(load_knowledge())
    start = time.perf_counter()
    counts = generate(SynthConfig(persons=args.persons, seed=args.seed), ck, Path(args.out))
    return {"persons": args.persons, "seconds": time.perf_counter() - start, "rows": counts}


def _engine(args: argparse.Namespace) -> dict[str, Any]:
    from trdnav.cohort.runner import run_cohort

    kb = load_knowledge()
    ck = load_cohort_knowledge(kb)
    data = Path(args.data)
    if args.mode == "duckdb":
        from trdnav.cohort.duckdb_runner import DuckDBRunner

        runner: Any = DuckDBRunner(data, memory_limit=args.memory_limit, threads=args.threads)
    else:
        from trdnav.cohort.spark_runner import SparkRunner, spark_session

        session = spark_session(args.spark_master, shuffle_partitions=args.shuffle_partitions)
        session.sparkContext.setLogLevel("ERROR")
        runner = SparkRunner(data, session=session)
    load, cpu = os.getloadavg()[0], _cpu_seconds()
    start = time.perf_counter()
    result = run_cohort(runner, kb, ck)
    seconds = time.perf_counter() - start
    context = _context(cpu, load, args.machine_ms)
    runner.close()
    out: dict[str, Any] = {
        "engine": args.mode,
        "persons": result.persons.num_rows,
        "trd": result.persons.column("trd").to_pylist().count(True),
        "seconds": round(seconds, 2),
        "persons_per_second": round(result.persons.num_rows / seconds),
        "peak_mib": round(_peak_mib()),
        **context,
    }
    if args.mode == "spark":
        out["jvm_peak_mib"] = _jvm_peak_mib(session)
        session.stop()
    return out


def _jvm_peak_mib(session: Any) -> int | None:
    """Peak resident memory of Spark's JVM (a child process), from /proc."""
    proc = getattr(session.sparkContext._gateway, "proc", None)
    if proc is None:
        return None
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return None


def core(args: argparse.Namespace) -> dict[str, Any]:
    import pyarrow.dataset as ds

    from trdnav.cohort.core_runner import read_tables, run_core
    from trdnav.cohort.duckdb_runner import DuckDBRunner
    from trdnav.cohort.lookups import EngineParams

    kb = load_knowledge()
    ck = load_cohort_knowledge(kb)
    data = Path(args.data)
    total = ds.dataset(str(data / "person")).count_rows()
    runner = DuckDBRunner(data)
    tables, _ = runner.tables()
    as_of = runner.default_as_of(tables)  # the same assessment date as the engines
    runner.close()
    params = EngineParams.from_knowledge(kb, ck, as_of)
    load, cpu = os.getloadavg()[0], _cpu_seconds()
    start = time.perf_counter()
    sample = set(range(1, args.sample + 1))
    loaded = read_tables(data, persons=sample)
    read = time.perf_counter() - start
    rows = run_core(loaded, kb, ck, params)
    seconds = time.perf_counter() - start
    rate = args.sample / seconds
    return {
        "engine": "core",
        "persons": args.sample,
        "episodes": len(rows),
        "seconds": round(seconds, 2),
        "reading_seconds": round(read, 2),
        "persons_per_second": round(rate),
        # a full run would share one reading of the data among all persons: the sample's
        # filter over the whole data set is left out of this rate
        "persons_per_second_without_reading": round(args.sample / (seconds - read)),
        "peak_mib": round(_peak_mib()),
        "extrapolated_seconds_for_all": round(total / rate),
        "all_persons": total,
        **_context(cpu, load, args.machine_ms),
    }


def _measured(arguments: list[str], *, timed: bool = True) -> dict[str, Any]:
    """One measurement (this script's ``arguments``) in a fresh process, so its peak memory
    is its own; with ``timed``, the machine's speed is taken here, just before the run, so
    as not to count in its figures."""
    command = [sys.executable, __file__, *arguments, "--child"]
    if timed:
        speed = machine_speed()
        command += ["--machine-ms", f"{speed[0]:.0f},{speed[1]:.0f}"]
    done = subprocess.run(command, check=False, stdout=subprocess.PIPE, text=True)
    if done.returncode:
        sys.exit(done.returncode)
    line = done.stdout.strip().splitlines()[-1]
    print(line, flush=True)
    result: dict[str, Any] = json.loads(line)
    return result


def ratio(args: argparse.Namespace) -> dict[str, Any]:
    """DuckDB against the core in ``args.pairs`` alternated pairs of runs."""
    data = ["--data", args.data, "--memory-limit", args.memory_limit]
    if args.threads:
        data += ["--threads", str(args.threads)]
    pairs = []
    for _ in range(args.pairs):
        core_run = _measured(["core", *data, "--sample", str(args.sample)])
        duck_run = _measured(["duckdb", *data])
        pairs.append((core_run, duck_run))
    core_rates = [c["persons_per_second_without_reading"] for c, _ in pairs]
    duck_rates = [d["persons_per_second"] for _, d in pairs]
    return {
        "ratio": "duckdb persons/s over core persons/s without reading",
        "pairs": [round(d / c, 1) for c, d in zip(core_rates, duck_rates, strict=True)],
        "median_ratio": round(statistics.median(duck_rates) / statistics.median(core_rates), 1),
        "duckdb_seconds": [d["seconds"] for _, d in pairs],
        "core_persons_per_second": core_rates,
        "machine_ms": [[c["machine_ms"], d["machine_ms"]] for c, d in pairs],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["generate", "duckdb", "spark", "core", "ratio"])
    parser.add_argument("--data", help="folder of OMOP Parquet tables")
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", help="folder to generate into")
    parser.add_argument("--sample", type=int, default=10_000)
    parser.add_argument("--pairs", type=int, default=3, help="ratio: alternated pairs of runs")
    parser.add_argument("--memory-limit", default="3GB", help="DuckDB memory_limit")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--shuffle-partitions", type=int, default=8)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--machine-ms", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode == "ratio":  # each run is a measurement of its own, in its own process
        print(json.dumps(ratio(args)), flush=True)
        return
    if not args.child:
        _measured(sys.argv[1:], timed=args.mode != "generate")
        return
    measure = {"generate": generate, "duckdb": _engine, "spark": _engine, "core": core}
    print(json.dumps(measure[args.mode](args)), flush=True)


if __name__ == "__main__":
    main()
