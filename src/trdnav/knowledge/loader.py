"""Read and validate the knowledge data files.

Layout of a knowledge folder::

    manifest.yaml       version, release date, and the order of the treatment files
    sources.yaml        every citation, by id
    rules.yaml          every rule: id, title, statement, parameters, sources
    conditions.yaml     the condition vocabulary of patient histories
    drugs.yaml          antidepressants and augmentation agents with adequate doses
    instruments.yaml    rating scales: items, scoring, bands, remission, suicide item
    treatments/*.yaml   one file per treatment option
    courses.yaml        course templates and the session parameters they record
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from trdnav.core.knowledge import KnowledgeBase
from trdnav.errors import KnowledgeError, format_path

__all__ = ["DATA_DIR", "load_knowledge"]

DATA_DIR = Path(__file__).parent / "data"


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available


def _read(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_Loader)
    except FileNotFoundError:
        raise KnowledgeError([f"{path.name}: file is missing"]) from None
    except yaml.YAMLError as exc:
        raise KnowledgeError([f"{path.name}: not valid YAML: {exc}"]) from None


def _by_id(path: Path, key: str) -> dict[str, Any]:
    data = _read(path)
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise KnowledgeError([f"{path.name}: expected a top-level '{key}' list"])
    out: dict[str, Any] = {}
    for index, item in enumerate(items):
        item_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(item_id, str):
            raise KnowledgeError([f"{path.name}: {key}[{index}] has no string 'id'"])
        if item_id in out:
            raise KnowledgeError([f"{path.name}: duplicate id {item_id!r}"])
        out[item_id] = item
    return out


def _raw(folder: Path) -> dict[str, Any]:
    manifest = _read(folder / "manifest.yaml")
    if not isinstance(manifest, dict):
        raise KnowledgeError(["manifest.yaml: expected a mapping"])
    treatments: dict[str, Any] = {}
    for name in manifest.get("treatments", []):
        data = _read(folder / "treatments" / f"{name}.yaml")
        if not isinstance(data, dict):
            raise KnowledgeError([f"treatments/{name}.yaml: expected a mapping"])
        treatments[str(data.get("id", name))] = data
    return {
        "version": manifest.get("version"),
        "released": manifest.get("released"),
        "sources": _by_id(folder / "sources.yaml", "sources"),
        "rules": _by_id(folder / "rules.yaml", "rules"),
        "conditions": _by_id(folder / "conditions.yaml", "conditions"),
        "drugs": _by_id(folder / "drugs.yaml", "drugs"),
        "instruments": _by_id(folder / "instruments.yaml", "instruments"),
        "treatments": treatments,
        "courses": _by_id(folder / "courses.yaml", "templates"),
        "parameters": _by_id(folder / "courses.yaml", "parameters"),
    }


def _describe(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors(include_url=False):
        loc = list(err["loc"])
        where = format_path(loc)
        if loc and loc[0] in {"sources", "rules", "conditions", "drugs", "instruments"}:
            where = f"{loc[0]}.yaml: " + format_path(loc[1:])
        elif loc and loc[0] in {"courses", "parameters"}:
            where = "courses.yaml: " + format_path(loc[1:])
        elif len(loc) > 1 and loc[0] == "treatments":
            where = f"treatments/{loc[1]}.yaml: " + format_path(loc[2:])
        lines.append(f"{where}: {err['msg']}")
    return lines


def build_knowledge(folder: Path) -> KnowledgeBase:
    """Validate the knowledge data in ``folder`` (no caching)."""
    try:
        return KnowledgeBase.model_validate(_raw(folder))
    except ValidationError as exc:
        raise KnowledgeError(_describe(exc)) from None


@cache
def load_knowledge(folder: Path = DATA_DIR) -> KnowledgeBase:
    """The knowledge base in ``folder`` (the packaged data by default), loaded once."""
    return build_knowledge(folder)
