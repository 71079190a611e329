"""The one door to storage: SQLAlchemy 2 models and the few queries the rest needs."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from digest.day import Usage
from digest.errors import DigestError, NotFoundError
from digest.papers import Paper
from digest.scoring import Score
from digest.subscriptions import Subscription


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
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id"))
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
    cost: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class DigestRow(Base):
    """One subscription's outcome on one announcement day (unique per pair)."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("subscription", "day"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription: Mapped[str] = mapped_column(String(200), index=True)
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    criteria_hash: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ShownRow(Base):
    """A paper a subscription was shown, so that no later day shows it again."""

    __tablename__ = "shown"
    __table_args__ = (UniqueConstraint("subscription", "paper_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription: Mapped[str] = mapped_column(String(200), index=True)
    paper_id: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)


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
    day: Mapped[date] = mapped_column(Date)
    seq: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    message_id: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


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


MIGRATIONS = Path(__file__).parent / "migrations"
_VERSION_TABLE = "alembic_version"
_MIGRATION_LOCK = 0x70617065  # PostgreSQL advisory lock: one migrating process at a time


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Any:
    """An Alembic Config for the shipped migrations, on a connection or a URL."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def schema_head() -> str:
    """The latest migration's revision."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def schema_revision(connection: Connection) -> str | None:
    """The database's migration revision; None when it has never been migrated."""
    if not inspect(connection).has_table(_VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalar()


def migrate(engine: Engine) -> None:
    """Bring the database to the latest schema (`alembic upgrade head`).

    At head already: one cheap query. A database made before migrations existed (tables, no
    version table) gets its missing tables and is stamped at head.
    """
    with engine.connect() as conn:
        if schema_revision(conn) == schema_head():
            return
    from alembic import command
    from alembic.script import ScriptDirectory

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # another process may be migrating: wait for it
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        current = schema_revision(conn)
        if current == schema_head():
            return
        config = alembic_config(conn)
        if current is not None and current not in {
            s.revision for s in ScriptDirectory.from_config(config).walk_revisions()
        }:
            where = engine.url.render_as_string(hide_password=True)
            raise DigestError(
                f"the store at {where} has schema revision {current}, newer than this "
                f"paperdigest knows ({schema_head()}); upgrade paperdigest"
            )
        if current is None and set(inspect(conn).get_table_names()) & set(Base.metadata.tables):
            Base.metadata.create_all(conn)  # made by a paperdigest without migrations
            command.stamp(config, "head")
        else:
            command.upgrade(config, "head")


class Store:
    """Named operations over the database; nothing else imports SQLAlchemy."""

    def __init__(self, dsn: str) -> None:
        if dsn.startswith("sqlite:///") and dsn != "sqlite:///:memory:":
            Path(dsn.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.dsn = dsn
        self.engine = create_engine(dsn)
        try:
            migrate(self.engine)
        except OperationalError as exc:
            raise DigestError(f"cannot open the store at {_safe(dsn)}: {exc.orig}") from None

    def close(self) -> None:
        self.engine.dispose()

    # papers and listings
    def save_listing(self, day: date, papers: Iterable[Paper]) -> None:
        with Session(self.engine) as s, s.begin():
            known = {r.paper_id for r in s.scalars(select(ListingRow).where(ListingRow.day == day))}
            for paper in papers:
                s.merge(
                    PaperRow(
                        id=paper.id,
                        version=paper.version,
                        title=paper.title,
                        abstract=paper.abstract,
                        authors=list(paper.authors),
                        categories=list(paper.categories),
                        primary_category=paper.primary_category,
                        comment=paper.comment,
                    )
                )
                if paper.id not in known:
                    s.add(
                        ListingRow(
                            day=day,
                            paper_id=paper.id,
                            announce_type=paper.announce_type,
                            feeds=dict(paper.feeds),
                        )
                    )
                    known.add(paper.id)

    def paper(self, paper_id: str) -> Paper | None:
        with Session(self.engine) as s:
            row = s.get(PaperRow, paper_id)
            return _paper(row) if row else None

    def papers_of_day(self, day: date) -> list[Paper]:
        with Session(self.engine) as s:
            rows = s.execute(
                select(PaperRow, ListingRow)
                .join(ListingRow, ListingRow.paper_id == PaperRow.id)
                .where(ListingRow.day == day)
                .order_by(PaperRow.id)
            ).all()
            return [_paper(p, lst) for p, lst in rows]

    def search_papers(self, words: str, limit: int = 10) -> list[Paper]:
        with Session(self.engine) as s:
            q = select(PaperRow)
            for word in words.split():
                q = q.where(
                    PaperRow.title.ilike(f"%{word}%") | PaperRow.abstract.ilike(f"%{word}%")
                )
            return [_paper(r) for r in s.scalars(q.order_by(PaperRow.id.desc()).limit(limit))]

    # criteria
    def save_criteria(
        self, subscription: str, text: str, hash_: str, author: str | None = None
    ) -> int:
        """Store a new version unless it equals the latest; returns the version number."""
        with Session(self.engine) as s, s.begin():
            latest = s.scalars(
                select(CriteriaRow)
                .where(CriteriaRow.subscription == subscription)
                .order_by(CriteriaRow.version.desc())
                .limit(1)
            ).first()
            if latest and latest.hash == hash_:
                return latest.version
            version = latest.version + 1 if latest else 1
            s.add(
                CriteriaRow(
                    subscription=subscription, version=version, hash=hash_, text=text, author=author
                )
            )
            return version

    def criteria_versions(self, subscription: str) -> list[tuple[int, str, str]]:
        """(version, hash, text), oldest first."""
        with Session(self.engine) as s:
            rows = s.scalars(
                select(CriteriaRow)
                .where(CriteriaRow.subscription == subscription)
                .order_by(CriteriaRow.version)
            )
            return [(r.version, r.hash, r.text) for r in rows]

    # scores
    def scores(self, paper_ids: Iterable[str], criteria_hash: str, scorer: str) -> dict[str, Score]:
        ids = list(paper_ids)
        out: dict[str, Score] = {}
        with Session(self.engine) as s:
            for chunk in _chunks(ids, 500):
                rows = s.scalars(
                    select(ScoreRow).where(
                        ScoreRow.paper_id.in_(chunk),
                        ScoreRow.criteria_hash == criteria_hash,
                        ScoreRow.key == scorer,
                    )
                )
                out.update({r.paper_id: _score(r) for r in rows})
        return out

    def save_scores(
        self, scores: Iterable[Score], criteria_hash: str, scorer: str | None = None
    ) -> None:
        """Insert scores not stored yet: one per (paper, criteria, scorer).

        `scorer` is the cache key (the pipeline's scorer, e.g. a cascade); each Score keeps
        the name of what judged it. Without `scorer`, the judge is the key.
        """
        by_key: dict[str, list[Score]] = {}
        for sc in scores:
            by_key.setdefault(scorer or sc.scorer, []).append(sc)
        with Session(self.engine) as s, s.begin():
            for key, items in by_key.items():
                known = set(self.scores([sc.paper_id for sc in items], criteria_hash, key))
                for sc in items:
                    if sc.paper_id not in known:
                        s.add(ScoreRow(criteria_hash=criteria_hash, key=key, **_score_fields(sc)))
                        known.add(sc.paper_id)

    # digests and what was shown
    def save_digest(
        self,
        subscription: str,
        day: date,
        status: str,
        message: str,
        criteria_hash: str,
        payload: dict[str, Any],
    ) -> None:
        with Session(self.engine) as s, s.begin():
            row = s.scalars(
                select(DigestRow).where(
                    DigestRow.subscription == subscription, DigestRow.day == day
                )
            ).first()
            if row is None:
                row = DigestRow(subscription=subscription, day=day)
                s.add(row)
            row.status, row.message, row.criteria_hash, row.payload = (
                status,
                message,
                criteria_hash,
                payload,
            )
            row.created_at = _now()

    def digest(self, subscription: str, day: date | None = None) -> dict[str, Any] | None:
        """The stored digest payload of a day, or the latest one."""
        with Session(self.engine) as s:
            q = select(DigestRow).where(DigestRow.subscription == subscription)
            q = q.where(DigestRow.day == day) if day else q.order_by(DigestRow.day.desc())
            row = s.scalars(q.limit(1)).first()
            return dict(row.payload) if row else None

    def last_fetch(self) -> dict[str, Any] | None:
        """The most recent day outcome of any subscription: when, which day, what status."""
        with Session(self.engine) as s:
            row = s.scalars(
                select(DigestRow).order_by(DigestRow.created_at.desc()).limit(1)
            ).first()
            if row is None:
                return None
            return {
                "at": _aware(row.created_at).isoformat(timespec="seconds"),
                "day": row.day.isoformat(),
                "status": row.status,
                "message": row.message,
            }

    def last_built_at(self, subscription: str) -> datetime | None:
        """When the subscription's latest digest (of any status) was stored."""
        with Session(self.engine) as s:
            at = s.scalars(
                select(DigestRow.created_at)
                .where(DigestRow.subscription == subscription)
                .order_by(DigestRow.created_at.desc())
                .limit(1)
            ).first()
            return _aware(at) if at else None

    def digest_days(self, subscription: str) -> list[date]:
        with Session(self.engine) as s:
            return list(
                s.scalars(
                    select(DigestRow.day)
                    .where(DigestRow.subscription == subscription)
                    .order_by(DigestRow.day)
                )
            )

    def shown_before(self, subscription: str, day: date) -> set[str]:
        with Session(self.engine) as s:
            return set(
                s.scalars(
                    select(ShownRow.paper_id).where(
                        ShownRow.subscription == subscription, ShownRow.day < day
                    )
                )
            )

    def mark_shown(self, subscription: str, day: date, paper_ids: Iterable[str]) -> None:
        with Session(self.engine) as s, s.begin():
            known = set(
                s.scalars(select(ShownRow.paper_id).where(ShownRow.subscription == subscription))
            )
            for pid in paper_ids:
                if pid not in known:
                    s.add(ShownRow(subscription=subscription, paper_id=pid, day=day))
                    known.add(pid)

    # learning
    def save_labels(self, criteria_hash: str, labels: dict[str, float], source: str) -> None:
        with Session(self.engine) as s, s.begin():
            existing = {
                r.paper_id: r
                for r in s.scalars(
                    select(LabelRow).where(
                        LabelRow.criteria_hash == criteria_hash, LabelRow.source == source
                    )
                )
            }
            for pid, label in labels.items():
                if pid in existing:
                    existing[pid].label = label
                else:
                    s.add(
                        LabelRow(
                            paper_id=pid, criteria_hash=criteria_hash, label=label, source=source
                        )
                    )

    def labels(self, criteria_hash: str) -> dict[str, float]:
        """Every label for the criteria; a later source overrides an earlier one."""
        with Session(self.engine) as s:
            rows = s.scalars(
                select(LabelRow)
                .where(LabelRow.criteria_hash == criteria_hash)
                .order_by(LabelRow.id)
            )
            return {r.paper_id: r.label for r in rows}

    def save_model(self, criteria_hash: str, scorer: str, params: dict[str, Any]) -> None:
        with Session(self.engine) as s, s.begin():
            row = s.scalars(
                select(ModelRow).where(
                    ModelRow.criteria_hash == criteria_hash, ModelRow.scorer == scorer
                )
            ).first()
            if row is None:
                s.add(ModelRow(criteria_hash=criteria_hash, scorer=scorer, params=params))
            else:
                row.params, row.created_at = params, _now()

    def model(self, criteria_hash: str, scorer: str) -> dict[str, Any] | None:
        with Session(self.engine) as s:
            row = s.scalars(
                select(ModelRow).where(
                    ModelRow.criteria_hash == criteria_hash, ModelRow.scorer == scorer
                )
            ).first()
            return dict(row.params) if row else None

    # subscriptions
    def save_subscription(self, sub: Subscription) -> None:
        with Session(self.engine) as s, s.begin():
            row = s.get(SubscriptionRow, sub.id) or SubscriptionRow(id=sub.id)
            row.platform, row.chat, row.active = sub.platform, sub.chat, sub.active
            row.paused_reason, row.last_error = sub.paused_reason, sub.last_error
            row.settings = {k: getattr(sub, k) for k in _SUB_SETTINGS}
            s.add(row)

    def subscription(self, sub_id: str) -> Subscription | None:
        with Session(self.engine) as s:
            row = s.get(SubscriptionRow, sub_id)
            return _subscription(row) if row else None

    def subscriptions(self, active_only: bool = True) -> list[Subscription]:
        with Session(self.engine) as s:
            q = select(SubscriptionRow).order_by(SubscriptionRow.id)
            if active_only:
                q = q.where(SubscriptionRow.active.is_(True))
            return [_subscription(r) for r in s.scalars(q)]

    def move_subscription(self, old_id: str, new: Subscription) -> None:
        """A chat changed id (Telegram group -> supergroup): its history follows it."""
        with Session(self.engine) as s, s.begin():
            for model in (CriteriaRow, DigestRow, ShownRow, RatingRow, OutboxRow):
                for row in s.scalars(select(model).where(model.subscription == old_id)):
                    row.subscription = new.id
            old = s.get(SubscriptionRow, old_id)
            if old is not None:
                s.delete(old)
        self.save_subscription(new)

    # ratings
    def save_rating(self, subscription: str, paper_id: str, user: str, value: int) -> None:
        with Session(self.engine) as s, s.begin():
            row = s.scalars(
                select(RatingRow).where(
                    RatingRow.subscription == subscription,
                    RatingRow.paper_id == paper_id,
                    RatingRow.user == user,
                )
            ).first()
            if row is None:
                s.add(
                    RatingRow(subscription=subscription, paper_id=paper_id, user=user, value=value)
                )
            else:
                row.value, row.created_at = value, _now()

    def ratings(self, subscription: str) -> dict[str, int]:
        """paper id -> the sum of its ratings in the subscription."""
        with Session(self.engine) as s:
            out: dict[str, int] = {}
            for r in s.scalars(select(RatingRow).where(RatingRow.subscription == subscription)):
                out[r.paper_id] = out.get(r.paper_id, 0) + r.value
            return out

    # outbox
    def enqueue(self, subscription: str, day: date, payloads: list[dict[str, Any]]) -> int:
        """Add a digest's messages unless that (subscription, day) is queued already."""
        with Session(self.engine) as s, s.begin():
            queued = s.scalars(
                select(OutboxRow.id).where(
                    OutboxRow.subscription == subscription, OutboxRow.day == day
                )
            ).first()
            if queued is not None:
                return 0
            for seq, payload in enumerate(payloads):
                s.add(OutboxRow(subscription=subscription, day=day, seq=seq, payload=payload))
            return len(payloads)

    def outbox(self, subscription: str | None = None, states: tuple[str, ...] = ()) -> list[dict]:
        with Session(self.engine) as s:
            q = select(OutboxRow).order_by(OutboxRow.subscription, OutboxRow.day, OutboxRow.seq)
            if subscription:
                q = q.where(OutboxRow.subscription == subscription)
            if states:
                q = q.where(OutboxRow.state.in_(states))
            return [_outbox(r) for r in s.scalars(q)]

    def update_outbox(self, row_id: int, **fields: Any) -> None:
        """Set state, message_id, error, attempts, not_before or sent_at of one message."""
        with Session(self.engine) as s, s.begin():
            row = s.get(OutboxRow, row_id)
            if row is None:
                raise NotFoundError(f"outbox message {row_id} does not exist")
            for key, value in fields.items():
                setattr(row, key, value)

    # accounting
    def record_usage(self, day: date, subscription: str, usage: Usage) -> None:
        if not usage.total_tokens:
            return
        with Session(self.engine) as s, s.begin():
            s.add(
                UsageRow(
                    day=day, model=usage.model, subscription=subscription,
                    prompt_tokens=usage.prompt_tokens, cached_tokens=usage.cached_tokens,
                    completion_tokens=usage.completion_tokens, cost=usage.cost,
                )
            )  # fmt: skip

    def spent(self, day: date) -> float:
        """Dollars spent on priced models on a UTC day."""
        with Session(self.engine) as s:
            rows = s.scalars(select(UsageRow.cost).where(UsageRow.day == day))
            return sum(c for c in rows if c)

    def usage(self) -> list[tuple[date, Usage]]:
        """(day, Usage) per day and model, oldest first; cost None if any part was unpriced."""
        sums: dict[tuple[date, str], list[Any]] = {}
        with Session(self.engine) as s:
            for r in s.scalars(select(UsageRow).order_by(UsageRow.day, UsageRow.model)):
                acc = sums.setdefault((r.day, r.model), [0, 0, 0, 0.0])
                acc[0] += r.prompt_tokens
                acc[1] += r.cached_tokens
                acc[2] += r.completion_tokens
                acc[3] = None if acc[3] is None or r.cost is None else acc[3] + r.cost
        return [(d, Usage(m, p, c, o, cost)) for (d, m), (p, c, o, cost) in sums.items()]

    def explanation(self, paper_id: str, criteria_hash: str, model: str) -> str | None:
        with Session(self.engine) as s:
            return s.scalars(
                select(ExplanationRow.text).where(
                    ExplanationRow.paper_id == paper_id,
                    ExplanationRow.criteria_hash == criteria_hash,
                    ExplanationRow.model == model,
                )
            ).first()

    def save_explanation(self, paper_id: str, criteria_hash: str, model: str, text: str) -> None:
        with Session(self.engine) as s, s.begin():
            s.add(
                ExplanationRow(
                    paper_id=paper_id, criteria_hash=criteria_hash, model=model, text=text
                )
            )

    def require_paper(self, paper_id: str) -> Paper:
        paper = self.paper(paper_id)
        if paper is None:
            raise NotFoundError(
                f"paper {paper_id} is not in the store; run a digest that lists it first"
            )
        return paper


_SUB_SETTINGS = (
    "categories", "relevance_cutoff", "novelty_cutoff", "top_k", "schedule", "timezone",
    "subscribed_by", "admins",
)  # fmt: skip


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _subscription(row: SubscriptionRow) -> Subscription:
    settings = dict(row.settings)
    for key in ("categories", "admins"):
        settings[key] = tuple(settings.get(key) or ())
    return Subscription(
        id=row.id,
        platform=row.platform,
        chat=row.chat,
        active=row.active,
        paused_reason=row.paused_reason,
        last_error=row.last_error,
        **{k: v for k, v in settings.items() if k in _SUB_SETTINGS},
    )


def _outbox(row: OutboxRow) -> dict[str, Any]:
    """One outbox row; its times are timezone-aware UTC on every database."""
    out = {
        c: getattr(row, c)
        for c in ("id", "subscription", "day", "seq", "payload", "state", "message_id",
                  "attempts", "error")
    }  # fmt: skip
    for c in ("not_before", "sent_at"):
        out[c] = _aware(getattr(row, c)) if getattr(row, c) else None
    return out


def _paper(row: PaperRow, listing: ListingRow | None = None) -> Paper:
    return Paper(
        id=row.id,
        version=row.version,
        title=row.title,
        abstract=row.abstract,
        authors=tuple(row.authors),
        categories=tuple(row.categories),
        primary_category=row.primary_category,
        comment=row.comment,
        announce_type=listing.announce_type if listing else "new",
        feeds=dict(listing.feeds) if listing else {},
    )


_SCORE_FIELDS = (
    "paper_id", "relevance", "novelty", "comment", "matched", "scorer", "raw",
    "prompt_tokens", "cached_tokens", "completion_tokens", "cost",
)  # fmt: skip


def _score_fields(score: Score) -> dict[str, Any]:
    return {f: getattr(score, f) for f in _SCORE_FIELDS}


def _score(row: ScoreRow) -> Score:
    return Score(**{f: getattr(row, f) for f in _SCORE_FIELDS})


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _safe(dsn: str) -> str:
    """The DSN without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(dsn).render_as_string(hide_password=True)
