"""The initial schema: every table of digest.store, as autogenerate made it (reviewed).

Revision ID: 0001
Revises:
Create Date: 2026-11-24 23:31:20.523146
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "criteria_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_criteria_versions")),
        sa.UniqueConstraint(
            "subscription", "version", name=op.f("uq_criteria_versions_subscription_version")
        ),
    )
    op.create_index(
        op.f("ix_criteria_versions_subscription"),
        "criteria_versions",
        ["subscription"],
        unique=False,
    )

    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("criteria_hash", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digests")),
        sa.UniqueConstraint("subscription", "day", name=op.f("uq_digests_subscription_day")),
    )
    op.create_index(op.f("ix_digests_subscription"), "digests", ["subscription"], unique=False)

    op.create_table(
        "explanations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.String(length=32), nullable=False),
        sa.Column("criteria_hash", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_explanations")),
        sa.UniqueConstraint(
            "paper_id",
            "criteria_hash",
            "model",
            name=op.f("uq_explanations_paper_id_criteria_hash_model"),
        ),
    )
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.String(length=32), nullable=False),
        sa.Column("criteria_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labels")),
        sa.UniqueConstraint(
            "paper_id",
            "criteria_hash",
            "source",
            name=op.f("uq_labels_paper_id_criteria_hash_source"),
        ),
    )
    op.create_index(op.f("ix_labels_criteria_hash"), "labels", ["criteria_hash"], unique=False)

    op.create_table(
        "learned_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("criteria_hash", sa.String(length=64), nullable=False),
        sa.Column("scorer", sa.String(length=100), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learned_models")),
        sa.UniqueConstraint(
            "criteria_hash", "scorer", name=op.f("uq_learned_models_criteria_hash_scorer")
        ),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint(
            "subscription", "day", "seq", name=op.f("uq_outbox_subscription_day_seq")
        ),
    )
    op.create_index(op.f("ix_outbox_state"), "outbox", ["state"], unique=False)
    op.create_index(op.f("ix_outbox_subscription"), "outbox", ["subscription"], unique=False)

    op.create_table(
        "papers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=False),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("primary_category", sa.String(length=32), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_papers")),
    )
    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription", sa.String(length=200), nullable=False),
        sa.Column("paper_id", sa.String(length=32), nullable=False),
        sa.Column("user", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
        sa.UniqueConstraint(
            "subscription", "paper_id", "user", name=op.f("uq_ratings_subscription_paper_id_user")
        ),
    )
    op.create_index(op.f("ix_ratings_subscription"), "ratings", ["subscription"], unique=False)

    op.create_table(
        "scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.String(length=32), nullable=False),
        sa.Column("criteria_hash", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("scorer", sa.String(length=100), nullable=False),
        sa.Column("relevance", sa.Integer(), nullable=False),
        sa.Column("novelty", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("matched", sa.Text(), nullable=True),
        sa.Column("raw", sa.Float(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scores")),
        sa.UniqueConstraint(
            "paper_id", "criteria_hash", "key", name=op.f("uq_scores_paper_id_criteria_hash_key")
        ),
    )
    op.create_index(op.f("ix_scores_criteria_hash"), "scores", ["criteria_hash"], unique=False)
    op.create_index(op.f("ix_scores_paper_id"), "scores", ["paper_id"], unique=False)

    op.create_table(
        "shown",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription", sa.String(length=200), nullable=False),
        sa.Column("paper_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shown")),
        sa.UniqueConstraint(
            "subscription", "paper_id", name=op.f("uq_shown_subscription_paper_id")
        ),
    )
    op.create_index(op.f("ix_shown_subscription"), "shown", ["subscription"], unique=False)

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("chat", sa.String(length=200), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    op.create_table(
        "usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("subscription", sa.String(length=200), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage")),
    )
    op.create_index(op.f("ix_usage_day"), "usage", ["day"], unique=False)

    op.create_table(
        "day_listings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("paper_id", sa.String(length=32), nullable=False),
        sa.Column("announce_type", sa.String(length=16), nullable=False),
        sa.Column("feeds", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"], ["papers.id"], name=op.f("fk_day_listings_paper_id_papers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_day_listings")),
        sa.UniqueConstraint("day", "paper_id", name=op.f("uq_day_listings_day_paper_id")),
    )
    op.create_index(op.f("ix_day_listings_day"), "day_listings", ["day"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_day_listings_day"), table_name="day_listings")

    op.drop_table("day_listings")
    op.drop_index(op.f("ix_usage_day"), table_name="usage")

    op.drop_table("usage")
    op.drop_table("subscriptions")
    op.drop_index(op.f("ix_shown_subscription"), table_name="shown")

    op.drop_table("shown")
    op.drop_index(op.f("ix_scores_paper_id"), table_name="scores")
    op.drop_index(op.f("ix_scores_criteria_hash"), table_name="scores")

    op.drop_table("scores")
    op.drop_index(op.f("ix_ratings_subscription"), table_name="ratings")

    op.drop_table("ratings")
    op.drop_table("papers")
    op.drop_index(op.f("ix_outbox_subscription"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_state"), table_name="outbox")

    op.drop_table("outbox")
    op.drop_table("learned_models")
    op.drop_index(op.f("ix_labels_criteria_hash"), table_name="labels")

    op.drop_table("labels")
    op.drop_table("explanations")
    op.drop_index(op.f("ix_digests_subscription"), table_name="digests")

    op.drop_table("digests")
    op.drop_index(op.f("ix_criteria_versions_subscription"), table_name="criteria_versions")

    op.drop_table("criteria_versions")
