"""Import a patient from a file (the core JSON format or a FHIR R4 Bundle): upload, preview
(what will be stored, the FHIR import report, every problem), store."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from trdnav.clinic import accounts, fhir, imports, patients
from trdnav.errors import Conflict, InputError, Problem
from trdnav.web import present
from trdnav.web.deps import Reader, WebUser, Writer
from trdnav.web.pages import redirect, render

router = APIRouter(prefix="/app/import", include_in_schema=False)


def _clinicians(user: WebUser) -> list[Any]:
    """Who may own the patient (administrators choose; a clinician owns what they import)."""
    if user.actor.role != "admin":
        return []
    users = accounts.list_users(user.state.store, user.actor)
    return [u for u in users if u.active and u.role != "viewer"]


def _page(
    request: Request,
    user: WebUser,
    preview: imports.ImportPreview | None,
    *,
    clinician: str = "",
    failed: list[str] | None = None,
    status: int = 200,
) -> Response:
    kb = user.state.kb
    return render(
        request,
        "import.html",
        {
            "preview": preview,
            "formats": [(key, label) for key, (label, _) in imports.READERS.items()],
            "format_label": imports.READERS[preview.format][0]
            if preview and preview.format in imports.READERS
            else "",
            "clinicians": _clinicians(user),
            "clinician": clinician,
            "failed": failed or [],
            "options": present.options(preview.assessment, kb)
            if preview and preview.assessment
            else [],
            "max_mb": imports.MAX_BYTES // (1024 * 1024),
        },
        status=status,
        actor=user.actor,
    )


@router.get("")
def upload_page(request: Request, user: Reader) -> Response:
    user.actor.require_write()
    return _page(request, user, None)


@router.post("/preview")
async def preview(request: Request, user: Writer) -> Response:
    user.actor.require_write()
    upload = user.upload("file")
    if upload is None or not upload.filename:
        reading = imports.ImportPreview(
            format=user.field("format") or "core-json",
            filename="",
            document=None,
            problems=[Problem("file", None, "a file to upload", missing=True)],
            notes=[],
            history=None,
            assessment=None,
        )
        return _page(request, user, reading, status=422)
    data = await upload.read(imports.MAX_BYTES + 1)
    fmt = user.field("format") or None
    return await run_in_threadpool(_preview_page, request, user, data, upload.filename, fmt)


def _preview_page(
    request: Request,
    user: WebUser,
    data: bytes,
    filename: str,
    fmt: str | None,
    *,
    clinician: str = "",
    failed: list[str] | None = None,
    status: int | None = None,
) -> Response:
    state = user.state
    result = imports.preview_import(
        state.store,
        user.actor,
        state.kb,
        data,
        filename,
        user.today,
        fmt=fmt,
        adequate_trial_days=state.settings.adequate_trial_days,
        codes=state.codes,
        fhir_max_mb=state.settings.fhir_max_bundle_mb,
    )
    code = status or (200 if result.can_store and not failed else 422)
    return _page(request, user, result, clinician=clinician, failed=failed, status=code)


@router.post("")
def store(request: Request, user: Writer) -> Response:
    user.actor.require_write()
    text = user.field("document")
    fmt = user.field("format") or "core-json"
    if fmt not in imports.READERS:
        fmt = "core-json"
    clinician = user.field("clinician") or None
    filename = user.field("filename")
    state = user.state
    data = text.encode()
    reading = imports.read_core_json(data)
    if reading.document is None:
        return _preview_page(request, user, data, filename, fmt)
    try:
        if fmt == "fhir-r4":
            view, _ = fhir.import_fhir_patient(
                state.store,
                user.actor,
                state.kb,
                state.codes,
                reading.document,
                user.today,
                clinician=clinician,
                name=filename or "(file)",
                adequate_trial_days=state.settings.adequate_trial_days,
            )
        else:
            view = patients.import_patient(
                state.store,
                user.actor,
                state.kb,
                reading.document,
                user.today,
                clinician=clinician,
                adequate_trial_days=state.settings.adequate_trial_days,
            )
    except (InputError, Conflict) as exc:
        failed = [str(p) for p in exc.problems] if isinstance(exc, InputError) else [str(exc)]
        return _preview_page(
            request,
            user,
            data,
            filename,
            fmt,
            clinician=clinician or "",
            failed=failed,
            status=409 if isinstance(exc, Conflict) else 422,
        )
    name = view["name"] or view["id"]
    return redirect(
        request,
        f"/app/patients/{quote(view['id'], safe='')}",
        flash=f"{name} imported: {len(view['medication_trials'])} trials, "
        f"{len(view['procedures'])} procedures, {len(view['psychotherapy'])} psychotherapy "
        f"courses, {len(view['measurements'])} measurements.",
    )
