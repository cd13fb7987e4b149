"""The passes over the large OMOP tables that any plan of the phenotype makes, timed alone.

    .venv/bin/python benchmarks/cohort_floor.py --data /tmp/omop-1000000

A lower bound for a DuckDB run, to set against ``benchmarks/cohort.py duckdb``: whatever the
plan, it reads the four large tables, looks up every record's person (the data checks count
records of unknown persons), orders each person's exposures of each drug (treatment eras
merge exposures in order of their start), orders each person's MDD records (episodes) and
joins the PHQ-9 totals to the episodes. Each pass is written here in plain DuckDB SQL over
the Parquet files, with the run's DuckDB settings, and timed on its own (the time from
submitting the query to its one-row answer). Each pass reads its tables, as the phenotype's
queries do; a plan that shared one reading among them could save at most the first pass's
time, so no plan goes below the sum less that. It leaves out everything smaller: trials,
failures, lines, outcomes, the per-person results and their conversion to Arrow.

Two passes are simplified: all exposures are ordered per drug concept, where the definition
orders those of antidepressants and augmentation agents (82% of them in the generated data)
per ingredient after a concept lookup; and every measurement (in the generated data nearly
all are PHQ-9 totals) joins one range per person (first MDD record to a fixed date) rather
than its episode. The machine's speed is taken before the
passes (``machine_speed.py``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import duckdb
from machine_speed import speed as machine_speed

from trdnav.cohort.duckdb_runner import DuckDBRunner, parquet_path


def passes(data: Path) -> dict[str, str]:
    def table(name: str) -> str:
        path = parquet_path(data, name)
        if path is None:
            raise SystemExit(f"{data} has no {name} table")
        return f"read_parquet('{path}')"

    de, m = table("drug_exposure"), table("measurement")
    co, po, person = table("condition_occurrence"), table("procedure_occurrence"), table("person")
    day = "date_diff('day', DATE '1970-01-01', {})"
    return {
        "reading the columns used of the four large tables": f"""
            SELECT
              (SELECT sum(person_id + drug_concept_id + drug_exposure_id
                          + coalesce(days_supply, 0) + coalesce(quantity, 0)
                          + epoch(drug_exposure_start_date)
                          + coalesce(epoch(drug_exposure_end_date), 0)) FROM {de}),
              (SELECT sum(person_id + measurement_concept_id + measurement_id
                          + epoch(measurement_date) + coalesce(value_as_number, 0)) FROM {m}),
              (SELECT sum(person_id + condition_concept_id
                          + coalesce(condition_source_concept_id, 0)
                          + epoch(condition_start_date)) FROM {co}),
              (SELECT sum(person_id + procedure_concept_id + epoch(procedure_date)) FROM {po})""",
        "every record's person looked up (data checks)": f"""
            WITH p AS (SELECT DISTINCT person_id FROM {person})
            SELECT
              (SELECT count(*) FROM {de} WHERE person_id NOT IN (SELECT person_id FROM p)),
              (SELECT count(*) FROM {m} WHERE person_id NOT IN (SELECT person_id FROM p)),
              (SELECT count(*) FROM {co} WHERE person_id NOT IN (SELECT person_id FROM p)),
              (SELECT count(*) FROM {po} WHERE person_id NOT IN (SELECT person_id FROM p))""",
        "exposures in order per person and drug (treatment eras)": f"""
            SELECT count(*), sum(latest) FROM (
              SELECT max(end_day) OVER (
                PARTITION BY person_id, drug_concept_id ORDER BY start_day, end_day, id
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS latest
              FROM (SELECT person_id, drug_concept_id, drug_exposure_id AS id,
                           {day.format("drug_exposure_start_date")} AS start_day,
                           {day.format("drug_exposure_end_date")} AS end_day FROM {de}))""",
        "MDD records in order per person (episodes)": f"""
            SELECT count(*), sum(previous) FROM (
              SELECT lag({day.format("condition_start_date")}) OVER (
                PARTITION BY person_id ORDER BY condition_start_date) AS previous FROM {co})""",
        "PHQ-9 totals joined to a range per person (episodes)": f"""
            WITH e AS (SELECT person_id, min(condition_start_date) AS onset FROM {co} GROUP BY 1)
            SELECT count(*) FROM {m} AS m JOIN e ON m.person_id = e.person_id
              AND m.measurement_date >= e.onset AND m.measurement_date <= DATE '2100-01-01'""",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="folder of OMOP Parquet tables")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads")
    parser.add_argument("--memory-limit", default="3GB", help="DuckDB memory_limit")
    args = parser.parse_args()
    speed = machine_speed()
    # the cohort runner's own connection, so the passes run with the run's settings
    runner = DuckDBRunner(Path(args.data), memory_limit=args.memory_limit, threads=args.threads)
    con: duckdb.DuckDBPyConnection = runner.con.con
    seconds = {}
    for name, sql in passes(Path(args.data)).items():
        start = time.perf_counter()
        con.execute(sql).fetchall()
        seconds[name] = round(time.perf_counter() - start, 2)
        print(f"{seconds[name]:6.2f} s  {name}", flush=True)
    threads = con.execute("SELECT current_setting('threads')").fetchone()
    runner.close()
    total = round(sum(seconds.values()), 2)
    print(
        json.dumps(
            {
                "threads": threads[0] if threads else None,
                "seconds": seconds,
                "total_seconds": total,
                "machine_ms": [round(ms) for ms in speed],
            }
        )
    )


if __name__ == "__main__":
    main()
