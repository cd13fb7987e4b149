"""Sign in, and who am I."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from trdnav.api.bodies import Text
from trdnav.api.deps import ActorDep, StateDep
from trdnav.clinic import accounts
from trdnav.remote import client_address

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginRequest(BaseModel):
    email: Text = Field(min_length=1, max_length=254)
    password: Text = Field(min_length=1, max_length=1024)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    user: dict[str, Any]


@router.post("/login", summary="Sign in with e-mail and password; returns a bearer token")
def login(body: LoginRequest, request: Request, state: StateDep) -> TokenOut:
    remote = client_address(request)
    result = accounts.authenticate(state.store, state.settings, body.email, body.password, remote)
    user = result.user
    return TokenOut(
        access_token=result.token,
        expires_in=result.expires_in,
        user={
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "role": user.role,
            "clinic_id": user.clinic_id,
        },
    )


@router.get("/me", summary="The signed-in user")
def me(actor: ActorDep) -> dict[str, Any]:
    return {
        "id": actor.user_id,
        "email": actor.email,
        "role": actor.role,
        "clinic_id": actor.clinic_id,
    }
