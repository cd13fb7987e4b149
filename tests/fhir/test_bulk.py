"""Bulk-data NDJSON streams: the import's memory does not grow with the size of the input."""

import json
import tracemalloc
from datetime import date

from trdnav.fhir.imports import import_files
from trdnav.knowledge import load_knowledge


def write_bulk(folder, n: int):
    """One patient with a depression diagnosis, one trial, and ``n`` vital-sign Observations
    and ``n`` Encounters (resources the import reads and ignores), one file per type."""
    folder.mkdir()
    subject = {"reference": "Patient/bulk"}
    (folder / "Patient.ndjson").write_text(
        json.dumps(
            {"resourceType": "Patient", "id": "bulk", "birthDate": "1970-05-05", "gender": "male"}
        )
        + "\n"
    )
    (folder / "Condition.ndjson").write_text(
        json.dumps(
            {
                "resourceType": "Condition",
                "id": "c1",
                "subject": subject,
                "code": {
                    "coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "F33.1"}]
                },
                "onsetDateTime": "2024-01-01",
            }
        )
        + "\n"
    )
    with (folder / "Observation.ndjson").open("w") as out:
        for i in range(n):
            vital = {
                "resourceType": "Observation",
                "id": f"o{i}",
                "status": "final",
                "code": {
                    "coding": [{"system": "http://loinc.org", "code": "8867-4"}],
                    "text": "Heart rate " * 20,
                },
                "subject": subject,
                "effectiveDateTime": "2024-02-01T10:00:00Z",
                "valueQuantity": {"value": 60 + i % 40, "unit": "/min"},
            }
            out.write(json.dumps(vital) + "\n")
    with (folder / "Encounter.ndjson").open("w") as out:
        for i in range(n):
            out.write(
                json.dumps(
                    {
                        "resourceType": "Encounter",
                        "id": f"e{i}",
                        "status": "finished",
                        "subject": subject,
                    }
                )
                + "\n"
            )
    return sorted(folder.glob("*.ndjson"))


def peak_while_importing(paths, kb, codes):
    tracemalloc.start()
    try:
        result = import_files(paths, kb, codes, date(2025, 6, 1))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def test_memory_does_not_grow_with_the_input(tmp_path, fhir_codes):
    kb = load_knowledge()
    small = write_bulk(tmp_path / "small", 1_000)
    large = write_bulk(tmp_path / "large", 10_000)
    size = sum(p.stat().st_size for p in large)
    assert size > 6_000_000
    import_files(small, kb, fhir_codes, date(2025, 6, 1))  # caches filled before measuring
    _, small_peak = peak_while_importing(small, kb, fhir_codes)
    large_result, large_peak = peak_while_importing(large, kb, fhir_codes)
    [patient] = large_result.patients
    assert patient.history.episode.recurrent is True
    assert patient.report.resources == 20_002
    ignored = {g["resource_type"]: g for g in patient.report.ignored()}
    assert ignored["Observation"]["count"] == 10_000
    assert len(ignored["Observation"]["examples"]) == 20
    assert large_peak < 1_000_000  # the input is over 6 MB
    assert large_peak < small_peak * 1.5 + 50_000
