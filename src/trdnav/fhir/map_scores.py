"""FHIR Observation and QuestionnaireResponse resources: rating-scale measurements.

A measurement needs every item score of its instrument (the core scores it and checks the
suicide item). They are read from:

* a **panel** Observation (PHQ-9 44249-1, or trdnav's own instrument code): its ``component``
  items and the item (and total) Observations its ``hasMember`` references;
* **item** Observations that no panel references, grouped by instrument and effective time;
* a **QuestionnaireResponse**: its items by ``linkId`` (a LOINC item code, or the last segment
  of a path such as ``/44249-1/44250-9``), its instrument by ``questionnaire`` or by its items.

Answers are ``valueInteger``, a whole ``valueQuantity``/``valueDecimal``, a numeric
``valueString``, or a LOINC answer code (LA6568-5 = 0 ... LA6571-9 = 3). Only final, amended and
corrected Observations and completed or amended responses count. A total without its items,
an incomplete set of items, or a measurement without a date is ambiguous. The same
measurement read twice (a response and the panel derived from it) is kept once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from trdnav.fhir.elements import ElementReader, read_moment
from trdnav.fhir.mapping import Context, Source, Term, plain_term, read_term
from trdnav.measures.timing import Moment

__all__ = ["ScoreState", "Scored", "measurements", "read_observation", "read_response"]

FINAL = frozenset({"final", "amended", "corrected"})
DONE = frozenset({"completed", "amended"})
_WHOLE = re.compile(r"\s*\d+\s*")
_SMALL = 2**31
"""Integers below this size are exact as floats (the readers read numbers as floats)."""
TOTAL_ONLY = (
    "a rating-scale total without item scores; trdnav needs the items (the suicide item and "
    "the scoring), so it is not used"
)


@dataclass(slots=True)
class ScoreObservation:
    source: Source
    keys: tuple[str, ...]
    instrument: str
    part: str
    item: int
    moment: Moment | None
    value: int | None
    items: dict[int, int] = field(default_factory=dict)
    members: list[str] = field(default_factory=list)
    used: bool = False


@dataclass
class Scored:
    sources: list[Source]
    instrument: str
    day: date
    items: list[int]
    from_response: bool = False

    def document(self) -> dict[str, Any]:
        return {"instrument": self.instrument, "date": self.day.isoformat(), "items": self.items}


@dataclass
class ScoreState:
    observations: list[ScoreObservation] = field(default_factory=list)
    complete: list[Scored] = field(default_factory=list)


def _score(ctx: Context, reader: ElementReader, obj: dict[str, Any], path: str) -> int | None:
    """An answer's score from ``value[x]`` (``None`` when it has none or it is not a score).
    ``path`` leads to the element holding the answer: ``""`` (the resource), or
    ``"component[2]."``."""
    usual = _usual_answer(obj)
    if usual is not None:
        return usual
    for key in ("valueInteger", "valueDecimal"):
        if key in obj:
            number = reader.number(obj, key, path + key)
            if number is not None and number == int(number):
                return int(number)
            reader.bad(path + key, obj[key], "a whole-number score")
            return None
    if "valueQuantity" in obj:
        quantity = reader.quantity(obj, "valueQuantity", path + "valueQuantity")
        if quantity is not None and quantity[0] == int(quantity[0]):
            return int(quantity[0])
        return None
    if "valueString" in obj:
        text = obj["valueString"]
        return int(text) if isinstance(text, str) and _WHOLE.fullmatch(text) else None
    for key in ("valueCodeableConcept", "valueCoding"):
        if key in obj:
            value = obj[key] if key == "valueCodeableConcept" else {"coding": [obj[key]]}
            term = read_term(ctx, reader, value, path + key)
            for coding in term.codings:
                if (coding.system, coding.code) in ctx.codes.answers:
                    return ctx.codes.answers[(coding.system, coding.code)]
            return None
    return None


def _usual_answer(obj: dict[str, Any]) -> int | None:
    """The usual answer, a small whole ``valueInteger``, as :func:`_score` reads it; None for
    anything else (which :func:`_score` reads element by element)."""
    value = obj.get("valueInteger")
    return value if type(value) is int and -_SMALL < value < _SMALL else None


def _instrument_of(ctx: Context, term: Term) -> tuple[str, str, int] | None:
    for coding in term.codings:
        found = ctx.codes.instrument_codes.get((coding.system, coding.code))
        if found is not None:
            return found
    return None


_VALUES = (
    "valueInteger",
    "valueDecimal",
    "valueQuantity",
    "valueString",
    "valueCodeableConcept",
    "valueCoding",
)
"""The ``value[x]`` elements :func:`_score` reads."""


def read_observation(
    ctx: Context,
    state: ScoreState,
    res: dict[str, Any],
    src: Source,
    full_url: str | None,
    *,
    plain: bool = True,
) -> None:
    """Read an Observation into ``state``. One of the plain shape most have is read the short
    way (:func:`_plain_observation`) unless ``plain`` is false; either way gives the same
    observation, report and problems."""
    if plain:
        observation = _plain_observation(ctx, res, src, full_url)
        if observation is not None:
            state.observations.append(observation)
            return
    codes = ctx.codes
    reader = ctx.reader(src.where)
    status = reader.string(res, "status", "status", required=True)
    valid = ctx.binding(reader, "Observation.status", status, "status")
    code = read_term(ctx, reader, res.get("code"), "code")
    if "code" not in res:
        reader.bad("code", None, "a CodeableConcept (Observation.code is required)")
    found = _instrument_of(ctx, code)
    if found is None:
        if code.local(codes.local_system("assessment")):
            ctx.report.ignore(
                "Observation", src.ref, "a result trdnav derives (recomputed by the assessment)"
            )
        elif codes.totals.first(code.codings):
            ctx.report.ambiguity(
                src.ref,
                src.where,
                f"{code.describe()}: {TOTAL_ONLY}",
            )
        else:
            ctx.report.ignore("Observation", src.ref, "not a rating-scale code trdnav reads")
        return
    if not valid:
        return
    if status not in FINAL:
        ctx.report.ignore("Observation", src.ref, f"status {status}: not a final result")
        return
    instrument, part, item = found
    span = reader.timing(res, "effective")
    observation = ScoreObservation(
        source=src,
        keys=(src.ref, full_url) if full_url else (src.ref,),
        instrument=instrument,
        part=part,
        item=item,
        moment=span.start if span else None,
        value=_score(ctx, reader, res, ""),
    )
    for i, component in enumerate(reader.array(res, "component", "component")):
        if not isinstance(component, dict):
            reader.bad(f"component[{i}]", component, "a component object")
            continue
        term = read_term(ctx, reader, component.get("code"), f"component[{i}].code")
        part_of = _instrument_of(ctx, term)
        if part_of is None or part_of[0] != instrument:
            continue
        value = _score(ctx, reader, component, f"component[{i}].")
        if part_of[1] == "item" and value is not None:
            observation.items[part_of[2]] = value
    for i, member in enumerate(reader.array(res, "hasMember", "hasMember")):
        ref = member.get("reference") if isinstance(member, dict) else None
        if isinstance(ref, str):
            observation.members.append(ref)
        else:
            reader.bad(f"hasMember[{i}].reference", ref, "a reference to an Observation")
    state.observations.append(observation)


def _plain_observation(
    ctx: Context, res: dict[str, Any], src: Source, full_url: str | None
) -> ScoreObservation | None:
    """An Observation of the plain shape, read in one pass; None for any other shape (read
    then element by element, each problem named). The plain shape: a final, amended or
    corrected result of a code of an instrument, dated by a valid ``effectiveDateTime``, with
    a small ``valueInteger`` or no value, no ``component``, and members (if any) each given
    by a reference. It is what :func:`read_observation` reads from such an Observation."""
    status, code = res.get("status"), res.get("code")
    if type(status) is not str or status not in FINAL or type(code) is not dict:
        return None
    if "component" in res:
        return None
    term = plain_term(ctx, code)
    found = _instrument_of(ctx, term) if term is not None else None
    when = res.get("effectiveDateTime")
    if found is None or type(when) is not str:
        return None
    try:
        moment = read_moment(when)
    except ValueError:
        return None
    value = _usual_answer(res)
    if value is None and any(key in res for key in _VALUES):
        return None
    members: list[str] = []
    listed = res.get("hasMember")
    if listed is not None:
        if type(listed) is not list:
            return None
        for member in listed:
            ref = member.get("reference") if type(member) is dict else None
            if type(ref) is not str:
                return None
            members.append(ref)
    instrument, part, item = found
    return ScoreObservation(
        source=src,
        keys=(src.ref, full_url) if full_url else (src.ref,),
        instrument=instrument,
        part=part,
        item=item,
        moment=moment,
        value=value,
        members=members,
    )


def _walk(items: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            out.append(item)
            out += _walk(item.get("item"))
            for answer in item.get("answer") or []:
                if isinstance(answer, dict):
                    out += _walk(answer.get("item"))
    return out


def read_response(ctx: Context, state: ScoreState, res: dict[str, Any], src: Source) -> None:
    codes = ctx.codes
    reader = ctx.reader(src.where)
    status = reader.string(res, "status", "status", required=True)
    if not ctx.binding(reader, "QuestionnaireResponse.status", status, "status"):
        return
    questionnaire = reader.string(res, "questionnaire", "questionnaire")
    instrument = codes.questionnaires.get((questionnaire or "").split("|")[0])
    scores: dict[int, int] = {}
    loinc, local = codes.system("loinc"), codes.local_system("instrument")
    for item in _walk(reader.array(res, "item", "item")):
        link = item.get("linkId")
        if not isinstance(link, str):
            continue
        key = link.rstrip("/").rsplit("/", 1)[-1]
        found = codes.instrument_codes.get((loinc, key)) or codes.instrument_codes.get((local, key))
        if found is None or found[1] != "item":
            continue
        if instrument is None:
            instrument = found[0]
        if found[0] != instrument:
            continue
        answers = item.get("answer")
        if isinstance(answers, list) and answers and isinstance(answers[0], dict):
            value = _score(ctx, reader, answers[0], f"item[linkId={link}].answer[0].")
            if value is not None:
                scores[found[2]] = value
    if instrument is None:
        ctx.report.ignore(
            "QuestionnaireResponse", src.ref, "not a questionnaire of a rating scale trdnav reads"
        )
        return
    if status not in DONE:
        ctx.report.ignore("QuestionnaireResponse", src.ref, f"status {status}: not completed")
        return
    authored = reader.moment(res, "authored", "authored")
    _complete(ctx, state, [src], instrument, authored, scores, from_response=True)


def _complete(
    ctx: Context,
    state: ScoreState,
    sources: list[Source],
    instrument: str,
    moment: Moment | None,
    scores: dict[int, int],
    *,
    from_response: bool = False,
) -> None:
    inst = ctx.kb.instruments[instrument]
    src = sources[0]
    missing = [i.number for i in inst.items if i.number not in scores]
    if missing:
        ctx.report.ambiguity(
            src.ref,
            src.where,
            f"{instrument} without item(s) {', '.join(map(str, missing))}: trdnav needs every "
            "item score, so it is not used",
        )
        return
    if moment is None:
        ctx.report.ambiguity(
            src.ref,
            src.where,
            f"{instrument}: no date (effective[x] or authored), so it is not used",
        )
        return
    items = [scores[i.number] for i in inst.items]
    state.complete.append(Scored(sources, instrument, moment.day, items, from_response))


def measurements(ctx: Context, state: ScoreState) -> list[Scored]:
    """Every complete measurement, in date order, each read once."""
    by_key: dict[str, ScoreObservation] = {}
    for obs in state.observations:
        for key in obs.keys:
            by_key[key] = obs
    for panel in (o for o in state.observations if o.part == "panel"):
        panel.used = True
        scores = dict(panel.items)
        sources = [panel.source]
        for ref in panel.members:
            member = by_key.get(ref)
            if member is None or member.instrument != panel.instrument:
                continue
            member.used = True
            sources.append(member.source)
            if member.part == "item" and member.value is not None:
                scores[member.item] = member.value
        _complete(ctx, state, sources, panel.instrument, panel.moment, scores)
    loose: dict[tuple[str, Any], list[ScoreObservation]] = {}
    for obs in state.observations:
        if obs.used:
            continue
        if obs.part == "total":
            ctx.report.ambiguity(
                obs.source.ref,
                obs.source.where,
                f"{obs.instrument}: {TOTAL_ONLY}",
            )
            continue
        when = obs.moment.sort_key if obs.moment else None
        loose.setdefault((obs.instrument, when), []).append(obs)
    for (instrument, _), group in loose.items():
        scores = {o.item: o.value for o in group if o.value is not None}
        _complete(ctx, state, [o.source for o in group], instrument, group[0].moment, scores)
    responses = {(s.instrument, s.day, tuple(s.items)) for s in state.complete if s.from_response}
    kept = []
    for scored in state.complete:
        same = (scored.instrument, scored.day, tuple(scored.items))
        if not scored.from_response and same in responses:
            for src in scored.sources:
                ctx.report.ignore(
                    src.ref.split("/")[0],
                    src.ref,
                    "the same measurement as a QuestionnaireResponse read (kept once)",
                )
            continue
        kept.append(scored)
    return sorted(kept, key=lambda s: min(src.seq for src in s.sources))
