"""Dependencies of the routes, as ``Annotated`` aliases."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from trdnav.api.state import AppState
from trdnav.clinic import accounts
from trdnav.clinic.actor import Actor
from trdnav.errors import InputError, NotAuthenticated, PreconditionRequired, Problem
from trdnav.remote import client_address

__all__ = ["ActorDep", "IfMatchDep", "StateDep"]

_bearer = HTTPBearer(auto_error=False, description="Token from POST /auth/login.")


async def get_state(request: Request) -> AppState:
    # async: a lookup, so it runs on the event loop rather than taking a worker thread.
    state: AppState = request.app.state.trdnav
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def current_actor(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("sign in first: send 'Authorization: Bearer <token>'")
    return accounts.resolve_token(
        state.store,
        state.token_key(),
        credentials.credentials,
        client_address(request),
        getattr(request.state, "request_id", None),
    )


ActorDep = Annotated[Actor, Depends(current_actor)]

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


def if_match(
    if_match: Annotated[
        str | None,
        Header(description='The patient version you saw (its ETag), e.g. "3".'),
    ] = None,
) -> int | None:
    if if_match is None:
        return None
    if if_match.strip() == "*":
        raise PreconditionRequired("If-Match: * is not accepted; send the patient's ETag")
    found = _ETAG.match(if_match)
    if found is None:
        raise InputError([Problem("If-Match", if_match, 'an ETag such as "3"')])
    return int(found.group(1))


IfMatchDep = Annotated[int | None, Depends(if_match)]
