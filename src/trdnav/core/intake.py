"""Turn untrusted data (parsed JSON) into a :class:`PatientHistory`, or say what is wrong.

Every section and every list element is checked on its own, so one run reports every
problem in the document, each with its field path, the value found and what was
expected. Names are resolved against the knowledge base: an unknown drug, condition or
instrument is an error with the closest known names suggested, because a misspelt
condition could hide a contraindication.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from functools import cache
from types import SimpleNamespace
from typing import Any, TypeVar

from pydantic import BaseModel, StrictInt, TypeAdapter, ValidationError

from trdnav.core.history import (
    STORED,
    Episode,
    IsoDate,
    Measurement,
    MedicationTrial,
    Name,
    Patient,
    PatientHistory,
    Procedure,
    PsychotherapyCourse,
    RecordId,
)
from trdnav.core.knowledge import Drug, Instrument, KnowledgeBase
from trdnav.core.nesting import MAX_DEPTH, too_deep
from trdnav.errors import InputError, Problem, format_path

__all__ = [
    "check_as_of",
    "dated_after",
    "json_kind",
    "parse_history",
    "problems_from_errors",
    "problems_from_validation_error",
    "records_before_birth",
    "stored_history",
]

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]

_EXPECTED_BY_TYPE = {
    "missing": "a value (this field is required)",
    "string_type": "a string",
    "string_too_short": "a non-empty string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "model_type": "an object",
    "dict_type": "an object",
    "model_attributes_type": "an object",
    "finite_number": "a finite number",
    "string_unicode": "text without NUL characters or unpaired surrogate escapes (such as \\ud800)",
}

_LIST_SECTIONS: dict[str, type[BaseModel]] = {
    "medication_trials": MedicationTrial,
    "psychotherapy": PsychotherapyCourse,
    "procedures": Procedure,
    "measurements": Measurement,
}


@cache
def _adapter(kind: str) -> TypeAdapter[Any]:
    types: dict[str, Any] = {
        "id": RecordId,
        "date": IsoDate,
        "name": Name,
        "names": list[Name],
        "items": list[StrictInt],
    }
    return TypeAdapter(types[kind])


def problems_from_validation_error(exc: ValidationError, prefix: Loc = ()) -> list[Problem]:
    """One :class:`Problem` per pydantic error, with the path rooted at ``prefix``."""
    return problems_from_errors(exc.errors(include_url=False), prefix)


def problems_from_errors(errors: Iterable[Mapping[str, Any]], prefix: Loc = ()) -> list[Problem]:
    """Problems from pydantic-style error dicts (``loc``, ``type``, ``msg``, ``input``)."""
    problems = []
    for err in errors:
        loc = prefix + tuple(err["loc"])
        kind = err["type"]
        ctx = err.get("ctx") or {}
        # a text's length is checked as a string's, or (after a validator) as any value's
        too_long = kind in ("string_too_long", "too_long") and isinstance(err.get("input"), str)
        if kind in _EXPECTED_BY_TYPE:
            expected = _EXPECTED_BY_TYPE[kind]
        elif kind == "literal_error":
            expected = f"one of {ctx.get('expected', '')}"
        elif kind == "greater_than":
            expected = f"a number greater than {ctx.get('gt')}"
        elif kind == "greater_than_equal":
            expected = f"a number of at least {ctx.get('ge')}"
        elif kind == "less_than_equal":
            expected = f"a number of at most {ctx.get('le')}"
        elif too_long:
            expected = f"a text of at most {ctx.get('max_length')} characters"
        else:
            expected = err["msg"].removeprefix("Value error, ").removeprefix("expected ")
        missing = kind == "missing"
        # pydantic's input of a missing field is the object that lacks it: never echo it
        value = None if missing else err.get("input")
        if too_long:  # its length is what is wrong, not its text
            value = f"{ctx.get('actual_length', len(err['input']))} characters"
        problems.append(Problem(format_path(loc), value, expected, missing=missing))
    return problems


# Other names of a field, written without case or separators ("stop_date" is "stopdate").
_OTHER_NAMES = {
    "end": ("stop", "stopped", "ended", "finish", "finished"),
    "start": ("begin", "began", "started"),
    "daily_dose_mg": ("dose", "dosemg", "dailydose"),
}
_DATE_SUFFIXES = ("", "date", "day", "on", "at")
# The date fields of the history's records: only these are also meant with a date suffix
# (``response_date`` is not ``response``).
_DATE_FIELDS = frozenset({"start", "end", "onset", "birth_date", "as_of", "date"})


def _plain(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def _meant_field(key: str, fields: list[str]) -> str | None:
    """The known field that ``key`` probably means: a near spelling (``conditons``), the
    same name in another case or with other separators (``birthDate``), with a date suffix
    (``end_date``, ``onset_day``) or under another usual name (``stop_date`` for ``end``)."""
    close = difflib.get_close_matches(key, fields, n=1, cutoff=0.8)
    if close:
        return close[0]
    plain = _plain(key)
    for name in fields:
        suffixes = _DATE_SUFFIXES if name in _DATE_FIELDS else ("",)
        for stem in (_plain(name), *_OTHER_NAMES.get(name, ())):
            if any(plain == stem + suffix for suffix in suffixes):
                return name
    return None


def _misspelt_fields(data: Mapping[str, Any], model: type[BaseModel], loc: Loc) -> list[Problem]:
    """Unknown keys that probably mean a known field: typos or other names, whose data
    would otherwise be kept as an extra field and not read."""
    fields = list(model.model_fields)
    problems = []
    for key in data:
        if key in fields:
            continue
        meant = _meant_field(str(key), fields)
        if meant:
            problems.append(
                Problem(
                    format_path((*loc, str(key))),
                    data[key],
                    f"a known field; did you mean {meant!r}?",
                )
            )
    return problems


def _validate(
    model: type[M],
    data: Any,
    loc: Loc,
    problems: list[Problem],
    context: dict[str, Any] | None = None,
) -> M | None:
    if isinstance(data, Mapping):
        problems.extend(_misspelt_fields(data, model, loc))
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        problems.extend(problems_from_validation_error(exc, loc))
        return None


def _validate_value(
    adapter: TypeAdapter[Any],
    data: Mapping[str, Any],
    key: str,
    problems: list[Problem],
    context: dict[str, Any] | None = None,
) -> Any:
    if key not in data:
        problems.append(Problem(key, None, "a value (this field is required)", missing=True))
        return None
    try:
        return adapter.validate_python(data[key], context=context)
    except ValidationError as exc:
        problems.extend(problems_from_validation_error(exc, (key,)))
        return None


def _unencodable_text(data: Any) -> list[Problem]:
    """Strings holding an unpaired surrogate, such as JSON's ``"\\ud800"`` (they cannot be
    written as UTF-8), or a NUL character (``"\\u0000"``, which PostgreSQL cannot store):
    such a document could be neither stored nor shown. Every field is checked, the ones the
    format ignores too (they are kept with the history); a field name is reported at the
    object that has it."""
    expected = _EXPECTED_BY_TYPE["string_unicode"]
    problems = []
    stack: list[tuple[Loc, Any]] = [((), data)]
    while stack:  # not recursive: the nesting depth is the sender's to choose
        loc, value = stack.pop()
        if isinstance(value, Mapping):
            for key, item in value.items():
                if _unencodable(key):
                    problems.append(Problem(format_path(loc), key, expected))
                else:
                    stack.append(((*loc, str(key)), item))
        elif isinstance(value, list):
            stack.extend(((*loc, index), item) for index, item in enumerate(value))
        elif _unencodable(value):
            problems.append(Problem(format_path(loc), value, expected))
    return sorted(problems, key=lambda p: p.path)


def _unique(problems: list[Problem]) -> list[Problem]:
    """Each problem once (a string that is not Unicode is also refused by its field's type)."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for problem in problems:
        if (problem.path, problem.expected) not in seen:
            seen.add((problem.path, problem.expected))
            unique.append(problem)
    return unique


def _unencodable(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if "\x00" in value:  # not text either: PostgreSQL refuses to store it
        return True
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _suggest(names: list[str]) -> str:
    return f" (did you mean {', '.join(repr(n) for n in names)}?)" if names else ""


def _check_dates(record: Any, loc: Loc, problems: list[Problem]) -> None:
    end = getattr(record, "end", None)
    if end is not None and end < record.start:
        problems.append(
            Problem(
                format_path((*loc, "end")),
                end.isoformat(),
                f"a date on or after the start ({record.start.isoformat()})",
            )
        )


def _find_drug(name: str, loc: Loc, kb: KnowledgeBase, problems: list[Problem]) -> Drug | None:
    drug = kb.find_drug(name)
    if drug is None:
        problems.append(
            Problem(
                format_path((*loc, "drug")),
                name,
                "a drug known to the knowledge base (generic, synonym or brand name)"
                + _suggest(kb.close_drug_names(name)),
            )
        )
    return drug


def _resolve_trial(
    trial: MedicationTrial, loc: Loc, kb: KnowledgeBase, problems: list[Problem]
) -> MedicationTrial:
    _check_dates(trial, loc, problems)
    drug = _find_drug(trial.drug, loc, kb, problems)
    if drug is None or trial.drug == drug.id:
        return trial
    return trial.model_copy(update={"drug": drug.id})


def _check_scores(
    name: str, items: list[int], loc: Loc, kb: KnowledgeBase, problems: list[Problem]
) -> Instrument | None:
    """The instrument named, after checking the item count and each item's range."""
    inst = kb.find_instrument(name)
    if inst is None:
        known = ", ".join(kb.instruments)
        problems.append(
            Problem(
                format_path((*loc, "instrument")),
                name,
                f"one of {known}" + _suggest(kb.close_instrument_names(name)),
            )
        )
        return None
    if len(items) != inst.item_count:
        problems.append(
            Problem(
                format_path((*loc, "items")),
                items,
                f"{inst.item_count} item scores for {inst.id} (got {len(items)})",
            )
        )
    for index, (value, item) in enumerate(zip(items, inst.items, strict=False)):
        if not item.min <= value <= item.max:
            problems.append(
                Problem(
                    format_path((*loc, "items", index)),
                    value,
                    f"an integer from {item.min} to {item.max} "
                    f"({inst.id} item {item.number}, {item.label})",
                )
            )
    return inst


def _resolve_measurement(
    m: Measurement, loc: Loc, kb: KnowledgeBase, problems: list[Problem]
) -> Measurement:
    inst = _check_scores(m.instrument, m.items, loc, kb, problems)
    if inst is None or m.instrument == inst.id:
        return m
    return m.model_copy(update={"instrument": inst.id})


def _resolve_conditions(raw: Any, kb: KnowledgeBase, problems: list[Problem]) -> list[str]:
    names = _validate_value(_adapter("names"), {"conditions": raw}, "conditions", problems)
    resolved: list[str] = []
    for index, name in enumerate(names or []):
        cond = kb.find_condition(name)
        if cond is None:
            problems.append(
                Problem(
                    format_path(("conditions", index)),
                    name,
                    "a condition id from the knowledge base vocabulary"
                    + _suggest(kb.close_condition_names(name)),
                )
            )
        elif cond.id not in resolved:
            resolved.append(cond.id)
    return resolved


def _valid(kind: str, value: Any) -> Any:
    """A value if it validates as ``kind``, else None (its problem is reported elsewhere)."""
    try:
        return _adapter(kind).validate_python(value)
    except ValidationError:
        return None


def _salvage(
    model: type[BaseModel], raw: Any, loc: Loc, kb: KnowledgeBase, problems: list[Problem]
) -> None:
    """Run the checks that need knowledge on a record whose other fields are invalid, so
    that one run still reports every problem (an unknown drug next to a bad date)."""
    if not isinstance(raw, Mapping):
        return
    start, end = _valid("date", raw.get("start")), _valid("date", raw.get("end"))
    if start is not None and end is not None:
        _check_dates(SimpleNamespace(start=start, end=end), loc, problems)
    drug = _valid("name", raw.get("drug"))
    if model is MedicationTrial and drug is not None:
        _find_drug(drug, loc, kb, problems)
    if model is Measurement:
        items = _valid("items", raw.get("items"))
        name = _valid("name", raw.get("instrument"))
        if items is not None and name is not None:
            _check_scores(name, items, loc, kb, problems)


def _section_date(data: Mapping[str, Any], section: str, key: str) -> date | None:
    """A date field of a section, even when other fields of the section are invalid (so the
    cross-field checks still run); None when it is itself invalid (already reported)."""
    part = data.get(section)
    if not isinstance(part, Mapping) or key not in part:
        return None
    try:
        value: date = _adapter("date").validate_python(part[key])
    except ValidationError:
        return None
    return value


def json_kind(value: Any) -> str:
    """What a JSON value is, as JSON names it (``null``, an array)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def parse_history(data: Any, kb: KnowledgeBase, *, stored: bool = False) -> PatientHistory:
    """Validate parsed JSON into a :class:`PatientHistory`; raise :class:`InputError` listing
    every problem otherwise."""
    if not isinstance(data, Mapping):
        raise InputError([Problem("(document)", json_kind(data), "a JSON object")])
    if not stored and too_deep(data):  # checked first: the checks below recurse through it
        expected = f"a document nested at most {MAX_DEPTH} levels"
        raise InputError([Problem("(document)", f"nested more than {MAX_DEPTH} levels", expected)])
    problems: list[Problem] = _unencodable_text(data)
    problems.extend(_misspelt_fields(data, PatientHistory, ()))

    context = STORED if stored else None
    record_id = _validate_value(_adapter("id"), data, "id", problems, context)
    as_of = _validate_value(_adapter("date"), data, "as_of", problems)
    parts: dict[str, Any] = {}
    for key, model in (("patient", Patient), ("episode", Episode)):
        if key not in data:
            problems.append(Problem(key, None, "an object (this field is required)", missing=True))
        else:
            parts[key] = _validate(model, data[key], (key,), problems, context)

    conditions = _resolve_conditions(data.get("conditions", []), kb, problems)
    sections: dict[str, list[Any]] = {}
    for key, record_model in _LIST_SECTIONS.items():
        raw = data.get(key, [])
        if not isinstance(raw, list):
            problems.append(Problem(key, raw, "a list"))
            continue
        records = []
        for index, item in enumerate(raw):
            loc: Loc = (key, index)
            record = _validate(record_model, item, loc, problems, context)
            if record is None:
                _salvage(record_model, item, loc, kb, problems)
                continue
            if isinstance(record, MedicationTrial):
                record = _resolve_trial(record, loc, kb, problems)
            elif isinstance(record, Measurement):
                record = _resolve_measurement(record, loc, kb, problems)
            else:
                _check_dates(record, loc, problems)
            records.append(record)
        sections[key] = records

    onset = _section_date(data, "episode", "onset")
    birth = _section_date(data, "patient", "birth_date")
    if as_of is not None and onset is not None and onset > as_of:
        problems.append(
            Problem(
                "episode.onset",
                onset.isoformat(),
                f"a date on or before as_of ({as_of.isoformat()})",
            )
        )
    if as_of is not None and birth is not None and birth > as_of:
        problems.append(
            Problem(
                "patient.birth_date",
                birth.isoformat(),
                f"a date on or before as_of ({as_of.isoformat()})",
            )
        )
    if birth is not None and not stored:  # a rule made after records were stored
        problems.extend(_before_birth(sections, birth))
    if birth is not None and onset is not None and onset < birth:
        problems.append(
            Problem(
                "episode.onset",
                onset.isoformat(),
                f"a date after the birth date ({birth.isoformat()})",
            )
        )
    if problems:
        raise InputError(_unique(problems))
    extras = {k: v for k, v in data.items() if k not in PatientHistory.model_fields}
    return PatientHistory.model_validate(
        {
            "id": record_id,
            "as_of": as_of,
            "patient": parts["patient"],
            "episode": parts["episode"],
            "conditions": conditions,
            **sections,
            **extras,
        },
        context=context,
    )


_RECORD_DATES = {
    "medication_trials": "start",
    "psychotherapy": "start",
    "procedures": "start",
    "measurements": "date",
}
"""The date of each section's records: a measurement's date, the others' start."""


def _before_birth(sections: Mapping[str, Sequence[Any]], birth: date) -> list[Problem]:
    """A problem for each record dated before the birth date (a year mistyped: 0050)."""
    expected = f"a date on or after the birth date ({birth.isoformat()})"
    return [
        Problem(f"{section}[{index}].{field}", when.isoformat(), expected)
        for section, field in _RECORD_DATES.items()
        for index, record in enumerate(sections.get(section, []))
        if (when := getattr(record, field)) < birth
    ]


def records_before_birth(history: PatientHistory) -> list[Problem]:
    """A problem for each record of ``history`` dated before the patient's birth date."""
    sections = {section: getattr(history, section) for section in _RECORD_DATES}
    return _before_birth(sections, history.patient.birth_date)


def check_as_of(as_of: date, onset: date, birth: date, path: str = "as_of") -> None:
    """Raise :class:`InputError` at ``path`` when a stored history is asked for as of a date
    before its episode's onset or the birth date: the rule :func:`parse_history` applies to a
    document's ``as_of``, for a date given apart from the document."""
    first = max(onset, birth)
    if as_of < first:
        what = "the episode onset" if first == onset else "the birth date"
        raise InputError(
            [Problem(path, as_of.isoformat(), f"a date on or after {what} ({first.isoformat()})")]
        )


def dated_after(history: PatientHistory, label: str = "as_of") -> list[Problem]:
    """A problem for each record that starts after the history's ``as_of``: a measurement's
    date, a trial's, psychotherapy course's or procedure's start. The assessment leaves such
    records out, so where ``as_of`` is today (a clinic's records) a later date is a mistake
    to refuse, not a record to drop unseen (a year mistyped would hide a suicide item).
    ``label`` names ``as_of`` in the message ("today")."""
    expected = f"a date on or before {label} ({history.as_of.isoformat()})"
    return [
        Problem(f"{section}[{index}].{field}", when.isoformat(), expected)
        for section, field in _RECORD_DATES.items()
        for index, record in enumerate(getattr(history, section))
        if (when := getattr(record, field)) > history.as_of
    ]


def stored_history(data: dict[str, Any], kb: KnowledgeBase) -> PatientHistory:
    """A history rebuilt from storage, whose names were resolved when it was stored.

    Validates the shape in one pass and checks that every drug, instrument and condition is
    still known under its stored id; if anything is off (say the knowledge base changed
    since), falls back to the full intake, which reports it.
    """
    try:
        history = PatientHistory.model_validate(data, context=STORED)
    except ValidationError:
        return parse_history(data, kb, stored=True)
    known = (
        all(t.drug in kb.drugs for t in history.medication_trials)
        and all(m.instrument in kb.instruments for m in history.measurements)
        and all(c in kb.conditions for c in history.conditions)
    )
    return history if known else parse_history(data, kb, stored=True)
