"""The database tables (SQLAlchemy 2 ORM).

A clinic owns users and patients; a patient owns its episode, conditions and history items
(medication trials, psychotherapy courses, procedures, measurements) and notes. History
items are never deleted: a removed item keeps its row with ``removed_at`` set. The audit
log is append-only (database triggers refuse UPDATE and DELETE, see the migrations).
Each patient row also caches a summary of its latest assessment for list filters.
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from trdnav.core.course_templates import PHASE_NAME_LENGTH
from trdnav.core.facts import ID_LENGTH
from trdnav.core.history import (
    FHIR_ID_LENGTH,
    MRN_LENGTH,
    NAME_LENGTH,
    PSYCHOTHERAPY_TYPE_LENGTH,
    SEX_LENGTH,
)
from trdnav.core.knowledge import INSTRUMENT_ID_LENGTH
from trdnav.settings import ISSUER_LENGTH

__all__ = [
    "CLINIC_NAME_LENGTH",
    "EMAIL_LENGTH",
    "JTI_LENGTH",
    "PLAN_REASON_LENGTH",
    "REMOTE_ADDR_LENGTH",
    "ROLES",
    "USER_NAME_LENGTH",
    "AuditEvent",
    "Base",
    "CdsCard",
    "CdsFeedback",
    "CdsJti",
    "Clinic",
    "Course",
    "CoursePlan",
    "CourseSession",
    "Episode",
    "FhirResource",
    "LoginFailure",
    "Measurement",
    "MedicationTrial",
    "Note",
    "Patient",
    "PatientCondition",
    "Procedure",
    "PsychotherapyCourse",
    "ServerSecret",
    "User",
    "utcnow",
]

ROLES = ("admin", "clinician", "viewer")

# The lengths of text the database keeps that no core model owns; the use cases refuse
# longer text with these (the core's own limits are imported above).
CLINIC_NAME_LENGTH = 200
"""The longest clinic name."""
EMAIL_LENGTH = 254
"""The longest e-mail address (the longest SMTP carries), as kept: lower case."""
USER_NAME_LENGTH = 200
"""The longest user name."""
REMOTE_ADDR_LENGTH = 64
"""The longest client address kept with audit events and failed sign-ins (an IPv6 address
is at most 45 characters)."""
PLAN_REASON_LENGTH = 200
"""The longest reason a version of a course plan keeps."""
JTI_LENGTH = 255
"""The longest CDS client JWT id kept to refuse replays."""

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Json = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Clinic(Base):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(CLINIC_NAME_LENGTH))
    # The name case-folded: no two clinics share it (``--clinic`` and ``cds_clients`` name a
    # clinic by its name). Null only for a clinic whose name another clinic had before
    # names had to differ (migration 0005). Case-folding can lengthen a name up to three
    # times.
    name_key: Mapped[str | None] = mapped_column(
        String(3 * CLINIC_NAME_LENGTH), unique=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settings: Mapped[dict[str, Any]] = mapped_column(Json, default=dict, server_default="{}")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'clinician', 'viewer')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(USER_NAME_LENGTH))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    clinic: Mapped[Clinic] = relationship()


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("clinic_id", "id", name="clinic_patient_id"),
        Index("ix_patients_clinic_deleted", "clinic_id", "deleted_at"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    id: Mapped[str] = mapped_column(String(FHIR_ID_LENGTH))
    mrn: Mapped[str | None] = mapped_column(String(MRN_LENGTH))
    name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(SEX_LENGTH))
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    extra: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # summary of the assessment as of summary_as_of, for list filters
    summary_as_of: Mapped[date | None] = mapped_column(Date)
    # what it was computed under besides the day: knowledge-base version and adequate-trial
    # setting (clinic.patients.summary_basis); another basis makes the summary stale
    summary_basis: Mapped[str | None] = mapped_column(String(64))
    trd: Mapped[bool | None] = mapped_column(Boolean)
    failed_adequate_trials: Mapped[int | None] = mapped_column(Integer)
    thase_rush: Mapped[int | None] = mapped_column(Integer)
    mgh_s: Mapped[float | None] = mapped_column(Float)
    msm_total: Mapped[int | None] = mapped_column(Integer)
    msm_band: Mapped[str | None] = mapped_column(String(16))
    latest_instrument: Mapped[str | None] = mapped_column(String(INSTRUMENT_ID_LENGTH))
    latest_severity: Mapped[str | None] = mapped_column(String(32))
    latest_score_date: Mapped[date | None] = mapped_column(Date)
    open_alerts: Mapped[int | None] = mapped_column(Integer)

    episodes: Mapped[list[Episode]] = relationship(order_by="Episode.id")
    conditions: Mapped[list[PatientCondition]] = relationship(order_by="PatientCondition.id")
    medication_trials: Mapped[list[MedicationTrial]] = relationship(order_by="MedicationTrial.id")
    psychotherapy: Mapped[list[PsychotherapyCourse]] = relationship(
        order_by="PsychotherapyCourse.id"
    )
    procedures: Mapped[list[Procedure]] = relationship(order_by="Procedure.id")
    measurements: Mapped[list[Measurement]] = relationship(order_by="Measurement.id")
    clinician: Mapped[User | None] = relationship()


class Episode(Base):
    __tablename__ = "episodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_pk: Mapped[int] = mapped_column(ForeignKey("patients.pk"), index=True)
    onset: Mapped[date] = mapped_column(Date)
    severity: Mapped[str] = mapped_column(String(16))
    psychotic_features: Mapped[bool] = mapped_column(Boolean)
    recurrent: Mapped[bool] = mapped_column(Boolean)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class PatientCondition(Base):
    __tablename__ = "patient_conditions"
    __table_args__ = (UniqueConstraint("patient_pk", "condition", name="patient_condition"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_pk: Mapped[int] = mapped_column(ForeignKey("patients.pk"), index=True)
    condition: Mapped[str] = mapped_column(String(ID_LENGTH))


class HistoryItem:
    """Columns shared by the history items."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_pk: Mapped[int] = mapped_column(ForeignKey("patients.pk"), index=True)
    extra: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MedicationTrial(HistoryItem, Base):
    __tablename__ = "medication_trials"

    drug: Mapped[str] = mapped_column(String(ID_LENGTH))
    daily_dose_mg: Mapped[float] = mapped_column(Float)
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date | None] = mapped_column(Date)
    role: Mapped[str] = mapped_column(String(16))
    response: Mapped[str] = mapped_column(String(16))
    dose_optimized: Mapped[bool] = mapped_column(Boolean, default=False)


class PsychotherapyCourse(HistoryItem, Base):
    __tablename__ = "psychotherapy_courses"

    type: Mapped[str] = mapped_column(String(PSYCHOTHERAPY_TYPE_LENGTH))
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date | None] = mapped_column(Date)
    sessions: Mapped[int] = mapped_column(Integer)


class Procedure(HistoryItem, Base):
    __tablename__ = "procedures"

    type: Mapped[str] = mapped_column(String(16))
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date | None] = mapped_column(Date)
    sessions: Mapped[int] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(String(16))


class Measurement(HistoryItem, Base):
    __tablename__ = "measurements"

    instrument: Mapped[str] = mapped_column(String(INSTRUMENT_ID_LENGTH))
    date: Mapped[dt.date] = mapped_column(Date)
    items: Mapped[list[int]] = mapped_column(Json)


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_pk: Mapped[int] = mapped_column(ForeignKey("patients.pk"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship()


class AuditEvent(Base):
    """One read or write of patient data, or an account event. Never updated or deleted."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_clinic_at", "clinic_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    user_email: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH))
    action: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[str | None] = mapped_column(String(FHIR_ID_LENGTH), index=True)
    resource: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    remote_addr: Mapped[str | None] = mapped_column(String(REMOTE_ADDR_LENGTH))
    request_id: Mapped[str | None] = mapped_column(String(64))


class LoginFailure(Base):
    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH), index=True)
    remote_addr: Mapped[str | None] = mapped_column(String(REMOTE_ADDR_LENGTH), index=True)


class ServerSecret(Base):
    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RevokedToken(Base):
    """A sign-in token ended before its expiry (signed out): refused until it expires,
    after which its row may go."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Course(Base):
    """A treatment course planned from a template; its sessions and plan history follow."""

    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'completed', 'stopped')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_pk: Mapped[int] = mapped_column(ForeignKey("patients.pk"), index=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    template_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    treatment: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="active")
    start_date: Mapped[date] = mapped_column(Date)
    session_time: Mapped[dt.time] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(64))
    calendar: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    plan_version: Mapped[int] = mapped_column(Integer, default=1)
    history_section: Mapped[str] = mapped_column(String(32))
    history_item_id: Mapped[int] = mapped_column(Integer)
    stop_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sessions: Mapped[list[CourseSession]] = relationship(order_by="CourseSession.number")


class CourseSession(Base):
    __tablename__ = "course_sessions"
    __table_args__ = (
        UniqueConstraint("course_id", "number", name="course_session_number"),
        CheckConstraint("status IN ('planned', 'delivered', 'missed', 'cancelled')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    planned_date: Mapped[date] = mapped_column(Date)
    planned_time: Mapped[dt.time] = mapped_column(Time)
    minutes: Mapped[int] = mapped_column(Integer)
    phase: Mapped[int] = mapped_column(Integer)
    phase_name: Mapped[str] = mapped_column(String(PHASE_NAME_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default="planned")
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    parameters: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    side_effects: Mapped[list[dict[str, str]]] = mapped_column(Json, default=list)
    measurement_ids: Mapped[list[int]] = mapped_column(Json, default=list)
    note: Mapped[str | None] = mapped_column(Text)


class CoursePlan(Base):
    """One version of a course's plan, kept whenever the plan changes."""

    __tablename__ = "course_plans"
    __table_args__ = (UniqueConstraint("course_id", "version", name="course_plan_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(PLAN_REASON_LENGTH))
    sessions: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- FHIR sources and CDS Hooks (migration 0003_fhir) -------------------------------------


class FhirResource(Base):
    """A FHIR resource a patient was imported from, kept as sent (the quality measures are
    computed over them)."""

    __tablename__ = "fhir_resources"
    __table_args__ = (Index("ix_fhir_resources_patient_type", "patient_pk", "resource_type"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    patient_pk: Mapped[int] = mapped_column(ForeignKey("patients.pk"))
    resource_type: Mapped[str] = mapped_column(String(FHIR_ID_LENGTH))
    resource_id: Mapped[str | None] = mapped_column(String(FHIR_ID_LENGTH))
    json: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CdsJti(Base):
    """A CDS client JWT already used (its ``jti``), kept until it expires: replays are refused."""

    __tablename__ = "cds_jtis"

    iss: Mapped[str] = mapped_column(String(ISSUER_LENGTH), primary_key=True)
    jti: Mapped[str] = mapped_column(String(JTI_LENGTH), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class CdsCard(Base):
    """A card the CDS service returned, so that feedback on it can be reported."""

    __tablename__ = "cds_cards"
    __table_args__ = (Index("ix_cds_cards_clinic_issued", "clinic_id", "issued_at"),)

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    client: Mapped[str] = mapped_column(String(ISSUER_LENGTH))
    service: Mapped[str] = mapped_column(String(64))
    hook_instance: Mapped[str] = mapped_column(String(128))
    patient_id: Mapped[str] = mapped_column(String(64))
    indicator: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CdsFeedback(Base):
    """What a clinician did with a card (accepted a suggestion, or overrode it)."""

    __tablename__ = "cds_feedback"
    __table_args__ = (Index("ix_cds_feedback_clinic_received", "clinic_id", "received_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    card_uuid: Mapped[str] = mapped_column(ForeignKey("cds_cards.uuid"), index=True)
    client: Mapped[str] = mapped_column(String(ISSUER_LENGTH))
    outcome: Mapped[str] = mapped_column(String(16))
    accepted_suggestions: Mapped[list[str]] = mapped_column(Json, default=list)
    override_reason: Mapped[dict[str, Any] | None] = mapped_column(Json)
    outcome_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
