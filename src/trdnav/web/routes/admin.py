"""Administration pages: the clinic's calendar settings and its users (administrators)."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

import holidays
from fastapi import APIRouter, Request
from fastapi.responses import Response

from trdnav.clinic import accounts, courses
from trdnav.core.course_templates import WEEKDAYS
from trdnav.errors import Conflict, InputError, Problem
from trdnav.store.tables import ROLES
from trdnav.web import forms
from trdnav.web.deps import Reader, WebUser, Writer
from trdnav.web.pages import redirect, render

router = APIRouter(prefix="/app", include_in_schema=False)

SETTING_LABELS = {
    "timezone": "Time zone",
    "holiday_country": "Public holidays of",
    "holiday_subdivision": "State or region",
    "closures": "Closure days",
    "working_days": "Working days",
}


def _settings_page(
    request: Request,
    user: WebUser,
    values: dict[str, Any] | None = None,
    errors: forms.FieldErrors | None = None,
    status: int = 200,
) -> Response:
    current = courses.clinic_settings(user.state.store, user.actor, user.state.settings)
    shown = values or {
        **current,
        "closures": "\n".join(current["closures"]),
        "holiday_country": current["holiday_country"] or "",
        "holiday_subdivision": current["holiday_subdivision"] or "",
    }
    countries = holidays.list_supported_countries()
    return render(
        request,
        "settings.html",
        {
            "clinic": current["name"],
            "values": shown,
            "errors": errors or forms.FieldErrors(),
            "timezones": sorted(available_timezones()),
            "countries": sorted(countries),
            "weekdays": WEEKDAYS,
            "replanned": courses.replanned_courses(
                user.state.store, user.actor, user.state.settings
            ),
            "replan_days": courses.REPLAN_DAYS,
        },
        status=status,
        actor=user.actor,
    )


@router.get("/settings")
def settings_page(request: Request, user: Reader) -> Response:
    user.actor.require_admin()
    return _settings_page(request, user)


@router.post("/settings")
def change_settings(request: Request, user: Writer) -> Response:
    user.actor.require_admin()
    closures = [line.strip() for line in user.field("closures").splitlines() if line.strip()]
    changes: dict[str, Any] = {
        "timezone": user.field("timezone"),
        "holiday_country": user.field("holiday_country") or None,
        "holiday_subdivision": user.field("holiday_subdivision") or None,
        "closures": closures,
        "working_days": user.fields("working_days"),
    }
    try:
        saved = courses.update_clinic_settings(
            user.state.store, user.actor, user.state.settings, user.state.kb, changes
        )
    except InputError as exc:
        problems = [
            Problem("closures", p.value, p.expected) if p.path.startswith("closures[") else p
            for p in exc.problems
        ]
        values = {**changes, "closures": user.field("closures")}
        values["holiday_country"] = changes["holiday_country"] or ""
        values["holiday_subdivision"] = changes["holiday_subdivision"] or ""
        errors = forms.place_problems(problems, SETTING_LABELS)
        return _settings_page(request, user, values, errors, status=422)
    return redirect(request, "/app/settings", flash=_saved_message(saved["replanned"]))


SHOWN_COURSES = 5
"""How many re-planned courses the message after saving names (it travels in the session
cookie); the settings page lists them all."""


def _saved_message(replanned: list[dict[str, Any]]) -> str:
    if not replanned:
        return "Clinic settings saved."
    named = [
        f"{c['template']} for {c['patient_id']} ({len(c['sessions'])} sessions moved)"
        for c in replanned[:SHOWN_COURSES]
    ]
    more = len(replanned) - SHOWN_COURSES
    tail = f" and {more} more" if more > 0 else ""
    return (
        f"Clinic settings saved. {len(replanned)} active course"
        f"{'s' * (len(replanned) != 1)} had sessions on days now closed and "
        f"{'were' if len(replanned) != 1 else 'was'} planned again: "
        + "; ".join(named)
        + tail
        + ". Tell the patients: the list below has their new dates."
    )


def _users_page(
    request: Request,
    user: WebUser,
    *,
    values: dict[str, str] | None = None,
    errors: forms.FieldErrors | None = None,
    password: tuple[str, str] | None = None,
    status: int = 200,
) -> Response:
    users = accounts.list_users(user.state.store, user.actor)
    return render(
        request,
        "users.html",
        {
            "users": users,
            "roles": ROLES,
            "values": values or {"email": "", "name": "", "role": "clinician"},
            "errors": errors or forms.FieldErrors(),
            "password": password,
        },
        status=status,
        actor=user.actor,
    )


@router.get("/users")
def users_page(request: Request, user: Reader) -> Response:
    user.actor.require_admin()
    return _users_page(request, user)


@router.post("/users")
def add_user(request: Request, user: Writer) -> Response:
    user.actor.require_admin()
    values = {k: user.field(k) for k in ("email", "name", "role")}
    typed = user.field("password")
    password = typed or accounts.generate_password()
    try:
        added = accounts.add_user(
            user.state.store,
            user.actor,
            email=values["email"],
            name=values["name"],
            role=values["role"],
            password=password,
        )
    except (InputError, Conflict) as exc:
        labels = {"email": "E-mail", "name": "Name", "role": "Role", "password": "Password"}
        errors = forms.place_refusal(exc, labels, "email")
        return _users_page(request, user, values=values, errors=errors, status=422)
    shown = None if typed else (added.email, password)
    # the generated password is shown once, on this page (never put in a cookie or a URL)
    return _users_page(request, user, password=shown)


def _target(user: WebUser, email: str) -> str:
    if email.strip().lower() == (user.actor.email or "").lower():
        raise InputError(
            [Problem("email", email, "another user: you cannot disable or reset yourself here")]
        )
    return email


@router.post("/users/{email}/active")
def set_active(request: Request, email: str, user: Writer) -> Response:
    user.actor.require_admin()
    active = user.field("active") == "yes"
    try:
        changed = accounts.set_active(user.state.store, user.actor, _target(user, email), active)
    except InputError as exc:
        return _users_page(
            request,
            user,
            errors=forms.FieldErrors(general=[str(p) for p in exc.problems]),
            status=422,
        )
    state = "enabled" if active else "disabled; their sessions have ended"
    return redirect(request, "/app/users", flash=f"{changed.email} {state}.")


@router.post("/users/{email}/password")
def reset_password(request: Request, email: str, user: Writer) -> Response:
    user.actor.require_admin()
    password = accounts.generate_password()
    try:
        changed = accounts.set_password(
            user.state.store, user.actor, _target(user, email), password
        )
    except InputError as exc:
        return _users_page(
            request,
            user,
            errors=forms.FieldErrors(general=[str(p) for p in exc.problems]),
            status=422,
        )
    return _users_page(request, user, password=(changed.email, password))
