"""Clinic names differ, case aside, in the database itself: each clinic keeps its name
case-folded in ``name_key``, under a unique index. The check in code alone let two clinics
created at the same moment take the same name.

A database from before names had to differ may hold clinics of the same name: the first of
them (lowest id) gets the key, the others keep none (a null key is no duplicate), and
``trdnav`` still asks for such a clinic's id.

Revision ID: 0005_clinic_name_key
Revises: 0004_summary_basis
Create Date: 2026-11-28 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_clinic_name_key"
down_revision = "0004_summary_basis"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added in place and indexed, not by rebuilding the table (see 0004).
    op.add_column("clinics", sa.Column("name_key", sa.String(600), nullable=True))
    clinics = sa.table(
        "clinics", sa.column("id", sa.Integer), sa.column("name", sa.String), sa.column("name_key")
    )
    connection = op.get_bind()
    taken: set[str] = set()
    rows = connection.execute(sa.select(clinics.c.id, clinics.c.name).order_by(clinics.c.id))
    for clinic_id, name in rows.all():
        key = name.strip().casefold()
        if key in taken:
            continue
        taken.add(key)
        connection.execute(clinics.update().where(clinics.c.id == clinic_id).values(name_key=key))
    op.create_index(op.f("ix_clinics_name_key"), "clinics", ["name_key"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_clinics_name_key"), table_name="clinics")
    op.drop_column("clinics", "name_key")
