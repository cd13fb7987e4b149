"""An assessment as FHIR R4 resources: Observations coded in trdnav's assessment code system,
each ``derivedFrom`` the exported history records it rests on.

* ``trd`` (valueBoolean) and ``failed-adequate-trials`` (valueInteger): from the failed
  adequate trials of the episode;
* ``thase-rush-stage``, ``mgh-s`` (a ``{score}`` quantity) and ``msm`` (with its band as a
  component): the staging results, each with its explanation as a note;
* ``alert``: each alert, from the latest measurements;
* ``option-verdict``: one per treatment option, the treatment as a component, the verdict as
  the value, every reason and the sources as notes, ``derivedFrom`` the conditions behind a
  contraindication or caution.

:func:`assessment_bundle` puts the history (:mod:`trdnav.fhir.export`) and the assessment in
one collection Bundle. The import ignores the assessment Observations (trdnav recomputes them).
"""

from __future__ import annotations

from typing import Any

from trdnav.core.assessment import Assessment
from trdnav.core.history import PatientHistory
from trdnav.core.knowledge import KnowledgeBase
from trdnav.fhir.codes import FhirCodes
from trdnav.fhir.export import ExportedHistory, export_history, resource_id

__all__ = ["assessment_bundle", "assessment_resources", "bundle"]


def _ref(ref: str) -> dict[str, str]:
    return {"reference": ref}


class _Results:
    def __init__(
        self,
        assessment: Assessment,
        history: PatientHistory,
        exported: ExportedHistory,
        kb: KnowledgeBase,
        codes: FhirCodes,
    ) -> None:
        self.a, self.h, self.ex, self.kb, self.codes = assessment, history, exported, kb, codes
        self.out: list[dict[str, Any]] = []
        self.system = codes.local_system("assessment")

    def concept(self, code: str) -> dict[str, Any]:
        display = self.codes.local.assessment[code]
        return {"coding": [{"system": self.system, "code": code, "display": display}]}

    def observation(
        self, code: str, key: str, value: dict[str, Any], derived: list[str], notes: list[str]
    ) -> dict[str, Any]:
        res: dict[str, Any] = {
            "resourceType": "Observation",
            "id": resource_id(self.h.id, "assessment", self.a.as_of.isoformat(), key),
            "status": "final",
            "code": self.concept(code),
            "subject": _ref(self.ex.patient_ref),
            "effectiveDateTime": self.a.as_of.isoformat(),
            **value,
        }
        if derived:
            res["derivedFrom"] = [_ref(r) for r in dict.fromkeys(derived)]
        if notes:
            res["note"] = [{"text": n} for n in notes]
        self.out.append(res)
        return res

    def failed_trials(self) -> list[str]:
        return [
            self.ex.refs[f"medication_trials[{i}]"]
            for i, t in enumerate(self.a.trials)
            if t.in_episode and t.failed
        ]

    def episode_records(self, section: str, kind: str | None = None) -> list[str]:
        return [
            self.ex.refs[f"{section}[{i}]"]
            for i, record in enumerate(getattr(self.h, section))
            if self.h.in_episode(record.start) and (kind is None or record.type == kind)
        ]

    def staging(self) -> None:
        a, s = self.a, self.a.staging
        failed = self.failed_trials()
        ect = self.episode_records("procedures", "ECT")
        augmentation = [
            self.ex.refs[f"medication_trials[{i}]"]
            for i, t in enumerate(a.trials)
            if t.in_episode and t.role == "augmentation"
        ]
        trd_note = (
            f"{a.failed_adequate_trials} failed adequate antidepressant trial(s) in the episode"
        )
        self.observation("trd", "trd", {"valueBoolean": a.trd}, failed, [trd_note])
        self.observation(
            "failed-adequate-trials",
            "failed-adequate-trials",
            {"valueInteger": a.failed_adequate_trials},
            failed,
            [trd_note],
        )
        self.observation(
            "thase-rush-stage",
            "thase-rush",
            {"valueInteger": s.thase_rush},
            failed + ect,
            [s.explanations["thase_rush"]],
        )
        ucum = self.codes.system("ucum")
        self.observation(
            "mgh-s",
            "mgh-s",
            {
                "valueQuantity": {
                    "value": s.mgh_s,
                    "unit": "{score}",
                    "system": ucum,
                    "code": "{score}",
                }
            },
            failed + augmentation + ect,
            [s.explanations["mgh_s"]],
        )
        band = {"code": self.concept("msm-band"), "valueString": s.msm.band}
        self.observation(
            "msm",
            "msm",
            {"valueInteger": s.msm.total, "component": [band]},
            failed + augmentation + ect,
            [s.explanations["msm"]],
        )

    def alerts(self) -> None:
        latest: dict[str, int] = {}
        for i, m in enumerate(self.h.measurements):
            if self.h.in_episode(m.date):
                last = latest.get(m.instrument)
                if last is None or self.h.measurements[last].date <= m.date:
                    latest[m.instrument] = i
        derived = [self.ex.refs[f"measurements[{i}]"] for i in latest.values()]
        # an alert on the latest answer before the episode derives from that day's measurements
        before = [
            (m.date, i) for i, m in enumerate(self.h.measurements) if m.date < self.h.episode.onset
        ]
        last_day = max((day for day, _ in before), default=None)
        earlier = [self.ex.refs[f"measurements[{i}]"] for day, i in before if day == last_day]
        system = self.codes.local_system("alert")
        for alert in self.a.alerts:
            value = {
                "valueCodeableConcept": {
                    "coding": [{"system": system, "code": alert.code}],
                    "text": alert.message,
                }
            }
            sources = earlier if alert.code == "suicide_item_before_episode" else derived
            self.observation("alert", f"alert-{alert.code}", value, sources, [alert.source])

    def options(self) -> None:
        verdicts, treatments = (
            self.codes.local_system("verdict"),
            self.codes.local_system("treatment"),
        )
        for option in self.a.options:
            findings = [
                self.ex.refs[f"conditions[{self.h.conditions.index(c)}]"]
                for c in (*option.contraindications, *option.cautions)
                if c in self.h.conditions
            ]
            if any(
                c not in self.h.conditions for c in (*option.contraindications, *option.cautions)
            ):
                findings.append(self.ex.refs["episode"])
            component = {
                "code": self.concept("treatment"),
                "valueCodeableConcept": {
                    "coding": [
                        {"system": treatments, "code": option.treatment, "display": option.name}
                    ]
                },
            }
            value = {
                "valueCodeableConcept": {
                    "coding": [{"system": verdicts, "code": option.verdict}],
                    "text": option.verdict.replace("_", " "),
                },
                "component": [component],
            }
            notes = [*option.reasons, "Rules: " + ", ".join(option.rule_ids)]
            notes += [f"Source: {s}" for s in option.sources]
            self.observation("option-verdict", f"option-{option.treatment}", value, findings, notes)


def assessment_resources(
    assessment: Assessment,
    history: PatientHistory,
    exported: ExportedHistory,
    kb: KnowledgeBase,
    codes: FhirCodes,
) -> list[dict[str, Any]]:
    """The assessment's Observations, referring to the resources of ``exported`` (the history
    the assessment was made from, exported with :func:`~trdnav.fhir.export.export_history`)."""
    results = _Results(assessment, history, exported, kb, codes)
    results.staging()
    results.alerts()
    results.options()
    return results.out


def bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A collection Bundle of resources."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def assessment_bundle(
    assessment: Assessment, history: PatientHistory, kb: KnowledgeBase, codes: FhirCodes
) -> dict[str, Any]:
    """The history and its assessment as one collection Bundle."""
    exported = export_history(history, kb, codes)
    results = assessment_resources(assessment, history, exported, kb, codes)
    return bundle(exported.resources + results)
