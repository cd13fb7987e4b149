"""Measure results as FHIR R4 MeasureReport resources, and writing them to a folder.

* An **individual** report per patient: ``subject`` is the patient, each population's count is
  0 or 1, ``measureScore`` is 1 or 0 when the patient counts in the score (in the denominator,
  neither excluded nor excepted) and absent otherwise, and ``evaluatedResource`` lists the
  resources named in the patient's evidence.
* A **summary** report: the population counts over all patients and the score (absent when
  nothing counts in the score).

``measure`` is the measure's canonical reference (``url|version``). Reports carry no ``date``:
the same input gives the same files on any day.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trdnav.errors import InputError, Problem
from trdnav.measures.measure import MeasureInfo
from trdnav.measures.results import MeasureResult, PatientResult, Population

__all__ = [
    "IMPROVEMENT_SYSTEM",
    "POPULATION_SYSTEM",
    "individual_report",
    "summary_report",
    "write_measure_reports",
]

POPULATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-population"
IMPROVEMENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"


def _population(population: Population, count: int) -> dict[str, Any]:
    coding = {
        "system": POPULATION_SYSTEM,
        "code": population.value,
        "display": population.label.title(),
    }
    return {"code": {"coding": [coding]}, "count": count}


def _report(
    info: MeasureInfo,
    result: MeasureResult,
    kind: str,
    counts: dict[Population, int],
    score: float | None,
) -> dict[str, Any]:
    group: dict[str, Any] = {"population": [_population(p, counts[p]) for p in result.populations]}
    if score is not None:
        group["measureScore"] = {"value": score}
    return {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": kind,
        "measure": info.canonical,
        "period": result.period.to_json(),
        "improvementNotation": {
            "coding": [{"system": IMPROVEMENT_SYSTEM, "code": info.improvement_notation}]
        },
        "group": [group],
    }


def individual_report(
    info: MeasureInfo, result: MeasureResult, patient: PatientResult
) -> dict[str, Any]:
    counts = {p: int(patient[p]) for p in result.populations}
    report = _report(info, result, "individual", counts, patient.score)
    subject = f"Patient/{patient.patient}"
    report = {**report, "subject": {"reference": subject}}
    seen: list[str] = []
    for evidence in patient.evidence:
        if evidence.resource and evidence.resource not in seen and evidence.resource != subject:
            seen.append(evidence.resource)
    if seen:
        report["evaluatedResource"] = [{"reference": ref} for ref in seen]
    return report


def summary_report(info: MeasureInfo, result: MeasureResult) -> dict[str, Any]:
    return _report(info, result, "summary", result.counts(), result.score)


def write_measure_reports(info: MeasureInfo, result: MeasureResult, folder: Path) -> list[Path]:
    """Write ``<measure>-summary.json`` and ``<measure>-<patient id>.json`` for each patient
    into ``folder`` (created if needed); the paths written, summary first."""
    if folder.exists() and not folder.is_dir():
        raise InputError([Problem("--measure-report", str(folder), "a folder")])
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            [Problem("--measure-report", str(folder), f"a folder ({exc.strerror})")]
        ) from None
    written = []
    documents = [(f"{info.id}-summary.json", summary_report(info, result))]
    documents += [
        (f"{info.id}-{p.patient}.json", individual_report(info, result, p)) for p in result.patients
    ]
    for name, document in documents:
        path = folder / name
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written
