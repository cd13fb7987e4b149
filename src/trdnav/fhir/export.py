"""A patient's history as FHIR R4 resources (plain JSON), readable back by the import.

Each fact is written in standard codes where the data files have one (ICD-10-CM for the
episode, RxNorm for drugs, LOINC for PHQ-9, CPT for procedures) and in trdnav's own code
systems and extensions, so that :mod:`trdnav.fhir.imports` reads back exactly the same history
(``import(export(x)) == x``, tested with generated histories):

* the episode: a Condition (code by recurrence and severity, ``Condition.severity``, onset) with
  trdnav's episode extension (severity, psychotic features, recurrence);
* each condition: a Condition with trdnav's condition code (and a standard code if one is
  listed for it);
* each trial: a MedicationStatement (dose as mg per day, ``effectivePeriod``, response as
  ``statusReason``, trial-role and dose-optimised extensions);
* each course: a Procedure (``performedPeriod``, sessions extension, response as ``outcome``);
* each measurement: a panel Observation with one component per item, and a total Observation
  it references (``hasMember``), which the CMS measures read.

Resource ids are UUIDs derived from the patient id and the record's place, so the same history
gives the same resources. Extra fields of the core format are not exported.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from trdnav.core import instruments
from trdnav.core.history import Measurement, PatientHistory
from trdnav.core.knowledge import KnowledgeBase
from trdnav.fhir.codes import FhirCodes

__all__ = ["ExportedHistory", "export_history", "resource_id"]

NAMESPACE = uuid.UUID("6f6c1d36-3a4b-5f1e-9d0e-7472646e6176")


def resource_id(patient_id: str, *parts: object) -> str:
    """A stable id for a record of a patient."""
    return str(uuid.uuid5(NAMESPACE, "/".join([patient_id, *map(str, parts)])))


@dataclass
class ExportedHistory:
    resources: list[dict[str, Any]]
    refs: dict[str, str] = field(default_factory=dict)
    """The reference of the resource written for each part of the history
    (``medication_trials[0]`` -> ``MedicationStatement/<id>``)."""

    @property
    def patient_ref(self) -> str:
        return self.refs["patient"]


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _status(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _gender(codes: FhirCodes, sex: str) -> str:
    value = sex.strip().lower()
    if value in codes.bindings["Patient.gender"]:
        return value
    return codes.file.gender_synonyms.get(value, "unknown")


class _Writer:
    def __init__(self, history: PatientHistory, kb: KnowledgeBase, codes: FhirCodes) -> None:
        self.h, self.kb, self.codes = history, kb, codes
        self.out = ExportedHistory([])
        self.subject = {"reference": f"Patient/{history.id}"}

    def add(self, part: str, resource: dict[str, Any]) -> str:
        ref = f"{resource['resourceType']}/{resource['id']}"
        self.out.resources.append(resource)
        self.out.refs[part] = ref
        return ref

    def rid(self, *parts: object) -> str:
        return resource_id(self.h.id, *parts)

    def patient(self) -> None:
        p = self.h.patient
        res: dict[str, Any] = {
            "resourceType": "Patient",
            "id": self.h.id,
            "gender": _gender(self.codes, p.sex),
            "birthDate": p.birth_date.isoformat(),
        }
        if p.mrn:
            mr = _coding(self.codes.system("identifier_type"), "MR", "Medical record number")
            res["identifier"] = [{"type": {"coding": [mr]}, "value": p.mrn}]
        if p.name:
            res["name"] = [{"text": p.name}]
        self.add("patient", res)

    def episode(self) -> None:
        codes, ep = self.codes, self.h.episode
        table = codes.conditions_file.episode.export
        key = (
            "severe_psychotic" if ep.severity == "severe" and ep.psychotic_features else ep.severity
        )
        code = getattr(table, "recurrent" if ep.recurrent else "single").get(key)
        if code is None or (ep.psychotic_features and key != "severe_psychotic"):
            code = (table.recurrent if ep.recurrent else table.single)["other"]
        severity = [_coding(codes.local_system("severity"), ep.severity)]
        severity += [
            _coding(system, value)
            for (system, value), label in codes.severity_codes.items()
            if label == ep.severity
        ]
        extension = {
            "url": codes.extension("episode"),
            "extension": [
                {"url": "severity", "valueCode": ep.severity},
                {"url": "psychoticFeatures", "valueBoolean": ep.psychotic_features},
                {"url": "recurrent", "valueBoolean": ep.recurrent},
            ],
        }
        self.add(
            "episode",
            {
                "resourceType": "Condition",
                "id": self.rid("episode"),
                "extension": [extension],
                "clinicalStatus": _status(codes.system("condition_clinical"), "active"),
                "verificationStatus": _status(codes.system("condition_verification"), "confirmed"),
                "category": [_status(codes.system("condition_category"), "problem-list-item")],
                "severity": {"coding": severity},
                "code": {
                    "coding": [_coding(codes.system("icd10cm"), code)],
                    "text": "Major depressive disorder, "
                    + ("recurrent" if ep.recurrent else "single episode"),
                },
                "subject": self.subject,
                "onsetDateTime": ep.onset.isoformat(),
            },
        )

    def conditions(self) -> None:
        codes = self.codes
        standard: dict[str, dict[str, str]] = {}
        for finding in codes.conditions_file.findings:
            for system, values in finding.codes.items():
                if values and finding.condition not in standard:
                    standard[finding.condition] = _coding(codes.system(system), values[0])
        for index, condition in enumerate(self.h.conditions):
            known = self.kb.conditions[condition]
            coding = [_coding(codes.local_system("condition"), condition, known.name)]
            if condition in standard:
                coding.append(standard[condition])
            self.add(
                f"conditions[{index}]",
                {
                    "resourceType": "Condition",
                    "id": self.rid("condition", condition),
                    "clinicalStatus": _status(codes.system("condition_clinical"), "active"),
                    "verificationStatus": _status(
                        codes.system("condition_verification"), "confirmed"
                    ),
                    "code": {"coding": coding, "text": known.name},
                    "subject": self.subject,
                },
            )

    def trials(self) -> None:
        codes = self.codes
        rxnorm = {drug: code for (_, code), drug in reversed(list(codes.drug_codes.items()))}
        for index, t in enumerate(self.h.medication_trials):
            drug = self.kb.drugs[t.drug]
            coding = (
                [_coding(codes.system("rxnorm"), rxnorm[t.drug], drug.name)]
                if t.drug in rxnorm
                else []
            )
            period = {"start": t.start.isoformat()}
            if t.end is not None:
                period["end"] = t.end.isoformat()
            extension: list[dict[str, Any]] = [
                {"url": codes.extension("trial_role"), "valueCode": t.role}
            ]
            if t.dose_optimized:
                extension.append({"url": codes.extension("dose_optimized"), "valueBoolean": True})
            self.add(
                f"medication_trials[{index}]",
                {
                    "resourceType": "MedicationStatement",
                    "id": self.rid("trial", index),
                    "extension": extension,
                    "status": "completed" if t.end is not None else "active",
                    "statusReason": [
                        {"coding": [_coding(codes.local_system("response"), t.response)]}
                    ],
                    "medicationCodeableConcept": {"coding": coding, "text": drug.name},
                    "subject": self.subject,
                    "effectivePeriod": period,
                    "dosage": [
                        {
                            "text": f"{t.daily_dose_mg:g} mg per day",
                            "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                            "doseAndRate": [
                                {
                                    "doseQuantity": {
                                        "value": t.daily_dose_mg,
                                        "unit": "mg",
                                        "system": codes.system("ucum"),
                                        "code": "mg",
                                    }
                                }
                            ],
                        }
                    ],
                },
            )

    def courses(self) -> None:
        codes = self.codes
        psych = codes.procedures_file.psychotherapy.export
        standard = {
            p.type: _coding(codes.system(p.export.system), p.export.code)
            for p in codes.procedures_file.procedures
            if p.export is not None
        }
        for section in ("psychotherapy", "procedures"):
            for index, course in enumerate(getattr(self.h, section)):
                if section == "psychotherapy":
                    coding = [_coding(codes.system(psych.system), psych.code)]
                else:
                    coding = [_coding(codes.local_system("procedure"), course.type)]
                    if course.type in standard:
                        coding.append(standard[course.type])
                period = {"start": course.start.isoformat()}
                if course.end is not None:
                    period["end"] = course.end.isoformat()
                res: dict[str, Any] = {
                    "resourceType": "Procedure",
                    "id": self.rid(section, index),
                    "extension": [
                        {"url": codes.extension("sessions"), "valueInteger": course.sessions}
                    ],
                    "status": "completed" if course.end is not None else "in-progress",
                    "code": {"coding": coding, "text": course.type},
                    "subject": self.subject,
                    "performedPeriod": period,
                }
                if section == "procedures":
                    res["outcome"] = {
                        "coding": [_coding(codes.local_system("response"), course.response)]
                    }
                self.add(f"{section}[{index}]", res)

    def _codes(self, instrument: str, part: str | int) -> list[dict[str, str]]:
        inst = self.kb.instruments[instrument]
        loinc = None
        if part == "panel":
            loinc = inst.loinc.panel
        elif part == "total":
            loinc = inst.loinc.total
        elif inst.loinc.items:
            loinc = inst.loinc.items[int(part) - 1]
        local = _coding(
            self.codes.local_system("instrument"),
            self.codes.local_instrument_code(instrument, part),
        )
        return ([_coding(self.codes.system("loinc"), loinc)] if loinc else []) + [local]

    def measurements(self) -> None:
        for index, m in enumerate(self.h.measurements):
            self._measurement(index, m)

    def _measurement(self, index: int, m: Measurement) -> None:
        inst = self.kb.instruments[m.instrument]
        panel_id, total_id = self.rid("measurement", index), self.rid("measurement", index, "total")
        survey = [_status(self.codes.system("observation_category"), "survey")]
        when = m.date.isoformat()
        components = [
            {
                "code": {"coding": self._codes(inst.id, item.number), "text": item.label},
                "valueInteger": value,
            }
            for item, value in zip(inst.items, m.items, strict=True)
        ]
        self.add(
            f"measurements[{index}]",
            {
                "resourceType": "Observation",
                "id": panel_id,
                "status": "final",
                "category": survey,
                "code": {"coding": self._codes(inst.id, "panel"), "text": inst.name},
                "subject": self.subject,
                "effectiveDateTime": when,
                "hasMember": [{"reference": f"Observation/{total_id}"}],
                "component": components,
            },
        )
        self.add(
            f"measurements[{index}].total",
            {
                "resourceType": "Observation",
                "id": total_id,
                "status": "final",
                "category": survey,
                "code": {"coding": self._codes(inst.id, "total"), "text": f"{inst.id} total"},
                "subject": self.subject,
                "effectiveDateTime": when,
                "valueInteger": instruments.total(inst, m.items),
                "derivedFrom": [{"reference": f"Observation/{panel_id}"}],
            },
        )


def export_history(history: PatientHistory, kb: KnowledgeBase, codes: FhirCodes) -> ExportedHistory:
    """The history as FHIR resources, with the reference written for each of its parts."""
    writer = _Writer(history, kb, codes)
    writer.patient()
    writer.episode()
    writer.conditions()
    writer.trials()
    writer.courses()
    writer.measurements()
    return writer.out
