"""Read FHIR resources from files: Bundles (``.json``), single resources, and bulk-data NDJSON.

A PATH is a file or a folder; a folder is searched recursively for ``*.json`` and ``*.ndjson``
files, in name order. A ``.json`` file holds a Bundle (its ``entry[].resource``) or a single
resource; an ``.ndjson`` file holds one resource per line. Problems (a missing path, invalid
JSON, a JSON value that is not a resource) are collected over every file and raised together
as one :class:`~trdnav.errors.InputError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from trdnav import json_text
from trdnav.core.intake import json_kind
from trdnav.errors import InputError, Problem
from trdnav.fhir.resources import Located

__all__ = ["document_resources", "files_of", "is_ndjson", "ndjson_resources", "read_resources"]

SUFFIXES = (".json", ".ndjson")
"""The file names read, whatever their case (``BULK.NDJSON``)."""


def is_ndjson(path: str | Path) -> bool:
    """Whether a file is read as NDJSON (one resource a line): its name ends ``.ndjson``,
    in any case."""
    return Path(path).suffix.lower() == ".ndjson"


def files_of(paths: Iterable[str | Path], problems: list[Problem]) -> list[Path]:
    """The files named by ``paths``, folders expanded; a problem for each unusable path."""
    out: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()
            )
            if not found:
                problems.append(
                    Problem("PATH", str(given), "a folder holding .json or .ndjson FHIR files")
                )
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            problems.append(Problem("PATH", str(given), "an existing file or folder"))
    return out


def _json(text: str, where: str, problems: list[Problem]) -> Any:
    try:
        return json_text.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(
            Problem(f"{where} (line {exc.lineno}, column {exc.colno})", exc.msg, "valid JSON")
        )
    except json_text.TooDeep as exc:
        expected = f"JSON nested at most {json_text.MAX_DEPTH} levels"
        problems.append(Problem(where, str(exc), expected))
    return None


def ndjson_resources(path: Path, problems: list[Problem]) -> Iterator[Located]:
    """The resources of a bulk-data NDJSON file, one line at a time (constant memory)."""
    name = str(path)
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    value = _json(line, f"{name} line {number}", problems)
                    if value is not None:
                        yield Located(value, f"{name} line {number}", group=name)
    except UnicodeDecodeError:
        problems.append(Problem(name, None, "a UTF-8 encoded NDJSON file"))
    except OSError as exc:
        problems.append(Problem(name, exc.strerror, "a readable file"))


def document_resources(data: Any, name: str, problems: list[Problem]) -> Iterator[Located]:
    """The resources of a parsed JSON document: a Bundle's ``entry[].resource``, or the
    document itself when it is a single resource."""
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        problems.append(Problem(name, _kind(data), "a FHIR Bundle or resource (resourceType)"))
        return
    if data["resourceType"] != "Bundle":
        yield Located(data, name, group=name)
        return
    entries = data.get("entry", [])
    if not isinstance(entries, list):
        problems.append(Problem(f"{name}: entry", _kind(entries), "an array of entries"))
        return
    for index, entry in enumerate(entries):
        where = f"{name}: entry[{index}]"
        if not isinstance(entry, dict):
            problems.append(Problem(where, _kind(entry), "a Bundle entry object"))
            continue
        if "resource" not in entry:
            continue  # an entry without a resource (a request or response only)
        full_url = entry.get("fullUrl")
        yield Located(
            entry["resource"],
            f"{where}.resource",
            full_url if isinstance(full_url, str) else None,
            group=name,
        )


def _from_file(path: Path, problems: list[Problem]) -> Iterator[Located]:
    name = str(path)
    if is_ndjson(path):
        yield from ndjson_resources(path, problems)
        return
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.append(Problem(name, None, "a UTF-8 encoded JSON file"))
        return
    except OSError as exc:
        problems.append(Problem(name, exc.strerror, "a readable file"))
        return
    data = _json(text, name, problems)
    if data is None:
        return
    yield from document_resources(data, name, problems)


def _kind(value: Any) -> str:
    """A short description of a JSON value, for messages about whole documents."""
    if isinstance(value, dict):
        return "an object without resourceType"
    return json_kind(value)


def read_resources(paths: Iterable[str | Path]) -> list[Located]:
    """Every resource in the files and folders ``paths``, with where it was found."""
    problems: list[Problem] = []
    found: list[Located] = []
    for path in files_of(paths, problems):
        found.extend(_from_file(path, problems))
    if problems:
        raise InputError(problems)
    return found
