"""The tables: SQLAlchemy 2 models with named constraints, the same on every database."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    # named constraints, the same on every database, so that migrations can drop and alter them
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class PaperRow(Base):
    __tablename__ = "papers"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text)
    authors: Mapped[list] = mapped_column(JSON)
    categories: Mapped[list] = mapped_column(JSON)
    primary_category: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)


class ListingRow(Base):
    """A paper announced on a day (new or cross) in one or more feeds."""

    __tablename__ = "day_listings"
    __table_args__ = (UniqueConstraint("day", "paper_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id"), index=True)
    announce_type: Mapped[str] = mapped_column(String(16))
    feeds: Mapped[dict] = mapped_column(JSON)
    # never read; it makes a flush insert the paper before its listing (PostgreSQL checks)
    paper: Mapped[PaperRow] = relationship(lazy="raise")


class CriteriaRow(Base):
    """One version of one subscription's criteria."""

    __tablename__ = "criteria_versions"
    __table_args__ = (UniqueConstraint("subscription", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ScoreRow(Base):
    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("paper_id", "criteria_hash", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paper_id: Mapped[str] = mapped_column(String(32), index=True)
    criteria_hash: Mapped[str] = mapped_column(String(64), index=True)
    key: Mapped[str] = mapped_column(String(100))  # the scorer whose cache this is
    scorer: Mapped[str] = mapped_column(String(100))  # what judged the paper
    relevance: Mapped[int] = mapped_column(Integer)
    novelty: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text)
    matched: Mapped[str | None] = mapped_column(Text)  # a topic name a person wrote
    raw: Mapped[float | None] = mapped_column(Float)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class RankingRow(Base):
    """A day's papers ranked under one criteria by one scorer, shared by every digest that
    reads it; `key` (a hash of the content) keeps one row per distinct ranking."""

    __tablename__ = "rankings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    criteria_hash: Mapped[str] = mapped_column(String(64))
    scorer: Mapped[str] = mapped_column(String(100))
    listing: Mapped[str | None] = mapped_column(String(32))  # set when a build made it
    complete: Mapped[bool] = mapped_column(default=True)  # every paper scored
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class DigestRow(Base):
    """One subscription's outcome on one announcement day (unique per pair): what is its own,
    and the shared ranking it was cut from."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("subscription", "day"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription: Mapped[str] = mapped_column(String(200), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    criteria_hash: Mapped[str] = mapped_column(String(64))
    ranking_id: Mapped[int | None] = mapped_column(Integer, index=True)  # rankings.id
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ShownRow(Base):
    """A paper a subscription was shown, so that no later day shows it again."""

    __tablename__ = "shown"
    __table_args__ = (UniqueConstraint("subscription", "paper_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription: Mapped[str] = mapped_column(String(200), index=True)
    paper_id: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date, index=True)


class LabelRow(Base):
    """A judgement that a paper is (1) or is not (0) wanted under some criteria."""

    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("paper_id", "criteria_hash", "source"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paper_id: Mapped[str] = mapped_column(String(32))
    criteria_hash: Mapped[str] = mapped_column(String(64), index=True)
    label: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(200))


class ModelRow(Base):
    """A learned scoring model for one criteria hash."""

    __tablename__ = "learned_models"
    __table_args__ = (UniqueConstraint("criteria_hash", "scorer"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    criteria_hash: Mapped[str] = mapped_column(String(64))
    scorer: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class SubscriptionRow(Base):
    __tablename__ = "subscriptions"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    chat: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(default=True)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class RatingRow(Base):
    """A person's thumbs up (+1) or down (-1) on a paper in a subscription's digest."""

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("subscription", "paper_id", "user"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription: Mapped[str] = mapped_column(String(200), index=True)
    paper_id: Mapped[str] = mapped_column(String(32))
    user: Mapped[str] = mapped_column(String(200))
    value: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class OutboxRow(Base):
    """One message of one digest for one chat: posted exactly once, in order."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("subscription", "day", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription: Mapped[str] = mapped_column(String(200), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    seq: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    message_id: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(100))  # the worker sending it
    doubt: Mapped[bool] = mapped_column(default=False)  # sent again after a worker died mid-send
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UsageRow(Base):
    """Tokens and cost one run spent on one model."""

    __tablename__ = "usage"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)  # the UTC day the tokens were spent
    model: Mapped[str] = mapped_column(String(100))
    subscription: Mapped[str] = mapped_column(String(200))
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    cached_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    reasoning_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost: Mapped[float | None] = mapped_column(Float)


class ExplanationRow(Base):
    """An LLM's explanation of a paper's score (`why --deep`), asked once."""

    __tablename__ = "explanations"
    __table_args__ = (UniqueConstraint("paper_id", "criteria_hash", "model"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paper_id: Mapped[str] = mapped_column(String(32))
    criteria_hash: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class TldrRow(Base):
    """A paper's one-sentence TL;DR by one model in one language, asked once."""

    __tablename__ = "tldrs"
    __table_args__ = (UniqueConstraint("paper_id", "language", "model"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paper_id: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ClaimRow(Base):
    """A piece of work that any worker may do but only one at a time: a day's build, a
    subscription's daily run. The holder keeps it while its lease runs; then anyone may take it.
    """

    __tablename__ = "claims"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # running | done | failed | retry
    owner: Mapped[str] = mapped_column(String(100))
    lease_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)


class MemberRow(Base):
    """A person seen in a chat (a Telegram group), so a DM can find the digests they read."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("platform", "chat", "user"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    chat: Mapped[str] = mapped_column(String(200))
    user: Mapped[str] = mapped_column(String(200), index=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class EmbeddingRow(Base):
    """A paper's text embedding by one model, kept while its text (title and abstract) is the
    same: int8 components times `scale` give the unit vector."""

    __tablename__ = "embeddings"
    paper_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model: Mapped[str] = mapped_column(String(100), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    scale: Mapped[float] = mapped_column(Float)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
