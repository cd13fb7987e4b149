"""Read and validate the quality-measure data files.

Layout of ``data/measures/``::

    valuesets.yaml   the value-set expansions: name, OID, URL, version, codes per system
    <id>.yaml        one measure: identity (URL, version, steward, populations, source) and
                     its configuration (parameters, value sets by OID, codes, statuses)

A measure file's configuration is validated by the model of that measure's logic
(:data:`trdnav.measures.registry.LOGIC`); every OID must name a value set whose ``used_by``
lists the measure. Errors name the file and the field.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trdnav.errors import KnowledgeError, Problem, UnknownName, format_path
from trdnav.knowledge.loader import DATA_DIR, _read
from trdnav.measures.measure import Measure, MeasureInfo
from trdnav.measures.registry import LOGIC
from trdnav.measures.terminology import ValueSet

__all__ = ["MEASURES_DIR", "build_measure", "load_measure", "load_value_sets", "measure_ids"]

MEASURES_DIR = DATA_DIR / "measures"
VALUE_SETS_FILE = "valuesets.yaml"
CONFIG_KEYS = ("parameters", "value_sets", "codes", "statuses")


def _errors(file: str, exc: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[str]:
    return [
        f"{file}: {format_path([*prefix, *err['loc']])}: {err['msg']}"
        for err in exc.errors(include_url=False)
    ]


def load_value_sets(folder: Path = MEASURES_DIR) -> dict[str, ValueSet]:
    """The value sets of ``valuesets.yaml``, by OID."""
    data = _read(folder / VALUE_SETS_FILE)
    items = data.get("value_sets") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise KnowledgeError([f"{VALUE_SETS_FILE}: expected a top-level 'value_sets' list"])
    problems: list[str] = []
    found: dict[str, ValueSet] = {}
    for index, item in enumerate(items):
        try:
            vs = ValueSet.model_validate(item)
        except ValidationError as exc:
            problems += _errors(VALUE_SETS_FILE, exc, ("value_sets", index))
            continue
        where = f"{VALUE_SETS_FILE}: value_sets[{index}]"
        if vs.oid in found:
            problems.append(f"{where}: duplicate OID {vs.oid}")
        if not vs.url.endswith("/" + vs.oid):
            problems.append(f"{where}: url {vs.url} does not end with its OID {vs.oid}")
        for system, codes in vs.codes.items():
            if len(set(codes)) != len(codes):
                problems.append(f"{where}: duplicate codes in {system}")
        found[vs.oid] = vs
    if problems:
        raise KnowledgeError(problems)
    return found


def measure_ids(folder: Path = MEASURES_DIR) -> list[str]:
    """The ids of the measure files in ``folder``, sorted."""
    return sorted(p.stem for p in folder.glob("*.yaml") if p.name != VALUE_SETS_FILE)


def _oids(value_sets: Any) -> list[str]:
    if not isinstance(value_sets, dict):
        return []
    return [oid for oids in value_sets.values() if isinstance(oids, list) for oid in oids]


def build_measure(measure_id: str, folder: Path = MEASURES_DIR) -> Measure:
    """Validate ``<measure_id>.yaml`` in ``folder`` with its value sets (no caching)."""
    file = f"measures/{measure_id}.yaml"
    data = _read(folder / f"{measure_id}.yaml")
    if not isinstance(data, dict):
        raise KnowledgeError([f"{file}: expected a mapping"])
    logic = LOGIC.get(measure_id)
    if logic is None:
        raise KnowledgeError([f"{file}: no measure logic is named {measure_id!r}"])
    if data.get("id") != measure_id:
        raise KnowledgeError([f"{file}: id: expected {measure_id!r}, the file's name"])
    value_sets = load_value_sets(folder)
    problems = [
        f"{file}: value_sets: {oid} is not marked used_by {measure_id} in {VALUE_SETS_FILE}"
        for oid in _oids(data.get("value_sets"))
        if oid in value_sets and measure_id not in value_sets[oid].used_by
    ]
    info_part = {k: v for k, v in data.items() if k not in CONFIG_KEYS}
    config_part = {k: v for k, v in data.items() if k in CONFIG_KEYS}
    try:
        info = MeasureInfo.model_validate(info_part)
    except ValidationError as exc:
        problems += _errors(file, exc)
    try:
        config = logic.config.model_validate(config_part, context={"value_sets": value_sets})
    except ValidationError as exc:
        problems += _errors(file, exc)
    if problems:
        raise KnowledgeError(problems)
    try:
        return Measure(info=info, logic=logic, config=config)
    except ValueError as exc:
        raise KnowledgeError([f"{file}: {exc}"]) from None


@cache
def load_measure(measure_id: str, folder: Path = MEASURES_DIR) -> Measure:
    """The measure ``measure_id`` (``cms159``, ``cms2``), loaded once; an unknown id is an
    :class:`~trdnav.errors.UnknownName` naming the known ones."""
    if not folder.is_dir():
        raise KnowledgeError([f"{folder}: the folder of measure data files is missing"])
    known = measure_ids(folder)
    if measure_id not in known:
        raise UnknownName([Problem("MEASURE", measure_id, "one of " + ", ".join(known))])
    return build_measure(measure_id, folder)
