"""Measure results as FHIR R4 MeasureReport resources, and writing them to a folder.

* An **individual** report per patient: ``subject`` is the patient, each population's count is
  0 or 1, ``measureScore`` is 1 or 0 when the patient counts in the score (in the denominator,
  neither excluded nor excepted) and absent otherwise, and ``evaluatedResource`` lists the
  resources named in the patient's evidence.
* A **summary** report: the population counts over all patients and the score (absent when
  nothing counts in the score).

``measure`` is the measure's canonical reference (``url|version``). Reports carry no ``date``:
the same input gives the same files on any day.

The folder the reports are written to holds exactly one run's reports: it must be new, empty
or hold only MeasureReports an earlier run wrote (which are replaced); a folder of other
files is refused and left as it was (:func:`trdnav.files.new_folder`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trdnav.files import new_folder
from trdnav.measures.measure import MeasureInfo
from trdnav.measures.results import MeasureResult, PatientResult, Population

__all__ = [
    "IMPROVEMENT_SYSTEM",
    "POPULATION_SYSTEM",
    "individual_report",
    "is_measure_report",
    "report_folder",
    "summary_report",
    "write_measure_reports",
    "write_reports_into",
]

OPTION = "--measure-report"
LARGEST_REPORT = 64 * 1024 * 1024
"""A larger file is not taken for a report of ours (and is not read to find out)."""

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


def is_measure_report(entry: Path) -> bool:
    """Whether ``entry`` is a report an earlier run wrote: a file ``<measure>-<name>.json``
    holding a FHIR MeasureReport."""
    if entry.is_symlink() or not entry.is_file() or entry.suffix != ".json":
        return False
    if "-" not in entry.stem or entry.stat().st_size > LARGEST_REPORT:
        return False
    try:
        document = json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(document, dict) and document.get("resourceType") == "MeasureReport"


@contextlib.contextmanager
def report_folder(folder: Path) -> Iterator[Path]:
    """A temporary folder to write reports into (:func:`write_reports_into`); when the block
    ends without an error, its reports replace ``folder``'s. ``folder`` is checked first: a
    file, or a folder holding anything but earlier reports, is an input error."""
    with new_folder(OPTION, folder, is_measure_report) as temporary:
        yield temporary


def write_reports_into(info: MeasureInfo, result: MeasureResult, folder: Path) -> list[str]:
    """Write ``<measure>-summary.json`` and ``<measure>-<patient id>.json`` for each patient
    into ``folder``; the names written, summary first."""
    documents = [(f"{info.id}-summary.json", summary_report(info, result))]
    documents += [
        (f"{info.id}-{p.patient}.json", individual_report(info, result, p)) for p in result.patients
    ]
    for name, document in documents:
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        (folder / name).write_text(text, encoding="utf-8")
    return [name for name, _ in documents]


def write_measure_reports(info: MeasureInfo, result: MeasureResult, folder: Path) -> list[Path]:
    """Make ``folder`` hold exactly the reports of ``result`` (:func:`report_folder`); the
    paths written, summary first."""
    with report_folder(folder) as temporary:
        names = write_reports_into(info, result, temporary)
    return [folder / name for name in names]
