"""A patient's depression history: the input of every assessment.

These models define the JSON format (published as ``docs/patient-history.schema.json``).
Fields not listed here are accepted and ignored, unless their name is so close to a
listed field that it is probably a misspelling (see :mod:`trdnav.core.intake`).
Names are normalised on intake: drugs to their generic name, instruments and
procedure types to their canonical spelling, conditions to their vocabulary id.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "FHIR_ID",
    "FHIR_ID_EXPECTED",
    "FHIR_ID_LENGTH",
    "MAX_SESSIONS",
    "MRN_LENGTH",
    "NAME_LENGTH",
    "PROCEDURE_TYPES",
    "PSYCHOTHERAPY_TYPE_LENGTH",
    "SEX_LENGTH",
    "STORED",
    "Episode",
    "Measurement",
    "MedicationTrial",
    "Patient",
    "PatientHistory",
    "Procedure",
    "PsychotherapyCourse",
    "Response",
    "Severity",
]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

FHIR_ID_LENGTH = 64
"""The longest FHIR id (FHIR's own limit), so also the longest patient id."""
FHIR_ID = re.compile(rf"[A-Za-z0-9\-.]{{1,{FHIR_ID_LENGTH}}}")
"""FHIR's ``id`` datatype (use with ``fullmatch``): a patient id is one, so that it is
exported as is, names a URL path segment without escaping, and is valid in a header."""
FHIR_ID_EXPECTED = f"a FHIR id: 1 to {FHIR_ID_LENGTH} letters, digits, '-' or '.'"

SEX_LENGTH = 32
"""The longest ``patient.sex`` (what the database keeps of it)."""
NAME_LENGTH = 200
"""The longest ``patient.name``."""
MRN_LENGTH = 64
"""The longest ``patient.mrn``."""
PSYCHOTHERAPY_TYPE_LENGTH = 64
"""The longest ``psychotherapy[].type`` (what the database keeps of it)."""

MAX_SESSIONS = 10_000
"""The most sessions one course may record: more than a session a day for 27 years, so no
real course reaches it, and it fits every database's integer column."""


def _iso_date(value: Any) -> Any:
    """Accept a date or a ``YYYY-MM-DD`` string; nothing else (no timestamps)."""
    if isinstance(value, datetime):
        raise PydanticCustomError("date_only", "expected a date as YYYY-MM-DD, not a date-time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("date_invalid", "expected a real calendar date") from None
    raise PydanticCustomError("date_format", "expected a date as YYYY-MM-DD")


STORED = {"stored": True}
"""Validation context of a history read back from storage: an id stored before the FHIR id
rule (any text of 1 to 64 characters) is still read, so its patient stays reachable."""


def _fhir_id(value: Any, info: ValidationInfo) -> Any:
    """Accept a FHIR id (surrounding spaces stripped); nothing else, except from storage."""
    if isinstance(value, str) and FHIR_ID.fullmatch(value.strip()):
        return value.strip()
    stored = info.context == STORED
    if isinstance(value, str) and stored and 1 <= len(value.strip()) <= FHIR_ID_LENGTH:
        return value.strip()
    if isinstance(value, str):
        raise PydanticCustomError("fhir_id", FHIR_ID_EXPECTED)
    return value  # the str type says what is wrong


def _kept(limit: int) -> Any:
    """At most ``limit`` characters (what the database keeps), except from storage: SQLite
    kept longer text before the limit, and its patient stays readable."""

    def check(value: str, info: ValidationInfo) -> str:
        if len(value) > limit and info.context != STORED:
            raise PydanticCustomError(
                "string_too_long",
                "String should have at most {max_length} characters",
                {"max_length": limit, "actual_length": len(value)},
            )
        return value

    return AfterValidator(check)


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


ProcedureName = Literal["ECT", "TMS", "VNS", "DBS", "ketamine", "esketamine"]
PROCEDURE_TYPES: tuple[str, ...] = get_args(ProcedureName)
_PROCEDURE_SPELLING = {p.lower(): p for p in PROCEDURE_TYPES}


def _procedure_type(value: Any) -> Any:
    if isinstance(value, str):
        return _PROCEDURE_SPELLING.get(value.strip().lower(), value)
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
RecordId = Annotated[
    str,
    BeforeValidator(_fhir_id),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": FHIR_ID_LENGTH,
            "pattern": f"^{FHIR_ID.pattern}$",
        }
    ),
]


def _none_if_empty(value: str) -> str | None:
    """An empty name or record number is none: stored as empty, it came back as none when
    the patient was next changed."""
    return value or None


PatientName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=NAME_LENGTH),
    AfterValidator(_none_if_empty),
]
Mrn = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=MRN_LENGTH),
    AfterValidator(_none_if_empty),
]
Sex = Annotated[Name, _kept(SEX_LENGTH), Field(json_schema_extra={"maxLength": SEX_LENGTH})]
PsychotherapyType = Annotated[
    Name,
    _kept(PSYCHOTHERAPY_TYPE_LENGTH),
    Field(json_schema_extra={"maxLength": PSYCHOTHERAPY_TYPE_LENGTH}),
]
Severity = Annotated[Literal["subsyndromal", "mild", "moderate", "severe"], BeforeValidator(_lower)]
Response = Annotated[
    Literal["none", "partial", "response", "remission", "intolerance", "unknown"],
    BeforeValidator(_lower),
]
Role = Annotated[Literal["antidepressant", "augmentation"], BeforeValidator(_lower)]
ProcedureType = Annotated[ProcedureName, BeforeValidator(_procedure_type)]


class Record(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Patient(Record):
    birth_date: IsoDate
    sex: Sex
    name: PatientName | None = None
    mrn: Mrn | None = Field(default=None, description="medical record number")


class Episode(Record):
    onset: IsoDate = Field(description="start of the current major depressive episode")
    severity: Severity
    psychotic_features: StrictBool
    recurrent: StrictBool


class MedicationTrial(Record):
    drug: Name = Field(description="generic, synonym or brand name (case-insensitive)")
    daily_dose_mg: StrictFloat = Field(
        gt=0, allow_inf_nan=False, description="mg per day (liothyronine 25 µg = 0.025)"
    )
    start: IsoDate
    end: IsoDate | None = None
    role: Role
    response: Response
    dose_optimized: StrictBool = False


class PsychotherapyCourse(Record):
    type: PsychotherapyType
    start: IsoDate
    end: IsoDate | None = None
    sessions: StrictInt = Field(ge=0, le=MAX_SESSIONS)


class Procedure(Record):
    type: ProcedureType
    start: IsoDate
    end: IsoDate | None = None
    sessions: StrictInt = Field(ge=0, le=MAX_SESSIONS)
    response: Response


class Measurement(Record):
    instrument: Name = Field(description="PHQ-9, QIDS-SR16, MADRS or HAMD-17")
    date: IsoDate
    items: list[StrictInt] = Field(description="item scores in questionnaire order")


class PatientHistory(Record):
    """The whole input of an assessment."""

    id: RecordId
    as_of: IsoDate = Field(description="the date the assessment is made for")
    patient: Patient
    episode: Episode
    conditions: list[Name] = Field(
        default_factory=list, description="condition ids from the knowledge base vocabulary"
    )
    medication_trials: list[MedicationTrial] = Field(default_factory=list)
    psychotherapy: list[PsychotherapyCourse] = Field(default_factory=list)
    procedures: list[Procedure] = Field(default_factory=list)
    measurements: list[Measurement] = Field(default_factory=list)

    def in_episode(self, when: date) -> bool:
        """Whether a record dated ``when`` belongs to the current episode."""
        return self.episode.onset <= when <= self.as_of
