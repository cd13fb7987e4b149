"""Builders of FHIR R4 test resources (plain JSON) and an importer for them.

chart = FhirChart()                                # a Patient
chart.condition("F33.1", onset="2024-01-10")       # ICD-10-CM unless a system is given
chart.statement("sertraline", 150, "2024-02-01", "2024-05-01", rxnorm="36437")
chart.phq9_panel("2024-03-01", [1, 1, 1, 1, 1, 1, 1, 1, 0])
result = import_chart(chart)                       # FhirImport (one patient)
"""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import pytest

from trdnav.fhir.imports import import_document
from trdnav.knowledge import load_knowledge
from trdnav.knowledge.fhir_codes import load_fhir_codes

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CPT = "http://www.ama-assn.org/go/cpt"
UCUM = "http://unitsofmeasure.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
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
ANSWERS = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]
AS_OF = date(2025, 6, 1)


class FhirChart:
    """One patient's resources, built call by call."""

    def __init__(self, pid: str = "p1", birth: str | None = "1980-01-15", **patient: Any):
        self.pid = pid
        self._ids = itertools.count(1)
        res: dict[str, Any] = {"resourceType": "Patient", "id": pid, "gender": "female"}
        if birth is not None:
            res["birthDate"] = birth
        res.update(patient)
        self.resources: list[dict[str, Any]] = [res]

    @property
    def subject(self) -> dict[str, str]:
        return {"reference": f"Patient/{self.pid}"}

    def add(self, resource: dict[str, Any]) -> dict[str, Any]:
        resource.setdefault("id", f"{resource['resourceType'].lower()}-{next(self._ids)}")
        self.resources.append(resource)
        return resource

    def condition(
        self,
        code: str,
        system: str = ICD10,
        onset: str | None = "2024-01-10",
        status: str | None = "active",
        verification: str | None = "confirmed",
        **extra: Any,
    ) -> dict[str, Any]:
        res: dict[str, Any] = {
            "resourceType": "Condition",
            "code": {"coding": [{"system": system, "code": code}]},
            "subject": self.subject,
        }
        if status:
            res["clinicalStatus"] = {"coding": [{"system": CLINICAL, "code": status}]}
        if verification:
            res["verificationStatus"] = {"coding": [{"system": VERIFICATION, "code": verification}]}
        if onset:
            res["onsetDateTime"] = onset
        res.update(extra)
        return self.add(res)

    def statement(
        self,
        drug: str,
        dose: float | None,
        start: str,
        end: str | None,
        rxnorm: str | None = None,
        status: str | None = None,
        unit: str = "mg",
        frequency: int = 1,
        **extra: Any,
    ) -> dict[str, Any]:
        concept: dict[str, Any] = {"text": drug}
        if rxnorm:
            concept["coding"] = [{"system": RXNORM, "code": rxnorm}]
        res: dict[str, Any] = {
            "resourceType": "MedicationStatement",
            "status": status or ("completed" if end else "active"),
            "medicationCodeableConcept": concept,
            "subject": self.subject,
            "effectivePeriod": {"start": start, **({"end": end} if end else {})},
        }
        if dose is not None:
            res["dosage"] = [
                {
                    "timing": {"repeat": {"frequency": frequency, "period": 1, "periodUnit": "d"}},
                    "doseAndRate": [
                        {
                            "doseQuantity": {
                                "value": dose,
                                "unit": unit,
                                "system": UCUM,
                                "code": unit,
                            }
                        }
                    ],
                }
            ]
        res.update(extra)
        return self.add(res)

    def procedure(
        self,
        code: str,
        system: str = CPT,
        performed: str = "2024-03-01",
        status: str = "completed",
        **extra: Any,
    ) -> dict[str, Any]:
        return self.add(
            {
                "resourceType": "Procedure",
                "status": status,
                "code": {"coding": [{"system": system, "code": code}]},
                "subject": self.subject,
                "performedDateTime": performed,
                **extra,
            }
        )

    def phq9_panel(
        self, when: str, items: list[int], *, total: int | None = None
    ) -> dict[str, Any]:
        """A US Core style panel: item Observations referenced by hasMember."""
        members = []
        for code, value in zip(PHQ9_ITEMS, items, strict=True):
            item = self.add(
                {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"coding": [{"system": LOINC, "code": code}]},
                    "subject": self.subject,
                    "effectiveDateTime": when,
                    "valueCodeableConcept": {"coding": [{"system": LOINC, "code": ANSWERS[value]}]},
                }
            )
            members.append({"reference": f"Observation/{item['id']}"})
        if total is not None:
            t = self.phq9_total(when, total)
            members.append({"reference": f"Observation/{t['id']}"})
        return self.add(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": LOINC, "code": "44249-1"}]},
                "subject": self.subject,
                "effectiveDateTime": when,
                "hasMember": members,
            }
        )

    def phq9_total(self, when: str, total: int, code: str = "44261-6") -> dict[str, Any]:
        return self.add(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": LOINC, "code": code}]},
                "subject": self.subject,
                "effectiveDateTime": when,
                "valueInteger": total,
            }
        )

    def phq9_response(
        self, when: str, items: list[int], status: str = "completed"
    ) -> dict[str, Any]:
        return self.add(
            {
                "resourceType": "QuestionnaireResponse",
                "status": status,
                "questionnaire": "http://loinc.org/q/44249-1",
                "subject": self.subject,
                "authored": when,
                "item": [
                    {
                        "linkId": f"/44249-1/{code}",
                        "answer": [{"valueCoding": {"system": LOINC, "code": ANSWERS[value]}}],
                    }
                    for code, value in zip(PHQ9_ITEMS, items, strict=True)
                ],
            }
        )

    def bundle(self, kind: str = "collection") -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "type": kind,
            "entry": [{"resource": r} for r in self.resources],
        }


@pytest.fixture(scope="session")
def fhir_codes():
    return load_fhir_codes()


@pytest.fixture
def import_chart(fhir_codes):
    kb = load_knowledge()

    def run(chart: FhirChart | dict[str, Any], as_of: date = AS_OF, validate: bool = True):
        data = chart.bundle() if isinstance(chart, FhirChart) else chart
        result, _ = import_document(data, kb, fhir_codes, as_of, name="bundle", validate=validate)
        return result

    return run


for _name in ("ICD10", "SNOMED", "LOINC", "RXNORM", "CPT", "UCUM", "PHQ9_ITEMS", "ANSWERS"):
    setattr(FhirChart, _name, globals()[_name])


@pytest.fixture
def chart() -> FhirChart:
    return FhirChart()


@pytest.fixture
def new_chart():
    """The chart class: ``new_chart(pid="p2", birth=None)``."""
    return FhirChart
