"""The CDS services trdnav offers, and the prefetch templates they ask for.

Every service asks for the same patient data: the Patient, Conditions, AllergyIntolerances,
MedicationStatements, MedicationRequests, Procedures, the rating-scale Observations (by the
codes of ``data/fhir/instruments.yaml`` and the knowledge base's instruments) and
QuestionnaireResponses. A key the client does not fill is fetched from its FHIR server.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from trdnav.fhir.codes import FhirCodes

__all__ = ["SERVICES", "Service", "discovery", "prefetch_templates"]

PATIENT = "{{context.patientId}}"


@dataclass(frozen=True)
class Service:
    id: str
    hook: str
    title: str
    description: str


SERVICES: dict[str, Service] = {
    s.id: s
    for s in (
        Service(
            "trdnav-patient-view",
            "patient-view",
            "trdnav: treatment-resistant depression",
            "The patient's depression assessment: a critical card when a suicide item is "
            "positive, a warning for contraindicated options, the TRD stage and the open "
            "treatment options, and the data the record is missing. Not a medical device.",
        ),
        Service(
            "trdnav-order-select",
            "order-select",
            "trdnav: check a selected depression treatment order",
            "A warning when the selected order is esketamine, ketamine, ECT, TMS, VNS or DBS and "
            "a contraindication or caution applies, with a suggestion to remove the order.",
        ),
        Service(
            "trdnav-order-sign",
            "order-sign",
            "trdnav: check depression treatment orders before signing",
            "A warning when an order to sign is esketamine, ketamine, ECT, TMS, VNS or DBS and "
            "a contraindication or caution applies, with a suggestion to remove the order.",
        ),
    )
}


def _observation_codes(codes: FhirCodes) -> list[str]:
    loinc, local = codes.system("loinc"), codes.local_system("instrument")
    found = []
    for (system, code), (_, part, _) in codes.instrument_codes.items():
        if system == loinc or (system == local and part in ("panel", "total")):
            found.append(f"{system}|{code}")
    found += [f"{system}|{code}" for system, code in sorted(codes.totals.exact)]
    return list(dict.fromkeys(found))


def prefetch_templates(codes: FhirCodes) -> dict[str, str]:
    """Prefetch key -> FHIR query template."""
    return dict(_templates(codes))


@functools.lru_cache(maxsize=8)
def _templates(codes: FhirCodes) -> dict[str, str]:
    """The templates of a set of codes, made once (every call needs them; callers get a
    copy)."""
    observations = ",".join(_observation_codes(codes))
    return {
        "patient": f"Patient/{PATIENT}",
        "conditions": f"Condition?patient={PATIENT}",
        "allergies": f"AllergyIntolerance?patient={PATIENT}",
        "medicationStatements": f"MedicationStatement?patient={PATIENT}",
        "medicationRequests": f"MedicationRequest?patient={PATIENT}",
        "procedures": f"Procedure?patient={PATIENT}",
        "observations": f"Observation?patient={PATIENT}&code={observations}",
        "questionnaireResponses": f"QuestionnaireResponse?patient={PATIENT}",
    }


def discovery(codes: FhirCodes) -> dict[str, Any]:
    """The body of ``GET /cds-services``."""
    prefetch = prefetch_templates(codes)
    return {
        "services": [
            {
                "hook": s.hook,
                "title": s.title,
                "description": s.description,
                "id": s.id,
                "prefetch": prefetch,
                "usageRequirements": "The client must be registered with trdnav (setting "
                "cds_clients) and sign its calls with a JWT (ES384 or RS384 recommended).",
            }
            for s in SERVICES.values()
        ]
    }
