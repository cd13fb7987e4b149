"""Health, the knowledge base, and the problem types."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter

from trdnav.api.deps import StateDep
from trdnav.api.problems import OTHER_TYPES, PROBLEM_TYPES
from trdnav.errors import NotFound
from trdnav.knowledge.export import knowledge_json

router = APIRouter(tags=["meta"])


@router.get("/health", summary="Liveness and database check")
def health(state: StateDep) -> dict[str, Any]:
    state.store.ping()
    return {
        "status": "ok",
        "database": state.store.dialect,
        "knowledge": state.kb.version,
        "process": os.getpid(),
    }


@router.get("/knowledge", summary="The knowledge base: treatments, drugs, instruments, rules")
def knowledge(state: StateDep) -> dict[str, Any]:
    return knowledge_json(state.kb)


@router.get("/problems/{slug}", summary="What a problem type means")
def problem_type(slug: str) -> dict[str, Any]:
    for code, name in PROBLEM_TYPES.items():
        if name == slug:
            return {"type": f"/problems/{slug}", "status": code}
    if slug in OTHER_TYPES:
        return {"type": f"/problems/{slug}", "status": OTHER_TYPES[slug]}
    raise NotFound(f"no problem type {slug!r}")
