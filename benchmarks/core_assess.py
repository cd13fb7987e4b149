"""Throughput of the per-patient core: parse + assess, in one process.

    .venv/bin/python benchmarks/core_assess.py [--n 2000]

Prints assessments per second for the example histories and for a long history
(10 years, 12 trials, 120 measurements), and the start-up time of `trdnav assess`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from trdnav.core.assessment import assess
from trdnav.core.intake import parse_history
from trdnav.knowledge import load_knowledge

ROOT = Path(__file__).resolve().parents[1]


def long_history() -> dict[str, Any]:
    drugs = [
        ("sertraline", 150),
        ("venlafaxine", 225),
        ("mirtazapine", 45),
        ("bupropion", 300),
        ("nortriptyline", 100),
        ("phenelzine", 60),
        ("duloxetine", 90),
        ("citalopram", 40),
        ("escitalopram", 20),
        ("vortioxetine", 20),
        ("amitriptyline", 200),
        ("tranylcypromine", 40),
    ]
    trials = []
    for i, (drug, dose) in enumerate(drugs):
        year = 2016 + i * 8 // 12
        month = (i * 8) % 12 + 1
        trials.append(
            {
                "drug": drug,
                "daily_dose_mg": dose,
                "start": f"{year}-{month:02d}-01",
                "end": f"{year}-{month:02d}-28",
                "role": "antidepressant",
                "response": "partial",
            }
        )
    measurements = [
        {
            "instrument": "PHQ-9",
            "date": f"{2016 + i // 12}-{i % 12 + 1:02d}-05",
            "items": [i % 4, 2, 2, 1, 1, 2, 1, 1, 0],
        }
        for i in range(120)
    ]
    return {
        "id": "long",
        "as_of": "2026-01-01",
        "patient": {"birth_date": "1970-01-01", "sex": "female"},
        "episode": {
            "onset": "2016-01-01",
            "severity": "severe",
            "psychotic_features": False,
            "recurrent": True,
        },
        "conditions": ["seizure_disorder"],
        "medication_trials": trials,
        "psychotherapy": [],
        "procedures": [],
        "measurements": measurements,
    }


def rate(doc: dict[str, Any], n: int) -> tuple[float, float]:
    kb = load_knowledge()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        assess(parse_history(doc, kb), kb)
        times.append(time.perf_counter() - start)
    return n / sum(times), statistics.quantiles(times, n=100)[98] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    load_knowledge()
    for path in sorted((ROOT / "examples").glob("*.json")):
        per_s, p99 = rate(json.loads(path.read_text()), args.n)
        print(f"{path.name}: {per_s:,.0f} assessments/s, p99 {p99:.2f} ms")
    per_s, p99 = rate(long_history(), args.n // 4)
    print(f"long history (12 trials, 120 PHQ-9): {per_s:,.0f} assessments/s, p99 {p99:.2f} ms")
    trdnav = Path(sys.executable).parent / "trdnav"
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run(
            [str(trdnav), "assess", str(ROOT / "examples" / "stage-2-trd.json"), "--json"],
            check=True,
            capture_output=True,
        )
        runs.append(time.perf_counter() - start)
    print(f"`trdnav assess --json` wall time: median {statistics.median(runs) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
