"""Fixtures: build a patient's FHIR resources call by call (``make_chart``), and run a measure
on them through the FHIR adapter as the stewards' bundles are run (``evaluate``)::

    chart = make_chart(birth="2010-06-01")
    chart.encounter("2025-02-25T14:30:00Z", "2025-02-25T14:50:00Z")
    chart.phq9("2025-02-25T14:35:00Z", 10)
    result = evaluate("cms159", chart)          # a PatientResult
    populations(result) == (1, 1, 0, 0)         # in the measure's population order

Codes are attributes of the chart: ``chart.PHQ9M``, ``chart.BIPOLAR``, ...
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trdnav.fhir.bundles import read_resources
from trdnav.fhir.resources import NOT_DONE_REASON, Located, patient_records
from trdnav.knowledge.measures import load_measure
from trdnav.measures import MeasurementPeriod, PatientResult

CPT = "http://www.ama-assn.org/go/cpt"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"


def concept(code: tuple[str, str]) -> dict[str, Any]:
    return {"coding": [{"system": code[0], "code": code[1]}]}


class Chart:
    """One patient's FHIR resources."""

    PHQ9 = (LOINC, "44261-6")
    PHQ9M = (LOINC, "89204-2")
    OFFICE_VISIT = (CPT, "90791")
    MAJOR_DEPRESSION = (ICD10, "F32.9")
    BIPOLAR = (SNOMED, "10981006")
    HOSPICE_ENCOUNTER = (SNOMED, "305336008")
    ADOLESCENT_SCREEN = (LOINC, "73831-0")
    ADULT_SCREEN = (LOINC, "73832-8")
    NEGATIVE = (SNOMED, "428171000124102")
    POSITIVE = (SNOMED, "428181000124104")
    SCREENING_ENCOUNTER = (SNOMED, "10197000")
    FLUOXETINE = (RXNORM, "1190110")
    PSYCHIATRY_REFERRAL = (SNOMED, "183524004")
    FAMILY_PSYCHOTHERAPY = (SNOMED, "108313002")
    DECLINED = (SNOMED, "720834000")
    CONTRAINDICATED = (SNOMED, "183932001")

    def __init__(self, birth: str = "2010-06-01", pid: str = "p1", **patient: Any) -> None:
        self.pid = pid
        self._ids = itertools.count(1)
        self.resources: list[dict[str, Any]] = [
            {"resourceType": "Patient", "id": pid, "birthDate": birth, **patient}
        ]

    def add(self, resource_type: str, **fields: Any) -> dict[str, Any]:
        resource = {
            "resourceType": resource_type,
            "id": f"{resource_type[:3].lower()}{next(self._ids)}",
            "subject": {"reference": f"Patient/{self.pid}"},
            **{k: v for k, v in fields.items() if v is not None},
        }
        self.resources.append(resource)
        return resource

    def encounter(
        self,
        start: str,
        end: str | None = None,
        code: tuple[str, str] = (CPT, "90791"),
        status: str = "finished",
        **fields: Any,
    ) -> dict[str, Any]:
        period = {"start": start, **({"end": end} if end else {})}
        return self.add("Encounter", status=status, type=[concept(code)], period=period, **fields)

    def condition(
        self,
        onset: str | None,
        code: tuple[str, str] = (ICD10, "F32.9"),
        clinical: str = "active",
        verification: str | None = "confirmed",
        category: str = "problem-list-item",
        **fields: Any,
    ) -> dict[str, Any]:
        return self.add(
            "Condition",
            clinicalStatus={"coding": [{"system": CLINICAL, "code": clinical}]},
            verificationStatus=(
                {"coding": [{"system": VERIFICATION, "code": verification}]}
                if verification
                else None
            ),
            category=[{"coding": [{"system": CATEGORY, "code": category}]}],
            code=concept(code),
            onsetDateTime=onset,
            **fields,
        )

    def phq9(
        self,
        when: str,
        score: int | None,
        code: tuple[str, str] = (LOINC, "44261-6"),
        status: str = "final",
    ) -> dict[str, Any]:
        return self.add(
            "Observation",
            status=status,
            code=concept(code),
            effectiveDateTime=when,
            valueInteger=score,
        )

    def screen(
        self, when: str, code: tuple[str, str], result: tuple[str, str], status: str = "final"
    ) -> dict[str, Any]:
        return self.add(
            "Observation",
            status=status,
            code=concept(code),
            effectiveDateTime=when,
            valueCodeableConcept=concept(result),
        )

    def not_done(
        self, issued: str, code: tuple[str, str], reason: tuple[str, str]
    ) -> dict[str, Any]:
        return self.add(
            "Observation",
            status="cancelled",
            code=concept(code),
            issued=issued,
            extension=[{"url": NOT_DONE_REASON, "valueCodeableConcept": concept(reason)}],
        )

    def procedure(
        self, when: str, code: tuple[str, str], status: str = "completed"
    ) -> dict[str, Any]:
        return self.add("Procedure", status=status, code=concept(code), performedDateTime=when)

    def service_request(
        self, authored: str, code: tuple[str, str], status: str = "active", **fields: Any
    ) -> dict[str, Any]:
        return self.add(
            "ServiceRequest",
            status=status,
            intent=fields.pop("intent", "order"),
            code=concept(code),
            authoredOn=authored,
            **fields,
        )

    def medication_request(
        self, authored: str, code: tuple[str, str] = (RXNORM, "1190110"), days: int | None = 30
    ) -> dict[str, Any]:
        supply = {"expectedSupplyDuration": {"value": days, "code": "d"}} if days else None
        return self.add(
            "MedicationRequest",
            status="active",
            intent="order",
            medicationCodeableConcept=concept(code),
            authoredOn=authored,
            dispenseRequest=supply,
        )


def _evaluate(measure_id: str, chart: Chart, year: int = 2026) -> PatientResult:
    located = [Located(r, f"{r['resourceType']}/{r['id']}") for r in chart.resources]
    [patient] = patient_records(located)
    return load_measure(measure_id).evaluate_patient(patient, MeasurementPeriod.year(year))


def populations(result: PatientResult) -> tuple[int, ...]:
    return tuple(int(met) for met in result.populations.values())


@pytest.fixture
def make_chart() -> type[Chart]:
    """The Chart class: ``make_chart(birth="2010-06-01")``."""
    return Chart


@pytest.fixture
def evaluate() -> Callable[..., PatientResult]:
    """``evaluate("cms159", chart, year=2026)``: the patient's result."""
    return _evaluate


@pytest.fixture
def pops() -> Callable[[PatientResult], tuple[int, ...]]:
    """The populations of a result as 0/1, in the measure's order."""
    return populations


@dataclass(frozen=True)
class Measured:
    """A patient's result as the JSON output gives it."""

    json: dict[str, Any]

    @property
    def populations(self) -> tuple[int, ...]:
        """The populations as 0/1, in the measure's order."""
        return tuple(v for k, v in self.json.items() if k not in ("patient", "evidence"))

    def evidence(self, criterion: str) -> dict[str, Any]:
        """The first evidence item of a criterion."""
        return next(e for e in self.json["evidence"] if e["criterion"] == criterion)


@pytest.fixture
def measured(tmp_path: Path) -> Callable[[str, Chart], Measured]:
    """``measured("cms2", chart)``: the chart written as a FHIR Bundle file, read as the
    command line reads it, and measured for 2026."""

    def run(measure_id: str, chart: Chart) -> Measured:
        bundle = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in chart.resources],
        }
        path = tmp_path / "bundle.json"
        path.write_text(json.dumps(bundle), encoding="utf-8")
        [patient] = patient_records(read_resources([path]))
        result = load_measure(measure_id).evaluate([patient], MeasurementPeriod.year(2026))
        [found] = result.to_json()["patients"]
        return Measured(found)

    return run
