"""What a patient's list summary was computed under besides its day: the knowledge base's
version and the adequate-trial setting. A summary made under another basis is stale, like one
made before today.

Revision ID: 0004_summary_basis
Revises: 0003_fhir
Create Date: 2026-11-28 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_summary_basis"
down_revision = "0003_fhir"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ALTER TABLE on every database (SQLite has had ADD and DROP COLUMN since 3.35):
    # rebuilding the table, as a batch would on SQLite, fails on the rows that refer to it.
    op.add_column("patients", sa.Column("summary_basis", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("patients", "summary_basis")
