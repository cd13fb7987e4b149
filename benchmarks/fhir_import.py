"""Bulk FHIR NDJSON import rate, beside parsing the same data through validated FHIR models.

    .venv/bin/python benchmarks/fhir_import.py --patients 2000 --repeat 3

Writes a synthetic bulk export (one NDJSON file per resource type: per patient a Patient, 3
Conditions, 20 MedicationRequests, 44 Observations (4 PHQ-9 assessments as panel, items and
total), 6 Procedures and 10 Encounters, which are read and ignored) and measures, on the same
files:

* trdnav's import (``trdnav.fhir.imports.import_files``): streamed a line at a time, read as
  plain JSON, checked element by element, into each patient's history and report;
* parsing only: ``json.loads`` of each line;
* parsing through fully validated models: ``fhir.resources.R4B`` ``model_validate`` of each
  line (no history is built).

Reports resources per second by CPU time (``time.process_time``, the figure to compare on a
shared machine) and by wall time, the median of ``--repeat`` runs, as Markdown rows for
docs/performance.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from trdnav.fhir.imports import import_files
from trdnav.knowledge import load_knowledge
from trdnav.knowledge.fhir_codes import load_fhir_codes

LOINC = "http://loinc.org"
PHQ9_ITEMS = [
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
]
DRUGS = [("36437", 150), ("39786", 225), ("89013", 5), ("42347", 300)]


def patient(n: int) -> dict[str, list[dict[str, Any]]]:
    pid = f"p{n}"
    subject = {"reference": f"Patient/{pid}"}
    start = date(2021, 1, 1) + timedelta(days=n % 300)
    out: dict[str, list[dict[str, Any]]] = {
        "Patient": [
            {"resourceType": "Patient", "id": pid, "birthDate": "1970-01-01", "gender": "female"}
        ],
        "Condition": [
            {
                "resourceType": "Condition",
                "id": f"{pid}-c{i}",
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}]},
                "subject": subject,
                "onsetDateTime": start.isoformat(),
            }
            for i, code in enumerate(["F33.1", "G40.909", "E11.9"])
        ],
        "MedicationRequest": [],
        "Observation": [],
        "Procedure": [],
        "Encounter": [],
    }
    day = start
    for drug, dose in DRUGS:
        for renewal in range(5):
            out["MedicationRequest"].append(
                {
                    "resourceType": "MedicationRequest",
                    "id": f"{pid}-mr-{drug}-{renewal}",
                    "status": "completed",
                    "intent": "order",
                    "medicationCodeableConcept": {
                        "coding": [
                            {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": drug}
                        ]
                    },
                    "subject": subject,
                    "authoredOn": day.isoformat(),
                    "dosageInstruction": [
                        {
                            "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                            "doseAndRate": [{"doseQuantity": {"value": dose, "unit": "mg"}}],
                        }
                    ],
                    "dispenseRequest": {
                        "expectedSupplyDuration": {"value": 30, "unit": "days", "code": "d"}
                    },
                }
            )
            day += timedelta(days=30)
    for a in range(4):
        when = (start + timedelta(days=150 * a)).isoformat()
        members = []
        for k, code in enumerate(PHQ9_ITEMS):
            oid = f"{pid}-o{a}-{k}"
            members.append({"reference": f"Observation/{oid}"})
            out["Observation"].append(
                {
                    "resourceType": "Observation",
                    "id": oid,
                    "status": "final",
                    "code": {"coding": [{"system": LOINC, "code": code}]},
                    "subject": subject,
                    "effectiveDateTime": when,
                    "valueInteger": (a + k) % 4,
                }
            )
        out["Observation"].append(
            {
                "resourceType": "Observation",
                "id": f"{pid}-o{a}-t",
                "status": "final",
                "code": {"coding": [{"system": LOINC, "code": "44261-6"}]},
                "subject": subject,
                "effectiveDateTime": when,
                "valueInteger": 12,
            }
        )
        members.append({"reference": f"Observation/{pid}-o{a}-t"})
        out["Observation"].append(
            {
                "resourceType": "Observation",
                "id": f"{pid}-o{a}-p",
                "status": "final",
                "code": {"coding": [{"system": LOINC, "code": "44249-1"}]},
                "subject": subject,
                "effectiveDateTime": when,
                "hasMember": members,
            }
        )
    for i in range(6):
        out["Procedure"].append(
            {
                "resourceType": "Procedure",
                "id": f"{pid}-ect-{i}",
                "status": "completed",
                "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "90870"}]},
                "subject": subject,
                "performedDateTime": (day + timedelta(days=2 * i)).isoformat(),
            }
        )
    for i in range(10):
        out["Encounter"].append(
            {
                "resourceType": "Encounter",
                "id": f"{pid}-e{i}",
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "AMB",
                },
                "subject": subject,
                "period": {
                    "start": f"{start.isoformat()}T10:00:00Z",
                    "end": f"{start.isoformat()}T10:30:00Z",
                },
            }
        )
    return out


def write_bulk(folder: Path, patients: int) -> tuple[list[Path], int]:
    handles: dict[str, Any] = {}
    count = 0
    for n in range(patients):
        for kind, resources in patient(n).items():
            if kind not in handles:
                handles[kind] = (folder / f"{kind}.ndjson").open("w", encoding="utf-8")
            for r in resources:
                handles[kind].write(json.dumps(r) + "\n")
                count += 1
    for handle in handles.values():
        handle.close()
    return sorted(folder.glob("*.ndjson")), count


def timed(work: Callable[[], object], repeat: int) -> tuple[float, float]:
    cpu, wall = [], []
    for _ in range(repeat):
        gc.collect()
        c0, w0 = time.process_time(), time.perf_counter()
        work()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="trdnav-bulk-"))
    paths, count = write_bulk(folder, args.patients)
    size = sum(p.stat().st_size for p in paths) / 1e6
    kb, codes = load_knowledge(), load_fhir_codes()

    def trdnav_import() -> object:
        result = import_files(paths, kb, codes, date(2026, 11, 26))
        assert len(result.patients) == args.patients
        return result

    def json_only() -> object:
        n = 0
        for path in paths:
            with path.open(encoding="utf-8") as handle:
                for line in handle:
                    json.loads(line)
                    n += 1
        return n

    def r4b_models() -> object:
        n = 0
        for path in paths:
            with path.open(encoding="utf-8") as handle:
                for line in handle:
                    data = json.loads(line)
                    get_fhir_model_class(data["resourceType"]).model_validate(data)
                    n += 1
        return n

    r4b_models()  # import the models before timing
    print(
        f"{args.patients} patients, {count} resources, {size:.0f} MB of NDJSON; "
        f"load average {os.getloadavg()[0]:.1f}; median of {args.repeat}"
    )
    print("| what | CPU s | resources/s (CPU) | wall s | resources/s (wall) |")
    print("|---|---|---|---|---|")
    for name, work in (
        ("trdnav import: NDJSON to histories and reports (streamed, plain JSON)", trdnav_import),
        ("parsing only: json.loads of each line", json_only),
        ("fully validated models: fhir.resources.R4B model_validate of each line", r4b_models),
    ):
        cpu, wall = timed(work, args.repeat)
        print(f"| {name} | {cpu:.2f} | {count / cpu:,.0f} | {wall:.2f} | {count / wall:,.0f} |")


if __name__ == "__main__":
    main()
