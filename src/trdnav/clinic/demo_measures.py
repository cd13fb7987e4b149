"""Demo patients for the quality measures: FHIR R4 Bundles, imported as any Bundle is.

The measures read what the core format does not hold (office visits, depression screens,
referrals, a screen declined), so these patients come as FHIR: each Bundle is the patient's
history written as FHIR (:func:`trdnav.fhir.export.export_history`) plus the Encounters,
screening Observations and ServiceRequests the measures look for. Dates are set within the
last complete calendar year (``today.year - 1``, the period the measures page opens on) and
the year before it, so every patient falls into the same population whatever day the demo is
started:

========================  ==========================  ================================
patient                   CMS159                      CMS2
========================  ==========================  ================================
``demo-fhir-remission``   numerator                   numerator (negative screen)
``demo-fhir-ongoing``     denominator, not met        numerator (positive, referral)
``demo-fhir-hospice``     denominator exclusion       denominator, not met
``demo-fhir-declined``    not in the population       denominator exception
========================  ==========================  ================================
"""

from __future__ import annotations

from datetime import date
from typing import Any

from trdnav.core.intake import parse_history
from trdnav.core.knowledge import KnowledgeBase
from trdnav.fhir.codes import FhirCodes
from trdnav.fhir.export import export_history
from trdnav.fhir.resources import NOT_DONE_REASON

__all__ = ["measure_bundles"]

CPT = "http://www.ama-assn.org/go/cpt"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

OFFICE_VISIT = (CPT, "90791")  # Contact or Office Visit (CMS159)
SCREENING_VISIT = (SNOMED, "10197000")  # Encounter to Screen for Depression (CMS2)
HOSPICE_VISIT = (SNOMED, "305336008")  # Hospice Encounter (CMS159 exclusion)
ADOLESCENT_SCREEN = (LOINC, "73831-0")
ADULT_SCREEN = (LOINC, "73832-8")
NEGATIVE = (SNOMED, "428171000124102")
POSITIVE = (SNOMED, "428181000124104")
PSYCHIATRY_REFERRAL = (SNOMED, "183524004")
DECLINED = (SNOMED, "720834000")


def _concept(code: tuple[str, str]) -> dict[str, Any]:
    return {"coding": [{"system": code[0], "code": code[1]}]}


def _items(total: int) -> list[int]:
    """PHQ-9 items adding up to ``total`` (item 9, self-harm, always 0)."""
    items = [0] * 9
    for i in range(total):
        items[i % 8] += 1
    return items


class _Chart:
    """One demo patient: a core-format history and the extra resources of the measures."""

    def __init__(self, pid: str, mrn: str, name: str, birth: date, sex: str, onset: date) -> None:
        self.pid = pid
        self.doc: dict[str, Any] = {
            "id": pid,
            "patient": {
                "birth_date": birth.isoformat(),
                "sex": sex,
                "name": name,
                "mrn": mrn,
            },
            "episode": {
                "onset": onset.isoformat(),
                "severity": "moderate",
                "psychotic_features": False,
                "recurrent": True,
            },
            "conditions": [],
            "medication_trials": [],
            "psychotherapy": [],
            "procedures": [],
            "measurements": [],
        }
        self.extra: list[dict[str, Any]] = []

    def _add(self, kind: str, **fields: Any) -> None:
        self.extra.append(
            {
                "resourceType": kind,
                "id": f"{self.pid}-{kind.lower()}-{len(self.extra) + 1}",
                "subject": {"reference": f"Patient/{self.pid}"},
                **fields,
            }
        )

    def phq9(self, day: date, total: int) -> None:
        self.doc["measurements"].append(
            {"instrument": "PHQ-9", "date": day.isoformat(), "items": _items(total)}
        )

    def trial(self, drug: str, dose: float, start: date, end: date, response: str) -> None:
        self.doc["medication_trials"].append(
            {
                "drug": drug,
                "daily_dose_mg": dose,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "role": "antidepressant",
                "response": response,
            }
        )

    def visit(self, day: date, code: tuple[str, str], hour: int = 9) -> None:
        """A finished 40-minute visit, in UTC."""
        when = f"{day.isoformat()}T{hour:02d}:"
        self._add(
            "Encounter",
            status="finished",
            **{"class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"}},
            type=[_concept(code)],
            period={"start": when + "00:00Z", "end": when + "40:00Z"},
        )

    def screen(self, day: date, kind: tuple[str, str], result: tuple[str, str]) -> None:
        self._add(
            "Observation",
            status="final",
            code=_concept(kind),
            effectiveDateTime=f"{day.isoformat()}T09:10:00Z",
            valueCodeableConcept=_concept(result),
        )

    def screen_declined(self, day: date, kind: tuple[str, str]) -> None:
        self._add(
            "Observation",
            status="cancelled",
            code=_concept(kind),
            issued=f"{day.isoformat()}T09:10:00Z",
            extension=[{"url": NOT_DONE_REASON, "valueCodeableConcept": _concept(DECLINED)}],
        )

    def referral(self, day: date) -> None:
        self._add(
            "ServiceRequest",
            status="active",
            intent="order",
            code=_concept(PSYCHIATRY_REFERRAL),
            authoredOn=f"{day.isoformat()}T09:30:00Z",
        )

    def bundle(self, kb: KnowledgeBase, codes: FhirCodes, today: date) -> dict[str, Any]:
        history = parse_history({**self.doc, "as_of": today.isoformat()}, kb)
        resources = export_history(history, kb, codes).resources + self.extra
        return {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {"fullUrl": f"urn:trdnav:{r['resourceType']}/{r['id']}", "resource": r}
                for r in resources
            ],
        }


def measure_bundles(kb: KnowledgeBase, codes: FhirCodes, today: date) -> list[dict[str, Any]]:
    """The demo's FHIR patients, for the measurement period of the year before ``today``."""
    year = today.year - 1
    before = year - 1

    def day(y: int, month: int, d: int) -> date:
        return date(y, month, d)

    remission = _Chart(
        "demo-fhir-remission",
        "MRN-F0001",
        "Maya Lind",
        date(1979, 4, 18),
        "female",
        day(before, 1, 15),
    )
    remission.visit(day(before, 3, 10), OFFICE_VISIT)
    remission.phq9(day(before, 3, 10), 17)
    remission.trial("sertraline", 150, day(before, 3, 10), day(before, 9, 1), "partial")
    remission.phq9(day(before, 6, 10), 11)
    remission.trial("venlafaxine", 225, day(before, 9, 8), day(year, 8, 1), "response")
    remission.phq9(day(before, 11, 3), 7)
    remission.visit(day(year, 2, 3), SCREENING_VISIT)
    remission.screen(day(year, 2, 3), ADULT_SCREEN, NEGATIVE)
    remission.phq9(day(year, 3, 10), 3)

    ongoing = _Chart(
        "demo-fhir-ongoing", "MRN-F0002", "Theo Marsh", date(1990, 9, 2), "male", day(before, 2, 1)
    )
    ongoing.visit(day(before, 4, 22), OFFICE_VISIT)
    ongoing.phq9(day(before, 4, 22), 20)
    ongoing.trial("escitalopram", 20, day(before, 4, 22), day(before, 8, 30), "none")
    ongoing.trial("bupropion", 300, day(before, 9, 5), day(year, 1, 20), "partial")
    ongoing.phq9(day(before, 10, 14), 15)
    ongoing.visit(day(year, 4, 20), SCREENING_VISIT)
    ongoing.screen(day(year, 4, 20), ADULT_SCREEN, POSITIVE)
    ongoing.referral(day(year, 4, 20))
    ongoing.phq9(day(year, 4, 20), 12)

    hospice = _Chart(
        "demo-fhir-hospice",
        "MRN-F0003",
        "Ruth Ingram",
        date(1948, 12, 5),
        "female",
        day(before, 3, 20),
    )
    hospice.visit(day(before, 5, 6), OFFICE_VISIT)
    hospice.phq9(day(before, 5, 6), 14)
    hospice.visit(day(year, 3, 2), SCREENING_VISIT)
    hospice.screen(day(year, 3, 2), ADULT_SCREEN, POSITIVE)
    hospice.phq9(day(year, 3, 2), 13)
    hospice.visit(day(year, 6, 15), HOSPICE_VISIT, hour=14)

    declined = _Chart(
        "demo-fhir-declined",
        "MRN-F0004",
        "Owen Pratt",
        date(year - 16, 7, 30),
        "male",
        day(before, 8, 1),
    )
    declined.visit(day(before, 9, 9), OFFICE_VISIT)
    declined.phq9(day(before, 9, 9), 8)
    declined.visit(day(year, 9, 15), SCREENING_VISIT)
    declined.screen_declined(day(year, 9, 15), ADOLESCENT_SCREEN)

    return [c.bundle(kb, codes, today) for c in (remission, ongoing, hospice, declined)]
