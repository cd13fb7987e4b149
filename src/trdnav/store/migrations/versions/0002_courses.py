"""Treatment courses: courses, their sessions and plan history; clinic settings.

Revision ID: 0002_courses
Revises: 0001
Create Date: 2026-11-26 18:59:20.493985
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_courses"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_pk", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=False),
        sa.Column("treatment", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("session_time", sa.Time(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column(
            "calendar",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("history_section", sa.String(length=32), nullable=False),
        sa.Column("history_item_id", sa.Integer(), nullable=False),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'completed', 'stopped')", name=op.f("ck_courses_status")
        ),
        sa.ForeignKeyConstraint(
            ["patient_pk"], ["patients.pk"], name=op.f("fk_courses_patient_pk_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courses")),
        sa.UniqueConstraint("uid", name=op.f("uq_courses_uid")),
    )
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_courses_patient_pk"), ["patient_pk"], unique=False)

    op.create_table(
        "course_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column(
            "sessions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_course_plans_course_id_courses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_plans")),
        sa.UniqueConstraint("course_id", "version", name="course_plan_version"),
    )
    with op.batch_alter_table("course_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_course_plans_course_id"), ["course_id"], unique=False)

    op.create_table(
        "course_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("planned_date", sa.Date(), nullable=False),
        sa.Column("planned_time", sa.Time(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("phase_name", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "parameters",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "side_effects",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "measurement_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('planned', 'delivered', 'missed', 'cancelled')",
            name=op.f("ck_course_sessions_status"),
        ),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_course_sessions_course_id_courses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_sessions")),
        sa.UniqueConstraint("course_id", "number", name="course_session_number"),
    )
    with op.batch_alter_table("course_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_course_sessions_course_id"), ["course_id"], unique=False
        )

    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "settings",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                server_default="{}",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.drop_column("settings")

    with op.batch_alter_table("course_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_course_sessions_course_id"))

    op.drop_table("course_sessions")
    with op.batch_alter_table("course_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_course_plans_course_id"))

    op.drop_table("course_plans")
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_courses_patient_pk"))

    op.drop_table("courses")
