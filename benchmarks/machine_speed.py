"""How fast this machine runs Python right now: the CPU time of a fixed workload.

The machine's speed changes from one period to the next even at the same load average (the
same code's CPU time per call has varied by up to 2× over a day), so each benchmark prints
this figure before and after its runs, and figures measured at different times can be told
apart from changes in the code. Lower is faster.

    .venv/bin/python benchmarks/machine_speed.py
"""

from __future__ import annotations

import gc
import json
import time


def _workload() -> int:
    """Dictionaries, strings and JSON, as the server's reading of FHIR resources does."""
    records = [
        {
            "id": f"r{i}",
            "code": {"coding": [{"system": "http://loinc.org", "code": str(i % 50)}]},
            "value": i,
        }
        for i in range(20_000)
    ]
    read = json.loads(json.dumps(records))
    return sum(r["value"] for r in read if r["code"]["coding"][0]["code"] != "7")


def machine_ms(repeat: int = 3) -> float:
    """The least CPU milliseconds of ``repeat`` runs of the fixed workload (the garbage
    collector paused, so that the calling process's own objects do not count)."""
    best = float("inf")
    collecting = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.process_time()
            _workload()
            best = min(best, time.process_time() - start)
    finally:
        if collecting:
            gc.enable()
    return best * 1000


if __name__ == "__main__":
    print(f"machine speed: {machine_ms():.1f} ms of CPU for the reference workload")
