"""Forms to add, correct and remove history items: trials, procedures, psychotherapy courses
and measurements (item by item, with the running total and band).

Every form carries the patient's version; the services check it (If-Match), so a form
opened before someone else's change is refused with a message instead of overwriting.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from trdnav.clinic import patients
from trdnav.core import instruments
from trdnav.core.knowledge import Instrument, KnowledgeBase
from trdnav.errors import Conflict, InputError, NotFound, PreconditionFailed, Problem
from trdnav.web import forms
from trdnav.web.deps import Reader, WebUser, Writer
from trdnav.web.pages import redirect, render

router = APIRouter(prefix="/app/patients/{patient_id}", include_in_schema=False)


def _patient_url(patient_id: str, anchor: str = "") -> str:
    return f"/app/patients/{quote(patient_id, safe='')}" + (f"#{anchor}" if anchor else "")


def _version(user: WebUser) -> int:
    return forms.patient_version(user.field("version"))


def _item(view: dict[str, Any], section: str, item_id: int) -> dict[str, Any]:
    for item in view[section]:
        if item["item_id"] == item_id:
            return dict(item)
    raise NotFound(f"no such item {item_id}")


def _save(
    user: WebUser, patient_id: str, segment: str, data: dict[str, Any], item_id: int | None
) -> dict[str, Any]:
    state = user.state
    days = state.settings.adequate_trial_days
    if item_id is None:
        _, view = patients.add_item(
            state.store,
            user.actor,
            state.kb,
            patient_id,
            segment,
            data,
            _version(user),
            user.today,
            adequate_trial_days=days,
        )
        return view
    return patients.correct_item(
        state.store,
        user.actor,
        state.kb,
        patient_id,
        segment,
        item_id,
        data,
        _version(user),
        user.today,
        adequate_trial_days=days,
    )


# --- trials, procedures, psychotherapy ---------------------------------------------------


def _item_page(
    request: Request,
    user: WebUser,
    view: dict[str, Any],
    form: forms.ItemForm,
    values: dict[str, str],
    *,
    item_id: int | None,
    errors: forms.FieldErrors | None = None,
    stale: str | None = None,
    status: int = 200,
) -> Response:
    base = _patient_url(view["id"])
    action = f"{base}/{form.segment}" + (f"/{item_id}" if item_id else "")
    return render(
        request,
        "item_form.html",
        {
            "patient": view,
            "form": form,
            "values": values,
            "errors": errors or forms.FieldErrors(),
            "stale": stale,
            "action": action,
            "item_id": item_id,
            "version": values.get("version") or view["version"],
            "drug_names": forms.drug_names(user.state.kb),
            "therapy_names": forms.PSYCHOTHERAPIES,
            "today": user.today.isoformat(),
        },
        status=status,
        actor=user.actor,
    )


def _register(form: forms.ItemForm) -> None:
    segment = form.segment

    @router.get(f"/{segment}/new", name=f"web_new_{segment}")
    def new_item(request: Request, patient_id: str, user: Reader) -> Response:
        user.actor.require_write()
        view = patients.get_patient(user.state.store, user.actor, patient_id)
        defaults = {f.name: "" for f in form.fields}
        if segment == "trials":
            defaults.update(role="antidepressant", response="unknown")
        if segment == "procedures":
            defaults.update(response="unknown")
        return _item_page(request, user, view, form, defaults, item_id=None)

    @router.get(f"/{segment}/{{item_id}}/edit", name=f"web_edit_{segment}")
    def edit_item(request: Request, patient_id: str, item_id: int, user: Reader) -> Response:
        user.actor.require_write()
        view = patients.get_patient(user.state.store, user.actor, patient_id)
        values = form.values_of(_item(view, form.section, item_id))
        return _item_page(request, user, view, form, values, item_id=item_id)

    def submit(request: Request, patient_id: str, user: Writer, item_id: int | None) -> Response:
        user.actor.require_write()
        values = {f.name: user.field(f.name) for f in form.fields}
        checked = {f.name for f in form.fields if f.kind == "checkbox" and user.field(f.name)}
        data = form.read(values, checked)
        if item_id is not None:
            data = _keep_extras(user, patient_id, form.section, item_id, data)
        try:
            _save(user, patient_id, segment, data, item_id)
        except (InputError, Conflict, PreconditionFailed) as exc:
            view = patients.get_patient(user.state.store, user.actor, patient_id)
            shown = {**values, "dose_optimized": "on" if "dose_optimized" in checked else ""}
            shown["version"] = user.field("version")
            if isinstance(exc, PreconditionFailed):
                return _item_page(
                    request, user, view, form, shown, item_id=item_id, stale=str(exc), status=412
                )
            errors = forms.place_refusal(exc, form.labels())
            status = 409 if isinstance(exc, Conflict) else 422
            return _item_page(
                request, user, view, form, shown, item_id=item_id, errors=errors, status=status
            )
        verb = "corrected" if item_id else "added"
        return redirect(
            request,
            _patient_url(patient_id, "history"),
            flash=f"{form.noun.capitalize()} {verb}. The assessment below is up to date.",
        )

    @router.post(f"/{segment}", name=f"web_add_{segment}")
    def add_item(request: Request, patient_id: str, user: Writer) -> Response:
        return submit(request, patient_id, user, None)

    @router.post(f"/{segment}/{{item_id}}", name=f"web_correct_{segment}")
    def correct_item(request: Request, patient_id: str, item_id: int, user: Writer) -> Response:
        return submit(request, patient_id, user, item_id)

    @router.post(f"/{segment}/{{item_id}}/remove", name=f"web_remove_{segment}")
    def remove_item(request: Request, patient_id: str, item_id: int, user: Writer) -> Response:
        return _remove(request, user, patient_id, segment, item_id, form.noun)


def _keep_extras(
    user: WebUser, patient_id: str, section: str, item_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    """A correction keeps the item's other stored fields (its extras), as the API's PUT
    would if the client sent them back."""
    view = patients.get_patient(user.state.store, user.actor, patient_id)
    known = {f.name for form in forms.FORMS.values() for f in form.fields} | {"instrument", "date"}
    stored = _item(view, section, item_id)
    extras = {k: v for k, v in stored.items() if k not in known and k not in ("item_id", "items")}
    return {**extras, **data}


def _remove(
    request: Request, user: WebUser, patient_id: str, segment: str, item_id: int, noun: str
) -> Response:
    state = user.state
    try:
        patients.remove_item(
            state.store,
            user.actor,
            state.kb,
            patient_id,
            segment,
            item_id,
            _version(user),
            user.today,
            adequate_trial_days=state.settings.adequate_trial_days,
        )
    except PreconditionFailed:
        return redirect(
            request,
            _patient_url(patient_id),
            flash="Nothing was removed: the patient was changed by someone else since you opened "
            "the form. Check the history below and try again.",
        )
    except Conflict as exc:  # a record an active course keeps
        return redirect(
            request, _patient_url(patient_id, "history"), flash=f"Nothing was removed: {exc}."
        )
    return redirect(
        request, _patient_url(patient_id, "history"), flash=f"{noun.capitalize()} removed."
    )


for _form in forms.FORMS.values():
    _register(_form)


# --- measurements ------------------------------------------------------------------------


def _instrument(kb: KnowledgeBase, name: str) -> Instrument:
    inst = kb.find_instrument(name) if name else kb.instruments["PHQ-9"]
    if inst is None:
        raise NotFound(f"no instrument {name!r}")
    return inst


def _scale(inst: Instrument) -> str:
    """What the running total needs, as JSON for the page's script."""
    return json.dumps(
        {
            "domains": inst.domains or [[i.number] for i in inst.items],
            "bands": [{"min": b.min, "max": b.max, "label": b.label} for b in inst.bands],
            "max": inst.max_total,
            "suicide_item": inst.suicide_item.item,
            "alert_at": inst.suicide_item.alert_at,
            "remission_max": inst.remission_max,
        }
    )


def _measurement_page(
    request: Request,
    user: WebUser,
    view: dict[str, Any],
    inst: Instrument,
    answers: list[int | None],
    day: str,
    *,
    item_id: int | None,
    version: str | int,
    errors: forms.FieldErrors | None = None,
    stale: str | None = None,
    status: int = 200,
) -> Response:
    base = _patient_url(view["id"])
    given = [a for a in answers if a is not None]
    in_range = all(
        a is not None and i.min <= a <= i.max for i, a in zip(inst.items, answers, strict=False)
    )
    total = instruments.total(inst, given) if in_range and len(given) == inst.item_count else None
    return render(
        request,
        "measurement_form.html",
        {
            "patient": view,
            "inst": inst,
            "instruments": list(user.state.kb.instruments.values()),
            "answers": answers,
            "date": day,
            "total": total,
            "band": instruments.severity(inst, total) if total is not None else None,
            "scale": _scale(inst),
            "errors": errors or forms.FieldErrors(),
            "stale": stale,
            "action": f"{base}/measurements" + (f"/{item_id}" if item_id else ""),
            "item_id": item_id,
            "version": version,
            "today": user.today.isoformat(),
        },
        status=status,
        actor=user.actor,
    )


@router.get("/measurements/new", name="web_new_measurement")
def new_measurement(
    request: Request, patient_id: str, user: Reader, instrument: str = ""
) -> Response:
    user.actor.require_write()
    view = patients.get_patient(user.state.store, user.actor, patient_id)
    inst = _instrument(user.state.kb, instrument)
    answers: list[int | None] = [None] * inst.item_count
    return _measurement_page(
        request,
        user,
        view,
        inst,
        answers,
        user.today.isoformat(),
        item_id=None,
        version=view["version"],
    )


@router.get("/measurements/{item_id}/edit", name="web_edit_measurement")
def edit_measurement(request: Request, patient_id: str, item_id: int, user: Reader) -> Response:
    user.actor.require_write()
    view = patients.get_patient(user.state.store, user.actor, patient_id)
    item = _item(view, "measurements", item_id)
    inst = _instrument(user.state.kb, item["instrument"])
    answers: list[int | None] = list(item["items"])
    return _measurement_page(
        request, user, view, inst, answers, item["date"], item_id=item_id, version=view["version"]
    )


def _submit_measurement(
    request: Request, patient_id: str, user: WebUser, item_id: int | None
) -> Response:
    user.actor.require_write()
    inst = _instrument(user.state.kb, user.field("instrument"))
    values = {k: v for k, v in (user.form or {}).items() if isinstance(v, str)}
    data, answers = forms.measurement_from_form(inst, values)
    if item_id is not None:
        data = _keep_extras(user, patient_id, "measurements", item_id, data)
    try:
        view = _save(user, patient_id, "measurements", data, item_id)
    except (InputError, PreconditionFailed) as exc:
        view = patients.get_patient(user.state.store, user.actor, patient_id)
        common: dict[str, Any] = {"item_id": item_id, "version": user.field("version")}
        if isinstance(exc, PreconditionFailed):
            return _measurement_page(
                request,
                user,
                view,
                inst,
                answers,
                user.field("date"),
                stale=str(exc),
                status=412,
                **common,
            )
        problems = [_unanswered(p, inst, data["items"]) for p in exc.problems]
        fields = {"date": "Date", "items": "Items"} | {
            f"items[{i}]": f"Item {item.number} ({item.label})" for i, item in enumerate(inst.items)
        }
        return _measurement_page(
            request,
            user,
            view,
            inst,
            answers,
            user.field("date"),
            errors=forms.place_problems(problems, fields),
            status=422,
            **common,
        )
    total = instruments.total(inst, [a or 0 for a in answers])
    band = instruments.severity(inst, total).replace("_", " ")
    verb = "corrected" if item_id else "added"
    flag = ""
    if (answers[inst.suicide_item.item - 1] or 0) >= inst.suicide_item.alert_at:
        flag = " The suicide item is positive: assess suicide risk now."
    return redirect(
        request,
        _patient_url(view["id"], "scores"),
        flash=f"{inst.id} of {data.get('date')} {verb}: total {total} ({band}).{flag}",
    )


def _unanswered(problem: Problem, inst: Instrument, submitted: list[Any]) -> Problem:
    """ "Choose an answer" for an item left empty, instead of "expected an integer" (an
    answer given that is not a number keeps the intake's problem, which names it)."""
    for index, answer in enumerate(submitted):
        if problem.path == f"items[{index}]" and answer is None:
            item = inst.items[index]
            return Problem(
                problem.path, None, f"an answer to item {item.number} ({item.label})", missing=True
            )
    return problem


@router.post("/measurements", name="web_add_measurement")
def add_measurement(request: Request, patient_id: str, user: Writer) -> Response:
    return _submit_measurement(request, patient_id, user, None)


@router.post("/measurements/{item_id}", name="web_correct_measurement")
def correct_measurement(request: Request, patient_id: str, item_id: int, user: Writer) -> Response:
    return _submit_measurement(request, patient_id, user, item_id)


@router.post("/measurements/{item_id}/remove", name="web_remove_measurement")
def remove_measurement(request: Request, patient_id: str, item_id: int, user: Writer) -> Response:
    return _remove(request, user, patient_id, "measurements", item_id, "measurement")
