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

from trdnav.core.history import PROCEDURE_TYPES, PSYCHOTHERAPY_TYPE_LENGTH
from trdnav.core.knowledge import Instrument, KnowledgeBase
from trdnav.errors import Conflict, InputError, PreconditionRequired, Problem

__all__ = [
    "FORMS",
    "Field",
    "FieldErrors",
    "ItemForm",
    "field_id",
    "measurement_from_form",
    "number_or_text",
    "optional_whole_number",
    "patient_version",
    "place_problems",
    "place_refusal",
    "whole",
    "whole_number",
    "whole_numbers",
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
    max_length: int | None = None


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
    if kind == "integer":
        return number_or_text(raw)
    if kind == "number":
        try:
            return float(raw.replace(",", "."))
        except ValueError:
            return raw
    return raw


# --- whole numbers from forms and query strings -------------------------------------------

MAX_WHOLE = 2**31 - 1
"""The largest whole number a form or address may give (the database's integers are 32-bit
in places; no count, id or version here comes near it)."""
_WHOLE = re.compile(r"[-+]?[0-9]{1,18}")


def whole(raw: str) -> int | None:
    """``raw`` as a whole number: ASCII digits with an optional sign (not "²", "--1",
    "1.0" or a number too long to be meant), or None."""
    text = raw.strip()
    return int(text) if _WHOLE.fullmatch(text) else None


def whole_number(name: str, raw: str, *, minimum: int = 0, maximum: int = MAX_WHOLE) -> int:
    """A required whole number from ``minimum`` to ``maximum``; an :class:`InputError` naming
    the field and the value otherwise."""
    value = whole(raw)
    if value is None or not minimum <= value <= maximum:
        raise InputError([Problem(name, raw, f"a whole number from {minimum} to {maximum}")])
    return value


def optional_whole_number(
    name: str, raw: str, *, minimum: int = 0, maximum: int = MAX_WHOLE
) -> int | None:
    """As :func:`whole_number`, but an empty field is None."""
    return None if not raw.strip() else whole_number(name, raw, minimum=minimum, maximum=maximum)


def whole_numbers(fields: Mapping[str, tuple[str, int, int]]) -> dict[str, int | None]:
    """Optional whole numbers, each given as ``name: (text, minimum, maximum)``; one
    :class:`InputError` naming every field whose text is not such a number."""
    values: dict[str, int | None] = {}
    problems: list[Problem] = []
    for name, (raw, minimum, maximum) in fields.items():
        try:
            values[name] = optional_whole_number(name, raw, minimum=minimum, maximum=maximum)
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    return values


def number_or_text(raw: str) -> int | str | None:
    """A field the core's intake checks: a whole number as a number, an empty field as None
    (missing), anything else as the text given, so the intake names it."""
    text = raw.strip()
    if not text:
        return None
    value = whole(text)
    return text if value is None else value


def patient_version(raw: str) -> int:
    """The patient version a form carries (it is checked against the stored one)."""
    if not raw.strip():
        raise PreconditionRequired(
            "This form did not carry the patient's version, so nothing was changed. Reload the "
            "page and try again."
        )
    value = whole(raw)
    if value is None or not 1 <= value <= MAX_WHOLE:
        expected = "the patient's version as the page gave it (reload the page and try again)"
        raise InputError([Problem("version", raw, expected)])
    return value


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
                    max_length=PSYCHOTHERAPY_TYPE_LENGTH,
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
    (None where an item was not answered or its answer is not a whole number). The
    measurement keeps an answer that is not a whole number as its text, so that the intake
    names it, and an unanswered item as None."""
    items = [
        number_or_text(values.get(f"items[{index}]", "")) for index in range(instrument.item_count)
    ]
    answers = [a if isinstance(a, int) else None for a in items]
    data: dict[str, Any] = {"instrument": instrument.id, "items": items}
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


def place_refusal(
    exc: InputError | Conflict, labels: Mapping[str, str], at: str | None = None
) -> FieldErrors:
    """A refused change: an input error's problems by field, or a conflict's reason as it
    is (it says what clashes, not what was expected) next to field ``at``, else above."""
    if isinstance(exc, InputError):
        return place_problems(exc.problems, labels)
    errors = place_problems([], labels)
    reason = str(exc)
    reason = reason[:1].upper() + reason[1:] + ("" if reason.endswith(".") else ".")
    if at is not None and at in labels:
        errors.by_field[at] = [reason]
    else:
        errors.general.append(reason)
    return errors
