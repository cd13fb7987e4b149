"""FHIR R4 input to patient histories: Bundles (collection, transaction, searchset, ...) and
single resources parsed as JSON, and bulk-data NDJSON files streamed a line at a time.

:class:`Router` sends each resource to the intake of the patient it belongs to: the Patient its
``subject`` (or ``patient``) references, by ``Patient/<id>``, a URL ending in it, or a Patient
entry's ``fullUrl``; a resource whose reference names no Patient at all (none, or an
unresolved ``urn:uuid:``) belongs to the only Patient, if there is exactly one. With one
Patient, resources that name another are not read and the report warns of them. Medication
resources are kept (as codes) for the records that reference them. Every problem of every
patient is raised together as one :class:`~trdnav.errors.InputError`.

:func:`import_document` reads one JSON document, checks it against the FHIR R4 models first
(:mod:`trdnav.fhir.r4`) and refuses one larger than the limit it is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from trdnav.core.knowledge import KnowledgeBase
from trdnav.errors import InputError, Problem
from trdnav.fhir.bundles import document_resources, ndjson_resources
from trdnav.fhir.codes import FhirCodes
from trdnav.fhir.intake import FhirHistory, PatientIntake, Sequence, resource_ref
from trdnav.fhir.mapping import Context, Term, read_term
from trdnav.fhir.r4 import validate_r4
from trdnav.fhir.report import ImportReport
from trdnav.fhir.resources import Located

__all__ = [
    "FhirImport",
    "Router",
    "import_document",
    "import_files",
    "import_resources",
    "is_fhir",
    "owner_key",
]

_PATIENT = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
PATIENT_DATA = frozenset(
    {
        "Condition",
        "AllergyIntolerance",
        "MedicationStatement",
        "MedicationRequest",
        "Procedure",
        "Observation",
        "QuestionnaireResponse",
    }
)
"""Resource types whose records need a patient (one that names none is an error)."""


def is_fhir(data: Any) -> bool:
    """Whether a parsed JSON document is FHIR (a resource or Bundle) rather than the core
    format."""
    return isinstance(data, dict) and isinstance(data.get("resourceType"), str)


def owner_key(reference: str) -> str:
    """The key of the patient a reference names: ``Patient/<id>``, else the reference."""
    found = _PATIENT.search(reference)
    return f"Patient/{found.group(1)}" if found else reference


def _subject(res: dict[str, Any]) -> str | None:
    for key in ("subject", "patient"):
        ref = res.get(key)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            return str(ref["reference"])
    return None


@dataclass
class FhirImport:
    """Each patient's history and report, and the report of resources of no patient."""

    patients: list[FhirHistory]
    unowned: ImportReport
    owners: dict[str, str] = field(default_factory=dict)
    """The key each resource reference was routed to, for storing the source resources."""

    def report_json(self) -> dict[str, Any]:
        return {
            "patients": [p.report.to_json() for p in self.patients],
            "other": self.unowned.to_json(),
        }


class Router:
    """Resources in, one intake per patient; :meth:`finish` gives the histories."""

    def __init__(self, codes: FhirCodes, kb: KnowledgeBase, as_of: date) -> None:
        self.codes, self.kb, self.as_of = codes, kb, as_of
        self.intakes: dict[str, PatientIntake] = {}
        self.aliases: dict[str, str] = {}
        self.medications: dict[str, Term] = {}
        self.unowned = ImportReport()
        self._medication_ctx = Context(codes, kb, as_of, self.unowned)
        self.problems: list[Problem] = []
        self.seq = Sequence()
        self._keys: dict[str, str] = {}

    def _intake(self, key: str) -> PatientIntake:
        if key not in self.intakes:
            self.intakes[key] = PatientIntake(self.codes, self.kb, self.as_of, self.seq)
        return self.intakes[key]

    def add(self, item: Located) -> str | None:
        """Read one resource; returns the key of the patient it went to (None: of no patient)."""
        res = item.resource
        if not isinstance(res, dict) or not isinstance(res.get("resourceType"), str):
            self.problems.append(Problem(item.where, res, "a FHIR resource (resourceType)"))
            return None
        kind = res["resourceType"]
        if kind in self.codes.other_versions:
            hint = self.codes.other_versions[kind]
            self.problems.append(
                Problem(
                    f"{item.where}.resourceType",
                    kind,
                    f"a FHIR R4 resource type ({kind} is {hint})",
                )
            )
            return None
        if kind == "Patient":
            rid = res.get("id")
            if not isinstance(rid, str) or not rid:
                self.problems.append(
                    Problem(f"{item.where}.id", rid, "the Patient's id", missing=rid is None)
                )
                return None
            key = f"Patient/{rid}"
            if item.full_url:
                self.aliases[item.full_url] = key
            self._intake(key).add(item)
            return key
        if kind == "Medication":
            self._medication(item)
            return None
        ref = _subject(res)
        if ref is not None:
            owner = self._keys.get(ref)
            if owner is None:
                owner = self._keys[ref] = owner_key(ref)
            self._intake(owner).add(item)
            return owner
        if kind in PATIENT_DATA:
            self._intake("").add(item)
            return ""
        self.unowned.resources += 1
        self.unowned.ignore(kind, resource_ref(res, item.where), "a resource of no patient")
        return None

    def _medication(self, item: Located) -> None:
        res = item.resource
        ctx = self._medication_ctx
        reader = ctx.reader(item.where)
        term = read_term(ctx, reader, res.get("code"), "code")
        rid = res.get("id")
        self.unowned.resources += 1
        self.unowned.ignore(
            "Medication",
            resource_ref(res, item.where),
            "read through the records that reference it",
        )
        for key in (f"Medication/{rid}" if isinstance(rid, str) else None, item.full_url, rid):
            if isinstance(key, str):
                self.medications[key] = term

    def finish(self) -> FhirImport:
        """Every patient's history; :class:`InputError` with every problem of the input."""
        problems = self.problems + self._medication_ctx.problems
        patients = {k: v for k, v in self.intakes.items() if v.patients}
        owners: dict[str, str] = {}
        for key, intake in list(self.intakes.items()):
            if key in patients:
                owners[key] = key
                continue
            target = self.aliases.get(key)
            if target is None and len(patients) == 1:
                only = next(iter(patients))
                if not _PATIENT.search(key):
                    target = only
                else:
                    # Records that name another Patient are not read: they would change
                    # this patient's assessment. The report says so.
                    patients[only].ctx.report.warn(
                        key,
                        intake.first_where or "(input)",
                        f"{intake.added} resource(s) name another patient ({key}), not "
                        f"{only}: not read",
                    )
                    continue
            if target is None or target not in patients:
                more = f" (and {intake.added - 1} more)" if intake.added > 1 else ""
                problems.append(
                    Problem(
                        f"{intake.first_where}.subject.reference{more}",
                        key or None,
                        "a reference to a Patient in the input",
                        missing=not key,
                    )
                )
                continue
            patients[target].absorb(intake)
            owners[key] = target
        if not patients and not problems:
            problems.append(Problem("(input)", None, "at least one Patient resource", missing=True))
        histories: list[FhirHistory] = []
        for key, intake in patients.items():
            try:
                histories.append(intake.finish(self.medications, key))
            except InputError as exc:
                problems.extend(exc.problems)
        if problems:
            raise InputError(problems)
        return FhirImport(histories, self.unowned, owners)


def import_resources(
    resources: Iterable[Located], kb: KnowledgeBase, codes: FhirCodes, as_of: date
) -> FhirImport:
    router = Router(codes, kb, as_of)
    for item in resources:
        router.add(item)
    return router.finish()


def import_document(
    data: Any,
    kb: KnowledgeBase,
    codes: FhirCodes,
    as_of: date,
    *,
    name: str = "(document)",
    validate: bool = True,
) -> tuple[FhirImport, list[Located]]:
    """One parsed JSON document (a Bundle or a resource): its patients and its resources.
    With ``validate`` every resource is checked against the FHIR R4 models first."""
    problems: list[Problem] = []
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        kind = data.get("type")
        if kind is not None and kind not in codes.bindings["Bundle.type"]:
            allowed = ", ".join(sorted(codes.bindings["Bundle.type"]))
            problems.append(
                Problem(f"{name}: type", kind, f"a Bundle.type of FHIR R4: one of {allowed}")
            )
    resources = list(document_resources(data, name, problems))
    if validate:
        problems += validate_r4(resources, codes)
    return _finish(import_resources, problems, resources, kb, codes, as_of), resources


def _finish(run: Any, problems: list[Problem], *args: Any) -> FhirImport:
    """Run the import and raise the problems found before it together with its own."""
    try:
        result: FhirImport = run(*args)
    except InputError as exc:
        seen = {p.path for p in problems}
        problems += [p for p in exc.problems if p.path not in seen]
    if problems:
        raise InputError(problems)
    return result


def import_files(
    paths: Iterable[Path], kb: KnowledgeBase, codes: FhirCodes, as_of: date
) -> FhirImport:
    """Bulk-data NDJSON files (or JSON documents) streamed into one import."""
    problems: list[Problem] = []
    router = Router(codes, kb, as_of)
    for item in _stream(paths, problems):
        router.add(item)
    return _finish(router.finish, problems)


def _stream(paths: Iterable[Path], problems: list[Problem]) -> Iterator[Located]:
    from trdnav.fhir.bundles import _from_file, is_ndjson

    for path in paths:
        if is_ndjson(path):
            yield from ndjson_resources(path, problems)
        else:
            yield from _from_file(path, problems)
