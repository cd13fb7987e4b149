"""Initial schema: clinics, users, patients and their history, notes, audit log.

The audit log is append-only: triggers refuse UPDATE and DELETE on every backend.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-26 18:09:22.323852
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clinics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinics")),
    )
    op.create_table(
        "login_failures",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failures_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_failures_email"), ["email"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_login_failures_remote_addr"), ["remote_addr"], unique=False
        )

    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_server_secrets")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'clinician', 'viewer')", name=op.f("ck_users_role")),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_users_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_clinic_id"), ["clinic_id"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_email", sa.String(length=254), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("resource", sa.String(length=128), nullable=True),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_audit_log_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_audit_log_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_clinic_at", ["clinic_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "patients",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("mrn", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=32), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "extra",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary_as_of", sa.Date(), nullable=True),
        sa.Column("trd", sa.Boolean(), nullable=True),
        sa.Column("failed_adequate_trials", sa.Integer(), nullable=True),
        sa.Column("thase_rush", sa.Integer(), nullable=True),
        sa.Column("mgh_s", sa.Float(), nullable=True),
        sa.Column("msm_total", sa.Integer(), nullable=True),
        sa.Column("msm_band", sa.String(length=16), nullable=True),
        sa.Column("latest_instrument", sa.String(length=16), nullable=True),
        sa.Column("latest_severity", sa.String(length=32), nullable=True),
        sa.Column("latest_score_date", sa.Date(), nullable=True),
        sa.Column("open_alerts", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_patients_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["clinician_id"], ["users.id"], name=op.f("fk_patients_clinician_id_users")
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_patients")),
        sa.UniqueConstraint("clinic_id", "id", name="clinic_patient_id"),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index(
            "ix_patients_clinic_deleted", ["clinic_id", "deleted_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_patients_clinician_id"), ["clinician_id"], unique=False
        )

    op.create_table(
        "episodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_pk", sa.Integer(), nullable=False),
        sa.Column("onset", sa.Date(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("psychotic_features", sa.Boolean(), nullable=False),
        sa.Column("recurrent", sa.Boolean(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column(
            "extra",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["patient_pk"], ["patients.pk"], name=op.f("fk_episodes_patient_pk_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_episodes")),
    )
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_episodes_patient_pk"), ["patient_pk"], unique=False)

    op.create_table(
        "measurements",
        sa.Column("instrument", sa.String(length=16), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column(
            "items",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_pk", sa.Integer(), nullable=False),
        sa.Column(
            "extra",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_pk"], ["patients.pk"], name=op.f("fk_measurements_patient_pk_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measurements")),
    )
    with op.batch_alter_table("measurements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_measurements_patient_pk"), ["patient_pk"], unique=False
        )

    op.create_table(
        "medication_trials",
        sa.Column("drug", sa.String(length=64), nullable=False),
        sa.Column("daily_dose_mg", sa.Float(), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("response", sa.String(length=16), nullable=False),
        sa.Column("dose_optimized", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_pk", sa.Integer(), nullable=False),
        sa.Column(
            "extra",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_pk"], ["patients.pk"], name=op.f("fk_medication_trials_patient_pk_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medication_trials")),
    )
    with op.batch_alter_table("medication_trials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_medication_trials_patient_pk"), ["patient_pk"], unique=False
        )

    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_pk", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_notes_author_id_users")),
        sa.ForeignKeyConstraint(
            ["patient_pk"], ["patients.pk"], name=op.f("fk_notes_patient_pk_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notes_patient_pk"), ["patient_pk"], unique=False)

    op.create_table(
        "patient_conditions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_pk", sa.Integer(), nullable=False),
        sa.Column("condition", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_pk"], ["patients.pk"], name=op.f("fk_patient_conditions_patient_pk_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_conditions")),
        sa.UniqueConstraint("patient_pk", "condition", name="patient_condition"),
    )
    with op.batch_alter_table("patient_conditions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patient_conditions_patient_pk"), ["patient_pk"], unique=False
        )

    op.create_table(
        "procedures",
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("response", sa.String(length=16), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_pk", sa.Integer(), nullable=False),
        sa.Column(
            "extra",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_pk"], ["patients.pk"], name=op.f("fk_procedures_patient_pk_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedures")),
    )
    with op.batch_alter_table("procedures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_procedures_patient_pk"), ["patient_pk"], unique=False)

    op.create_table(
        "psychotherapy_courses",
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_pk", sa.Integer(), nullable=False),
        sa.Column(
            "extra",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_pk"],
            ["patients.pk"],
            name=op.f("fk_psychotherapy_courses_patient_pk_patients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_psychotherapy_courses")),
    )
    with op.batch_alter_table("psychotherapy_courses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_psychotherapy_courses_patient_pk"), ["patient_pk"], unique=False
        )
    _append_only()


APPEND_ONLY_SQLITE = [
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
]
APPEND_ONLY_POSTGRES = [
    """CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$""",
    """CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
       FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
       FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()""",
]


def _append_only() -> None:
    dialect = op.get_bind().dialect.name
    for statement in APPEND_ONLY_POSTGRES if dialect == "postgresql" else APPEND_ONLY_SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_no_change ON audit_log")
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    with op.batch_alter_table("psychotherapy_courses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_psychotherapy_courses_patient_pk"))

    op.drop_table("psychotherapy_courses")
    with op.batch_alter_table("procedures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_procedures_patient_pk"))

    op.drop_table("procedures")
    with op.batch_alter_table("patient_conditions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_conditions_patient_pk"))

    op.drop_table("patient_conditions")
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notes_patient_pk"))

    op.drop_table("notes")
    with op.batch_alter_table("medication_trials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_medication_trials_patient_pk"))

    op.drop_table("medication_trials")
    with op.batch_alter_table("measurements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_measurements_patient_pk"))

    op.drop_table("measurements")
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_episodes_patient_pk"))

    op.drop_table("episodes")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_clinician_id"))
        batch_op.drop_index("ix_patients_clinic_deleted")

    op.drop_table("patients")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_patient_id"))
        batch_op.drop_index("ix_audit_log_clinic_at")

    op.drop_table("audit_log")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_clinic_id"))

    op.drop_table("users")
    op.drop_table("server_secrets")
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_failures_remote_addr"))
        batch_op.drop_index(batch_op.f("ix_login_failures_email"))
        batch_op.drop_index(batch_op.f("ix_login_failures_at"))

    op.drop_table("login_failures")
    op.drop_table("clinics")
