"""APScheduler on the service's event loop: one job per subscription, a cron in its own zone.

Jobs are named `sub-<subscription id>` and replaced, never duplicated. Every worker runs the
same jobs; each daily run is a claim in the store (`run:<subscription>:<local date>`), so
one worker does it and the others find it taken. A run whose worker died is taken over when
its lease ends; a day whose feeds are unreachable or stale is retried every 30 minutes, then
the channel is told once. A run missed while every worker was down is made once on start
when it is within the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from collections.abc import Awaitable, Callable, Iterable
from collections.abc import Set as AbstractSet
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from cachetools import LRUCache, cached

from bot.platforms import Sender
from bot.service.daily import DayReport, build_for, day_scorer
from bot.service.outbox import DeliveryReport, deliver
from bot.service.slots import Slots
from digest import (
    DEFAULTS,
    LEASE,
    METRICS,
    Claim,
    Criteria,
    DayListing,
    DayStatus,
    Digest,
    LocalScorer,
    Paper,
    Scorer,
    Store,
    Subscription,
    describe,
    for_categories,
    once,
    owner,
    prune_day,
    rank_ahead,
    renewed,
    store_unreachable,
)

log = logging.getLogger(__name__)

ANNOUNCEMENT_DAYS = "mon-fri"  # arXiv's RSS carries announcements Monday to Friday
GRACE = timedelta(hours=3)
RETRY_EVERY = timedelta(minutes=30)
RETRIES = 4  # then the channel is told, once
TICK = timedelta(minutes=1)  # deferred messages, and runs to take over, are looked at this often
DELIVER_DUE = "deliver-due"  # the one-off job for messages a rate limit held back
RUNS_AT_ONCE = 3  # a worker's concurrent daily runs; the rest wait, unclaimed, for any worker
AHEAD = timedelta(minutes=10)  # a day is fetched and ranked this long before a chat's time
PRUNE_EVERY = timedelta(hours=1)  # a look at whether today's pruning is done (once a day)
_READ = (DayStatus.BUILT, DayStatus.NO_ANNOUNCEMENT)


def trigger(sub: Subscription, days: str = ANNOUNCEMENT_DAYS) -> CronTrigger:
    hour, minute = (int(x) for x in sub.schedule.split(":"))
    return _SharedCron(days, hour, minute, sub.timezone)


class _SharedCron(CronTrigger):
    """A chat's cron trigger whose next fire times are worked out once for every chat of the
    same time, zone and days: when 10,000 chats are due at one minute, the scheduler asks each
    trigger twice, with the same arguments, on the event loop (5 s of cron arithmetic)."""

    def __init__(self, days: str, hour: int, minute: int, zone: str) -> None:
        super().__init__(day_of_week=days, hour=hour, minute=minute, timezone=ZoneInfo(zone))
        self._spec = (days, hour, minute, zone)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        return _next_fire(self, previous_fire_time, now)


@cached(LRUCache(256), key=lambda cron, previous, now: (cron._spec, previous, now),
        lock=threading.Lock())  # fmt: skip
def _next_fire(cron: _SharedCron, previous: datetime | None, now: datetime) -> datetime | None:
    """What the cron gives, once per (time, zone, days) and arguments."""
    return CronTrigger.get_next_fire_time(cron, previous, now)


def run_key(sub_id: str, day: date) -> str:
    return f"run:{sub_id}:{day.isoformat()}"


class DailyScheduler:
    """Keeps one job per active subscription and runs its day under a claim."""

    def __init__(
        self,
        store: Store,
        fetch: Callable[[tuple[str, ...]], Awaitable[DayListing]],
        senders: dict[str, Sender],
        scorer_for: Callable[[Criteria], Scorer],
        lease: timedelta = LEASE,
        days: str = ANNOUNCEMENT_DAYS,
        scheduler: AsyncIOScheduler | None = None,
        keep_days: int = DEFAULTS.store.keep_days,
        prepare: Callable[[list[Paper]], None] | None = None,
    ) -> None:
        """`prepare`: run on a day's papers once they are fetched, by the worker that fetched
        them, under the fetch's claim (the service embeds them: each worker would else embed
        the same papers for its first criteria, side by side)."""
        self.store, self.fetch, self.senders, self.scorer_for = store, fetch, senders, scorer_for
        self.prepare = prepare
        self.lease, self.days, self.keep_days = lease, days, keep_days
        self._pruned: date | None = None  # the last day this worker saw pruned
        self.scheduler = scheduler or AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3 * 3600},
        )
        self._listings: dict[str, DayListing] = {}  # today's, on this loop only
        self._fetching: dict[str, asyncio.Lock] = {}
        self._running: set[asyncio.Task[Any]] = set()
        self._slots: Slots | None = None
        self._building: set[str] = set()  # chats this worker is running or about to run
        self._active: dict[str, Subscription] = {}  # at the last sync
        self._criteria: dict[str, str] = {}  # subscription -> its criteria's hash, at the sync
        self._day: date | None = None  # the day the slots' ready groups are of
        self._timing: dict[str, tuple[str, str, str]] = {}  # job id -> what its trigger is of
        self._rescheduled: set[str] = set()  # chats rescheduled since the last tick's read began

    # jobs ---------------------------------------------------------------------------------

    def sync(self) -> None:
        """One job per active subscription; jobs of inactive ones removed."""
        self._sync(*self._read_active())

    def _read_active(self) -> tuple[dict[str, Subscription], dict[str, str]]:
        """The active subscriptions and their criteria's hashes: one read each, not one a chat."""
        return {sub.id: sub for sub in self.store.subscriptions()}, self.store.criteria_hashes()

    def _sync(
        self,
        active: dict[str, Subscription],
        hashes: dict[str, str],
        since: AbstractSet[str] = frozenset(),
    ) -> None:
        """The jobs made to match a read of the store; chats rescheduled `since` it was made
        keep the job `reschedule` gave them (the read may be older than their change)."""
        self._active, self._criteria = active, hashes
        for job in self.scheduler.get_jobs():
            if job.id.startswith("sub-") and job.id[4:] not in active and job.id[4:] not in since:
                job.remove()
                self._timing.pop(job.id, None)
        for sub in active.values():
            if sub.id not in since:
                self._schedule(sub)

    def reschedule(self, sub_id: str) -> None:
        """Called when a chat changes its schedule (or subscribes): replaces its job at once."""
        sub = self.store.subscription(sub_id)
        self._rescheduled.add(sub_id)  # newer than a tick's read under way
        job_id = f"sub-{sub_id}"
        if sub is None or not sub.active:
            if self.scheduler.get_job(job_id):
                self.scheduler.remove_job(job_id)
            self._timing.pop(job_id, None)
            return
        self._schedule(sub)

    def _schedule(self, sub: Subscription) -> None:
        """The chat's job, replaced only when its time, zone or days changed (a tick syncs
        every chat: 10,000 unchanged jobs are not rebuilt every minute)."""
        job_id = f"sub-{sub.id}"
        timing = (sub.schedule, sub.timezone, self.days)
        if self._timing.get(job_id) == timing and self.scheduler.get_job(job_id) is not None:
            return
        self.scheduler.add_job(
            self.run_subscription, trigger(sub, self.days), args=[sub.id], id=job_id,
            replace_existing=True,
        )  # fmt: skip
        self._timing[job_id] = timing

    def start(self) -> None:
        """Start on the running event loop; the first tick (catch-up) runs at once."""
        self.sync()
        every = min(TICK, self.lease / 2)  # a dead worker's work is taken over within a lease
        self.scheduler.add_job(
            self.tick, "interval", seconds=every.total_seconds(), id="tick",
            next_run_time=datetime.now(UTC), replace_existing=True,
        )  # fmt: skip
        self.scheduler.add_job(
            self.fetch_ahead, "interval", seconds=TICK.total_seconds(), id="fetch-ahead",
            next_run_time=datetime.now(UTC), replace_existing=True,
        )  # fmt: skip
        self.scheduler.add_job(
            self.prune, "interval", seconds=PRUNE_EVERY.total_seconds(), id="prune",
            next_run_time=datetime.now(UTC) + TICK, replace_existing=True,
        )  # fmt: skip
        self.scheduler.start()

    async def shutdown(self, wait: float = 30.0) -> None:
        """Stop the jobs; runs in progress finish the message in flight (see STOPPING)."""
        self.scheduler.shutdown(wait=False)
        if self._running:
            await asyncio.wait(self._running, timeout=wait)

    def missed(
        self, now: datetime, active: Iterable[Subscription] | None = None
    ) -> list[tuple[str, date]]:
        """Subscriptions whose time passed within the grace period without a digest: missed
        while every worker was down, or made by another worker since this one synced.
        `active`: the active subscriptions when just read (else they are read)."""
        due = []
        built = self.store.last_built()
        for sub in self.store.subscriptions() if active is None else active:
            last = sub.last_due(now, self.days)
            if last is None or now - last > GRACE:
                continue
            if sub.id in built and built[sub.id] >= last:
                continue  # this morning's run happened: never twice
            due.append((sub.id, last.astimezone(ZoneInfo(sub.timezone)).date()))
        return due

    async def tick(self, now: datetime | None = None) -> None:
        """Every minute (and at start): jobs for chats other workers subscribed, missed runs,
        runs to retry or to take over from a dead worker, then deferred messages."""
        now = now or datetime.now(UTC)
        try:  # the store's reads off the event loop: at 10,000 chats they take a second
            since: set[str] = set()
            self._rescheduled = since
            active, hashes = await asyncio.to_thread(self._read_active)
            self._sync(active, hashes, since)
            missed = await asyncio.to_thread(self.missed, now, list(active.values()))
            runs = {(s, d) for s, d in missed if s not in self._building}
            claims = await asyncio.to_thread(self.store.claims, "run:", ("running", "retry"))
            runs |= {_parse_run_key(c.key) for c in claims if c.takeable(now)}
        except Exception as exc:
            if not store_unreachable(exc):
                raise
            log.warning("the store is unreachable; due runs and messages wait for the next tick")
            METRICS.STORE_ERRORS.labels("schedule").inc()
            return
        await asyncio.gather(*(self.run_subscription(s, d, now=now) for s, d in sorted(runs)))
        await self.deliver_due(now)

    async def deliver_due(self, now: datetime | None = None) -> None:
        """A delivery pass on every platform; messages left waiting get a pass when due."""
        for sender in self.senders.values():
            try:
                self._wake(await deliver(self.store, sender, now, lease=self.lease))
            except Exception as exc:  # nothing is lost: the next tick delivers what is left
                if not store_unreachable(exc):
                    raise
                log.warning("%s: delivery paused, the store is unreachable", sender.platform)
                METRICS.STORE_ERRORS.labels("schedule").inc()

    async def fetch_ahead(self, now: datetime | None = None) -> None:
        """Today's listings of the chats due within AHEAD (this UTC day), fetched, embedded and
        ranked under their criteria now (`_rank_ahead`): at their minute each build only cuts
        its chat's digest. A feed not yet updated for the day is fetched again at the minute."""
        now = now or datetime.now(UTC)
        soon: dict[tuple[str, ...], dict[str | None, Subscription]] = {}
        for sub in self._active.values():
            due = getattr(self.scheduler.get_job(f"sub-{sub.id}"), "next_run_time", None)
            if due is None or not now <= due <= now + AHEAD:
                continue
            if due.astimezone(UTC).date() == now.date():  # the listing's day: `listing`
                by_criteria = soon.setdefault(tuple(sorted(sub.categories)), {})
                by_criteria.setdefault(self._criteria.get(sub.id), sub)
        for categories, subs in sorted(soon.items()):
            try:
                listing = await self.listing(categories)
                if listing.status is DayStatus.BUILT:
                    await self._rank_ahead(listing, subs)
            except Exception:  # the chats' own runs do it at their minute
                log.exception("the day's work ahead of its chats failed")
                continue
            log.info("%s made ahead of its chats: %s", ",".join(categories), listing.status)

    async def _rank_ahead(self, listing: DayListing, subs: dict[str | None, Subscription]) -> None:
        """The day ranked under each criteria of `subs` (hash -> one chat of it) whose scorer
        is local, unless this worker saw it scored today: a chat's build at its minute then only
        cuts its digest from the ranking, and goes first (`Slots.ready`). An LLM's scoring
        waits for a chat's minute, where its tokens are the chat's. Each worker takes the
        criteria in its own order, so that two share the work."""
        slots = self._today_slots()
        for group, sub in random.sample(list(subs.items()), len(subs)):
            if group is not None and slots.is_ready(group):
                continue  # ranked at an earlier look, or built: not read again every minute
            criteria, scorer = await day_scorer(self.store, listing, sub, self.scorer_for,
                                                self.lease)  # fmt: skip
            if isinstance(scorer, LocalScorer):
                part = for_categories(listing, sub.categories)
                await rank_ahead(self.store, part, criteria, scorer, self.lease)
                if group is not None:
                    slots.ready(group)

    async def prune(self, now: datetime | None = None) -> None:
        """Today's pruning of the store (`store.keep_days`), by whichever worker claims it
        first; its own job, so that a long first pruning never holds up a tick."""
        today = (now or datetime.now(UTC)).date()
        if self._pruned == today:
            return
        try:
            await prune_day(self.store, self.keep_days, today, self.lease)
        except Exception:  # tried again at the next look; the digests come first
            log.exception("pruning the store failed")
            return
        self._pruned = today

    def _wake(self, report: DeliveryReport) -> None:
        """A one-off `deliver-due` job at the earliest Retry-After's end (not the next tick);
        an earlier one already set is kept."""
        if report.next_at is None:
            return
        job = self.scheduler.get_job(DELIVER_DUE)
        due = getattr(job, "next_run_time", None)  # unset while the scheduler is not started
        if due is not None and due <= report.next_at:
            return
        self.scheduler.add_job(
            self.deliver_due, "date", run_date=report.next_at, id=DELIVER_DUE,
            replace_existing=True, max_instances=3,  # passes claim each message: never twice
        )  # fmt: skip

    # work ---------------------------------------------------------------------------------

    async def run_subscription(
        self, sub_id: str, day: date | None = None, now: datetime | None = None
    ) -> DayReport | None:
        """The job: claim the chat's run of the day, fetch and build (both shared), post.

        A worker builds a few chats' digests at a time; the others wait unclaimed, so that
        another worker with a free slot may take them. Posting is outside that slot: the
        messages are queued in the outbox by then, and waiting for the platforms' pace must
        not hold back the next chat's build. Chats of a platform with a pace for the whole
        bot (Telegram) are built first: that pace decides when a morning's last message can
        go, and it can only start once there are messages; a Slack channel waits for none.
        Among them, chats whose criteria this worker has seen scored today go first: their
        builds are quick, so messages are ready for that pace while other criteria are scored.
        """
        slots = self._today_slots()
        sender = self.senders.get(sub_id.split(":", 1)[0])  # an id is "<platform>:<chat>"
        paced = sender is not None and sender.pace is not None and sender.pace.per_second > 0
        group = self._criteria.get(sub_id)
        self._building.add(sub_id)  # a tick meanwhile finds it not built: not twice
        try:
            async with slots.slot(0 if paced else 1, group):
                built = await self._claimed_run(sub_id, day, now)
                if built is not None and group is not None:
                    slots.ready(group)  # before the slot passes on
        except Exception as exc:  # the store went away: the next tick makes the run
            if not store_unreachable(exc):
                raise
            log.warning("%s: the store is unreachable; the run is made at a tick once it "
                        "is back", sub_id)  # fmt: skip
            METRICS.STORE_ERRORS.labels("schedule").inc()
            return None
        finally:
            self._building.discard(sub_id)
        if built is None:
            return None
        sub, sender, digest = built
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            delivery = await deliver(self.store, sender, subscription=sub, lease=self.lease)
        finally:
            if task is not None:
                self._running.discard(task)
        self._wake(delivery)
        return DayReport([digest], {sender.platform: delivery})

    def _today_slots(self) -> Slots:
        """The worker's build slots, with no criteria ready yet on a new day (UTC, as the
        day's listing is fetched)."""
        today = datetime.now(UTC).date()
        if self._slots is None:
            self._slots = Slots(RUNS_AT_ONCE)
        if self._day != today:
            self._slots.forget()
            self._day = today
        return self._slots

    async def _claimed_run(
        self, sub_id: str, day: date | None, now: datetime | None
    ) -> tuple[Subscription, Sender, Digest] | None:
        # the store's round trips off the event loop: a worker's runs overlap their commits
        sub = await asyncio.to_thread(self.store.subscription, sub_id)
        sender = self.senders.get(sub.platform) if sub else None
        if sub is None or not sub.active or sender is None:
            return None
        now = max(now, datetime.now(UTC)) if now else datetime.now(UTC)
        key = run_key(sub_id, day or now.astimezone(ZoneInfo(sub.timezone)).date())
        who = owner()
        claim = await asyncio.to_thread(self.store.claim, key, who, self.lease, at=now)
        if claim is None:
            return None  # another worker runs it, or ran it
        if claim.taken_over:
            METRICS.CLAIMS_TAKEN_OVER.labels("run", sub.platform).inc()
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            async with renewed(self.store, key, who, self.lease):
                return await self._run(sub, sender, claim, who, now)
        except asyncio.CancelledError:
            self.store.release(key, who, "retry", error="stopped", not_before=now)
            raise
        except Exception as exc:  # recorded; /healthz and status show it
            if store_unreachable(exc):  # not the chat's fault: a tick makes the run again
                log.warning("%s: the daily run stopped, the store is unreachable: %s", sub_id,
                            describe(exc))  # fmt: skip
                METRICS.STORE_ERRORS.labels("schedule").inc()
                with contextlib.suppress(Exception):  # still away: the lease ends instead
                    self.store.release(key, who, "retry", error=describe(exc), not_before=now)
                return None
            log.exception("%s: the daily run failed", sub_id)
            self.store.release(key, who, "failed", error=describe(exc))
            return None
        finally:
            if task is not None:
                self._running.discard(task)

    async def _run(
        self, sub: Subscription, sender: Sender, claim: Claim, who: str, now: datetime
    ) -> tuple[Subscription, Sender, Digest] | None:
        listing = await self.listing(sub.categories)
        unread = listing.status not in _READ
        if unread and claim.attempts <= RETRIES:
            log.warning("%s: %s; retry %d of %d", sub.id, listing.message, claim.attempts,
                        RETRIES)  # fmt: skip
            self.store.release(claim.key, who, "retry", error=listing.message,
                               not_before=now + RETRY_EVERY)  # fmt: skip
            return None
        # the digest, its messages and the run's end in one commit: from there on any
        # worker's pass posts the messages, even if this one dies
        digest = await build_for(
            self.store, listing, sub, sender, self.scorer_for, unread, self.lease,
            done=(claim.key, who),
        )  # fmt: skip
        return sub, sender, digest

    async def listing(self, categories: tuple[str, ...]) -> DayListing:
        """Today's listing: fetched by one worker, read from the store by the others."""
        cats = tuple(sorted(categories))
        key = f"fetch:{datetime.now(UTC).date().isoformat()}:{','.join(cats)}"
        lock = self._fetching.setdefault(key, asyncio.Lock())
        async with lock:  # the loop's other tasks wait here, not on the store
            if key in self._listings:
                return self._listings[key]

            async def work() -> dict[str, Any]:
                fetched = await self.fetch(cats)
                if fetched.status is DayStatus.BUILT:
                    await asyncio.to_thread(self.store.save_listing, fetched.day, fetched.papers)
                    if self.prepare is not None:
                        await asyncio.to_thread(self.prepare, fetched.papers)
                return _summary(fetched)

            result = await once(
                self.store, key, work, self.lease,
                final=lambda r: DayStatus(r["status"]) in _READ, again_after=timedelta(0),
            )  # fmt: skip
            listing = await asyncio.to_thread(_from_summary, self.store, result)
            if listing.status in _READ:
                self._listings = {key: listing}  # one day's listings are kept
                self._fetching = {key: lock}
            return listing


def _parse_run_key(key: str) -> tuple[str, date]:
    sub_id, day = key.removeprefix("run:").rsplit(":", 1)
    return sub_id, date.fromisoformat(day)


def _summary(listing: DayListing) -> dict[str, Any]:
    return {
        "day": listing.day.isoformat(),
        "status": listing.status.value,
        "message": listing.message,
        "total_entries": listing.total_entries,
        "ids": [p.id for p in listing.papers],
        "empty_feeds": listing.empty_feeds,
    }


def _from_summary(store: Store, summary: dict[str, Any]) -> DayListing:
    day = date.fromisoformat(summary["day"])
    ids = summary["ids"]
    papers = {p.id: p for p in store.papers_of_day(day)} if ids else {}
    return DayListing(
        day,
        DayStatus(summary["status"]),
        summary["message"],
        [papers[i] for i in ids if i in papers],
        summary["total_entries"],
        tuple(summary.get("empty_feeds", ())),
    )
