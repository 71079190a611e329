"""The outbox: every message of a digest is posted exactly once per chat, in order.

A digest becomes rows in the store's outbox (one per message). `deliver` claims each due row
in the store (state `sending`, with a lease) before the call, and marks it `sent` with its
platform id after, so deliverers in any number of processes never send the same row. A row
left `sending` after its lease ended is in doubt: its deliverer died mid-send. Where the
platform can tell (Slack: message metadata), the row is looked up before it is sent again;
where it cannot (Telegram), it is sent again and marked as such: at least once. A message
can then show twice only if its worker died between the platform accepting it and the store
recording that; `status` counts those messages.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cachetools import LRUCache

from bot.chat import PaperCard, Reply, card, lean, whole
from bot.platforms import Sender
from bot.service.moments import answered, wait_for_moment
from digest import (  # ChatMoved, ChatUnavailable, RetryLater: also named here, as before
    LEASE,
    METRICS,
    OPEN,
    ChatMoved,
    ChatUnavailable,
    DayStatus,
    Digest,
    RetryLater,
    Store,
    Subscription,
    renewed,
    store_unreachable,
)
from digest import owner as claimant

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
SHORT_WAIT = timedelta(seconds=30)  # `post` waits out a Retry-After this short...
WAIT_ROUNDS = 5  # ...this many times at most, then leaves the rest to a later run
CHATS_AT_ONCE = 200  # a pass serves this many chats side by side: each waits its chat's gap
STOPPING = threading.Event()  # set on SIGTERM: the message in flight is finished, no other
RECORD_PAUSES = (0.2, 0.5, 1.0, 2.0, 5.0)  # seconds between tries to record an outcome while
# the store is away (the last one repeats until it is back)


def digest_messages(digest: Digest) -> tuple[Reply, list[PaperCard]]:
    """The header (date, counts, judge, tokens, cost) and the selected papers as cards."""
    day = digest.day.isoformat()
    if digest.status is not DayStatus.BUILT:
        return Reply(f"paperdigest {day}", [digest.message]), []
    selected = digest.selected  # already cut to the subscription's top-k
    spent = "no tokens"
    rows = [u for u in digest.usage if u.total_tokens]  # the scoring, then the TL;DRs
    if rows:
        prompt, cached = sum(u.prompt_tokens for u in rows), sum(u.cached_tokens for u in rows)
        completion = sum(u.completion_tokens for u in rows)
        reasoning = sum(u.reasoning_tokens for u in rows)
        costs = [u.cost for u in rows]
        cost = "unknown cost" if None in costs else f"${sum(c or 0 for c in costs):.2f}"
        spent = (
            f"{prompt + completion:,} tokens ({prompt:,} prompt, {cached:,} cached; "
            f"{completion:,} completion, {reasoning:,} reasoning), {cost}"
        )
        if any(u.model.startswith("tldr:") for u in rows):
            spent += ", TL;DRs included"
    lines = [
        f"{len(selected)} papers from {digest.scanned} new in {', '.join(digest.categories)} "
        f"({digest.total_entries} feed entries)",
        f"judged by {digest.scorer}; {spent}",
        *(f"note: {note}" for note in digest.notes),
    ]
    cards = [card(e, i) for i, e in enumerate(selected, 1)]
    return Reply(f"paperdigest {day}", lines), cards


def outbox_messages(sender: Sender, digest: Digest) -> list[dict[str, Any]]:
    """A digest's messages as the outbox keeps them: the platform's plan with lean cards
    (`bot.chat.lean`): their papers' title, link, authors and abstract stay in the papers
    table, read again when a message is drawn."""
    header, cards = digest_messages(digest)
    key = (sender, header.title, tuple(header.lines), tuple(cards))
    with _PLANS_LOCK:
        planned = _PLANS.get(key)
    if planned is None:  # the first chat of the criteria (its cutoffs, what it saw) today
        papers = {e.paper.id: e.paper for e in digest.selected}
        planned = lean(sender.plan(header, cards), papers)
        with _PLANS_LOCK:
            _PLANS[key] = planned
    return planned


# Chats shown alike get alike messages: planned once per process (Telegram's keyboards, made
# of the library's objects, cost several ms). The payloads are stored, never changed.
_PLANS: LRUCache[tuple[Any, ...], list[dict[str, Any]]] = LRUCache(256)
_PLANS_LOCK = threading.Lock()  # builds plan in worker threads


def enqueue(store: Store, sender: Sender, sub: Subscription, digest: Digest) -> int:
    """Queue a digest's messages for a chat, once per (subscription, day)."""
    return store.enqueue(sub.id, digest.day, outbox_messages(sender, digest))


@dataclass
class DeliveryReport:
    sent: int = 0
    recovered: int = 0  # in-doubt messages found already posted
    deferred: int = 0
    in_doubt: int = 0  # in-doubt messages the platform cannot check: sent again
    failed: list[str] = field(default_factory=list)
    next_at: datetime | None = None  # the earliest time a message left waiting is due

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.recovered += other.recovered
        self.deferred += other.deferred
        self.in_doubt += other.in_doubt
        self.failed += other.failed
        self.wait_until(other.next_at)

    def wait_until(self, at: datetime | None) -> None:
        """Note a message due at `at`: `next_at` keeps the earliest."""
        if at is not None and (self.next_at is None or at < self.next_at):
            self.next_at = at


async def deliver(
    store: Store,
    sender: Sender,
    now: datetime | None = None,
    subscription: str | Subscription | None = None,
    lease: timedelta = LEASE,
) -> DeliveryReport:
    """Post every due message of this platform, in order; one chat's failure stops only it.

    `subscription`: only that chat's messages (a Subscription just read: not read again).

    Each message is claimed in the store before it is sent, so any number of deliverers
    (processes or tasks) may run at once and none sends a message another has claimed. Chats
    are served side by side (at most CHATS_AT_ONCE), each chat's messages one after another,
    at the sender's pace (`keep_pace`).
    """
    now = now or datetime.now(UTC)
    pass_ = _Pass(store, sender, now, claimant(), lease)  # two passes never share a claim
    if isinstance(subscription, Subscription):  # a run's chat, read by the run
        chats = [subscription] if subscription.active else []
        subscription = subscription.id
    elif subscription is not None:  # one chat's run: not every chat's row
        one = await asyncio.to_thread(store.subscription, subscription)
        chats = [one] if one is not None and one.active else []
    else:
        chats = await asyncio.to_thread(store.subscriptions)
    subs = {s.id: s for s in chats if s.platform == sender.platform}
    by_chat: dict[str, list[dict[str, Any]]] = {}
    # every chat's pass reads which messages are open first, then each chat's own payloads
    every = subscription is None
    for row in await asyncio.to_thread(store.outbox, subscription, OPEN, not every):
        if row["subscription"] in subs:
            by_chat.setdefault(row["subscription"], []).append(row)
    gate = asyncio.Semaphore(CHATS_AT_ONCE)

    async def one_chat(rows: list[dict[str, Any]]) -> None:
        async with gate:
            sub = subs[rows[0]["subscription"]]
            if every:  # read again: another pass may have sent some meanwhile
                rows = await asyncio.to_thread(store.outbox, sub.id, OPEN)
            if rows:
                await pass_.chat(sub, rows)

    await asyncio.gather(*(one_chat(rows) for rows in by_chat.values()))
    return pass_.report


@dataclass
class _Pass:
    """One delivery pass: its claims' owner, its report, what it learnt of each chat."""

    store: Store
    sender: Sender
    now: datetime
    owner: str
    lease: timedelta
    report: DeliveryReport = field(default_factory=DeliveryReport)

    async def chat(self, sub: Subscription, rows: list[dict[str, Any]]) -> None:
        """Post one chat's due messages in order; a failed one holds back the rest of its day."""
        store, sender, now, owner, report = (
            self.store, self.sender, self.now, self.owner, self.report
        )  # fmt: skip
        if sender.draws:  # its messages are drawn from their cards as they go: whole first
            rows = await asyncio.to_thread(_whole_rows, store, rows)
        blocked: set[Any] = set()  # days with an earlier message still open
        parents: dict[Any, str] = {}
        last: list[datetime | None] = []  # the chat's last message, once read from the store
        for row in rows:
            if STOPPING.is_set():
                return
            day = row["day"]
            if day in blocked:
                continue
            held = row["state"] == "sending" and row["lease_until"] and row["lease_until"] > now
            waiting = row["state"] == "pending" and row["not_before"] and row["not_before"] > now
            if held or waiting:
                blocked.add(day)  # another deliverer has it, or a rate limit holds the chat
                if waiting:
                    report.deferred += 1
                    report.wait_until(row["not_before"])
                continue
            kind = await asyncio.to_thread(store.claim_message, row["id"], owner, self.lease, now)
            if kind is None:
                blocked.add(day)  # another deliverer claimed it first
                continue
            key = f"{row['subscription']}/{day}/{row['seq']}"
            if kind == "in doubt":  # its worker died mid-send: this pass takes the claim over
                METRICS.CLAIMS_TAKEN_OVER.labels("message", sender.platform).inc()
            parent = parents.get(day) or _parent(store, row)
            try:
                async with renewed(store, row["id"], owner, self.lease):
                    if not last:
                        gap = _gap(sender, sub)
                        last.append(
                            await asyncio.to_thread(store.last_sent, sub.id) if gap else None
                        )
                    async with keep_pace(store, sender, sub, last[0]):
                        message_id = await _post(store, sender, sub, row, key, parent, kind,
                                                 now, owner)  # fmt: skip
                if message_id is None:  # found: it had been posted before its deliverer died
                    report.recovered += 1
                    continue
                report.in_doubt += kind == "in doubt" and not sender.confirms
            except RetryLater as exc:
                give_up = row["attempts"] + 1 >= MAX_ATTEMPTS
                not_before = now + timedelta(seconds=exc.seconds)
                await _record(
                    store, row["id"], owner, key, self.lease,
                    state="failed" if give_up else "pending",
                    error=str(exc),
                    not_before=not_before,
                )  # fmt: skip
                blocked.add(day)
                report.deferred += 1
                METRICS.MESSAGES.labels(sender.platform, "failed" if give_up else "deferred").inc()
                if not give_up:
                    report.wait_until(not_before)
                continue
            except ChatMoved as exc:
                await _record(store, row["id"], owner, key, self.lease, state="pending")
                moved = replace(sub, id=f"{sub.platform}:{exc.new_chat}", chat=exc.new_chat)
                store.move_subscription(sub.id, moved)
                log.info("subscription %s moved to %s", sub.id, moved.id)
                report.add(await deliver(store, sender, now, moved.id, self.lease))
                return
            except ChatUnavailable as exc:
                await _record(store, row["id"], owner, key, self.lease, state="failed",
                              error=str(exc))  # fmt: skip
                store.save_subscription(
                    replace(sub, active=False, paused_reason=str(exc), last_error=str(exc))
                )
                log.warning("subscription %s paused: %s", sub.id, exc)
                METRICS.MESSAGES.labels(sender.platform, "failed").inc()
                report.failed.append(f"{sub.id}: {exc}")
                return  # paused: none of its messages go now
            except Exception as exc:  # a bug or an unexpected answer: this chat waits, others go on
                away = store_unreachable(exc)  # the store went away mid-send: not a bug
                if away:
                    log.warning("%s: message %s not sent: the store is unreachable", sub.id, key)
                else:
                    log.exception("%s: message %s could not be sent", sub.id, key)
                await _record(
                    store, row["id"], owner, key, self.lease, state="pending",
                    error=f"{type(exc).__name__}: {exc}",
                    not_before=now + timedelta(seconds=0 if away else 60),
                )  # fmt: skip
                report.failed.append(f"{sub.id}: {type(exc).__name__}")
                METRICS.MESSAGES.labels(sender.platform, "error").inc()  # tried again, not lost
                blocked.add(day)
                continue
            sent_at = max(now, datetime.now(UTC))
            await _record(
                store, row["id"], owner, key, self.lease, state="sent", message_id=message_id,
                error=None, sent_at=sent_at,
            )  # fmt: skip
            last[:] = [sent_at]
            parents.setdefault(day, message_id)
            report.sent += 1
            METRICS.MESSAGES.labels(sender.platform, "sent").inc()


def _whole_rows(store: Store, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with their payloads' cards whole again (one read of the papers table)."""
    payloads = whole(store, [row["payload"] for row in rows])
    return [{**row, "payload": payload} for row, payload in zip(rows, payloads, strict=True)]


def _gap(sender: Sender, sub: Subscription) -> float:
    """Seconds the platform wants between two messages in this chat (0: no limit)."""
    return sender.pace.gap(sub.chat) if sender.pace else 0.0


@asynccontextmanager
async def keep_pace(
    store: Store, sender: Sender, sub: Subscription, last: datetime | None
) -> AsyncIterator[None]:
    """Wait until the platform's limits let the next message to `sub` go (the chat's gap after
    its last message, then the bot's next moment, handed out by the store to every worker in
    turn: `bot.service.moments`); on leaving, tell the store the platform's answer came back."""
    pace = sender.pace
    slot = None
    if pace is not None:
        gap = pace.gap(sub.chat)
        if gap and last is not None:
            await _sleep_until(last + timedelta(seconds=gap))
        if pace.per_second:
            slot = await wait_for_moment(store, sender, f"{sender.platform}:bot", pace.rate)
    try:
        yield
    finally:
        if slot is not None:
            answered(store, slot)


async def _sleep_until(moment: datetime) -> None:
    pause = (moment - datetime.now(UTC)).total_seconds()
    if pause > 0:
        await asyncio.sleep(pause)


async def deliver_waiting(
    store: Store,
    sender: Sender,
    wait: timedelta = SHORT_WAIT,
    rounds: int = WAIT_ROUNDS,
    subscription: str | None = None,
    lease: timedelta = LEASE,
) -> DeliveryReport:
    """`deliver`, then wait out a short Retry-After (at most `wait`) and deliver again.

    At most `rounds` waits; a message due later than `wait` stays deferred, in `deferred`
    and `next_at`, for a later run.
    """
    total = DeliveryReport()
    for round_ in range(rounds + 1):
        report = await deliver(store, sender, subscription=subscription, lease=lease)
        total.add(report)
        total.deferred, total.next_at = report.deferred, report.next_at  # the last pass's
        if report.next_at is None or round_ == rounds or STOPPING.is_set():
            break
        pause = (report.next_at - datetime.now(UTC)).total_seconds()
        if pause > wait.total_seconds():
            break
        log.info("%s: rate limited; waiting %.1f s", sender.platform, max(pause, 0.0))
        await asyncio.sleep(max(pause, 0.0) + 0.05)  # past not_before, not a hair before it
    return total


async def _post(
    store: Store,
    sender: Sender,
    sub: Subscription,
    row: dict[str, Any],
    key: str,
    parent: str | None,
    kind: str,
    now: datetime,
    owner: str,
) -> str | None:
    """Send one claimed message; None if it was in doubt and found posted already."""
    if kind == "in doubt" and sender.confirms:
        found = await sender.find(sub, key, now - timedelta(days=1), parent)
        if found:
            store.update_outbox(row["id"], owner, state="sent", message_id=found, sent_at=now)
            return None
    elif kind == "in doubt":
        store.update_outbox(row["id"], owner, doubt=True)
        log.warning("%s: message %s in doubt; %s cannot tell, sent again", sub.id, key,
                    sender.platform)  # fmt: skip
    return await sender.send(sub, row["payload"], key, parent)


async def _record(
    store: Store, row_id: int, owner: str, key: str, lease: timedelta, **fields: Any
) -> None:
    """Record what became of a claimed message, however long the store is away: a message the
    platform took but the store never heard of would be sent again once its lease ended. The
    claim is renewed meanwhile (once the store is back), so no other worker takes it over."""
    async with renewed(store, row_id, owner, lease):
        for attempt in itertools.count():
            try:
                await asyncio.to_thread(store.update_outbox, row_id, owner, **fields)
                return
            except Exception as exc:
                if not store_unreachable(exc):
                    raise
                if attempt == 0:
                    METRICS.STORE_ERRORS.labels("outbox").inc()
                    log.warning("message %s is %s; the store is unreachable: recorded when it "
                                "is back", key, fields.get("state"))  # fmt: skip
                if STOPPING.is_set():  # the lease ends and another worker takes it over
                    log.error("message %s: stopping before the store came back; its outcome "
                              "(%s) is not recorded", key, fields.get("state"))  # fmt: skip
                    raise
            await asyncio.sleep(RECORD_PAUSES[min(attempt, len(RECORD_PAUSES) - 1)])


def _parent(store: Store, row: dict[str, Any]) -> str | None:
    """Thread replies hang under the day's first message."""
    if not row["payload"].get("in_thread"):
        return None
    first = store.outbox(row["subscription"])
    head = next((r for r in first if r["day"] == row["day"] and r["seq"] == 0), None)
    return head["message_id"] if head else None
