"""TL;DRs of papers, one per (paper, language, model), so a second chat costs nothing.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tldrs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tldrs")),
        sa.UniqueConstraint(
            "paper_id", "language", "model", name=op.f("uq_tldrs_paper_id_language_model")
        ),
    )


def downgrade() -> None:
    op.drop_table("tldrs")
