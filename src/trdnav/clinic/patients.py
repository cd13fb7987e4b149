"""Patients and their history: import, read, list, change, remove, assess.

Every change is validated the same way: the patient's stored history is rebuilt as a core
document, the change is applied to it, and the whole document goes through the core's
intake. So a change is accepted only if the resulting history is valid, and the problems
are reported with their field paths. Writes check the patient's version (``if_match``)
in the same UPDATE that bumps it, so two clinicians cannot overwrite each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from trdnav.clinic import audit
from trdnav.clinic.actor import Actor
from trdnav.clinic.assessment_cache import AssessmentCache, AssessmentKey
from trdnav.core.assessment import Assessment, assess
from trdnav.core.history import FHIR_ID_LENGTH, PatientHistory
from trdnav.core.intake import (
    check_as_of,
    dated_after,
    parse_history,
    records_before_birth,
    stored_history,
)
from trdnav.core.knowledge import KnowledgeBase
from trdnav.errors import (
    Conflict,
    InputError,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Problem,
)
from trdnav.store import history_rows
from trdnav.store.database import Store
from trdnav.store.history_rows import ITEM_KINDS, ItemKind
from trdnav.store.tables import (
    Course,
    FhirResource,
    Note,
    Patient,
    PatientCondition,
    User,
    utcnow,
)

__all__ = [
    "AS_OF_PARAMETER",
    "Page",
    "PatientFilters",
    "add_item",
    "add_note",
    "assessment",
    "assessment_json",
    "bump_version",
    "correct_item",
    "delete_patient",
    "document_as_of",
    "get_patient",
    "history_document",
    "import_patient",
    "insert_patient",
    "kept_assessment_json_on",
    "list_notes",
    "list_patients",
    "load_patient",
    "patient_view",
    "patient_with_assessment",
    "prepared_history",
    "refresh_stale_summaries",
    "remove_item",
    "restore_patient",
    "revalidate",
    "store_fhir_resources",
    "summarise",
    "update_patient",
]

CHILDREN = (
    selectinload(Patient.episodes),
    selectinload(Patient.conditions),
    selectinload(Patient.medication_trials),
    selectinload(Patient.psychotherapy),
    selectinload(Patient.procedures),
    selectinload(Patient.measurements),
    selectinload(Patient.clinician),
)
PATIENT_FIELDS = ("mrn", "name", "birth_date", "sex")
EPISODE_FIELDS = ("onset", "severity", "psychotic_features", "recurrent")


# --- reading ------------------------------------------------------------------------


def load_patient(
    session: Session,
    actor: Actor,
    patient_id: str,
    *,
    deleted: bool = False,
    children: bool = True,
) -> Patient:
    """The patient of the actor's clinic; 404 for anything else, so existence never leaks."""
    stmt = select(Patient).where(Patient.clinic_id == actor.clinic_id, Patient.id == patient_id)
    if children:
        stmt = stmt.options(*CHILDREN)
    patient = session.scalars(stmt).first()
    if patient is None or (patient.deleted_at is not None) != deleted:
        raise NotFound(f"no patient {patient_id!r}")
    return patient


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def patient_view(patient: Patient) -> dict[str, Any]:
    """The API representation: demographics, version, history items with their ids, summary."""
    episode = history_rows.current_episode(patient)
    view: dict[str, Any] = {
        "id": patient.id,
        "version": patient.version,
        "mrn": patient.mrn,
        "name": patient.name,
        "birth_date": patient.birth_date.isoformat(),
        "sex": patient.sex,
        "clinician": None
        if patient.clinician is None
        else {
            "id": patient.clinician.id,
            "email": patient.clinician.email,
            "name": patient.clinician.name,
        },
        "episode": {f: getattr(episode, f) for f in EPISODE_FIELDS}
        | {"onset": episode.onset.isoformat()},
        "conditions": [c.condition for c in patient.conditions],
        "created_at": _iso(patient.created_at),
        "updated_at": _iso(patient.updated_at),
        "deleted_at": _iso(patient.deleted_at),
        "summary": summary_view(patient),
    }
    for kind in ITEM_KINDS.values():
        rows = getattr(patient, kind.section)
        view[kind.section] = [
            {"item_id": r.id, **history_rows.item_document(kind, r)}
            for r in rows
            if r.removed_at is None
        ]
    return view


def summary_view(patient: Patient) -> dict[str, Any]:
    return {
        "as_of": _iso(patient.summary_as_of),
        "trd": patient.trd,
        "failed_adequate_trials": patient.failed_adequate_trials,
        "thase_rush": patient.thase_rush,
        "mgh_s": patient.mgh_s,
        "msm_total": patient.msm_total,
        "msm_band": patient.msm_band,
        "latest_instrument": patient.latest_instrument,
        "latest_severity": patient.latest_severity,
        "latest_score_date": _iso(patient.latest_score_date),
        "open_alerts": patient.open_alerts,
    }


def get_patient(
    store: Store, actor: Actor, patient_id: str, *, deleted: bool = False
) -> dict[str, Any]:
    if deleted:
        actor.require_admin()
    with store.transaction() as session:
        patient = load_patient(session, actor, patient_id, deleted=deleted)
        audit.record(session, actor, "patient.read", patient_id=patient.id)
        return patient_view(patient)


TODAY = "today"
"""How a clinic's records name their ``as_of`` in a problem: a record is stored as of today."""

AS_OF_PARAMETER = "query.as_of"
"""Where a refused ``as_of`` is reported: the date a read is asked for is a query parameter."""


def document_as_of(session: Session, patient: Patient, as_of: date) -> dict[str, Any]:
    """The stored history in the core format as of a date (read with plain queries), refused
    for a date the core format refuses as ``as_of``: before the episode onset or birth."""
    doc = history_rows.fetch_document(session, patient, as_of)
    _check_as_of(doc, as_of)
    return doc


def _check_as_of(doc: dict[str, Any], as_of: date) -> None:
    onset = date.fromisoformat(doc["episode"]["onset"])
    birth = date.fromisoformat(doc["patient"]["birth_date"])
    check_as_of(as_of, onset, birth, AS_OF_PARAMETER)


def history_document(store: Store, actor: Actor, patient_id: str, as_of: date) -> dict[str, Any]:
    """The stored history in the core format (what ``trdnav assess`` reads)."""
    with store.transaction() as session:
        patient = load_patient(session, actor, patient_id, children=False)
        doc = document_as_of(session, patient, as_of)
        audit.record(session, actor, "patient.export", patient_id=patient.id)
        return doc


def assessment(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    patient_id: str,
    as_of: date,
    adequate_trial_days: int | None = None,
) -> Assessment:
    """The assessment computed from what is stored, as of a date."""
    result, _ = _assess_stored(store, actor, kb, patient_id, as_of, adequate_trial_days)
    return result


def assessment_json(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    patient_id: str,
    as_of: date,
    adequate_trial_days: int | None = None,
    cache: AssessmentCache | None = None,
) -> bytes:
    """The assessment as JSON (the document of ``Assessment.to_json``). With ``cache``, the
    JSON made for the same version of the history (same date and settings) is reused; the read
    is audited either way."""
    if cache is not None:
        with store.engine.begin() as connection:
            kept = kept_assessment_json_on(
                connection, actor, kb, patient_id, as_of, adequate_trial_days, cache=cache
            )
        if kept is not None:
            return kept
    result, key = _assess_stored(store, actor, kb, patient_id, as_of, adequate_trial_days)
    body = result.model_dump_json().encode()
    if cache is not None:
        cache.put(key, body)
    return body


# the patient's version alone (a plain row, from a statement built once) decides whether kept
# JSON serves
_PATIENT_VERSION = select(Patient.pk, Patient.version).where(
    Patient.clinic_id == bindparam("clinic_id"),
    Patient.id == bindparam("patient_id"),
    Patient.deleted_at.is_(None),
)


def kept_assessment_json_on(
    connection: Connection,
    actor: Actor,
    kb: KnowledgeBase,
    patient_id: str,
    as_of: date,
    adequate_trial_days: int | None,
    *,
    cache: AssessmentCache,
) -> bytes | None:
    """The kept JSON of the assessment of the patient's current version, its read audited, in
    a transaction of a Core connection; or ``None`` (nothing recorded) when none is kept or the
    patient is not the actor's to read, so that :func:`assessment_json` reads, decides and
    answers."""
    row = connection.execute(
        _PATIENT_VERSION, {"clinic_id": actor.clinic_id, "patient_id": patient_id}
    ).one_or_none()
    if row is None:
        return None
    key = AssessmentKey(actor.clinic_id, row.pk, row.version, as_of, adequate_trial_days, id(kb))
    kept = cache.get(key)
    if kept is not None:
        audit.record_on(
            connection,
            actor,
            "patient.assessment",
            patient_id=patient_id,
            detail={"as_of": as_of.isoformat()},
        )
    return kept


def _assess_stored(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    patient_id: str,
    as_of: date,
    adequate_trial_days: int | None,
) -> tuple[Assessment, AssessmentKey]:
    with store.transaction() as session:
        patient = load_patient(session, actor, patient_id, children=False)
        doc = document_as_of(session, patient, as_of)
        audit.record(
            session,
            actor,
            "patient.assessment",
            patient_id=patient.id,
            detail={"as_of": as_of.isoformat()},
        )
        key = AssessmentKey(
            patient.clinic_id, patient.pk, patient.version, as_of, adequate_trial_days, id(kb)
        )
    result = assess(stored_history(doc, kb), kb, adequate_trial_days=adequate_trial_days)
    return result, key


def patient_with_assessment(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    patient_id: str,
    as_of: date,
    adequate_trial_days: int | None = None,
    *,
    purpose: str | None = None,
) -> tuple[dict[str, Any], Assessment]:
    """The patient (as ``get_patient``) and its assessment, read in one transaction, so the
    two describe the same version of the history. ``purpose`` (a report, say) is recorded
    with the read in the audit log."""
    with store.transaction() as session:
        patient = load_patient(session, actor, patient_id)
        view = patient_view(patient)
        doc = history_rows.document(patient, as_of)
        _check_as_of(doc, as_of)
        audit.record(
            session,
            actor,
            "patient.read",
            patient_id=patient.id,
            detail={"purpose": purpose} if purpose else None,
        )
        audit.record(
            session,
            actor,
            "patient.assessment",
            patient_id=patient.id,
            detail={"as_of": as_of.isoformat()},
        )
    history = stored_history(doc, kb)
    return view, assess(history, kb, adequate_trial_days=adequate_trial_days)


# --- listing ------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientFilters:
    trd: bool | None = None
    stage_min: int | None = None
    stage_max: int | None = None
    severity: str | None = None
    alerts: bool | None = None
    clinician: str | None = None
    active_course: bool | None = None
    q: str | None = None
    deleted: bool = False
    limit: int = 50
    offset: int = 0


@dataclass
class Page:
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    stale_summaries: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _filtered(actor: Actor, f: PatientFilters) -> Select[Patient]:
    stmt = select(Patient).where(Patient.clinic_id == actor.clinic_id)
    stmt = stmt.where(
        Patient.deleted_at.is_not(None) if f.deleted else Patient.deleted_at.is_(None)
    )
    if f.trd is not None:
        stmt = stmt.where(Patient.trd.is_(f.trd))
    if f.stage_min is not None:
        stmt = stmt.where(Patient.thase_rush >= f.stage_min)
    if f.stage_max is not None:
        stmt = stmt.where(Patient.thase_rush <= f.stage_max)
    if f.severity:
        stmt = stmt.where(Patient.latest_severity == f.severity)
    if f.alerts is True:
        stmt = stmt.where(Patient.open_alerts > 0)
    elif f.alerts is False:
        stmt = stmt.where(or_(Patient.open_alerts == 0, Patient.open_alerts.is_(None)))
    if f.active_course is not None:
        active = exists().where(Course.patient_pk == Patient.pk, Course.status == "active")
        stmt = stmt.where(active if f.active_course else ~active)
    if f.clinician:
        stmt = stmt.join(User, User.id == Patient.clinician_id).where(
            User.email == f.clinician.strip().lower()
        )
    if f.q:
        typed = f.q.strip().lower()
        # matched as typed: autoescape makes LIKE's wildcards (% and _) plain characters
        stmt = stmt.where(
            or_(
                *(
                    func.lower(column).contains(typed, autoescape=True)
                    for column in (Patient.name, Patient.mrn, Patient.id)
                )
            )
        )
    return stmt


def list_patients(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    f: PatientFilters,
    today: date,
    adequate_trial_days: int | None = None,
) -> Page:
    """Patients of the actor's clinic, alerts first, filtered on their assessment summaries.

    The summaries are those of ``today`` under ``adequate_trial_days`` (the setting): any made
    on an earlier day or under another setting is computed again first, unless there are more
    than 500 of them (then ``stale_summaries`` counts them; ``trdnav db refresh`` makes them).
    """
    if f.deleted:
        actor.require_admin()
    stale = refresh_stale_summaries(
        store, actor.clinic_id, kb, today, limit=500, adequate_trial_days=adequate_trial_days
    )
    with store.transaction() as session:
        stmt = _filtered(actor, f)
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(
            stmt.options(selectinload(Patient.clinician))
            .order_by(
                Patient.open_alerts.desc().nulls_last(), Patient.name.asc().nulls_last(), Patient.id
            )
            .limit(f.limit)
            .offset(f.offset)
        ).all()
        items = [
            {
                "id": p.id,
                "version": p.version,
                "mrn": p.mrn,
                "name": p.name,
                "birth_date": p.birth_date.isoformat(),
                "sex": p.sex,
                "clinician": p.clinician.email if p.clinician else None,
                "deleted_at": _iso(p.deleted_at),
                "summary": summary_view(p),
            }
            for p in rows
        ]
        audit.record(
            session,
            actor,
            "patient.list",
            detail={"returned": [i["id"] for i in items], "total": total},
        )
    return Page(items=items, total=total, limit=f.limit, offset=f.offset, stale_summaries=stale)


def summarise(
    patient: Patient,
    history: PatientHistory,
    kb: KnowledgeBase,
    today: date,
    adequate_trial_days: int | None = None,
) -> None:
    """Keep the figures the patient list filters on, with the day, the knowledge base and
    the adequate-trial setting they were computed under (together, what makes a summary
    current)."""
    result = assess(history, kb, adequate_trial_days=adequate_trial_days)
    latest = max(result.scores, key=lambda s: s.date, default=None)
    patient.summary_as_of = today
    patient.summary_basis = summary_basis(kb, adequate_trial_days)
    patient.trd = result.trd
    patient.failed_adequate_trials = result.failed_adequate_trials
    patient.thase_rush = result.staging.thase_rush
    patient.mgh_s = result.staging.mgh_s
    patient.msm_total = result.staging.msm.total
    patient.msm_band = result.staging.msm.band
    patient.latest_instrument = latest.instrument if latest else None
    patient.latest_severity = latest.severity if latest else None
    patient.latest_score_date = latest.date if latest else None
    patient.open_alerts = len(result.alerts)


def summary_basis(kb: KnowledgeBase, adequate_trial_days: int | None) -> str:
    """What a summary was computed under besides its day: the knowledge base's version (its
    rules can change a stage) and the adequate-trial setting (empty: the knowledge base's)."""
    return f"kb {kb.version}; trial days {adequate_trial_days or ''}"


def refresh_stale_summaries(
    store: Store,
    clinic_id: int,
    kb: KnowledgeBase,
    today: date,
    limit: int | None = None,
    adequate_trial_days: int | None = None,
) -> int:
    """Recompute summaries made before ``today``, under another knowledge base or under
    another ``adequate_trial_days`` setting; returns how many stale ones remain (all of them
    when there are more than ``limit``)."""
    with store.transaction() as session:
        stale = select(Patient).where(
            Patient.clinic_id == clinic_id,
            Patient.deleted_at.is_(None),
            or_(
                Patient.summary_as_of.is_(None),
                Patient.summary_as_of < today,
                Patient.summary_basis.is_distinct_from(summary_basis(kb, adequate_trial_days)),
            ),
        )
        count = session.scalar(select(func.count()).select_from(stale.subquery())) or 0
        if limit is not None and count > limit:
            return count
        for patient in session.scalars(stale.options(*CHILDREN)):
            history = stored_history(history_rows.document(patient, today), kb)
            summarise(patient, history, kb, today, adequate_trial_days)
    return 0


# --- writing ------------------------------------------------------------------------


def bump_version(session: Session, patient: Patient, if_match: int | None) -> None:
    """Check the version the client saw and take the next one, atomically."""
    if if_match is None:
        raise PreconditionRequired("send the patient's version in If-Match (its ETag) to change it")
    result = session.execute(
        update(Patient)
        .where(Patient.pk == patient.pk, Patient.version == if_match)
        .values(version=Patient.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise PreconditionFailed(
            f"patient {patient.id!r} has changed since version {if_match}; "
            "reload it and apply your change again"
        )
    session.refresh(patient, ["version", "updated_at"])


def _clinician(session: Session, actor: Actor, email: str | None) -> User | None:
    if email is None:
        return None
    user = session.scalars(
        select(User).where(User.clinic_id == actor.clinic_id, User.email == email.strip().lower())
    ).first()
    if user is None or user.role == "viewer":
        raise InputError(
            [
                Problem(
                    "clinician", email, "the e-mail of a clinician or administrator of this clinic"
                )
            ]
        )
    return user


def import_patient(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    document: Any,
    today: date,
    *,
    clinician: str | None = None,
    action: str = "patient.import",
    sources: Iterable[dict[str, Any]] = (),
    audit_detail: dict[str, Any] | None = None,
    adequate_trial_days: int | None = None,
) -> dict[str, Any]:
    """Store a whole history (the core format) in one transaction; nothing on any problem.

    ``id`` may be omitted (a new one is made); ``as_of`` is ignored. ``sources`` are the FHIR
    resources the history was read from (kept with the patient, see
    :mod:`trdnav.clinic.fhir`); ``audit_detail`` is added to the audit record. The list
    summary is computed under ``adequate_trial_days`` (the setting).
    """
    actor.require_write()
    history = prepared_history(document, kb, today)
    try:
        with store.transaction() as session:
            return insert_patient(
                session,
                actor,
                kb,
                history,
                today,
                clinician=clinician,
                action=action,
                sources=sources,
                audit_detail=audit_detail,
                adequate_trial_days=adequate_trial_days,
            )
    except IntegrityError:
        raise Conflict(f"patient {history.id!r} exists already in this clinic") from None


def prepared_history(document: Any, kb: KnowledgeBase, today: date) -> PatientHistory:
    """A document to import, validated, as of today (``id`` made when it has none)."""
    if isinstance(document, dict):
        # ``as_of`` is today's: a date sent with the document is ignored, as documented
        document = {**document, "as_of": today.isoformat()}
        document.setdefault("id", uuid.uuid4().hex[:16])
    history = parse_history(document, kb)
    late = dated_after(history, TODAY)
    if late:
        raise InputError(late)
    return history


def insert_patient(
    session: Session,
    actor: Actor,
    kb: KnowledgeBase,
    history: PatientHistory,
    today: date,
    *,
    clinician: str | None = None,
    action: str = "patient.import",
    sources: Iterable[dict[str, Any]] = (),
    audit_detail: dict[str, Any] | None = None,
    adequate_trial_days: int | None = None,
) -> dict[str, Any]:
    """Add a validated history to the caller's transaction, audited; its view."""
    owner = _clinician(session, actor, clinician)
    if owner is None and actor.role == "clinician" and actor.user_id is not None:
        owner = session.get(User, actor.user_id)
    patient = Patient(clinic_id=actor.clinic_id, id=history.id, version=1, clinician=owner)
    history_rows.fill(patient, history)
    summarise(patient, history, kb, today, adequate_trial_days)
    session.add(patient)
    session.flush()
    stored = store_fhir_resources(session, patient.pk, sources)
    detail: dict[str, Any] = {
        section: len(getattr(history, section))
        for section in ("medication_trials", "psychotherapy", "procedures", "measurements")
    }
    if stored:
        detail["fhir_resources"] = stored
    audit.record(
        session, actor, action, patient_id=patient.id, detail=detail | (audit_detail or {})
    )
    return patient_view(patient)


def store_fhir_resources(
    session: Session, patient_pk: int, resources: Iterable[dict[str, Any]]
) -> int:
    """Keep FHIR resources with a patient (in the caller's transaction); how many."""
    rows = [
        FhirResource(
            patient_pk=patient_pk,
            resource_type=str(r.get("resourceType"))[:FHIR_ID_LENGTH],
            resource_id=r["id"]
            if isinstance(r.get("id"), str) and len(r["id"]) <= FHIR_ID_LENGTH
            else None,
            json=r,
        )
        for r in resources
    ]
    session.add_all(rows)
    return len(rows)


def revalidate(
    kb: KnowledgeBase,
    doc: dict[str, Any],
    *,
    changed: Collection[str] = (),
    item: tuple[str, int] | None = None,
) -> PatientHistory:
    """Validate a changed document. What the change touches (the ``changed`` paths:
    ``patient.sex``, ``episode``, ``measurements[3]``) follows today's rules; what it keeps
    from storage is read as stored (:data:`~trdnav.core.history.STORED`), so an id or a text
    kept before its rule does not stop the patient from being changed. With ``item`` (a
    section and index), the change is that item and problem paths are relative to it."""
    head = f"{item[0]}[{item[1]}]" if item else None
    if head:
        changed = [*changed, head]
    problems: list[Problem] = []
    history = None
    try:
        history = parse_history(doc, kb)
    except InputError as exc:
        strict = exc.problems
        try:
            history = parse_history(doc, kb, stored=True)
        except InputError as stored_exc:
            problems = list(stored_exc.problems)
        problems += [p for p in strict if _touches(p.path, changed) and p not in problems]
    if history is not None:
        problems += [p for p in dated_after(history, TODAY) if _touches(p.path, changed)]
        # a new birth date is checked against every record, as the records against it
        born = records_before_birth(history)
        if not _touches("patient.birth_date", changed):
            born = [p for p in born if _touches(p.path, changed)]
        problems += [p for p in born if p not in problems]
    if not problems:
        assert history is not None
        return history
    if head:
        problems = [
            Problem(p.path[len(head) :].lstrip(".") or "(item)", p.value, p.expected, p.missing)
            if _touches(p.path, [head])
            else p
            for p in problems
        ]
    raise InputError(problems)


def _touches(path: str, changed: Collection[str]) -> bool:
    """Whether a problem's path is one of ``changed`` or inside one."""
    return any(path == c or path.startswith((f"{c}.", f"{c}[")) for c in changed)


def update_patient(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    patient_id: str,
    changes: dict[str, Any],
    if_match: int | None,
    today: date,
    adequate_trial_days: int | None = None,
) -> dict[str, Any]:
    """Change demographics, the episode, the conditions or the clinician."""
    actor.require_write()
    allowed = {*PATIENT_FIELDS, "episode", "conditions", "clinician"}
    unknown = [k for k in changes if k not in allowed]
    if unknown:
        raise InputError(
            [Problem(k, changes[k], f"one of {', '.join(sorted(allowed))}") for k in unknown]
        )
    with store.transaction() as session:
        patient = load_patient(session, actor, patient_id)
        bump_version(session, patient, if_match)
        doc = history_rows.document(patient, today)
        for key in PATIENT_FIELDS:
            if key in changes:
                doc["patient"][key] = changes[key]
        if "episode" in changes:
            if not isinstance(changes["episode"], dict):
                raise InputError([Problem("episode", changes["episode"], "an object")])
            doc["episode"] = {**doc["episode"], **changes["episode"]}
        if "conditions" in changes:
            doc["conditions"] = changes["conditions"]
        touched = [f"patient.{k}" for k in PATIENT_FIELDS if k in changes]
        touched += [k for k in ("episode", "conditions") if k in changes]
        try:
            history = revalidate(kb, doc, changed=touched)
        except InputError as exc:  # named as the change names them: birth_date, sex
            raise InputError([_as_changed(p) for p in exc.problems]) from None
        if "clinician" in changes:
            patient.clinician = _clinician(session, actor, changes["clinician"])
        p = history.patient
        patient.mrn, patient.name, patient.birth_date, patient.sex = (
            p.mrn,
            p.name,
            p.birth_date,
            p.sex,
        )
        episode = history_rows.current_episode(patient)
        for key in EPISODE_FIELDS:
            setattr(episode, key, getattr(history.episode, key))
        if "conditions" in changes:
            for row in list(patient.conditions):
                session.delete(row)
            session.flush()
            patient.conditions = [PatientCondition(condition=c) for c in history.conditions]
        summarise(patient, history, kb, today, adequate_trial_days)
        audit.record(
            session,
            actor,
            "patient.update",
            patient_id=patient.id,
            detail={"fields": sorted(changes)},
        )
        session.flush()
        return patient_view(patient)


def _as_changed(problem: Problem) -> Problem:
    """A problem of the history at a demographic field (``patient.sex``) named as a change
    of the patient names it (``sex``)."""
    head, _, rest = problem.path.partition(".")
    field = rest.split(".", 1)[0].split("[", 1)[0]
    if head != "patient" or field not in PATIENT_FIELDS:
        return problem
    return Problem(rest, problem.value, problem.expected, problem.missing)


def delete_patient(store: Store, actor: Actor, patient_id: str, if_match: int | None) -> None:
    """Soft delete: hidden from everyone, restorable by an administrator."""
    actor.require_write()
    with store.transaction() as session:
        patient = load_patient(session, actor, patient_id)
        bump_version(session, patient, if_match)
        patient.deleted_at = utcnow()
        audit.record(session, actor, "patient.delete", patient_id=patient.id)


def restore_patient(store: Store, actor: Actor, patient_id: str) -> dict[str, Any]:
    actor.require_admin()
    with store.transaction() as session:
        patient = load_patient(session, actor, patient_id, deleted=True)
        clash = session.scalars(
            select(Patient.pk).where(
                Patient.clinic_id == actor.clinic_id,
                Patient.id == patient_id,
                Patient.deleted_at.is_(None),
            )
        ).first()
        if clash is not None:
            raise Conflict(f"patient {patient_id!r} exists already")
        patient.deleted_at = None
        patient.version += 1
        audit.record(session, actor, "patient.restore", patient_id=patient.id)
        session.flush()
        return patient_view(patient)


def _kind(segment: str) -> ItemKind:
    try:
        return ITEM_KINDS[segment]
    except KeyError:
        raise NotFound(f"no kind of history item {segment!r}") from None


def _item(patient: Patient, kind: ItemKind, item_id: int) -> Any:
    for row in getattr(patient, kind.section):
        if row.id == item_id and row.removed_at is None:
            return row
    raise NotFound(f"no {kind.segment} item {item_id} for patient {patient.id!r}")


def add_item(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    patient_id: str,
    segment: str,
    data: Any,
    if_match: int | None,
    today: date,
    adequate_trial_days: int | None = None,
) -> tuple[int, dict[str, Any]]:
    """Add a trial, psychotherapy course, procedure or measurement; returns its id and the
    patient."""
    actor.require_write()
    kind = _kind(segment)
    with store.transaction() as session:
        patient = load_patient(session, actor, patient_id)
        bump_version(session, patient, if_match)
        doc = history_rows.document(patient, today)
        index = len(doc[kind.section])
        doc[kind.section].append(data)
        history = revalidate(kb, doc, item=(kind.section, index))
        record = getattr(history, kind.section)[index]
        row = kind.table(**history_rows.item_values(kind, record))
        getattr(patient, kind.section).append(row)
        summarise(patient, history, kb, today, adequate_trial_days)
        session.flush()
        audit.record(
            session, actor, "item.add", patient_id=patient.id, resource=f"{segment}/{row.id}"
        )
        return row.id, patient_view(patient)


def correct_item(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    patient_id: str,
    segment: str,
    item_id: int,
    data: Any,
    if_match: int | None,
    today: date,
    adequate_trial_days: int | None = None,
) -> dict[str, Any]:
    """Replace an item's fields with corrected ones (validated like a new item)."""
    actor.require_write()
    kind = _kind(segment)
    with store.transaction() as session:
        patient = load_patient(session, actor, patient_id)
        row = _item(patient, kind, item_id)
        bump_version(session, patient, if_match)
        _not_kept_by_a_course(session, patient, kind.section, row.id)
        doc = history_rows.document(patient, today)
        live = [r for r in getattr(patient, kind.section) if r.removed_at is None]
        index = live.index(row)
        if isinstance(data, dict):  # the link to the course that wrote the record stays
            data = {**data, **{k: v for k, v in row.extra.items() if k in COURSE_LINK}}
        doc[kind.section][index] = data
        history = revalidate(kb, doc, item=(kind.section, index))
        values = history_rows.item_values(kind, getattr(history, kind.section)[index])
        before = history_rows.item_document(kind, row)
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        summarise(patient, history, kb, today, adequate_trial_days)
        after = history_rows.item_document(kind, row)
        audit.record(
            session,
            actor,
            "item.correct",
            patient_id=patient.id,
            resource=f"{segment}/{row.id}",
            detail={"fields": sorted(k for k in after if before.get(k) != after[k])},
        )
        session.flush()
        return patient_view(patient)


COURSE_LINK = ("course", "course_template")
"""The keys of a record's ``extra`` that name the course that keeps it."""


def _not_kept_by_a_course(session: Session, patient: Patient, section: str, item_id: int) -> None:
    """Refuse a change to a record that an active course keeps (it writes the sessions
    given and the outcome there): changed by hand, the course would go on writing into a
    record that no longer says what it gives."""
    course = session.scalars(
        select(Course).where(
            Course.patient_pk == patient.pk,
            Course.history_section == section,
            Course.history_item_id == item_id,
            Course.status == "active",
        )
    ).first()
    if course is not None:
        raise Conflict(
            f"this record is kept by course {course.id} ({course.template_id}), which is "
            "active: record its sessions or stop it; the record can be corrected once the "
            "course has ended"
        )


def remove_item(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    patient_id: str,
    segment: str,
    item_id: int,
    if_match: int | None,
    today: date,
    adequate_trial_days: int | None = None,
) -> dict[str, Any]:
    """Remove an item from the history (the row is kept, marked removed)."""
    actor.require_write()
    kind = _kind(segment)
    with store.transaction() as session:
        patient = load_patient(session, actor, patient_id)
        row = _item(patient, kind, item_id)
        bump_version(session, patient, if_match)
        _not_kept_by_a_course(session, patient, kind.section, row.id)
        row.removed_at = utcnow()
        # Nothing is added: what is kept is read as stored.
        history = parse_history(history_rows.document(patient, today), kb, stored=True)
        summarise(patient, history, kb, today, adequate_trial_days)
        audit.record(
            session, actor, "item.remove", patient_id=patient.id, resource=f"{segment}/{row.id}"
        )
        session.flush()
        return patient_view(patient)


# --- notes --------------------------------------------------------------------------


def add_note(store: Store, actor: Actor, patient_id: str, text: str) -> dict[str, Any]:
    actor.require_write()
    if not text.strip():
        raise InputError([Problem("text", text, "a non-empty note")])
    with store.transaction() as session:
        if actor.user_id is None:
            raise InputError([Problem("author", None, "a signed-in user")])
        patient = load_patient(session, actor, patient_id)
        note = Note(patient_pk=patient.pk, author_id=actor.user_id, text=text.strip())
        session.add(note)
        session.flush()
        audit.record(session, actor, "note.add", patient_id=patient.id, resource=f"notes/{note.id}")
        return {
            "id": note.id,
            "text": note.text,
            "author": actor.email,
            "created_at": _iso(note.created_at),
        }


def list_notes(store: Store, actor: Actor, patient_id: str) -> list[dict[str, Any]]:
    with store.transaction() as session:
        patient = load_patient(session, actor, patient_id)
        notes = session.scalars(
            select(Note)
            .where(Note.patient_pk == patient.pk)
            .options(selectinload(Note.author))
            .order_by(Note.id)
        ).all()
        audit.record(session, actor, "note.read", patient_id=patient.id)
        return [
            {"id": n.id, "text": n.text, "author": n.author.email, "created_at": _iso(n.created_at)}
            for n in notes
        ]
