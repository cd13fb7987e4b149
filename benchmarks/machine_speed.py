"""How fast this machine runs Python right now: the CPU time of a fixed workload, alone and
beside a busy loop on the other CPU.

The development machine's two virtual CPUs slow each other down when both are busy: pure
Python on one of them then often takes 1.6 to 1.7 times its CPU time alone (for minutes at a
time it does not), so two busy CPUs then give about 1.2 times the work of one. A load test that
keeps both CPUs busy (the server's workers and the load generator) is therefore much slower
per call than the same calls one at a time, and more or less so from one minute to the next.
Each benchmark prints both figures before its runs, so figures measured at different times
can be told apart from changes in the code. Lower is faster.

    .venv/bin/python benchmarks/machine_speed.py
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
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


def machine_ms(repeat: int = 5) -> float:
    """The median CPU milliseconds of ``repeat`` runs of the fixed workload (the garbage
    collector paused, so that the calling process's own objects do not count)."""
    times = []
    collecting = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.process_time()
            _workload()
            times.append(time.process_time() - start)
    finally:
        if collecting:
            gc.enable()
    return statistics.median(times) * 1000


def paired_ms(repeat: int = 5) -> float:
    """:func:`machine_ms` while another process keeps the other CPU busy."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        return machine_ms(repeat)
    finally:
        busy.kill()
        busy.wait()


def speed() -> tuple[float, float]:
    """(:func:`machine_ms`, :func:`paired_ms`)."""
    return machine_ms(), paired_ms()


if __name__ == "__main__":
    alone, paired = speed()
    print(f"machine speed: {alone:.0f} ms alone, {paired:.0f} ms beside a busy CPU")
