"""The outbox: every message of a digest is posted exactly once per chat, in order.

A digest becomes rows in the store's outbox (one per message). `deliver` posts due rows:
each is marked `sending` before the call and `sent` with its platform id after. After a
crash between the two, the row is `sending`: the sender looks for it in the chat (Slack
message metadata) before posting again, so a restart neither loses nor repeats a message.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.replies import PaperCard, Reply
from digest.day import DayStatus, Digest
from digest.store import Store
from digest.subscriptions import Subscription

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
STOPPING = threading.Event()  # set on SIGTERM: the message in flight is finished, no other


class RetryLater(Exception):
    """The platform asked us to wait (rate limit) or failed for now."""

    def __init__(self, reason: str, seconds: float = 30.0) -> None:
        super().__init__(reason)
        self.seconds = seconds


class ChatUnavailable(Exception):
    """The chat cannot receive messages (removed, archived, blocked, bad token)."""


class ChatMoved(Exception):
    """The chat has a new id (a Telegram group became a supergroup)."""

    def __init__(self, new_chat: str) -> None:
        super().__init__(f"chat moved to {new_chat}")
        self.new_chat = new_chat


class Sender(Protocol):
    """One platform's side of delivery."""

    platform: str

    def plan(self, header: Reply, papers: list[PaperCard]) -> list[dict[str, Any]]:
        """Split a digest into message payloads: {"reply": ..., "in_thread": bool}."""
        ...

    async def send(
        self, sub: Subscription, payload: dict[str, Any], key: str, parent: str | None
    ) -> str:
        """Post one message; returns its platform id."""
        ...

    async def find(
        self, sub: Subscription, key: str, since: datetime, parent: str | None
    ) -> str | None:
        """The id of a message posted with `key` since `since`, if the platform can tell."""
        ...


def digest_messages(digest: Digest) -> tuple[Reply, list[PaperCard]]:
    """The header (date, counts, judge, tokens, cost) and the selected papers as cards."""
    day = digest.day.isoformat()
    if digest.status is not DayStatus.BUILT:
        return Reply(f"paperdigest {day}", [digest.message]), []
    selected = digest.selected  # already cut to the subscription's top-k
    usage = digest.usage[0] if digest.usage else None
    spent = "no tokens"
    if usage and usage.total_tokens:
        cost = "unknown cost" if usage.cost is None else f"${usage.cost:.2f}"
        spent = f"{usage.total_tokens:,} tokens, {cost}"
    lines = [
        f"{len(selected)} papers from {digest.scanned} new in {', '.join(digest.categories)} "
        f"({digest.total_entries} feed entries)",
        f"judged by {digest.scorer}; {spent}",
    ]
    cards = [
        PaperCard(
            id=e.paper.id,
            title=e.paper.title,
            url=e.paper.url,
            authors=e.paper.authors,
            relevance=None if e.followed else e.score.relevance,
            novelty=None if e.followed else e.score.novelty,
            comment=e.score.comment,
            rank=i,
        )
        for i, e in enumerate(selected, 1)
    ]
    return Reply(f"paperdigest {day}", lines), cards


def enqueue(store: Store, sender: Sender, sub: Subscription, digest: Digest) -> int:
    """Queue a digest's messages for a chat, once per (subscription, day)."""
    header, cards = digest_messages(digest)
    return store.enqueue(sub.id, digest.day, sender.plan(header, cards))


@dataclass
class DeliveryReport:
    sent: int = 0
    recovered: int = 0  # in-doubt messages found already posted
    deferred: int = 0
    failed: list[str] = field(default_factory=list)


async def deliver(
    store: Store, sender: Sender, now: datetime | None = None, subscription: str | None = None
) -> DeliveryReport:
    """Post every due message of this platform, in order; one chat's failure stops only it."""
    now = now or datetime.now(UTC)
    report = DeliveryReport()
    blocked: set[tuple[str, Any]] = set()  # (subscription, day) with an earlier message pending
    for row in store.outbox(subscription, states=("pending", "sending")):
        if STOPPING.is_set():
            break
        sub = store.subscription(row["subscription"])
        if sub is None or sub.platform != sender.platform:
            continue
        thread = (row["subscription"], row["day"])
        if thread in blocked or not sub.active:
            continue
        not_before = row["not_before"]
        if not_before is not None and not_before > now:
            blocked.add(thread)
            report.deferred += 1
            continue
        key = f"{row['subscription']}/{row['day']}/{row['seq']}"
        parent = _parent(store, row)
        if row["state"] == "sending":
            found = await sender.find(sub, key, now - timedelta(days=1), parent)
            if found:
                store.update_outbox(row["id"], state="sent", message_id=found, sent_at=now)
                report.recovered += 1
                continue
        store.update_outbox(row["id"], state="sending", attempts=row["attempts"] + 1)
        try:
            message_id = await sender.send(sub, row["payload"], key, parent)
        except RetryLater as exc:
            give_up = row["attempts"] + 1 >= MAX_ATTEMPTS
            store.update_outbox(
                row["id"],
                state="failed" if give_up else "pending",
                error=str(exc),
                not_before=now + timedelta(seconds=exc.seconds),
            )
            blocked.add(thread)
            report.deferred += 1
            continue
        except ChatMoved as exc:
            moved = replace(sub, id=f"{sub.platform}:{exc.new_chat}", chat=exc.new_chat)
            store.move_subscription(sub.id, moved)
            log.info("subscription %s moved to %s", sub.id, moved.id)
            return await _again(store, sender, now, report)
        except ChatUnavailable as exc:
            store.update_outbox(row["id"], state="failed", error=str(exc))
            store.save_subscription(
                replace(sub, active=False, paused_reason=str(exc), last_error=str(exc))
            )
            log.warning("subscription %s paused: %s", sub.id, exc)
            report.failed.append(f"{sub.id}: {exc}")
            blocked.add(thread)
            continue
        store.update_outbox(row["id"], state="sent", message_id=message_id, sent_at=now, error=None)
        report.sent += 1
    return report


async def _again(
    store: Store, sender: Sender, now: datetime, report: DeliveryReport
) -> DeliveryReport:
    more = await deliver(store, sender, now)
    report.sent += more.sent
    report.recovered += more.recovered
    report.deferred += more.deferred
    report.failed += more.failed
    return report


def _parent(store: Store, row: dict[str, Any]) -> str | None:
    """Thread replies hang under the day's first message."""
    if not row["payload"].get("in_thread"):
        return None
    first = store.outbox(row["subscription"])
    head = next((r for r in first if r["day"] == row["day"] and r["seq"] == 0), None)
    return head["message_id"] if head else None
