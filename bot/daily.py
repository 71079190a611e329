"""One announcement day for every chat: fetch once, score once per criteria, post via the outbox."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.delivery import DeliveryReport, Sender, deliver, enqueue
from digest.criteria import Criteria
from digest.day import DayStatus, Digest
from digest.pipeline import DayListing, build_digest, current_criteria, for_categories
from digest.scoring import Scorer, finish
from digest.store import Store

log = logging.getLogger(__name__)
POSTED_STATUSES = (DayStatus.BUILT, DayStatus.NO_ANNOUNCEMENT)  # others are retried first


@dataclass
class DayReport:
    digests: list[Digest] = field(default_factory=list)
    delivery: dict[str, DeliveryReport] = field(default_factory=dict)


async def post_day(
    store: Store,
    listing: DayListing,
    senders: dict[str, Sender],
    scorer_for: Callable[[Criteria], Scorer],
    only: list[str] | None = None,
    post_failures: bool = False,
) -> DayReport:
    """Build each active subscription's digest for the day, queue it, deliver everything due.

    A day that could not be read is posted only with `post_failures` (after the retries).
    """
    report = DayReport()
    posted = (*POSTED_STATUSES, DayStatus.FETCH_FAILED, DayStatus.STALE_FEED)
    for sub in store.subscriptions():
        sender = senders.get(sub.platform)
        if sender is None or (only is not None and sub.id not in only):
            continue
        _, criteria = current_criteria(store, sub.id)
        scorer = scorer_for(criteria)
        work = build_digest(
            store,
            for_categories(listing, sub.categories),
            criteria,
            scorer,
            subscription=sub.id,
            cutoffs=sub.cutoffs,
            top_k=sub.top_k,
            categories=sub.categories,
        )
        digest = await finish(scorer, work)
        report.digests.append(digest)
        if digest.status in (posted if post_failures else POSTED_STATUSES):
            enqueue(store, sender, sub, digest)
    for platform, sender in senders.items():
        report.delivery[platform] = await deliver(store, sender)
        close = getattr(sender, "aclose", None)
        if close is not None:
            await close()
    return report
