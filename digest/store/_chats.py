"""Subscriptions (one per chat) and the ratings people give in them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, bindparam, select, update

from digest.store._base import StoreBase, now
from digest.store.models import (
    CriteriaRow,
    DigestRow,
    MemberRow,
    OutboxRow,
    RatingRow,
    ShownRow,
    SubscriptionRow,
)
from digest.subscriptions import Subscription

# A chat's history: rows that move with it when it changes id.
_FOLLOW_THE_CHAT: tuple[
    type[CriteriaRow] | type[DigestRow] | type[ShownRow] | type[RatingRow] | type[OutboxRow], ...
] = (CriteriaRow, DigestRow, ShownRow, RatingRow, OutboxRow)
_SUB_SETTINGS = (
    "categories", "relevance_cutoff", "novelty_cutoff", "top_k", "schedule", "timezone",
    "subscribed_by", "admins", "language", "ours", "zotero_library", "zotero_collection",
)  # fmt: skip


class ChatStore(StoreBase):
    def save_subscription(self, sub: Subscription) -> None:
        row = {
            "id": sub.id, "platform": sub.platform, "chat": sub.chat, "active": sub.active,
            "paused_reason": sub.paused_reason, "last_error": sub.last_error,
            "settings": {k: getattr(sub, k) for k in _SUB_SETTINGS},
        }  # fmt: skip
        with self.session() as s, s.begin():
            if s.get(SubscriptionRow, sub.id) is None:
                row["created_at"] = now()
            self.upsert(s, SubscriptionRow, [row], ["id"])

    def subscription(self, sub_id: str) -> Subscription | None:
        with self.reading() as c:  # Core: read on every run of every chat
            row = c.execute(_SUBSCRIPTION, {"id": sub_id}).first()
        return _subscription(row) if row else None

    def subscriptions(self, active_only: bool = True) -> list[Subscription]:
        with self.session() as s:
            q = select(SubscriptionRow).order_by(SubscriptionRow.id)
            if active_only:
                q = q.where(SubscriptionRow.active.is_(True))
            return [_subscription(r) for r in s.scalars(q)]

    def move_subscription(self, old_id: str, new: Subscription) -> None:
        """A chat changed id (Telegram group -> supergroup): its history follows it."""
        with self.session() as s, s.begin():
            for model in _FOLLOW_THE_CHAT:
                moving = update(model).where(model.subscription == old_id)
                s.execute(moving.values(subscription=new.id))
            old = s.get(SubscriptionRow, old_id)
            if old is not None:
                s.delete(old)
        self.save_subscription(new)

    def saw_member(self, platform: str, chat: str, user: str) -> None:
        """Note that `user` wrote in `chat`."""
        row = {"platform": platform, "chat": chat, "user": user, "seen_at": now()}
        with self.session() as s, s.begin():
            self.upsert(s, MemberRow, [row], ["platform", "chat", "user"])

    def chats_of_member(self, platform: str, user: str) -> set[str]:
        """The chats where `user` was seen."""
        with self.session() as s:
            q = select(MemberRow.chat).where(MemberRow.platform == platform, MemberRow.user == user)
            return set(s.scalars(q))

    def save_rating(self, subscription: str, paper_id: str, user: str, value: int) -> None:
        row = {"subscription": subscription, "paper_id": paper_id, "user": user, "value": value,
               "created_at": now()}  # fmt: skip
        with self.session() as s, s.begin():
            self.upsert(s, RatingRow, [row], ["subscription", "paper_id", "user"])

    def ratings(self, subscription: str) -> dict[str, int]:
        """paper id -> the sum of its ratings in the subscription."""
        with self.session() as s:
            out: dict[str, int] = {}
            for r in s.scalars(select(RatingRow).where(RatingRow.subscription == subscription)):
                out[r.paper_id] = out.get(r.paper_id, 0) + r.value
            return out


def _subscription(row: SubscriptionRow | Row[Any]) -> Subscription:
    settings = dict(row.settings)
    for key in ("categories", "admins", "ours"):
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


_SUBSCRIPTION = select(*SubscriptionRow.__table__.c).where(  # built once: every run reads it
    SubscriptionRow.id == bindparam("id")
)
