"""The knowledge base as plain JSON (for `trdnav treatments --json` and `GET /knowledge`)."""

from __future__ import annotations

from typing import Any

from trdnav.core.knowledge import KnowledgeBase

__all__ = ["knowledge_json"]


def knowledge_json(kb: KnowledgeBase) -> dict[str, Any]:
    """The whole knowledge base as JSON, treatments first."""
    data = kb.model_dump(mode="json")
    return {
        "version": data["version"],
        "released": data["released"],
        "treatments": list(data["treatments"].values()),
        "drugs": list(data["drugs"].values()),
        "instruments": list(data["instruments"].values()),
        "conditions": list(data["conditions"].values()),
        "rules": list(data["rules"].values()),
        "sources": list(data["sources"].values()),
    }
