"""FHIR R4 resources (plain JSON) to the patient records the measures read.

Only the elements the measures use are read; everything else is ignored, and so are resource
types the measures do not use (Coverage, Organization, MeasureReport, ...). What is read is
checked: a wrong type or an unreadable date is an :class:`~trdnav.errors.InputError` naming
the resource, the element, the value and what was expected, with every problem in the input.

* A resource belongs to the patient its ``subject`` (or ``patient``) references when that
  Patient is in the input (``Patient/<id>``, a URL ending in it, or a Patient entry's
  ``fullUrl``). Otherwise it belongs to the only Patient of its file, if the file has exactly
  one: a patient's own Bundle (a test case, ``$everything``) holds only that patient's data,
  whatever its references say. Otherwise it is an error.
* Dates: a ``dateTime`` with a time must have an offset (``Z`` or ``+hh:mm``), as FHIR requires;
  a year or a year and month stands for its first day.
* ``onset[x]``/``abatement[x]``, ``effective[x]`` and ``performed[x]`` are read when they are a
  dateTime or a Period (and ``effectiveInstant``); other forms (Age, Range, string, Timing) are
  taken as not given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from trdnav.errors import InputError, Problem
from trdnav.measures.medication import DAYS_PER_UNIT
from trdnav.measures.records import (
    Coding,
    Concept,
    Condition,
    Encounter,
    MedicationRequest,
    Observation,
    PatientRecord,
    Procedure,
    ServiceRequest,
    Supply,
)
from trdnav.measures.timing import Moment, Span

__all__ = ["NOT_DONE_REASON", "Located", "patient_records", "read_moment"]

NOT_DONE_REASON = "http://hl7.org/fhir/us/qicore/StructureDefinition/qicore-notDoneReason"
"""The QI-Core extension holding why an observation was not done."""

READ_TYPES = frozenset(
    {
        "Patient",
        "Observation",
        "Condition",
        "Encounter",
        "Procedure",
        "ServiceRequest",
        "MedicationRequest",
    }
)

_DATETIME = re.compile(
    r"(?P<y>\d{4})(-(?P<m>\d{2})(-(?P<d>\d{2})"
    r"(T(?P<H>\d{2}):(?P<M>\d{2})(:(?P<S>\d{2})(?P<f>\.\d+)?)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_FULL_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_COMMON_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")
DATETIME_EXPECTED = (
    "a FHIR dateTime: YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with an offset (Z or +hh:mm)"
)


def read_moment(text: str) -> Moment:
    """Parse a FHIR ``date``, ``dateTime`` or ``instant``; ``ValueError`` if it is not one."""
    if _FULL_DAY.fullmatch(text):
        return Moment(date.fromisoformat(text))
    if _COMMON_INSTANT.fullmatch(text):
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            pass  # a leap second, or no such day: the general reading below decides
        else:
            return Moment(at.date(), at)
    found = _DATETIME.fullmatch(text)
    if found is None:
        raise ValueError(text)
    g = found.groupdict()
    day = date(int(g["y"]), int(g["m"] or 1), int(g["d"] or 1))
    if g["H"] is None:
        return Moment(day)
    if g["tz"] is None:
        raise ValueError(text)
    if g["tz"] == "Z":
        zone = UTC
    else:
        sign = 1 if g["tz"][0] == "+" else -1
        hours, minutes = int(g["tz"][1:3]), int(g["tz"][4:6])
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    micro = int((g["f"] or ".0")[1:7].ljust(6, "0"))
    second = min(int(g["S"] or 0), 59)  # a leap second is kept within its minute
    at = datetime(day.year, day.month, day.day, int(g["H"]), int(g["M"]), second, micro, zone)
    return Moment(day, at)


def _optional_text(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value != "")


@dataclass(frozen=True, slots=True)
class Located:
    """A resource and where it was found (for error messages): ``file: entry[3].resource``.

    ``full_url`` is the entry's ``fullUrl`` in a Bundle; ``group`` names the file (a resource
    whose reference names no Patient of the input belongs to the only Patient of its group)."""

    resource: Any
    where: str
    full_url: str | None = None
    group: str = ""


@dataclass
class _Reader:
    """Reads elements of one resource, collecting a Problem for each bad one."""

    where: str
    problems: list[Problem] = field(default_factory=list)

    def bad(self, path: str, value: Any, expected: str) -> None:
        self.problems.append(Problem(f"{self.where}.{path}", value, expected))

    def string(
        self, obj: dict[str, Any], key: str, path: str, required: bool = False
    ) -> str | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.problems.append(
                    Problem(f"{self.where}.{path}", None, "a string", missing=True)
                )
            return None
        if not isinstance(value, str) or not value:
            self.bad(path, value, "a non-empty string")
            return None
        return value

    def mapping(self, obj: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
        value = obj.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.bad(path, value, "an object")
            return None
        return value

    def array(self, obj: dict[str, Any], key: str, path: str) -> list[Any]:
        value = obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.bad(path, value, "an array")
            return []
        return value

    def concept(self, value: Any, path: str) -> Concept:
        """A CodeableConcept's codings with both a system and a code (a coding lacking one
        of them is valid FHIR but can match nothing)."""
        if value is None:
            return ()
        if isinstance(value, dict):
            codings = value.get("coding")
            if codings is None:
                return ()
            if isinstance(codings, list):
                found = []
                for coding in codings:
                    if not isinstance(coding, dict):
                        break
                    system, code = coding.get("system"), coding.get("code")
                    if not (_optional_text(system) and _optional_text(code)):
                        break
                    if system and code:
                        display = coding.get("display")
                        found.append(
                            Coding(system, code, display if isinstance(display, str) else None)
                        )
                else:
                    return tuple(found)
        return self._bad_concept(value, path)

    def _bad_concept(self, value: Any, path: str) -> Concept:
        """Report what is wrong with a CodeableConcept."""
        if not isinstance(value, dict):
            self.bad(path, value, "a CodeableConcept object")
            return ()
        for i, coding in enumerate(self.array(value, "coding", f"{path}.coding")):
            where = f"{path}.coding[{i}]"
            if not isinstance(coding, dict):
                self.bad(where, coding, "a Coding object")
                continue
            self.string(coding, "system", f"{where}.system")
            self.string(coding, "code", f"{where}.code")
        return ()

    def concepts(self, obj: dict[str, Any], key: str) -> Concept:
        """Every coding of a repeating CodeableConcept element."""
        out: list[Coding] = []
        for i, value in enumerate(self.array(obj, key, key)):
            out.extend(self.concept(value, f"{key}[{i}]"))
        return tuple(out)

    def moment(self, obj: dict[str, Any], key: str, path: str) -> Moment | None:
        value = obj.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return read_moment(value)
            except ValueError:
                pass
        self.bad(path, value, DATETIME_EXPECTED)
        return None

    def period(self, obj: dict[str, Any], key: str, path: str) -> Span | None:
        value = self.mapping(obj, key, path)
        if value is None:
            return None
        start = self.moment(value, "start", f"{path}.start")
        end = self.moment(value, "end", f"{path}.end")
        if start is not None and end is not None and end.sort_key < start.sort_key:
            self.bad(f"{path}.end", value.get("end"), "a time not before the period's start")
        return Span(start, end, start_unknown=start is None)

    def timing(self, obj: dict[str, Any], prefix: str) -> Span | None:
        """``<prefix>DateTime``, ``<prefix>Instant`` or ``<prefix>Period`` as a span."""
        for kind in ("DateTime", "Instant"):
            moment = self.moment(obj, prefix + kind, prefix + kind)
            if moment is not None:
                return Span.at(moment)
        return self.period(obj, prefix + "Period", prefix + "Period")

    def number(self, obj: dict[str, Any], key: str, path: str) -> float | None:
        value = obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.bad(path, value, "a number")
            return None
        return float(value)

    def quantity(self, obj: dict[str, Any], key: str, path: str) -> tuple[float, str] | None:
        value = self.mapping(obj, key, path)
        if value is None:
            return None
        number = self.number(value, "value", f"{path}.value")
        if number is None:
            return None
        unit = value.get("code") or value.get("unit")
        return number, unit if isinstance(unit, str) else ""

    def boolean(self, obj: dict[str, Any], key: str, path: str) -> bool | None:
        value = obj.get(key)
        if value is None or isinstance(value, bool):
            return value
        self.bad(path, value, "true or false")
        return None


def _patient(r: _Reader, res: dict[str, Any], rid: str) -> PatientRecord:
    birth = r.moment(res, "birthDate", "birthDate")
    return PatientRecord(
        id=rid,
        birth_date=birth.day if birth else None,
        deceased=r.moment(res, "deceasedDateTime", "deceasedDateTime"),
    )


def _observation(r: _Reader, res: dict[str, Any], rid: str) -> Observation:
    number = None
    if "valueInteger" in res:
        number = r.number(res, "valueInteger", "valueInteger")
        if number is not None and number != int(number):
            r.bad("valueInteger", res["valueInteger"], "an integer")
    quantity = r.quantity(res, "valueQuantity", "valueQuantity")
    if quantity is not None:
        number = quantity[0]
    reason: Concept = ()
    for i, ext in enumerate(r.array(res, "extension", "extension")):
        if isinstance(ext, dict) and ext.get("url") == NOT_DONE_REASON:
            reason += r.concept(ext.get("valueCodeableConcept"), f"extension[{i}]")
    return Observation(
        id=rid,
        status=r.string(res, "status", "status", required=True) or "",
        code=r.concept(res.get("code"), "code"),
        effective=r.timing(res, "effective"),
        value_number=number,
        value_concept=r.concept(res.get("valueCodeableConcept"), "valueCodeableConcept"),
        has_value=any(k.startswith("value") and res[k] is not None for k in res),
        issued=r.moment(res, "issued", "issued"),
        not_done_reason=reason,
    )


def _condition(r: _Reader, res: dict[str, Any], rid: str) -> Condition:
    onset = r.timing(res, "onset")
    abatement = r.timing(res, "abatement")
    categories = frozenset(c.code for c in r.concepts(res, "category"))
    return Condition(
        id=rid,
        code=r.concept(res.get("code"), "code"),
        clinical_status=r.concept(res.get("clinicalStatus"), "clinicalStatus"),
        verification_status=r.concept(res.get("verificationStatus"), "verificationStatus"),
        categories=categories,
        onset_start=onset.start if onset else None,
        abatement_end=abatement.end if abatement else None,
    )


def _encounter(r: _Reader, res: dict[str, Any], rid: str) -> Encounter:
    stay = r.mapping(res, "hospitalization", "hospitalization") or {}
    return Encounter(
        id=rid,
        status=r.string(res, "status", "status", required=True) or "",
        type=r.concepts(res, "type"),
        period=r.period(res, "period", "period"),
        discharge_disposition=r.concept(
            stay.get("dischargeDisposition"), "hospitalization.dischargeDisposition"
        ),
    )


def _procedure(r: _Reader, res: dict[str, Any], rid: str) -> Procedure:
    return Procedure(
        id=rid,
        status=r.string(res, "status", "status", required=True) or "",
        code=r.concept(res.get("code"), "code"),
        performed=r.timing(res, "performed"),
    )


def _service_request(r: _Reader, res: dict[str, Any], rid: str) -> ServiceRequest:
    return ServiceRequest(
        id=rid,
        status=r.string(res, "status", "status", required=True) or "",
        intent=r.string(res, "intent", "intent", required=True) or "",
        code=r.concept(res.get("code"), "code"),
        authored_on=r.moment(res, "authoredOn", "authoredOn"),
        do_not_perform=r.boolean(res, "doNotPerform", "doNotPerform"),
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _single(r: _Reader, obj: dict[str, Any], key: str) -> dict[str, Any]:
    """CQL ``singleton from``: the only element of an array of objects, else nothing."""
    items = r.array(obj, key, key)
    return items[0] if len(items) == 1 and isinstance(items[0], dict) else {}


def _supply(r: _Reader, res: dict[str, Any]) -> Supply:
    dosage = _single(r, res, "dosageInstruction")
    timing = _object(dosage.get("timing"))
    repeat = _object(timing.get("repeat"))
    dose_rate = _single(r, dosage, "doseAndRate") if dosage else {}
    dispense = r.mapping(res, "dispenseRequest", "dispenseRequest") or {}
    path = "dosageInstruction[0].timing.repeat"
    dose = r.quantity(dose_rate, "doseQuantity", "dosageInstruction[0].doseAndRate[0].dose")
    dose_range = r.mapping(dose_rate, "doseRange", "dosageInstruction[0].doseAndRate[0].dose")
    if dose is None and dose_range is not None:
        dose = r.quantity(dose_range, "high", "dosageInstruction[0].doseAndRate[0].doseRange")
    supply_days = r.quantity(
        dispense, "expectedSupplyDuration", "dispenseRequest.expectedSupplyDuration"
    )
    quantity = r.quantity(dispense, "quantity", "dispenseRequest.quantity")
    validity = r.period(dispense, "validityPeriod", "dispenseRequest.validityPeriod")
    frequency = r.number(repeat, "frequencyMax", f"{path}.frequencyMax")
    if frequency is None:
        frequency = r.number(repeat, "frequency", f"{path}.frequency")
    period_unit = repeat.get("periodUnit")
    times = repeat.get("timeOfDay")
    refills = r.number(dispense, "numberOfRepeatsAllowed", "dispenseRequest.numberOfRepeatsAllowed")
    return Supply(
        bounds=r.period(repeat, "boundsPeriod", f"{path}.boundsPeriod"),
        validity_start=validity.start if validity else None,
        expected_supply_days=_in_days(supply_days),
        quantity=quantity[0] if quantity else None,
        dose=dose[0] if dose else None,
        frequency=int(frequency) if frequency is not None else None,
        period=r.number(repeat, "period", f"{path}.period"),
        period_unit=period_unit if isinstance(period_unit, str) else None,
        times_of_day=len(times) if isinstance(times, list) else 0,
        refills=int(refills or 0),
    )


def _in_days(quantity: tuple[float, str] | None) -> float | None:
    if quantity is None or quantity[1] not in DAYS_PER_UNIT:
        return None
    return quantity[0] * DAYS_PER_UNIT[quantity[1]]


def _medication_request(r: _Reader, res: dict[str, Any], rid: str) -> MedicationRequest:
    return MedicationRequest(
        id=rid,
        status=r.string(res, "status", "status", required=True) or "",
        intent=r.string(res, "intent", "intent", required=True) or "",
        medication=r.concept(res.get("medicationCodeableConcept"), "medicationCodeableConcept"),
        authored_on=r.moment(res, "authoredOn", "authoredOn"),
        do_not_perform=r.boolean(res, "doNotPerform", "doNotPerform"),
        supply=_supply(r, res),
    )


_PARSERS: dict[str, Callable[[_Reader, dict[str, Any], str], Any]] = {
    "Patient": _patient,
    "Observation": _observation,
    "Condition": _condition,
    "Encounter": _encounter,
    "Procedure": _procedure,
    "ServiceRequest": _service_request,
    "MedicationRequest": _medication_request,
}


def _patient_reference(res: dict[str, Any]) -> str | None:
    for key in ("subject", "patient"):
        ref = res.get(key)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            return str(ref["reference"])
    return None


def patient_records(resources: Iterable[Located]) -> list[PatientRecord]:
    """Each Patient in ``resources`` with the resources that reference them, in the order the
    Patients were given. Raises :class:`InputError` with every problem found."""
    problems: list[Problem] = []
    patients: dict[str, PatientRecord] = {}
    by_url: dict[str, str] = {}
    by_group: dict[str, list[str]] = {}
    others: list[tuple[Located, str, Any]] = []
    for item in resources:
        res = item.resource
        if not isinstance(res, dict):
            problems.append(Problem(item.where, res, "a FHIR resource (a JSON object)"))
            continue
        kind = res.get("resourceType")
        if kind not in READ_TYPES:
            continue
        reader = _Reader(item.where)
        rid = reader.string(res, "id", "id", required=True)
        if rid is not None and not _ID.fullmatch(rid):
            reader.bad("id", rid, "a FHIR id: 1 to 64 letters, digits, '-' or '.'")
            rid = None
        if rid is None:
            problems.extend(reader.problems)
            continue
        record = _PARSERS[kind](reader, res, rid)
        problems.extend(reader.problems)
        if kind != "Patient":
            others.append((item, kind, record))
            continue
        if rid in patients:
            problems.append(Problem(f"{item.where}.id", rid, "a Patient id given only once"))
            continue
        patients[rid] = record
        by_url[f"Patient/{rid}"] = rid
        if item.full_url:
            by_url[item.full_url] = rid
        by_group.setdefault(item.group, []).append(rid)
    owned: dict[str, dict[str, list[Any]]] = {rid: {} for rid in patients}
    for item, kind, record in others:
        ref = _patient_reference(item.resource)
        owner = _resolve(ref, by_url) if ref else None
        if owner is None and len(by_group.get(item.group, [])) == 1:
            owner = by_group[item.group][0]
        if owner is None:
            where = f"{item.where}.subject.reference"
            expected = "a reference to a Patient in the input"
            problems.append(Problem(where, ref, expected, missing=ref is None))
            continue
        owned[owner].setdefault(kind, []).append(record)
    if problems:
        raise InputError(problems)
    return [_assemble(patient, owned[rid]) for rid, patient in patients.items()]


def _assemble(patient: PatientRecord, records: dict[str, list[Any]]) -> PatientRecord:
    if not records:
        return patient
    return PatientRecord(
        id=patient.id,
        birth_date=patient.birth_date,
        deceased=patient.deceased,
        observations=tuple(records.get("Observation", ())),
        conditions=tuple(records.get("Condition", ())),
        encounters=tuple(records.get("Encounter", ())),
        procedures=tuple(records.get("Procedure", ())),
        service_requests=tuple(records.get("ServiceRequest", ())),
        medication_requests=tuple(records.get("MedicationRequest", ())),
    )


def _resolve(ref: str, by_url: dict[str, str]) -> str | None:
    """The id of the Patient in the input that ``ref`` names, if any."""
    if ref in by_url:
        return by_url[ref]
    tail = ref.rsplit("/", 2)
    if len(tail) >= 2 and tail[-2] == "Patient":
        return by_url.get(f"Patient/{tail[-1]}")
    return None
