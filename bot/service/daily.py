"""One announcement day for every chat: fetch once, score once per criteria, post via the outbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.platforms import Sender
from bot.service.outbox import SHORT_WAIT, DeliveryReport, deliver_waiting, outbox_messages
from digest import (
    LEASE,
    METRICS,
    Criteria,
    DayListing,
    DayStatus,
    Digest,
    Scorer,
    Store,
    Subscription,
    build_digest,
    current_criteria,
    finish,
    for_categories,
    learn_for_day,
)

log = logging.getLogger(__name__)
POSTED_STATUSES = (DayStatus.BUILT, DayStatus.NO_ANNOUNCEMENT)  # others are retried first


@dataclass
class DayReport:
    digests: list[Digest] = field(default_factory=list)
    delivery: dict[str, DeliveryReport] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)  # chats whose digest could not be built


async def day_scorer(
    store: Store,
    listing: DayListing,
    sub: Subscription,
    scorer_for: Callable[[Criteria], Scorer],
    lease: timedelta = LEASE,
) -> tuple[Criteria, Scorer]:
    """The chat's criteria and the scorer of its day, its model refitted first (once a day)."""
    _, criteria = await asyncio.to_thread(current_criteria, store, sub.id)
    if listing.status is DayStatus.BUILT:
        log.info("%s: %s", sub.id, await learn_for_day(store, criteria, listing.day, lease))
    return criteria, await asyncio.to_thread(scorer_for, criteria)  # reads its model: off the loop


async def build_for(
    store: Store,
    listing: DayListing,
    sub: Subscription,
    sender: Sender,
    scorer_for: Callable[[Criteria], Scorer],
    post_failures: bool = False,
    lease: timedelta = LEASE,
    done: tuple[str, str] | None = None,
) -> Digest:
    """Build one chat's digest of the day and queue its messages (once per chat and day).

    A day that could not be read is queued only with `post_failures` (after the retries).
    The digest, its messages and the end of the run's claim `done` (key, owner) are stored
    in one transaction.
    """
    criteria, scorer = await day_scorer(store, listing, sub, scorer_for, lease)
    posted = (*POSTED_STATUSES, DayStatus.FETCH_FAILED, DayStatus.STALE_FEED)

    def messages(digest: Digest) -> list[dict[str, Any]] | None:
        if digest.status not in (posted if post_failures else POSTED_STATUSES):
            return None
        return outbox_messages(sender, digest)

    work = build_digest(
        store,
        for_categories(listing, sub.categories),
        criteria,
        scorer,
        subscription=sub.id,
        cutoffs=sub.cutoffs,
        top_k=sub.top_k,
        categories=sub.categories,
        lease=lease,
        language=sub.language,
        ours=sub.ours,
        messages=messages,
        done=done,
    )
    digest = await finish(scorer, work)
    METRICS.DIGESTS.labels(str(digest.status)).inc()
    return digest


async def post_day(
    store: Store,
    listing: DayListing,
    senders: dict[str, Sender],
    scorer_for: Callable[[Criteria], Scorer],
    lease: timedelta = LEASE,
    wait: timedelta = SHORT_WAIT,
) -> DayReport:
    """Build each active subscription's digest for the day, queue it, deliver everything due.

    A chat whose digest fails is reported and skipped; the others are posted. A rate limit
    of at most `wait` is waited out; a longer one leaves its messages deferred (reported).
    """
    report = DayReport()
    for sub in store.subscriptions():
        sender = senders.get(sub.platform)
        if sender is None:
            continue
        try:
            digest = await build_for(store, listing, sub, sender, scorer_for, lease=lease)
            report.digests.append(digest)
        except Exception as exc:  # one chat's bad criteria or store row must not stop the others
            log.exception("%s: the digest could not be built", sub.id)
            report.failed.append(f"{sub.id}: {type(exc).__name__}: {exc}")
    passes = [deliver_waiting(store, sender, wait, lease=lease) for sender in senders.values()]
    report.delivery = dict(zip(senders, await asyncio.gather(*passes), strict=True))
    return report
