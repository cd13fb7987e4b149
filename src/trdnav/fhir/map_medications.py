"""FHIR MedicationStatement and MedicationRequest resources: medication trials.

* **Which drug**: an RxNorm ingredient code of ``data/fhir/medications.yaml``, else the text or
  a coding's display naming one drug of the knowledge base as whole words. A
  ``medicationReference`` is resolved to a Medication in the input (or contained). Naming two
  drugs (a combination product) is ambiguous; an antidepressant that trdnav cannot name is
  ambiguous; anything else is ignored as not a drug trdnav tracks.
* **Status**: only statuses that mean the medication was taken count; others are ignored
  with the reason, ``unknown`` is ambiguous. A MedicationRequest must be an order.
* **Dose**: the sum over ``dosage`` (``dosageInstruction``) of dose × doses per day, the dose
  in a mass unit converted to mg, doses per day from ``timing.repeat`` (frequency per period)
  or ``timing.code`` (BID, TID...). No dose makes the record ambiguous (trdnav needs the daily
  dose to judge adequacy).
* **When**: a statement's ``effectivePeriod`` (or ``effectiveDateTime`` for a current one); a
  request's period as the CMS measures compute it (bounds, authored date, supply and refills).
  Renewals of one drug at one dose (requests at most ``course_gap_days`` apart) are one trial.
* **Response**: trdnav's response code in ``statusReason`` (an export of trdnav), else the
  ``status_reasons`` of the data file, else unknown (reported as missing for a finished trial).
* **Role**: trdnav's trial-role extension, else augmentation for an augmentation agent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal, TypeGuard

from trdnav.fhir.elements import ElementReader
from trdnav.fhir.mapping import Context, Source, Term, day_of, read_term
from trdnav.fhir.resources import in_days, medication_request_record
from trdnav.measures.medication import DAYS_PER_UNIT, doses_per_day, request_days
from trdnav.measures.records import MedicationRequest, Supply

__all__ = ["MedicationState", "PendingTrial", "Trial", "read_medication", "trials"]

Kind = Literal["MedicationStatement", "MedicationRequest"]


@dataclass
class PendingTrial:
    """A record whose drug is decided once every Medication of the input is known."""

    source: Source
    kind: Kind
    term: Term | None
    reference: str | None
    daily_dose: float | None
    dose_problem: str | None
    when_problem: str | None
    start: date | None
    end: date | None
    ongoing: bool
    response: str | None
    role: str | None
    dose_optimized: bool


@dataclass
class Trial:
    sources: list[Source]
    kind: Kind
    drug: str
    daily_dose: float
    start: date
    end: date | None
    role: str
    response: str
    dose_optimized: bool
    ongoing: bool
    response_recorded: bool = True

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "drug": self.drug,
            "daily_dose_mg": float(self.daily_dose),
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "role": self.role,
            "response": self.response,
        }
        if self.dose_optimized:
            doc["dose_optimized"] = True
        return doc


@dataclass
class MedicationState:
    pending: list[PendingTrial] = field(default_factory=list)


def _dose(
    ctx: Context, reader: ElementReader, dosages: list[Any], path: str
) -> tuple[float | None, str | None]:
    """Daily dose in mg over the dosage list, or the reason there is none."""
    total = 0.0
    sequences = set()
    if not dosages:
        return None, "no dosage"
    for i, dosage in enumerate(dosages):
        where = f"{path}[{i}]"
        if not isinstance(dosage, dict):
            reader.bad(where, dosage, "a Dosage object")
            return None, "unreadable dosage"
        sequence = dosage.get("sequence")
        if sequence is not None and type(sequence) is not int:
            reader.bad(f"{where}.sequence", sequence, "an integer (Dosage.sequence)")
            return None, "unreadable dosage"
        sequences.add(sequence)
        rates = reader.array(dosage, "doseAndRate", f"{where}.doseAndRate")
        quantity = None
        for j, rate in enumerate(rates):
            if isinstance(rate, dict) and "doseQuantity" in rate:
                quantity = reader.quantity(
                    rate, "doseQuantity", f"{where}.doseAndRate[{j}].doseQuantity"
                )
                break
        if quantity is None:
            return None, "no dose quantity (doseAndRate.doseQuantity)"
        value, unit = quantity
        factor = ctx.codes.mg_factor(unit)
        if factor is None:
            return None, f"dose unit {unit!r} is not a mass unit trdnav converts to mg"
        per_day = _per_day(ctx, reader, dosage, where)
        if per_day is None:
            return None, "no dose frequency (timing.repeat or timing.code)"
        total += value * factor * per_day
    if len(sequences) > 1:
        return None, "doses that change over time (dosage.sequence): record each as its own trial"
    if total <= 0:
        return None, "a daily dose of 0"
    return total, None


def _per_day(
    ctx: Context, reader: ElementReader, dosage: dict[str, Any], where: str
) -> float | None:
    timing = reader.mapping(dosage, "timing", f"{where}.timing")
    if timing is None:
        return (
            1.0 if "doseAndRate" in dosage and dosage.get("asNeededBoolean") is not True else None
        )
    repeat = reader.mapping(timing, "repeat", f"{where}.timing.repeat")
    if repeat is not None and ("period" in repeat or "frequency" in repeat):
        frequency = reader.number(repeat, "frequency", f"{where}.timing.repeat.frequency") or 1.0
        period = reader.number(repeat, "period", f"{where}.timing.repeat.period") or 1.0
        unit = repeat.get("periodUnit", "d")
        if not isinstance(unit, str) or unit not in DAYS_PER_UNIT or period <= 0:
            reader.bad(
                f"{where}.timing.repeat.periodUnit", unit, "a UCUM unit of time (h, d, wk, mo, a)"
            )
            return None
        return frequency / (period * DAYS_PER_UNIT[unit])
    code = read_term(ctx, reader, timing.get("code"), f"{where}.timing.code")
    for coding in code.codings:
        if coding.code in ctx.codes.timing_codes:
            return ctx.codes.timing_codes[coding.code]
    return None


def _extensions(
    ctx: Context, reader: ElementReader, res: dict[str, Any]
) -> tuple[str | None, bool]:
    role, optimized = None, False
    for i, ext in enumerate(reader.array(res, "extension", "extension")):
        if not isinstance(ext, dict):
            continue
        if ext.get("url") == ctx.codes.extension("trial_role"):
            role = reader.string(ext, "valueCode", f"extension[{i}].valueCode")
        elif ext.get("url") == ctx.codes.extension("dose_optimized"):
            optimized = bool(reader.boolean(ext, "valueBoolean", f"extension[{i}].valueBoolean"))
    return role, optimized


def _response(ctx: Context, reader: ElementReader, res: dict[str, Any]) -> str | None:
    local = ctx.codes.local_system("response")
    for i, value in enumerate(reader.array(res, "statusReason", "statusReason")):
        term = read_term(ctx, reader, value, f"statusReason[{i}]")
        for coding in term.codings:
            if coding.system == local:
                return coding.code
            if (coding.system, coding.code) in ctx.codes.status_reasons:
                return ctx.codes.status_reasons[(coding.system, coding.code)]
    return None


def read_medication(
    ctx: Context,
    state: MedicationState,
    res: dict[str, Any],
    src: Source,
    kind: Kind,
    *,
    plain_orders: bool = True,
) -> None:
    """Read a MedicationStatement or MedicationRequest into ``state``. A MedicationRequest of
    the plain shape most orders have is read the short way (:func:`_plain_order`) unless
    ``plain_orders`` is false; either way gives the same trial, report and problems."""
    rules = getattr(ctx.codes.medications_file.statuses, kind)
    reader = ctx.reader(src.where)
    problems = len(reader.problems)
    status = reader.string(res, "status", "status", required=True)
    valid = ctx.binding(reader, f"{kind}.status", status, "status")
    intent = None
    if kind == "MedicationRequest":
        intent = reader.string(res, "intent", "intent", required=True)
        if (
            ctx.binding(reader, "MedicationRequest.intent", intent, "intent")
            and intent not in rules.intents
        ):
            ctx.report.ignore(kind, src.ref, f"intent {intent}: not an order that was taken")
            return
        if reader.boolean(res, "doNotPerform", "doNotPerform"):
            ctx.report.ignore(kind, src.ref, "doNotPerform: an order not to give the medication")
            return
    if not valid:
        return
    if status in rules.not_taken:
        ctx.report.ignore(kind, src.ref, f"status {status}: {rules.not_taken[status]}")
        return
    if status in rules.unknown:
        ctx.report.ambiguity(
            src.ref, src.where, "status unknown: whether it was taken is not known"
        )
        return
    term = None
    reference = None
    if "medicationCodeableConcept" in res:
        term = read_term(ctx, reader, res["medicationCodeableConcept"], "medicationCodeableConcept")
    else:
        ref = reader.mapping(res, "medicationReference", "medicationReference")
        if ref is not None:
            reference = reader.string(ref, "reference", "medicationReference.reference")
            if reference and reference.startswith("#"):
                for contained in reader.array(res, "contained", "contained"):
                    if isinstance(contained, dict) and contained.get("id") == reference[1:]:
                        term = read_term(ctx, reader, contained.get("code"), "contained.code")
                reference = None if term is not None else reference
        else:
            reader.bad("medication[x]", None, "medicationCodeableConcept or medicationReference")
    ongoing = status in ("active", "on-hold")
    if kind == "MedicationStatement":
        dosages = reader.array(res, "dosage", "dosage")
        daily, why = _dose(ctx, reader, dosages, "dosage")
        span = reader.timing(res, "effective")
        start = day_of(span.start) if span else None
        end = day_of(span.end) if span else None
        when = None if start else "no start date (effectivePeriod.start)"
        if span is not None and "effectiveDateTime" in res:
            end = None
            if not ongoing:
                when = "dated by one day only (effectiveDateTime), so its duration is unknown"
        elif not ongoing and start and end is None:
            when = f"status {status} but no end date (effectivePeriod.end)"
    else:
        rid = src.ref.split("/", 1)[-1]
        clean = plain_orders and len(reader.problems) == problems
        plain = _plain_order(ctx, res) if clean else None
        if plain is not None and status and intent:
            daily, why = plain[0], None
            authored = reader.moment(res, "authoredOn", "authoredOn")
            record = MedicationRequest(rid, status, intent, (), authored, supply=plain[1])
        else:
            record, daily, why = _read_order(ctx, reader, res, rid, status, intent, problems)
        days = request_days(record)
        start, end = days if days is not None else (None, None)
        if start is None and record.authored_on is not None:
            start = record.authored_on.day
        when = None if start else "no start date (bounds or authoredOn)"
        if start and days is None and not ongoing:
            when = f"status {status} but no end: no boundsPeriod end, supply duration or quantity"
    role, optimized = _extensions(ctx, reader, res)
    state.pending.append(
        PendingTrial(
            source=src,
            kind=kind,
            term=term,
            reference=reference,
            daily_dose=daily,
            dose_problem=why,
            when_problem=when,
            start=start,
            end=end,
            ongoing=ongoing,
            response=_response(ctx, reader, res),
            role=role,
            dose_optimized=optimized,
        )
    )


def _read_order(
    ctx: Context,
    reader: ElementReader,
    res: dict[str, Any],
    rid: str,
    status: str | None,
    intent: str | None,
    problems: int,
) -> tuple[MedicationRequest, float | None, str | None]:
    """A MedicationRequest's record (for its period), daily dose and why it has none, each
    element read and each problem named."""
    dosages = reader.array(res, "dosageInstruction", "dosageInstruction")
    daily, why = _dose(ctx, reader, dosages, "dosageInstruction")
    # Its status, intent, medication and doNotPerform are read already: when none of them
    # (nor anything else so far) was bad, the record reads only its dates and supply.
    clean = len(reader.problems) == problems and status and intent
    read = (status, intent) if clean and status and intent else None
    before = len(reader.problems)
    record = medication_request_record(reader, res, rid, read=read)
    if read is None:
        # the full reading meets again the elements read above: name each problem once
        named = {(p.path, p.expected) for p in reader.problems[:before]}
        reader.problems[before:] = [
            p for p in reader.problems[before:] if (p.path, p.expected) not in named
        ]
    return record, daily, why


_DOSAGE_KEYS = frozenset({"timing", "doseAndRate", "text", "patientInstruction", "route"})
_REPEAT_KEYS = frozenset({"frequency", "period", "periodUnit"})
_DISPENSE_READ = frozenset({"validityPeriod", "numberOfRepeatsAllowed", "quantity"})


def _number(value: Any) -> TypeGuard[int | float]:
    """A JSON number (not a boolean) of a sensible size."""
    return (type(value) is int or type(value) is float) and -1e15 < value < 1e15


def _plain_order(ctx: Context, res: dict[str, Any]) -> tuple[float, Supply] | None:
    """The daily dose and supply of a MedicationRequest of the plain shape most orders have,
    or None for any other shape (read then element by element, each problem named): one
    dosage instruction of one dose quantity in a mass unit, taken ``frequency`` times per
    ``period periodUnit``; a dispense request, if any, of an expected supply duration and
    nothing else the supply reads. Dose and supply are what :func:`_dose` and
    :func:`~trdnav.fhir.resources.medication_request_record` read from such an order."""
    dosages = res.get("dosageInstruction")
    if type(dosages) is not list or len(dosages) != 1:
        return None
    dosage = dosages[0]
    if type(dosage) is not dict or not _DOSAGE_KEYS.issuperset(dosage):
        return None
    timing, rates = dosage.get("timing"), dosage.get("doseAndRate")
    if type(timing) is not dict or timing.keys() != {"repeat"}:
        return None
    repeat = timing["repeat"]
    if type(repeat) is not dict or not _REPEAT_KEYS.issuperset(repeat):
        return None
    frequency, period = repeat.get("frequency"), repeat.get("period")
    unit = repeat.get("periodUnit")
    if type(frequency) is not int or not 0 < frequency < 1e6:
        return None
    if type(unit) is not str or unit not in DAYS_PER_UNIT:
        return None
    if not _number(period) or period <= 0:
        return None
    if type(rates) is not list or len(rates) != 1 or type(rates[0]) is not dict:
        return None
    if rates[0].keys() != {"doseQuantity"} or type(rates[0]["doseQuantity"]) is not dict:
        return None
    quantity = rates[0]["doseQuantity"]
    value, dose_unit = quantity.get("value"), quantity.get("code") or quantity.get("unit")
    if not _number(value) or value <= 0 or type(dose_unit) is not str:
        return None
    factor = ctx.codes.mg_factor(dose_unit)
    if factor is None:
        return None
    dispense = res.get("dispenseRequest", {})
    if type(dispense) is not dict or not _DISPENSE_READ.isdisjoint(dispense):
        return None
    supply_days = None
    if "expectedSupplyDuration" in dispense:
        duration = dispense["expectedSupplyDuration"]
        days = duration.get("value") if type(duration) is dict else None
        if not _number(days):
            return None
        days_unit = duration.get("code") or duration.get("unit")
        supply_days = in_days((float(days), days_unit if isinstance(days_unit, str) else ""))
    supply = Supply(
        expected_supply_days=supply_days,
        dose=float(value),
        frequency=frequency,
        period=float(period),
        period_unit=unit,
    )
    per_day = doses_per_day(supply)
    daily = float(value) * factor * per_day if per_day else 0.0
    if not daily > 0:
        return None
    return daily, supply


def _identify(ctx: Context, term: Term) -> tuple[str | None, str | None]:
    """The drug id, or why there is none (None: not a drug trdnav tracks)."""
    codes = ctx.codes
    for coding in term.codings:
        drug = codes.drug_codes.get((coding.system, coding.code))
        if drug is not None:
            return drug, None
    for word in term.words:
        found = codes.drug_names.find(word)
        if len(found) > 1:
            return None, f"names more than one drug ({', '.join(sorted(found))})"
        if found and " / " in word:  # RxNorm's separator of a multi-ingredient product
            return (
                None,
                f"a combination product; of its ingredients trdnav knows only {found.pop()}",
            )
        if found:
            return found.pop(), None
    if codes.antidepressants.first(term.codings):
        return None, "an antidepressant that trdnav cannot match to a drug of its knowledge base"
    return None, None


def trials(ctx: Context, state: MedicationState, medications: dict[str, Term]) -> list[Trial]:
    """The trials of the pending records, renewals merged, in start order."""
    found: list[Trial] = []
    kb = ctx.kb
    for p in state.pending:
        term = p.term
        if term is None and p.reference is not None:
            term = medications.get(p.reference) or medications.get(p.reference.rsplit("/", 2)[-1])
            if term is None:
                ctx.report.ambiguity(
                    p.source.ref,
                    p.source.where,
                    f"medicationReference {p.reference} is not in the input",
                )
                continue
        if term is None:
            continue  # reported as a problem already
        drug, why = _identify(ctx, term)
        if drug is None:
            if why is None:
                ctx.report.ignore(p.kind, p.source.ref, "not a drug of trdnav's knowledge base")
            else:
                ctx.report.ambiguity(p.source.ref, p.source.where, f"{term.describe()}: {why}")
            continue
        if p.daily_dose is None:
            ctx.report.ambiguity(
                p.source.ref,
                p.source.where,
                f"{drug}: {p.dose_problem}; trdnav needs the daily dose to judge adequacy, "
                "so the trial is not used",
            )
            continue
        if p.start is None or p.when_problem is not None:
            ctx.report.ambiguity(
                p.source.ref, p.source.where, f"{drug}: {p.when_problem}; the trial is not used"
            )
            continue
        role = p.role or (
            "augmentation" if kb.drugs[drug].drug_class == "augmentation" else "antidepressant"
        )
        found.append(
            Trial(
                sources=[p.source],
                kind=p.kind,
                drug=drug,
                daily_dose=p.daily_dose,
                start=p.start,
                end=p.end,
                role=role,
                response=p.response or "unknown",
                dose_optimized=p.dose_optimized,
                ongoing=p.ongoing,
                response_recorded=p.response is not None,
            )
        )
    return _merge_renewals(found, ctx.codes.procedures_file.course_gap_days)


def _merge_renewals(found: list[Trial], gap_days: int) -> list[Trial]:
    statements = [t for t in found if t.kind == "MedicationStatement"]
    requests = sorted(
        (t for t in found if t.kind == "MedicationRequest"),
        key=lambda t: (t.drug, t.daily_dose, t.start),
    )
    merged: list[Trial] = []
    for trial in requests:
        last = merged[-1] if merged else None
        if (
            last is not None
            and (last.drug, last.daily_dose) == (trial.drug, trial.daily_dose)
            and (last.end is None or trial.start <= last.end + timedelta(days=gap_days))
        ):
            # ``last`` is a Trial made by :func:`trials` for this merge alone: it is extended
            last.sources = [*last.sources, *trial.sources]
            last.end = None if last.end is None or trial.end is None else max(last.end, trial.end)
            if trial.response_recorded:
                last.response = trial.response
            last.response_recorded = trial.response_recorded or last.response_recorded
            last.ongoing = last.ongoing or trial.ongoing
            last.dose_optimized = last.dose_optimized or trial.dose_optimized
        else:
            merged.append(trial)
    return sorted([*statements, *merged], key=lambda t: t.sources[0].seq)
