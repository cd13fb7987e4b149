"""FHIR sources and CDS Hooks: the FHIR resources patients were imported from, used CDS
client JWT ids (replay protection), the cards the CDS service returned, and feedback on them.

Revision ID: 0003_fhir
Revises: 0002_courses
Create Date: 2026-11-26 19:28:51.101501
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_fhir"
down_revision = "0002_courses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cds_jtis",
        sa.Column("iss", sa.String(length=255), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("iss", "jti", name=op.f("pk_cds_jtis")),
    )
    with op.batch_alter_table("cds_jtis", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cds_jtis_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "cds_cards",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("client", sa.String(length=255), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("hook_instance", sa.String(length=128), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("indicator", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.String(length=200), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_cds_cards_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_cds_cards")),
    )
    with op.batch_alter_table("cds_cards", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cds_cards_clinic_issued", ["clinic_id", "issued_at"], unique=False
        )

    op.create_table(
        "cds_feedback",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("card_uuid", sa.String(length=36), nullable=False),
        sa.Column("client", sa.String(length=255), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column(
            "accepted_suggestions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "override_reason",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_uuid"], ["cds_cards.uuid"], name=op.f("fk_cds_feedback_card_uuid_cds_cards")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_cds_feedback_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cds_feedback")),
    )
    with op.batch_alter_table("cds_feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cds_feedback_card_uuid"), ["card_uuid"], unique=False)
        batch_op.create_index(
            "ix_cds_feedback_clinic_received", ["clinic_id", "received_at"], unique=False
        )

    op.create_table(
        "fhir_resources",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("patient_pk", sa.Integer(), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=True),
        sa.Column(
            "json",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_pk"], ["patients.pk"], name=op.f("fk_fhir_resources_patient_pk_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fhir_resources")),
    )
    with op.batch_alter_table("fhir_resources", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fhir_resources_patient_type", ["patient_pk", "resource_type"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("fhir_resources", schema=None) as batch_op:
        batch_op.drop_index("ix_fhir_resources_patient_type")

    op.drop_table("fhir_resources")
    with op.batch_alter_table("cds_feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_cds_feedback_clinic_received")
        batch_op.drop_index(batch_op.f("ix_cds_feedback_card_uuid"))

    op.drop_table("cds_feedback")
    with op.batch_alter_table("cds_cards", schema=None) as batch_op:
        batch_op.drop_index("ix_cds_cards_clinic_issued")

    op.drop_table("cds_cards")
    with op.batch_alter_table("cds_jtis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cds_jtis_expires_at"))

    op.drop_table("cds_jtis")
