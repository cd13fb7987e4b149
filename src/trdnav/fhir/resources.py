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
* ``effective[x]`` and ``performed[x]`` are read when they are a dateTime, an instant or a
  Period; ``onset[x]`` and ``abatement[x]`` when they are a dateTime, a Period, an Age or a
  Range (of ages); dates as :mod:`trdnav.fhir.elements` reads them.
* An Age (or a Range bound) is read as FHIRHelpers ``ToQuantity`` reads it: its value in the
  calendar unit of its ``code`` (else ``unit``), UCUM or calendar-duration, ``a`` being a
  year. One the measures' CQL cannot use (a ``comparator``, a unit that is not one of time,
  another ``system``: CQL stops with an error there) is taken as not given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from trdnav.core.history import FHIR_ID, FHIR_ID_EXPECTED
from trdnav.errors import InputError, Problem
from trdnav.fhir.elements import ElementReader
from trdnav.measures.medication import DAYS_PER_UNIT
from trdnav.measures.records import (
    Age,
    AgeRange,
    Concept,
    Condition,
    ConditionTiming,
    Encounter,
    MedicationRequest,
    Observation,
    PatientRecord,
    Procedure,
    ServiceRequest,
    Supply,
)
from trdnav.measures.timing import CALENDAR_UNITS

__all__ = [
    "NOT_DONE_REASON",
    "Located",
    "in_days",
    "medication_request_record",
    "patient_records",
]

NOT_DONE_REASON = "http://hl7.org/fhir/us/qicore/StructureDefinition/qicore-notDoneReason"
"""The QI-Core extension holding why an observation was not done."""

TIME_UNIT_SYSTEMS = frozenset(
    {"http://unitsofmeasure.org", "http://hl7.org/fhirpath/CodeSystem/calendar-units"}
)
"""The systems of a Quantity whose unit FHIRHelpers ``ToQuantity`` reads (or none at all)."""


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


class Located(NamedTuple):
    """A resource and where it was found (for error messages): ``file: entry[3].resource``.

    ``full_url`` is the entry's ``fullUrl`` in a Bundle; ``group`` names the file (a resource
    whose reference names no Patient of the input belongs to the only Patient of its group).
    A named tuple: one is made for every resource read, and a tuple is quick to make."""

    resource: Any
    where: str
    full_url: str | None = None
    group: str = ""


def _patient(r: ElementReader, res: dict[str, Any], rid: str) -> PatientRecord:
    return PatientRecord(
        id=rid,
        birth_date=r.moment(res, "birthDate", "birthDate"),
        deceased=r.moment(res, "deceasedDateTime", "deceasedDateTime"),
    )


def _observation(r: ElementReader, res: dict[str, Any], rid: str) -> Observation:
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


def _age(r: ElementReader, obj: dict[str, Any], key: str, path: str) -> Age | None:
    """An Age (or a Range bound) in a calendar unit; None when not given or unusable."""
    value = r.mapping(obj, key, path)
    if value is None:
        return None
    number = r.number(value, "value", f"{path}.value")
    system, unit = value.get("system"), value.get("code") or value.get("unit")
    if (
        number is None
        or value.get("comparator") is not None
        or (system is not None and system not in TIME_UNIT_SYSTEMS)
        or not isinstance(unit, str)
        or unit not in CALENDAR_UNITS
    ):
        return None
    return Age(number, CALENDAR_UNITS[unit])


def _condition_timing(r: ElementReader, res: dict[str, Any], prefix: str) -> ConditionTiming | None:
    """``<prefix>DateTime``, ``<prefix>Period``, ``<prefix>Age`` or ``<prefix>Range`` (a Range
    with no usable bound is not given); any other form (a string) is not given."""
    key = f"{prefix}DateTime"
    if key in res:
        return r.moment(res, key, key)
    key = f"{prefix}Period"
    if key in res:
        return r.period(res, key, key)
    key = f"{prefix}Age"
    if key in res:
        return _age(r, res, key, key)
    key = f"{prefix}Range"
    ages = r.mapping(res, key, key)
    if ages is None:
        return None
    low, high = _age(r, ages, "low", f"{key}.low"), _age(r, ages, "high", f"{key}.high")
    return AgeRange(low, high) if low is not None or high is not None else None


def _condition(r: ElementReader, res: dict[str, Any], rid: str) -> Condition:
    categories = frozenset(c.code for c in r.concepts(res, "category"))
    return Condition(
        id=rid,
        code=r.concept(res.get("code"), "code"),
        clinical_status=r.concept(res.get("clinicalStatus"), "clinicalStatus"),
        verification_status=r.concept(res.get("verificationStatus"), "verificationStatus"),
        categories=categories,
        onset=_condition_timing(r, res, "onset"),
        abatement=_condition_timing(r, res, "abatement"),
    )


def _encounter(r: ElementReader, res: dict[str, Any], rid: str) -> Encounter:
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


def _procedure(r: ElementReader, res: dict[str, Any], rid: str) -> Procedure:
    return Procedure(
        id=rid,
        status=r.string(res, "status", "status", required=True) or "",
        code=r.concept(res.get("code"), "code"),
        performed=r.timing(res, "performed"),
    )


def _service_request(r: ElementReader, res: dict[str, Any], rid: str) -> ServiceRequest:
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


def _single(r: ElementReader, obj: dict[str, Any], key: str) -> dict[str, Any]:
    """CQL ``singleton from``: the only element of an array of objects, else nothing."""
    items = r.array(obj, key, key)
    return items[0] if len(items) == 1 and isinstance(items[0], dict) else {}


def _supply(r: ElementReader, res: dict[str, Any]) -> Supply:
    dosage = _single(r, res, "dosageInstruction")
    timing = _object(dosage.get("timing"))
    repeat = _object(timing.get("repeat"))
    dose_rate = _single(r, dosage, "doseAndRate") if dosage else {}
    dispense = r.mapping(res, "dispenseRequest", "dispenseRequest") or {}
    dose = r.quantity(dose_rate, "doseQuantity", "dosageInstruction[0].doseAndRate[0].dose")
    dose_range = r.mapping(dose_rate, "doseRange", "dosageInstruction[0].doseAndRate[0].dose")
    if dose is None and dose_range is not None:
        dose = r.quantity(dose_range, "high", "dosageInstruction[0].doseAndRate[0].doseRange")
    supply_days = r.quantity(
        dispense, "expectedSupplyDuration", "dispenseRequest.expectedSupplyDuration"
    )
    quantity = r.quantity(dispense, "quantity", "dispenseRequest.quantity")
    validity = r.period(dispense, "validityPeriod", "dispenseRequest.validityPeriod")
    frequency = r.number(repeat, "frequencyMax", "dosageInstruction[0].timing.repeat.frequencyMax")
    if frequency is None:
        frequency = r.number(repeat, "frequency", "dosageInstruction[0].timing.repeat.frequency")
    period_unit = repeat.get("periodUnit")
    times = repeat.get("timeOfDay")
    refills = r.number(dispense, "numberOfRepeatsAllowed", "dispenseRequest.numberOfRepeatsAllowed")
    if refills is not None and (refills < 0 or refills != int(refills)):
        # an unsignedInt: a negative count would take refills away from the supply
        r.bad("dispenseRequest.numberOfRepeatsAllowed", refills, "a whole number of 0 or more")
        refills = None
    return Supply(
        bounds=r.period(repeat, "boundsPeriod", "dosageInstruction[0].timing.repeat.boundsPeriod"),
        validity_start=validity.start if validity else None,
        expected_supply_days=in_days(supply_days),
        quantity=quantity[0] if quantity else None,
        dose=dose[0] if dose else None,
        frequency=int(frequency) if frequency is not None else None,
        period=r.number(repeat, "period", "dosageInstruction[0].timing.repeat.period"),
        period_unit=period_unit if isinstance(period_unit, str) else None,
        times_of_day=len(times) if isinstance(times, list) else 0,
        refills=int(refills or 0),
    )


def in_days(quantity: tuple[float, str] | None) -> float | None:
    if quantity is None or quantity[1] not in DAYS_PER_UNIT:
        return None
    return quantity[0] * DAYS_PER_UNIT[quantity[1]]


def _medication_request(r: ElementReader, res: dict[str, Any], rid: str) -> MedicationRequest:
    return MedicationRequest(
        id=rid,
        status=r.string(res, "status", "status", required=True) or "",
        intent=r.string(res, "intent", "intent", required=True) or "",
        medication=r.concept(res.get("medicationCodeableConcept"), "medicationCodeableConcept"),
        authored_on=r.moment(res, "authoredOn", "authoredOn"),
        do_not_perform=r.boolean(res, "doNotPerform", "doNotPerform"),
        supply=_supply(r, res),
    )


def medication_request_record(
    reader: ElementReader, res: dict[str, Any], rid: str, *, read: tuple[str, str] | None = None
) -> MedicationRequest:
    """A MedicationRequest as the measures read it (its supply included), for other adapters
    that need its period (:func:`trdnav.measures.medication.request_period`).

    ``read`` is the status and intent when the caller has read them already with ``reader``,
    and its medication and ``doNotPerform`` too, and found nothing wrong with any of them:
    then only ``authoredOn`` and the supply are read (the medication and ``doNotPerform`` are
    left out of the record), which reports exactly the problems a full reading would."""
    if read is None:
        return _medication_request(reader, res, rid)
    return MedicationRequest(
        id=rid,
        status=read[0],
        intent=read[1],
        medication=(),
        authored_on=reader.moment(res, "authoredOn", "authoredOn"),
        supply=_supply(reader, res),
    )


_PARSERS: dict[str, Callable[[ElementReader, dict[str, Any], str], Any]] = {
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
    seen: set[tuple[str, str]] = set()
    for item in resources:
        res = item.resource
        if not isinstance(res, dict):
            problems.append(Problem(item.where, res, "a FHIR resource (a JSON object)"))
            continue
        kind = res.get("resourceType")
        if kind not in READ_TYPES:
            continue
        reader = ElementReader(item.where)
        rid = reader.string(res, "id", "id", required=True)
        if rid is not None and not FHIR_ID.fullmatch(rid):
            reader.bad("id", rid, FHIR_ID_EXPECTED)
            rid = None
        if rid is None:
            problems.extend(reader.problems)
            continue
        if kind != "Patient" and (kind, rid) in seen:
            # given twice, a record would count twice (or one copy say something else)
            article = "an" if kind[0] in "AEIOU" else "a"
            expected = f"{article} {kind} id given only once"
            problems.append(Problem(f"{item.where}.id", rid, expected))
            continue
        seen.add((kind, rid))
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
