"""A new patient, and corrections to a patient's details, episode and conditions.

Conditions matter to the verdicts (a cochlear implant contraindicates TMS), so the form lists
the knowledge base's whole vocabulary; conditions derived from the history (psychotic
features) are not offered, since the episode sets them. A condition the patient has listed
that is not offered (psychotic features listed directly, say, as an imported history may) is
shown ticked under its own heading, so that saving the form keeps it and only unticking it
removes it: a correction never drops a condition the user did not see.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from trdnav.clinic import patients
from trdnav.errors import Conflict, InputError, PreconditionFailed, Problem
from trdnav.web import forms
from trdnav.web.deps import Reader, WebUser, Writer
from trdnav.web.pages import redirect, render

router = APIRouter(prefix="/app", include_in_schema=False)

SEVERITIES = ("subsyndromal", "mild", "moderate", "severe")
LABELS = {
    "id": "Patient id",
    "name": "Name",
    "mrn": "MRN",
    "birth_date": "Date of birth",
    "sex": "Sex",
    "episode.onset": "Episode onset",
    "episode.severity": "Severity",
    "episode.psychotic_features": "Psychotic features",
    "episode.recurrent": "Recurrent",
    "conditions": "Conditions",
}
TEXT_FIELDS = ("id", "name", "mrn", "birth_date", "sex", "episode.onset", "episode.severity")


def _values(user: WebUser) -> dict[str, Any]:
    values: dict[str, Any] = {k: user.field(k) for k in TEXT_FIELDS}
    values["episode.psychotic_features"] = bool(user.field("episode.psychotic_features"))
    values["episode.recurrent"] = bool(user.field("episode.recurrent"))
    values["conditions"] = user.fields("conditions")
    values["version"] = user.field("version")
    return values


def _of(view: dict[str, Any]) -> dict[str, Any]:
    episode = view["episode"]
    return {
        "id": view["id"],
        "name": view["name"] or "",
        "mrn": view["mrn"] or "",
        "birth_date": view["birth_date"],
        "sex": view["sex"],
        "episode.onset": episode["onset"],
        "episode.severity": episode["severity"],
        "episode.psychotic_features": episode["psychotic_features"],
        "episode.recurrent": episode["recurrent"],
        "conditions": view["conditions"],
        "version": str(view["version"]),
    }


def _field(path: str) -> str:
    """A problem's path as the form's field name."""
    if path.startswith("patient."):
        return path.removeprefix("patient.")
    if path.startswith("conditions["):
        return "conditions"
    return path


def _page(
    request: Request,
    user: WebUser,
    values: dict[str, Any],
    *,
    patient: dict[str, Any] | None,
    errors: forms.FieldErrors | None = None,
    stale: bool = False,
    status: int = 200,
) -> Response:
    kb = user.state.kb
    offered = [c for c in kb.conditions.values() if c.derived_from is None]
    return render(
        request,
        "patient_form.html",
        {
            "patient": patient,
            "values": values,
            "errors": errors or forms.FieldErrors(),
            "stale": stale,
            "severities": SEVERITIES,
            "conditions": offered,
            "listed_only": _listed_only(user, values, patient, {c.id for c in offered}),
            "today": user.today.isoformat(),
        },
        status=status,
        actor=user.actor,
    )


def _listed_only(
    user: WebUser, values: dict[str, Any], patient: dict[str, Any] | None, offered: set[str]
) -> list[tuple[str, str, str]]:
    """The conditions the patient has listed (or the form sent) that the form does not offer,
    as (id, name, description): shown ticked, so that they are kept unless unticked."""
    kb = user.state.kb
    stored = patient["conditions"] if patient else []
    ids = [c for c in dict.fromkeys([*stored, *values["conditions"]]) if c not in offered]
    out = []
    for cid in ids:
        condition = kb.conditions.get(cid)
        name = condition.name if condition else cid
        out.append((cid, name, condition.description if condition else ""))
    return out


def _problems(exc: InputError | Conflict, values: dict[str, Any]) -> forms.FieldErrors:
    if isinstance(exc, Conflict):
        errors = forms.place_problems([], LABELS)
        errors.by_field["id"] = [
            f"A patient with id {values['id']} already exists in this clinic. Choose another "
            "id, or leave the field empty to have one made."
        ]
        return errors
    moved = [Problem(_field(p.path), p.value, p.expected, p.missing) for p in exc.problems]
    return forms.place_problems(moved, LABELS)


def _person(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": values["name"] or None,
        "mrn": values["mrn"] or None,
        "birth_date": values["birth_date"],
        "sex": values["sex"],
    }


def _episode(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "onset": values["episode.onset"],
        "severity": values["episode.severity"],
        "psychotic_features": values["episode.psychotic_features"],
        "recurrent": values["episode.recurrent"],
    }


@router.get("/new-patient")
def new_patient(request: Request, user: Reader) -> Response:
    user.actor.require_write()
    values: dict[str, Any] = dict.fromkeys(TEXT_FIELDS, "") | {
        "episode.severity": "moderate",
        "episode.psychotic_features": False,
        "episode.recurrent": False,
        "conditions": [],
    }
    return _page(request, user, values, patient=None)


@router.post("/new-patient")
def create_patient(request: Request, user: Writer) -> Response:
    user.actor.require_write()
    values = _values(user)
    document: dict[str, Any] = {
        "patient": _person(values),
        "episode": _episode(values),
        "conditions": values["conditions"],
    }
    if values["id"]:
        document["id"] = values["id"]
    state = user.state
    try:
        view = patients.import_patient(
            state.store,
            user.actor,
            state.kb,
            document,
            user.today,
            action="patient.create",
            adequate_trial_days=state.settings.adequate_trial_days,
        )
    except (InputError, Conflict) as exc:
        return _page(request, user, values, patient=None, errors=_problems(exc, values), status=422)
    return redirect(
        request,
        f"/app/patients/{quote(view['id'], safe='')}",
        flash="Patient created. Add their trials, treatments and measurements below.",
    )


@router.get("/patients/{patient_id}/edit")
def edit_patient(request: Request, patient_id: str, user: Reader) -> Response:
    user.actor.require_write()
    view = patients.get_patient(user.state.store, user.actor, patient_id)
    return _page(request, user, _of(view), patient=view)


@router.post("/patients/{patient_id}/edit")
def change_patient(request: Request, patient_id: str, user: Writer) -> Response:
    user.actor.require_write()
    state = user.state
    values = _values(user)
    changes = {
        **_person(values),
        "episode": _episode(values),
        "conditions": values["conditions"],
    }
    try:
        patients.update_patient(
            state.store,
            user.actor,
            state.kb,
            patient_id,
            changes,
            forms.patient_version(values["version"]),
            user.today,
            state.settings.adequate_trial_days,
        )
    except PreconditionFailed:
        view = patients.get_patient(state.store, user.actor, patient_id)
        return _page(request, user, values, patient=view, stale=True, status=412)
    except InputError as exc:
        view = patients.get_patient(state.store, user.actor, patient_id)
        errors = _problems(exc, values)
        return _page(request, user, values, patient=view, errors=errors, status=422)
    return redirect(
        request,
        f"/app/patients/{quote(patient_id, safe='')}",
        flash="Patient details saved. The assessment below is up to date.",
    )
