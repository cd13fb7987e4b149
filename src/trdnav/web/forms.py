"""Forms for history items: their fields, reading a submitted form into the core's format,
and putting the services' problems next to the fields they name.

Reading is lenient on purpose: text that is not a number stays text, so the core's intake
(the one place that validates) reports it with the field's path and what it expected. An
empty required field is left out, so it is reported as missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from trdnav.core.history import PROCEDURE_TYPES
from trdnav.core.knowledge import Instrument, KnowledgeBase
from trdnav.errors import Problem

__all__ = [
    "FORMS",
    "Field",
    "FieldErrors",
    "ItemForm",
    "field_id",
    "measurement_from_form",
    "place_problems",
]

RESPONSES = (
    ("none", "none (less than 25 % better)"),
    ("partial", "partial (25 to 49 % better)"),
    ("response", "response (50 % better or more)"),
    ("remission", "remission"),
    ("intolerance", "stopped for intolerance"),
    ("unknown", "unknown or too early to say"),
)
PSYCHOTHERAPIES = ("CBT", "behavioural activation", "IPT", "MBCT", "CBASP", "psychodynamic")


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: Literal["text", "number", "integer", "date", "select", "checkbox"]
    required: bool = True
    options: tuple[tuple[str, str], ...] = ()
    hint: str = ""
    datalist: str | None = None


@dataclass(frozen=True)
class ItemForm:
    segment: str
    section: str
    noun: str
    fields: tuple[Field, ...]

    def labels(self) -> dict[str, str]:
        return {f.name: f.label for f in self.fields}

    def read(self, values: Mapping[str, str], checked: set[str]) -> dict[str, Any]:
        """The submitted fields in the core's format (see the module docstring)."""
        out: dict[str, Any] = {}
        for f in self.fields:
            if f.kind == "checkbox":
                out[f.name] = f.name in checked
                continue
            raw = values.get(f.name, "").strip()
            if not raw:
                if not f.required:
                    out[f.name] = None
                continue
            out[f.name] = _convert(f.kind, raw)
        return out

    def values_of(self, item: Mapping[str, Any]) -> dict[str, str]:
        """An item's values as form text (to fill a correction form)."""
        out = {}
        for f in self.fields:
            value = item.get(f.name)
            if f.kind == "checkbox":
                out[f.name] = "on" if value else ""
            elif isinstance(value, float):
                out[f.name] = f"{value:g}"
            else:
                out[f.name] = "" if value is None else str(value)
        return out


def _convert(kind: str, raw: str) -> Any:
    try:
        if kind == "number":
            return float(raw.replace(",", "."))
        if kind == "integer":
            return int(raw)
    except ValueError:
        return raw
    return raw


FORMS: dict[str, ItemForm] = {
    form.segment: form
    for form in (
        ItemForm(
            "trials",
            "medication_trials",
            "medication trial",
            (
                Field(
                    "drug",
                    "Drug",
                    "text",
                    hint="Generic or brand name.",
                    datalist="drug-names",
                ),
                Field("daily_dose_mg", "Daily dose (mg)", "number", hint="25 µg is 0.025."),
                Field("start", "Started", "date"),
                Field("end", "Ended", "date", required=False, hint="Empty while it goes on."),
                Field(
                    "role",
                    "Role",
                    "select",
                    options=(
                        ("antidepressant", "antidepressant"),
                        ("augmentation", "augmentation"),
                    ),
                ),
                Field("response", "Response", "select", options=RESPONSES),
                Field("dose_optimized", "Dose optimised", "checkbox", required=False),
            ),
        ),
        ItemForm(
            "procedures",
            "procedures",
            "procedure",
            (
                Field(
                    "type", "Procedure", "select", options=tuple((p, p) for p in PROCEDURE_TYPES)
                ),
                Field("start", "Started", "date"),
                Field("end", "Ended", "date", required=False, hint="Empty while it goes on."),
                Field("sessions", "Sessions", "integer"),
                Field("response", "Response", "select", options=RESPONSES),
            ),
        ),
        ItemForm(
            "psychotherapy",
            "psychotherapy",
            "psychotherapy course",
            (
                Field(
                    "type",
                    "Therapy",
                    "text",
                    hint="For example CBT or behavioural activation.",
                    datalist="therapy-names",
                ),
                Field("start", "Started", "date"),
                Field("end", "Ended", "date", required=False, hint="Empty while it goes on."),
                Field("sessions", "Sessions", "integer"),
            ),
        ),
    )
}


def drug_names(kb: KnowledgeBase) -> list[str]:
    """Every generic and brand name, for the drug field's suggestions."""
    names = {name for d in kb.drugs.values() for name in (d.id, *d.brands)}
    return sorted(names, key=str.casefold)


def measurement_from_form(
    instrument: Instrument, values: Mapping[str, str]
) -> tuple[dict[str, Any], list[int | None]]:
    """A measurement from the form (fields ``date`` and ``items[0]`` ...), and its answers
    (None where an item was not answered)."""
    answers: list[int | None] = []
    for index in range(instrument.item_count):
        raw = values.get(f"items[{index}]", "").strip()
        answers.append(int(raw) if raw.lstrip("-").isdigit() else None)
    data: dict[str, Any] = {"instrument": instrument.id, "items": answers}
    day = values.get("date", "").strip()
    if day:
        data["date"] = day
    return data, answers


def field_id(path: str) -> str:
    """An element id for a problem path: ``items[8]`` is ``items-8``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", path).strip("-") or "form"


@dataclass
class FieldErrors:
    """Problems by form field (with the fields' labels), and those that name no field."""

    by_field: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.by_field or self.general)

    def label(self, name: str) -> str:
        return self.labels.get(name, name)


def _message(problem: Problem) -> str:
    if problem.missing:
        return f"Missing: {problem.expected}."
    if problem.value is None or problem.value == "":
        return f"Expected {problem.expected}."
    return f"Expected {problem.expected}; got {problem.value!r}."


def place_problems(problems: Iterable[Problem], labels: Mapping[str, str]) -> FieldErrors:
    """Each problem next to the field its path names (a key of ``labels``); the rest in
    ``general``."""
    errors = FieldErrors(labels=dict(labels))
    found: dict[str, list[str]] = {}
    for p in problems:
        if p.path in labels:
            found.setdefault(p.path, []).append(_message(p))
        else:
            errors.general.append(str(p))
    # in the order of the form's fields, as the summary above the form lists them
    errors.by_field = {name: found[name] for name in labels if name in found}
    return errors
