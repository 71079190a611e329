"""APScheduler: one job per subscription, a cron in its own time zone.

Jobs are named `sub-<subscription id>` and replaced, never duplicated. A run missed while the
process was down is made once on start when it is within the grace period; a digest is
unique per (subscription, announcement day), so nothing is posted twice. A day whose feeds
are unreachable or stale is retried later that morning, then the channel is told once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.daily import DayReport, post_day
from bot.delivery import Sender, deliver
from digest.criteria import Criteria
from digest.day import DayStatus
from digest.pipeline import DayListing
from digest.scoring import Scorer
from digest.store import Store
from digest.subscriptions import Subscription

log = logging.getLogger(__name__)

ANNOUNCEMENT_DAYS = "mon-fri"  # arXiv's RSS carries announcements Monday to Friday
GRACE = timedelta(hours=3)
RETRY_EVERY = timedelta(minutes=30)
RETRIES = 4  # then the channel is told, once


def trigger(sub: Subscription) -> CronTrigger:
    hour, minute = (int(x) for x in sub.schedule.split(":"))
    return CronTrigger(
        day_of_week=ANNOUNCEMENT_DAYS, hour=hour, minute=minute, timezone=ZoneInfo(sub.timezone)
    )


class DailyScheduler:
    """Keeps one job per active subscription and runs its day."""

    def __init__(
        self,
        store: Store,
        fetch: Callable[[tuple[str, ...]], Awaitable[DayListing]],
        senders: Callable[[], dict[str, Sender]],
        scorer_for: Callable[[Criteria], Scorer],
        scheduler: BackgroundScheduler | None = None,
    ) -> None:
        self.store, self.fetch, self.senders, self.scorer_for = store, fetch, senders, scorer_for
        self.scheduler = scheduler or BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3 * 3600},
        )
        self.attempts: dict[str, int] = {}
        self._listings: dict[tuple[str, tuple[str, ...]], DayListing] = {}

    # jobs ---------------------------------------------------------------------------------

    def sync(self) -> None:
        """One job per active subscription; jobs of inactive ones removed."""
        active = {sub.id: sub for sub in self.store.subscriptions()}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("sub-") and job.id[4:] not in active:
                job.remove()
        for sub in active.values():
            self.reschedule(sub.id)

    def reschedule(self, sub_id: str) -> None:
        """Called when a chat changes its schedule (or subscribes): replaces its job at once."""
        sub = self.store.subscription(sub_id)
        job_id = f"sub-{sub_id}"
        if sub is None or not sub.active:
            if self.scheduler.get_job(job_id):
                self.scheduler.remove_job(job_id)
            return
        self.scheduler.add_job(
            self.run_subscription, trigger(sub), args=[sub_id], id=job_id, replace_existing=True
        )

    def start(self, now: datetime | None = None) -> None:
        self.sync()
        self.scheduler.add_job(
            self.deliver_due, "interval", minutes=1, id="deliver", replace_existing=True
        )
        self.scheduler.start()
        self.catch_up(now or datetime.now(UTC))

    def shutdown(self) -> None:
        """Lets the running job finish its message in flight, then stops."""
        self.scheduler.shutdown(wait=True)

    def catch_up(self, now: datetime) -> list[str]:
        """Run once, now, each subscription whose time passed today within the grace period."""
        due = []
        for sub in self.store.subscriptions():
            last = _last_fire(sub, now)
            if last is None or now - last > GRACE:
                continue
            built = self.store.last_built_at(sub.id)
            if built is not None and built >= last:
                continue  # this morning's run happened: never twice
            due.append(sub.id)
            self.scheduler.add_job(
                self.run_subscription, args=[sub.id], id=f"catch-up-{sub.id}",
                replace_existing=True,
            )  # fmt: skip
        return due

    # work ---------------------------------------------------------------------------------

    def run_subscription(self, sub_id: str) -> DayReport | None:
        """The job: fetch (shared by the day's subscriptions), score, queue, deliver."""
        sub = self.store.subscription(sub_id)
        if sub is None or not sub.active:
            return None
        listing = asyncio.run(self._listing(sub.categories))
        if listing.status in (DayStatus.FETCH_FAILED, DayStatus.STALE_FEED):
            tries = self.attempts.get(sub_id, 0) + 1
            self.attempts[sub_id] = tries
            if tries <= RETRIES:
                log.warning("%s: %s; retry %d of %d", sub_id, listing.message, tries, RETRIES)
                self.scheduler.add_job(
                    self.run_subscription, "date", args=[sub_id], id=f"retry-{sub_id}",
                    run_date=datetime.now(UTC) + RETRY_EVERY, replace_existing=True,
                )  # fmt: skip
                return None
            self.attempts.pop(sub_id, None)
            return asyncio.run(self._post(listing, sub_id, tell=True))
        self.attempts.pop(sub_id, None)
        return asyncio.run(self._post(listing, sub_id))

    async def _listing(self, categories: tuple[str, ...]) -> DayListing:
        key = (datetime.now(UTC).date().isoformat(), tuple(sorted(categories)))
        cached = self._listings.get(key)
        if cached is not None:
            return cached
        listing = await self.fetch(categories)
        if listing.status in (DayStatus.BUILT, DayStatus.NO_ANNOUNCEMENT):
            self._listings = {key: listing}  # one day's listings are kept
        return listing

    async def _post(self, listing: DayListing, sub_id: str, tell: bool = False) -> DayReport:
        return await post_day(
            self.store, listing, self.senders(), self.scorer_for, only=[sub_id], post_failures=tell
        )

    def deliver_due(self) -> None:
        """Messages deferred by rate limits or outages, posted when due."""

        async def go() -> None:
            for sender in self.senders().values():
                try:
                    await deliver(self.store, sender)
                finally:
                    close = getattr(sender, "aclose", None)
                    if close is not None:
                        await close()

        asyncio.run(go())


def _last_fire(sub: Subscription, now: datetime) -> datetime | None:
    """The subscription's latest scheduled time at or before `now` (within a week)."""
    trig = trigger(sub)
    start = now - timedelta(days=7)
    last, fire = None, trig.get_next_fire_time(None, start)
    while fire is not None and fire <= now:
        last = fire
        fire = trig.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return last
