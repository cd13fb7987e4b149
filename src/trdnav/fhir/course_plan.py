"""A planned treatment course as FHIR R4: a CarePlan and a ServiceRequest per session.

Treatment courses are not part of trdnav yet; any object with the attributes of
:class:`CoursePlan` can be exported: the treatment option (a knowledge-base treatment id, such
as ``tms`` or ``ect``) and the dated sessions. The CarePlan (status ``draft``, intent
``plan``) spans the sessions and lists one activity per session, each referencing a
ServiceRequest (intent ``plan``, ``basedOn`` the CarePlan) coded with trdnav's treatment code
and the standard procedure code of the data files where there is one, with the session's
date as ``occurrenceDateTime``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

from trdnav.core.knowledge import KnowledgeBase
from trdnav.errors import InputError, Problem
from trdnav.fhir.codes import FhirCodes
from trdnav.fhir.export import resource_id

__all__ = ["CoursePlan", "course_plan_resources"]


class CoursePlan(Protocol):
    """What the export needs of a planned course."""

    @property
    def treatment(self) -> str:
        """The option: a treatment id of the knowledge base (``tms``, ``ect``, ...)."""
        ...

    @property
    def sessions(self) -> Sequence[date | datetime]:
        """The planned sessions, in order (a datetime needs its time-zone offset)."""
        ...


def _when(value: date | datetime) -> str:
    return value.isoformat()


def course_plan_resources(
    plan: CoursePlan,
    patient_id: str,
    kb: KnowledgeBase,
    codes: FhirCodes,
    *,
    plan_id: str | None = None,
) -> list[dict[str, Any]]:
    """The CarePlan and its ServiceRequests (CarePlan first)."""
    problems = []
    if plan.treatment not in kb.treatments:
        known = ", ".join(kb.treatments)
        problems.append(Problem("plan.treatment", plan.treatment, f"one of {known}"))
    if not plan.sessions:
        problems.append(Problem("plan.sessions", [], "at least one session"))
    for index, session in enumerate(plan.sessions):
        if isinstance(session, datetime) and session.tzinfo is None:
            problems.append(
                Problem(f"plan.sessions[{index}]", _when(session), "a time with its offset")
            )
    if problems:
        raise InputError(problems)
    treatment = kb.treatments[plan.treatment]
    key = plan_id or resource_id(patient_id, "course-plan", plan.treatment, _when(plan.sessions[0]))
    care_plan_id = resource_id(patient_id, "care-plan", key)
    coding = [
        {"system": codes.local_system("treatment"), "code": treatment.id, "display": treatment.name}
    ]
    for ptype, treatment_id in codes.service_orders.items():
        if treatment_id != treatment.id:
            continue
        for proc in codes.procedures_file.procedures:
            if proc.type == ptype and proc.export is not None:
                coding.append(
                    {"system": codes.system(proc.export.system), "code": proc.export.code}
                )
    subject = {"reference": f"Patient/{patient_id}"}
    requests = []
    for index, session in enumerate(plan.sessions, start=1):
        requests.append(
            {
                "resourceType": "ServiceRequest",
                "id": resource_id(patient_id, "course-session", key, index),
                "status": "draft",
                "intent": "plan",
                "basedOn": [{"reference": f"CarePlan/{care_plan_id}"}],
                "code": {"coding": coding, "text": f"{treatment.name}, session {index}"},
                "subject": subject,
                "occurrenceDateTime": _when(session),
            }
        )
    care_plan = {
        "resourceType": "CarePlan",
        "id": care_plan_id,
        "status": "draft",
        "intent": "plan",
        "title": f"{treatment.name} course ({len(requests)} sessions)",
        "subject": subject,
        "period": {"start": _when(plan.sessions[0]), "end": _when(plan.sessions[-1])},
        "activity": [{"reference": {"reference": f"ServiceRequest/{r['id']}"}} for r in requests],
    }
    return [care_plan, *requests]
