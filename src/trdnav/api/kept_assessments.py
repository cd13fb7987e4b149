"""A short way to the kept assessments: ``GET /patients/{id}/assessment`` answered from the
assessments kept per patient version (:mod:`trdnav.clinic.assessment_cache`) before the
request reaches the framework's routing and dependencies.

Only the plain case takes it: a bearer token that resolves to an active user, at most an
``as_of`` date in the query, and an assessment kept for the patient's current version. The
same functions as the route decide (:func:`trdnav.clinic.accounts.resolve_token_on`,
:func:`trdnav.clinic.patients.kept_assessment_json_on`), in one transaction, and the read is
audited the same way. Anything else (no token or a bad one, another clinic's or an unknown
patient, a query it does not read, nothing kept) goes on to the route, which answers it,
errors included. The work runs in one worker thread, as the route's does.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from anyio import to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from trdnav.api.state import AppState
from trdnav.clinic import accounts, patients
from trdnav.errors import TrdnavError

__all__ = ["KeptAssessments"]

_PATH = re.compile(r"/patients/([A-Za-z0-9._~-]{1,64})/assessment")
_QUERY = re.compile(rb"(?:as_of=(\d{4}-\d{2}-\d{2}))?")


class KeptAssessments:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path = _PATH.fullmatch(scope["path"])
            if path is not None:
                body = await self._kept(scope, path.group(1))
                if body is not None:
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [
                                (b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)

    async def _kept(self, scope: Scope, patient_id: str) -> bytes | None:
        state: AppState = scope["app"].state.trdnav
        cache = state.assessments
        query = _QUERY.fullmatch(scope["query_string"])
        token = _bearer(scope["headers"])
        if not cache.size or query is None or token is None:
            return None
        try:
            given = date.fromisoformat(query.group(1).decode()) if query.group(1) else None
        except ValueError:
            return None
        client = scope.get("client")
        request_id = scope.get("state", {}).get("request_id")

        def lookup() -> bytes | None:
            # the token's user, the patient's version and the audit record: one transaction
            with state.store.engine.begin() as connection:
                try:
                    actor = accounts.resolve_token_on(
                        connection,
                        state.token_key(),
                        token,
                        client[0] if client else None,
                        request_id,
                    )
                except TrdnavError:
                    return None  # the route refuses it, with its problem details
                as_of = given or state.today(actor)
                return patients.kept_assessment_json_on(
                    connection,
                    actor,
                    state.kb,
                    patient_id,
                    as_of,
                    state.settings.adequate_trial_days,
                    cache=cache,
                )

        return await to_thread.run_sync(lookup)


def _bearer(headers: list[tuple[bytes, Any]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = bytes(value).decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None
