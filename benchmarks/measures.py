"""CMS159 over many patients: the measure alone, FHIR JSON to result, and the command line.

    .venv/bin/python benchmarks/measures.py [--patients 10000] [--repeat 5] [--seed 159]

Generates a synthetic clinic (seeded, so every run sees the same patients): each patient has a
depression diagnosis, 2 to 8 office visits from 2024 to 2026 with a PHQ-9 (sometimes PHQ-9M)
at each, and now and then a hospice or palliative-care record, a bipolar diagnosis or a death.
Prints, for the 2026 measurement period:

* the measure alone: records already read, ``Measure.evaluate`` (median of --repeat runs);
* FHIR to result: the resources as parsed JSON to patient records, then the measure;
* the command line: ``trdnav measure cms159 --period 2026 DIR --json`` over one Bundle file
  per patient, and over bulk-data NDJSON files (one per resource type).

Each figure is given as CPU time (user + system, which other work on the machine disturbs
little) and wall time, with the load average when the run started.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from trdnav.fhir.resources import Located, patient_records
from trdnav.knowledge.measures import load_measure
from trdnav.measures import MeasurementPeriod, PatientRecord

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
COMMAND = "`trdnav measure cms159 --period 2026 DIR --json`"


def code(system: str, value: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": value}]}


def at(day: date, hour: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:{random.randrange(60):02d}:00+00:00"


def patient(n: int) -> list[dict[str, Any]]:
    """One synthetic patient's resources."""
    pid = f"patient-{n:06d}"
    subject = {"reference": f"Patient/{pid}"}
    birth = date(1950, 1, 1) + timedelta(days=random.randrange(62 * 365))
    person: dict[str, Any] = {"resourceType": "Patient", "id": pid, "birthDate": birth.isoformat()}
    resources: list[dict[str, Any]] = [person]
    ids = iter(range(1000))

    def add(kind: str, **fields: Any) -> None:
        resources.append(
            {"resourceType": kind, "id": f"{pid}-{next(ids)}", "subject": subject, **fields}
        )

    onset = date(2023, 1, 1) + timedelta(days=random.randrange(700))
    add(
        "Condition",
        clinicalStatus=code(CLINICAL, "active"),
        verificationStatus=code(VERIFICATION, random.choice(["confirmed"] * 9 + ["provisional"])),
        code=code(ICD10, random.choice(["F32.9", "F33.1", "F32.2", "F34.1"])),
        onsetDateTime=onset.isoformat(),
    )
    day = onset + timedelta(days=random.randrange(30))
    score = random.randrange(6, 27)
    for _ in range(random.randrange(2, 9)):
        add(
            "Encounter",
            status="finished",
            type=[code(CPT, random.choice(["90791", "90834", "99213", "99214"]))],
            period={"start": at(day, 9), "end": at(day, 10)},
        )
        add(
            "Observation",
            status=random.choice(["final"] * 19 + ["preliminary"]),
            code=code(LOINC, random.choice(["44261-6"] * 9 + ["89204-2"])),
            effectiveDateTime=at(day, 9),
            valueInteger=score,
        )
        score = max(0, min(27, score + random.randrange(-7, 4)))
        day += timedelta(days=random.randrange(40, 200))
    roll = random.random()
    if roll < 0.03:
        start = date(2025, 1, 1) + timedelta(days=random.randrange(500))
        add(
            "Encounter",
            status="finished",
            type=[code(SNOMED, "305336008")],
            period={"start": at(start, 8), "end": at(start + timedelta(days=20), 8)},
        )
    elif roll < 0.05:
        add(
            "Procedure",
            status="completed",
            code=code(SNOMED, "395669003"),
            performedDateTime=at(date(2025, 6, 1) + timedelta(days=random.randrange(300)), 11),
        )
    elif roll < 0.08:
        add(
            "Condition",
            clinicalStatus=code(CLINICAL, "active"),
            verificationStatus=code(VERIFICATION, "confirmed"),
            code=code(SNOMED, "10981006"),
            onsetDateTime=(date(2020, 1, 1) + timedelta(days=random.randrange(2500))).isoformat(),
        )
    elif roll < 0.09:
        person["deceasedDateTime"] = at(date(2025, 6, 1) + timedelta(days=random.randrange(500)), 3)
    return resources


def clinic(size: int) -> list[list[dict[str, Any]]]:
    return [patient(n) for n in range(size)]


def records(patients: list[list[dict[str, Any]]]) -> list[PatientRecord]:
    return patient_records(
        Located(r, f"{r['resourceType']}/{r['id']}", group=str(n))
        for n, resources in enumerate(patients)
        for r in resources
    )


def median_seconds(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median CPU and wall seconds of ``repeat`` runs."""
    cpu, wall = [], []
    for _ in range(repeat):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        run()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return statistics.median(cpu), statistics.median(wall)


def command_line(folder: Path) -> tuple[float, float]:
    """CPU and wall seconds of one run of the command over ``folder``."""
    trdnav = Path(sys.executable).parent / "trdnav"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [str(trdnav), "measure", "cms159", "--period", "2026", str(folder), "--json"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def line(what: str, patients: int, seconds: tuple[float, float]) -> str:
    cpu, wall = seconds
    return f"{what}: {cpu:.2f} s CPU ({patients / cpu:,.0f} patients/s), {wall:.2f} s wall"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=159)
    args = parser.parse_args()
    random.seed(args.seed)
    measure = load_measure("cms159")
    period = MeasurementPeriod.year(2026)
    patients = clinic(args.patients)
    resources = sum(len(p) for p in patients)
    parsed = records(patients)
    result = measure.evaluate(parsed, period)
    counts = ", ".join(f"{p.key} {n}" for p, n in result.counts().items())
    print(
        f"{args.patients:,} patients, {resources:,} resources: {counts}, score {result.score:.3f}"
    )

    print(f"load average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    core = median_seconds(lambda: measure.evaluate(parsed, period), args.repeat)
    print(line("measure alone", args.patients, core))
    full = median_seconds(lambda: measure.evaluate(records(patients), period), args.repeat)
    print(line("FHIR JSON to result", args.patients, full))

    with tempfile.TemporaryDirectory() as tmp:
        bundles = Path(tmp) / "bundles"
        bundles.mkdir()
        for resources_of in patients:
            entries = [{"resource": r} for r in resources_of]
            bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
            (bundles / f"{resources_of[0]['id']}.json").write_text(json.dumps(bundle))
        print(line(f"{COMMAND}, one Bundle per patient", args.patients, command_line(bundles)))
        bulk = Path(tmp) / "ndjson"
        bulk.mkdir()
        by_type: dict[str, list[str]] = {}
        for resources_of in patients:
            for r in resources_of:
                by_type.setdefault(r["resourceType"], []).append(json.dumps(r))
        for kind, lines in by_type.items():
            (bulk / f"{kind}.ndjson").write_text("\n".join(lines) + "\n")
        print(line(f"{COMMAND}, bulk NDJSON", args.patients, command_line(bulk)))


if __name__ == "__main__":
    main()
