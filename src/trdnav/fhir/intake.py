"""FHIR R4 resources (plain JSON) to one patient's history in the core format, with a report.

:class:`PatientIntake` takes one patient's resources one at a time (:meth:`~PatientIntake.add`)
and keeps only what the history needs, never the resources themselves, so a bulk file
streams through in memory that grows with the facts kept, not with the input. :meth:`finish`
decides the episode, builds the core document and validates it with the core's intake; a
problem the core finds is reported at the FHIR resource it came from.

:mod:`trdnav.fhir.imports` routes the resources of a Bundle or of bulk files to one intake per
patient.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from trdnav.core.history import MRN_LENGTH, NAME_LENGTH, PatientHistory
from trdnav.core.intake import parse_history
from trdnav.core.knowledge import KnowledgeBase
from trdnav.errors import InputError, Problem
from trdnav.fhir.codes import FhirCodes
from trdnav.fhir.map_conditions import (
    ConditionState,
    decide_episode,
    read_allergy,
    read_condition,
)
from trdnav.fhir.map_medications import MedicationState, read_medication, trials
from trdnav.fhir.map_procedures import ProcedureState, courses, read_procedure
from trdnav.fhir.map_scores import ScoreState, measurements, read_observation, read_response
from trdnav.fhir.mapping import Context, Source, Term, read_term, shortened
from trdnav.fhir.report import ImportReport
from trdnav.fhir.resources import Located

__all__ = ["FhirHistory", "PatientIntake", "Sequence", "intake_sources", "resource_ref"]

IGNORED_TYPE = "a resource type trdnav does not read"


def _iso(day: date) -> str:
    return day.isoformat()


def resource_ref(res: dict[str, Any], where: str) -> str:
    """``Type/id``, or where the resource was found when it has no id."""
    rid = res.get("id")
    kind = res.get("resourceType", "Resource")
    return f"{kind}/{rid}" if isinstance(rid, str) and rid else f"{kind} at {where}"


@dataclass
class FhirHistory:
    """One patient's history read from FHIR, the report of the import, and which FHIR
    resources each part of the history came from (``medication_trials[0]`` ->
    ``["MedicationStatement/ms1"]``)."""

    history: PatientHistory
    document: dict[str, Any]
    report: ImportReport
    provenance: dict[str, list[str]] = field(default_factory=dict)


class Sequence:
    """Numbers resources in the order they are read (shared by the intakes of one input):
    ``next()`` gives 1, 2, ..."""

    def __init__(self) -> None:
        self.next: Callable[[], int] = itertools.count(1).__next__


@dataclass
class _Demographics:
    source: Source
    id: str | None
    birth_date: date | None
    sex: str | None
    name: str | None
    mrn: str | None
    birth_precision: str = "day"
    """``year`` or ``month`` for a birth date given only to the year or month."""


class PatientIntake:
    """The resources of one patient, read one at a time."""

    def __init__(
        self, codes: FhirCodes, kb: KnowledgeBase, as_of: date, seq: Sequence | None = None
    ) -> None:
        self.ctx = Context(codes, kb, as_of, ImportReport())
        self.seq = seq or Sequence()
        self.patients: list[_Demographics] = []
        self.conditions = ConditionState()
        self.medications = MedicationState()
        self.procedures = ProcedureState()
        self.scores = ScoreState()
        self.first_where: str | None = None
        self.added = 0

    @property
    def problems(self) -> list[Problem]:
        return self.ctx.problems

    def add(self, item: Located) -> None:
        res = item.resource
        kind = res.get("resourceType")
        src = Source(resource_ref(res, item.where), item.where, self.seq.next())
        ctx = self.ctx
        ctx.report.resources += 1
        self.added += 1
        if self.first_where is None:
            self.first_where = item.where
        if kind == "Observation":  # the most common first
            read_observation(ctx, self.scores, res, src, item.full_url)
        elif kind in ("MedicationRequest", "MedicationStatement"):
            read_medication(ctx, self.medications, res, src, kind)
        elif kind == "Patient":
            self.patients.append(self._demographics(res, src))
        elif kind == "Condition":
            read_condition(ctx, self.conditions, res, src)
        elif kind == "AllergyIntolerance":
            read_allergy(ctx, self.conditions, res, src)
        elif kind == "Procedure":
            read_procedure(ctx, self.procedures, res, src)
        elif kind == "QuestionnaireResponse":
            read_response(ctx, self.scores, res, src)
        else:
            ctx.report.ignore(str(kind), src.ref, IGNORED_TYPE)

    def absorb(self, other: PatientIntake) -> None:
        """Take over another intake's resources (the same patient, found under another key)."""
        self.patients += other.patients
        self.added += other.added
        self.conditions.episodes += other.conditions.episodes
        for key, sources in other.conditions.findings.items():
            self.conditions.findings.setdefault(key, []).extend(sources)
        self.medications.pending += other.medications.pending
        self.procedures.sessions += other.procedures.sessions
        self.scores.observations += other.scores.observations
        self.scores.complete += other.scores.complete
        self.problems.extend(other.problems)
        self.ctx.report.absorb(other.ctx.report)

    def _demographics(self, res: dict[str, Any], src: Source) -> _Demographics:
        ctx = self.ctx
        reader = ctx.reader(src.where)
        gender = reader.string(res, "gender", "gender")
        if gender is not None:
            ctx.binding(reader, "Patient.gender", gender, "gender")
        birth = reader.moment(res, "birthDate", "birthDate")
        name = None
        names = reader.array(res, "name", "name")
        if names and isinstance(names[0], dict):
            first = names[0]
            text = first.get("text")
            if isinstance(text, str) and text.strip():
                name = text.strip()
            else:
                given = first.get("given")
                given = given if isinstance(given, list) else []
                parts = [*[g for g in given if isinstance(g, str)], first.get("family")]
                name = " ".join(p for p in parts if isinstance(p, str) and p) or None
        mrn = None
        for i, identifier in enumerate(reader.array(res, "identifier", "identifier")):
            if not isinstance(identifier, dict):
                continue
            kind = read_term(ctx, reader, identifier.get("type"), f"identifier[{i}].type")
            is_mrn = any(
                c.system == ctx.codes.system("identifier_type") and c.code == "MR"
                for c in kind.codings
            )
            value = identifier.get("value")
            if is_mrn and isinstance(value, str):
                if len(value.strip()) > MRN_LENGTH:
                    # An identifier cut short could name another patient's record.
                    ctx.report.warn(
                        src.ref,
                        f"{src.where}.identifier[{i}].value",
                        f"the medical record number is {len(value.strip())} characters long, "
                        f"more than the {MRN_LENGTH} a history keeps: not kept",
                    )
                    continue
                mrn = value
                break
        if name is not None:
            name = shortened(ctx, src, "name[0]", name, NAME_LENGTH, "the patient's name")
        rid = res.get("id") if isinstance(res.get("id"), str) else None
        precision = birth.precision.name.lower() if birth else "day"
        return _Demographics(src, rid, birth.day if birth else None, gender, name, mrn, precision)

    def _by_as_of(self, start: date, sources: Iterable[Source]) -> bool:
        """Whether a record starts by the import date; one that starts later (a mistyped
        year, a planned date) is left out, and the report names its resources: the
        assessment would not count it, and nothing is stored that is never counted."""
        if start <= self.ctx.as_of:
            return True
        reason = f"dated after the import date ({self.ctx.as_of.isoformat()}): not imported"
        for source in sources:
            self.ctx.report.ignore(source.ref.split("/")[0], source.ref, reason)
        return False

    def finish(self, medications: dict[str, Term], patient_id: str | None = None) -> FhirHistory:
        """The history, or :class:`InputError` with every problem of this patient's data."""
        ctx, report = self.ctx, self.ctx.report
        if not self.patients:
            raise InputError(
                [Problem(patient_id or "(input)", None, "a Patient resource", missing=True)]
            )
        person = self.patients[0]
        for extra in self.patients[1:]:
            # the same patient again: the first is read, unless the two disagree on what
            # the rules use (age, sex), which only the sender can settle
            for key, field_, shown in (("birthDate", "birth_date", _iso), ("gender", "sex", str)):
                theirs, ours = getattr(extra, field_), getattr(person, field_)
                if theirs is not None and ours is not None and theirs != ours:
                    self.problems.append(
                        Problem(
                            f"{extra.source.where}.{key}",
                            shown(theirs),
                            f"the {key} of the same patient in {person.source.where} "
                            f"({shown(ours)}): the two Patient resources disagree",
                        )
                    )
            ctx.report.ignore("Patient", extra.source.ref, "the same patient given again")
        report.patient = person.id
        if person.birth_date is None and not any(
            p.path == f"{person.source.where}.birthDate" for p in self.problems
        ):
            self.problems.append(
                Problem(
                    f"{person.source.where}.birthDate",
                    None,
                    "the patient's birth date (trdnav needs the age)",
                    missing=True,
                )
            )
        found_trials = trials(ctx, self.medications, medications)
        found_courses = courses(ctx, self.procedures)
        found_scores = measurements(ctx, self.scores)
        found_trials = [t for t in found_trials if self._by_as_of(t.start, t.sources)]
        found_courses = [c for c in found_courses if self._by_as_of(c.start, c.sources)]
        found_scores = [m for m in found_scores if self._by_as_of(m.day, m.sources)]
        dates = [t.start for t in found_trials] + [c.start for c in found_courses]
        dates += [m.day for m in found_scores]
        episode = decide_episode(ctx, self.conditions, min(dates) if dates else None)
        if self.problems:
            raise InputError(self.problems)
        assert person.birth_date is not None
        assert person.id is not None
        if person.birth_precision in ("year", "month"):
            report.lack(
                "patient.birth_date",
                f"{person.source.ref} gives the birth date to the {person.birth_precision} only",
                person.birth_date.isoformat(),
            )
        sex = person.sex
        if sex is None:
            sex = "unknown"
            report.lack("patient.sex", f"{person.source.ref} has no gender", sex)
        report.map(person.source.ref, person.source.where, "patient", "the patient")
        provenance: dict[str, list[str]] = {"patient": [person.source.ref]}
        if episode.source is not None:
            provenance["episode"] = [episode.source.ref]
        doc: dict[str, Any] = {
            "id": person.id,
            "as_of": ctx.as_of.isoformat(),
            "patient": {"birth_date": person.birth_date.isoformat(), "sex": sex},
            "episode": {
                "onset": episode.onset.isoformat(),
                "severity": episode.severity,
                "psychotic_features": episode.psychotic_features,
                "recurrent": episode.recurrent,
            },
            "conditions": sorted(self.conditions.findings),
            "medication_trials": [],
            "psychotherapy": [],
            "procedures": [],
            "measurements": [],
        }
        if person.name:
            doc["patient"]["name"] = person.name
        if person.mrn:
            doc["patient"]["mrn"] = person.mrn
        for index, condition in enumerate(doc["conditions"]):
            sources = self.conditions.findings[condition]
            path = f"conditions[{index}]"
            provenance[path] = [s.ref for s in sources]
            for s in sources:
                report.map(s.ref, s.where, path, ctx.kb.conditions[condition].name)
        for index, trial in enumerate(found_trials):
            path = f"medication_trials[{index}]"
            doc["medication_trials"].append(trial.document())
            provenance[path] = [s.ref for s in trial.sources]
            text = f"{trial.drug} {trial.daily_dose:g} mg/day from {trial.start.isoformat()}"
            for s in trial.sources:
                report.map(s.ref, s.where, path, text)
            finished = trial.end is not None and trial.end <= ctx.as_of and not trial.ongoing
            unknown = not trial.response_recorded
            if unknown and finished and trial.role == "antidepressant":
                report.lack(
                    f"{path}.response",
                    f"{', '.join(provenance[path])}: the response to {trial.drug} is not "
                    "recorded, so the trial cannot count as failed",
                    "unknown",
                )
        counts = {"psychotherapy": 0, "procedures": 0}
        for course in found_courses:
            section = "psychotherapy" if course.psychotherapy else "procedures"
            path = f"{section}[{counts[section]}]"
            counts[section] += 1
            doc[section].append(course.document())
            provenance[path] = [s.ref for s in course.sources]
            text = f"{course.kind}, {course.sessions} session(s) from {course.start.isoformat()}"
            for s in course.sources:
                report.map(s.ref, s.where, path, text)
            if not course.psychotherapy and not course.counted and course.kind in ("ECT", "TMS"):
                report.lack(
                    f"{path}.sessions",
                    f"{course.kind} sessions counted from {len(course.sources)} Procedure(s), "
                    "each taken as one session",
                    course.sessions,
                )
            if not course.psychotherapy and not course.response_recorded and course.kind == "ECT":
                report.lack(
                    f"{path}.response",
                    "the response to ECT is not recorded, so the course cannot count as failed",
                    "unknown",
                )
        for index, scored in enumerate(found_scores):
            path = f"measurements[{index}]"
            doc["measurements"].append(scored.document())
            provenance[path] = [s.ref for s in scored.sources]
            text = f"{scored.instrument} on {scored.day.isoformat()}"
            for s in scored.sources:
                report.map(s.ref, s.where, path, text)
        try:
            history = parse_history(doc, ctx.kb)
        except InputError as exc:
            raise InputError(_at_sources(exc.problems, provenance, self)) from None
        return FhirHistory(history, doc, report, provenance)


def _at_sources(
    problems: tuple[Problem, ...], provenance: dict[str, list[str]], intake: PatientIntake
) -> list[Problem]:
    """Problems the core found, named at the FHIR resources they came from."""
    where = {s.ref: s.where for s in intake_sources(intake)}
    out = []
    for p in problems:
        head = p.path.split(".")[0]
        refs = provenance.get(head) or provenance.get(p.path.split("[")[0]) or []
        if refs:
            at = ", ".join(f"{where.get(r, r)} ({r})" for r in refs)
            out.append(Problem(f"{at}: {p.path}", p.value, p.expected, p.missing))
        else:
            out.append(p)
    return out


def intake_sources(intake: PatientIntake) -> list[Source]:
    out = [p.source for p in intake.patients]
    out += [c.source for c in intake.conditions.episodes]
    out += [s for sources in intake.conditions.findings.values() for s in sources]
    out += [p.source for p in intake.medications.pending]
    out += [s.source for s in intake.procedures.sessions]
    out += [o.source for o in intake.scores.observations]
    out += [s for scored in intake.scores.complete for s in scored.sources]
    return out
