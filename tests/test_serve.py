"""The long-running service: one job per subscription, catch-up, retries, shared work, /healthz."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.commands import Context, Deps, handle
from bot.platforms.slack import SlackSender
from bot.service import schedule
from bot.service.outbox import deliver
from bot.service.schedule import RETRIES, RETRY_EVERY, DailyScheduler, run_key
from bot.service.web import build_web_app
from digest.config import load_settings
from digest.criteria import Criteria, Topic
from digest.day import DayStatus
from digest.pipeline import DayListing, sample_listing
from digest.scoring.local import LocalScorer
from digest.status import status_report
from digest.store import Store
from digest.subscriptions import Subscription
from tests.conftest import sample_digest
from tests.fakes.loopback import WebThread
from tests.fakes.slack_api import FakeSlack

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


class Fetcher:
    """Stands in for arXiv: answers with a listing and counts the fetches."""

    def __init__(self, listing: DayListing) -> None:
        self.listing, self.calls = listing, 0

    async def __call__(self, categories: tuple[str, ...]) -> DayListing:
        self.calls += 1
        await asyncio.sleep(0)  # other jobs run meanwhile, as they would during a real fetch
        return self.listing


class CountingScorer(LocalScorer):
    """The local scorer with the store's vectors, as serve makes it, counting the batches it
    scores (shared by every chat of a test)."""

    def __init__(self, calls: list[int], store: Store) -> None:
        super().__init__(vectors=store)
        self.calls = calls

    async def score(self, papers, criteria):  # type: ignore[no-untyped-def]
        self.calls.append(len(papers))
        return await super().score(papers, criteria)


def make(
    store: Store,
    slack: FakeSlack,
    listing: DayListing | None = None,
    scorer_for: Callable[[Criteria], LocalScorer] | None = None,
    **kw,
):
    fetch = Fetcher(listing or sample_listing())
    client = AsyncWebClient(token="x", base_url=slack.url)
    scorer_for = scorer_for or (lambda criteria: LocalScorer(vectors=store))
    daily = DailyScheduler(store, fetch, {"slack": SlackSender(client)}, scorer_for, **kw)
    return daily, fetch


def subscribe(store: Store, chat: str, at: str = "06:30", zone: str = "UTC") -> Subscription:
    sub = Subscription(
        f"slack:{chat}",
        "slack",
        chat,
        top_k=3,
        schedule=at,
        timezone=zone,
        subscribed_by="slack:U1",
    )
    store.save_subscription(sub)
    return sub


def test_one_job_per_subscription_in_its_time_zone(scored_store: Store, slack: FakeSlack) -> None:
    subscribe(scored_store, "C1", "07:15", "Europe/Paris")
    subscribe(scored_store, "C2", "06:30", "UTC")

    async def go() -> dict:
        daily, _ = make(scored_store, slack)
        daily.scheduler.start(paused=True)  # jobs live in the job store; nothing runs
        daily.sync()
        daily.sync()  # idempotent: replaced, never duplicated
        jobs = {j.id: j for j in daily.scheduler.get_jobs()}
        daily.scheduler.shutdown(wait=False)
        return jobs

    jobs = asyncio.run(go())
    assert set(jobs) == {"sub-slack:C1", "sub-slack:C2"}
    paris = jobs["sub-slack:C1"].trigger.get_next_fire_time(None, MONDAY)
    assert paris.astimezone(UTC) == datetime(2026, 11, 23, 6, 15, tzinfo=UTC)
    saturday = MONDAY - timedelta(days=2)
    assert jobs["sub-slack:C2"].trigger.get_next_fire_time(None, saturday).date() == MONDAY.date()


def test_schedule_from_chat_reschedules_at_once(scored_store: Store, slack: FakeSlack) -> None:
    async def go() -> None:
        daily, _ = make(scored_store, slack)
        daily.scheduler.start(paused=True)
        settings = load_settings(env={})
        deps = Deps(scored_store, settings, lambda c: LocalScorer(), on_change=daily.reschedule)
        owner = Context("slack", "C9", "U1")
        await handle("subscribe", owner, deps)
        assert daily.scheduler.get_job("sub-slack:C9") is not None
        await handle("schedule 09:00 America/New_York", owner, deps)
        job = daily.scheduler.get_job("sub-slack:C9")
        assert job.trigger.get_next_fire_time(None, MONDAY) == datetime(
            2026, 11, 23, 14, 0, tzinfo=UTC
        ).astimezone(job.trigger.timezone)
        await handle("unsubscribe", owner, deps)
        assert daily.scheduler.get_job("sub-slack:C9") is None
        daily.scheduler.shutdown(wait=False)

    asyncio.run(go())


def test_a_schedule_changed_by_another_worker_is_kept_at_the_next_sync(
    scored_store: Store, slack: FakeSlack
) -> None:
    """A sync reads every chat once and rebuilds only the jobs whose time changed: a chat
    whose schedule another worker changed fires at its new time, the others keep theirs."""
    sub = subscribe(scored_store, "C1", "07:15", "UTC")
    subscribe(scored_store, "C2", "06:30", "UTC")

    async def go() -> tuple[datetime, datetime, bool]:
        daily, _ = make(scored_store, slack)
        daily.scheduler.start(paused=True)
        daily.sync()
        kept = daily.scheduler.get_job("sub-slack:C2")
        scored_store.save_subscription(replace(sub, schedule="08:45", timezone="Asia/Tokyo"))
        daily.sync()  # as at a tick: the change was made in the store, not through this worker
        c1 = daily.scheduler.get_job("sub-slack:C1").trigger.get_next_fire_time(None, MONDAY)
        c2 = daily.scheduler.get_job("sub-slack:C2")
        daily.scheduler.shutdown(wait=False)
        return c1, c2.trigger.get_next_fire_time(None, MONDAY), c2 is kept

    c1, c2, same_job = asyncio.run(go())
    assert c1.astimezone(UTC) == datetime(2026, 11, 23, 23, 45, tzinfo=UTC)  # 08:45 in Tokyo
    assert c2.astimezone(UTC) == datetime(2026, 11, 23, 6, 30, tzinfo=UTC)
    assert same_job


class ReadHeldUp(DailyScheduler):
    """A worker whose reads of the chats, once `hold` is set, are held after they are made
    until let go."""

    def __init__(self, *args, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kw)
        self.hold, self.read, self.go_on = False, threading.Event(), threading.Event()

    def _read_active(self):  # type: ignore[no-untyped-def]
        found = super()._read_active()
        if self.hold:
            self.read.set()
            self.go_on.wait(10)
        return found


def test_a_schedule_changed_during_a_ticks_read_keeps_its_new_time(
    scored_store: Store, slack: FakeSlack
) -> None:
    """The tick reads every chat off the event loop; a chat that changes its time meanwhile
    (through this worker) is not put back to the time the older read found."""
    subscribe(scored_store, "C1", "07:15", "UTC")

    async def go() -> datetime:
        client = AsyncWebClient(token="x", base_url=slack.url)
        daily = ReadHeldUp(scored_store, Fetcher(sample_listing()),
                           {"slack": SlackSender(client)}, lambda c: LocalScorer())  # fmt: skip
        daily.scheduler.start(paused=True)
        daily.sync()
        daily.hold = True
        tick = asyncio.create_task(daily.tick(MONDAY))
        await asyncio.to_thread(daily.read.wait, 10)  # the tick read the chat at 07:15
        deps = Deps(scored_store, load_settings(env={}), lambda c: LocalScorer(),
                    on_change=daily.reschedule)  # fmt: skip
        await handle("schedule 09:00 UTC", Context("slack", "C1", "U1"), deps)
        daily.go_on.set()
        await tick
        job = daily.scheduler.get_job("sub-slack:C1")
        daily.scheduler.shutdown(wait=False)
        return job.trigger.get_next_fire_time(None, MONDAY)

    assert asyncio.run(go()).astimezone(UTC) == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_missed_run_is_caught_up_once_within_the_grace(
    scored_store: Store, slack: FakeSlack
) -> None:
    subscribe(scored_store, "C1", "06:30")
    daily, _ = make(scored_store, slack)
    late = datetime.now(UTC).replace(microsecond=0)
    sub = subscribe(scored_store, "C1", (late - timedelta(minutes=30)).strftime("%H:%M"))
    daily.days = "mon-sun"
    [(sub_id, day)] = daily.missed(late)  # 30 min late
    assert sub_id == sub.id and day == (late - timedelta(minutes=30)).date()  # the day it was due
    assert daily.missed(late + timedelta(hours=4)) == []  # beyond the 3 h grace
    asyncio.run(daily.run_subscription(sub_id, day))
    assert daily.missed(late) == []  # built already: never twice
    assert scored_store.claim_of(run_key(sub_id, day)).state == "done"


def test_a_day_is_fetched_once_and_posted_once(scored_store: Store, slack: FakeSlack) -> None:
    subscribe(scored_store, "C1")
    subscribe(scored_store, "C2")
    daily, fetch = make(scored_store, slack)

    async def go() -> None:
        await daily.run_subscription("slack:C1")
        await daily.run_subscription("slack:C2")
        assert await daily.run_subscription("slack:C1") is None  # claimed and done: not twice

    asyncio.run(go())
    assert fetch.calls == 1
    assert len(slack.posted("C1")) == 1 and len(slack.posted("C2")) == 1


class UnsubscribedWhileScoring(LocalScorer):
    """The local scorer; while it scores, the chat's owner (if any) sends `unsubscribe`."""

    def __init__(self, store: Store, deps: Deps, owner: Context | None) -> None:
        super().__init__(vectors=store)
        self.deps, self.owner, self.replies = deps, owner, []  # type: ignore[var-annotated]

    async def score(self, papers, criteria):  # type: ignore[no-untyped-def]
        if self.owner is not None:
            self.replies.append(await handle("unsubscribe", self.owner, self.deps))
        return await super().score(papers, criteria)


def test_a_chat_unsubscribed_during_its_build_gets_no_digest(
    store: Store, slack: FakeSlack
) -> None:
    """The run read the chat before `unsubscribe`, queued its digest after: none of it goes."""
    subscribe(store, "C1")
    subscribe(store, "C2")
    deps = Deps(store, load_settings(env={}), lambda c: LocalScorer(vectors=store))
    scorer = UnsubscribedWhileScoring(store, deps, Context("slack", "C1", "U1", "owner"))
    daily, _ = make(store, slack, scorer_for=lambda criteria: scorer)
    asyncio.run(daily.run_subscription("slack:C1"))
    assert scorer.replies[0].title == "Unsubscribed"
    assert slack.posted("C1") == [] and store.outbox("slack:C1", ("pending",))  # kept, not sent
    asyncio.run(handle("subscribe", Context("slack", "C1", "U1", "owner"), deps))
    asyncio.run(deliver(store, SlackSender(AsyncWebClient(token="x", base_url=slack.url))))
    assert slack.posted("C1") == [] and store.outbox("slack:C1") == []  # nor after `subscribe`
    scorer.owner = None
    asyncio.run(daily.run_subscription("slack:C2"))  # a chat still subscribed gets its digest
    assert len(slack.posted("C2")) == 1
    reply = asyncio.run(handle("unsubscribe", Context("slack", "C2", "U1", "owner"), deps))
    assert "queued" not in reply.text()  # nothing was left to drop


def test_unsubscribe_drops_a_queued_digest(scored_store: Store, slack: FakeSlack) -> None:
    subscribe(scored_store, "C1")
    deps = Deps(scored_store, load_settings(env={}), lambda c: LocalScorer(vectors=scored_store))
    day = sample_listing().day
    sender = SlackSender(AsyncWebClient(token="x", base_url=slack.url))
    scored_store.enqueue("slack:C1", day, [{"text": "header"}, {"text": "a paper"}])
    reply = asyncio.run(handle("unsubscribe", Context("slack", "C1", "U1", "owner"), deps))
    assert "The 2 queued message(s) of a digest not yet posted are dropped." in reply.text()
    asyncio.run(handle("subscribe", Context("slack", "C1", "U1", "owner"), deps))
    asyncio.run(deliver(scored_store, sender))  # subscribed again: the old day is not posted
    assert slack.posted("C1") == [] and scored_store.outbox("slack:C1") == []


def test_two_workers_prepare_the_day_once(scored_store: Store, slack: FakeSlack) -> None:
    """Two workers whose chats are due at once: the one that fetches the day prepares its
    papers (the service embeds them), under the fetch's claim; the other waits for it."""
    subscribe(scored_store, "C1")
    subscribe(scored_store, "C2")
    prepared: list[list[str]] = []

    def prepare(papers: list) -> None:  # type: ignore[type-arg]
        prepared.append([p.id for p in papers])

    first, fetch_first = make(scored_store, slack, prepare=prepare)
    second, fetch_second = make(scored_store, slack, prepare=prepare)

    async def go() -> None:
        await asyncio.gather(
            first.run_subscription("slack:C1"), second.run_subscription("slack:C2")
        )

    asyncio.run(go())
    assert fetch_first.calls + fetch_second.calls == 1
    assert prepared == [[p.id for p in sample_listing().papers]]
    assert len(slack.posted("C1")) == 1 and len(slack.posted("C2")) == 1


def test_the_day_is_made_ahead_of_its_chats(store_url: str, slack: FakeSlack) -> None:
    """Minutes before a chat's time its day is fetched, prepared (embedded) and scored, once,
    and at its minute the build only cuts the digest; a chat due hours later waits."""
    store = Store(store_url)
    soon = subscribe(store, "C1", at="12:00")
    store.save_subscription(replace(subscribe(store, "C2", at="15:00"), categories=("math.CO",)))
    prepared: list[int] = []
    scored: list[int] = []
    daily, fetch = make(
        store, slack, small_listing(), lambda criteria: CountingScorer(scored, store),
        prepare=lambda papers: prepared.append(len(papers)),
    )  # fmt: skip

    async def go() -> None:
        daily.start()
        for job in ("tick", "fetch-ahead", "prune"):
            daily.scheduler.remove_job(job)
        due = daily.scheduler.get_job(f"sub-{soon.id}").next_run_time
        await daily.fetch_ahead(due - timedelta(minutes=5))
        assert (fetch.calls, prepared, scored) == (1, [40], [40])
        await daily.run_subscription(soon.id)
        await daily.shutdown()

    asyncio.run(go())
    assert (fetch.calls, prepared, scored) == (1, [40], [40])
    assert len(slack.posted("C1")) == 1
    store.close()


def test_unreachable_arxiv_is_retried_then_told_once(scored_store: Store, slack: FakeSlack) -> None:
    subscribe(scored_store, "C1")
    failed = DayListing(
        date(2026, 11, 23), DayStatus.FETCH_FAILED, "could not fetch arXiv feed cs.LG"
    )
    daily, fetch = make(scored_store, slack, failed)
    day = datetime.now(UTC).date()
    now = datetime.now(UTC)
    for attempt in range(RETRIES):
        assert asyncio.run(daily.run_subscription("slack:C1", day, now=now)) is None
        claim = scored_store.claim_of(run_key("slack:C1", day))
        assert claim.state == "retry", attempt
        assert timedelta(0) <= claim.not_before - (now + RETRY_EVERY) < timedelta(seconds=5)
        assert slack.count("chat.postMessage") == 0, attempt
        # before the retry is due, no worker takes it
        assert asyncio.run(daily.run_subscription("slack:C1", day, now=now)) is None
        now = claim.not_before  # the clock moves on to when the retry is due
    asyncio.run(daily.run_subscription("slack:C1", day, now=now))
    assert len(slack.posted("C1")) == 1 and "could not fetch arXiv feed cs.LG" in json.dumps(
        slack.posted("C1")[0]["blocks"]
    )
    asyncio.run(daily.run_subscription("slack:C1", day, now=now + RETRY_EVERY))  # done: once
    assert fetch.calls == RETRIES + 1 and len(slack.posted("C1")) == 1


def test_the_real_scheduler_runs_a_due_job(scored_store: Store, slack: FakeSlack) -> None:
    subscribe(scored_store, "C1")
    daily, _ = make(scored_store, slack)

    async def go() -> None:
        done = asyncio.Event()
        daily.scheduler.add_listener(lambda event: done.set(), mask=EVENT_JOB_EXECUTED)
        daily.start()
        for job in ("tick", "fetch-ahead"):  # only the subscription's own job runs here
            daily.scheduler.remove_job(job)
        daily.scheduler.modify_job("sub-slack:C1", next_run_time=datetime.now(UTC))
        await asyncio.wait_for(done.wait(), timeout=60)
        await daily.shutdown()

    asyncio.run(go())
    assert len(slack.posted("C1")) == 1


def small_listing(n: int = 40) -> DayListing:
    day = sample_listing()
    return DayListing(day.day, day.status, day.message, day.papers[:n], n)


@pytest.mark.parametrize("chats", [3, 50])
def test_many_chats_due_at_the_same_minute(
    store_url: str, slack: FakeSlack, criteria: Criteria, chats: int
) -> None:
    """Every chat gets its digest once; the day is fetched once and scored once per criteria."""
    store = Store(store_url)
    variants = [
        replace(criteria, topics=(*criteria.topics, Topic(f"Topic {i}", f"subject {i}")))
        for i in range(5)
    ]
    for i in range(chats):
        sub = subscribe(store, f"C{i}")
        crit = variants[i % len(variants)]
        store.save_criteria(sub.id, crit.to_text(), crit.hash)
    calls: list[int] = []
    daily, fetch = make(store, slack, small_listing(), lambda c: CountingScorer(calls, store))

    async def go() -> list:
        events: list = []
        finished = asyncio.Event()

        def seen(event) -> None:  # type: ignore[no-untyped-def]
            if event.job_id.startswith("sub-"):
                events.append(event)
                if len(events) == chats:
                    finished.set()

        daily.scheduler.add_listener(seen, mask=EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        daily.start()
        daily.scheduler.remove_job("tick")
        now = datetime.now(UTC)
        for job in daily.scheduler.get_jobs():
            job.modify(next_run_time=now)  # every chat's time is now
        await asyncio.wait_for(finished.wait(), timeout=120)
        await daily.shutdown()
        return events

    events = asyncio.run(go())
    assert [e for e in events if e.exception] == []
    assert fetch.calls == 1
    assert sorted(calls) == [len(small_listing().papers)] * min(chats, 5)  # once per criteria
    for i in range(chats):
        assert len(slack.posted(f"C{i}")) == 1, f"C{i}"
    assert store.claims("run:", states=("failed",)) == []
    store.close()


def test_chats_of_a_criteria_already_scored_are_built_first(
    store_url: str, slack: FakeSlack, criteria: Criteria, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one build at a time, a criteria's first chat scores it, and its other chats come
    next (a quick build each, their messages ready to go), before the next criteria's chat."""
    monkeypatch.setattr(schedule, "RUNS_AT_ONCE", 1)
    store = Store(store_url)
    variants = [
        replace(criteria, topics=(*criteria.topics, Topic(f"Topic {i}", f"subject {i}")))
        for i in range(3)
    ]
    for i in range(6):  # C0 C1 C2 on three criteria, then C3 C4 C5 on the same three
        sub = subscribe(store, f"C{i}")
        store.save_criteria(sub.id, variants[i % 3].to_text(), variants[i % 3].hash)
    daily, _ = make(store, slack, small_listing())

    async def go() -> None:
        daily.sync()
        await asyncio.gather(*(daily.run_subscription(f"slack:C{i}") for i in range(6)))

    asyncio.run(go())
    built = store.last_built()
    assert sorted(built, key=built.__getitem__) == [
        "slack:C0", "slack:C3", "slack:C1", "slack:C4", "slack:C2", "slack:C5"
    ]  # fmt: skip
    store.close()


def test_a_crashed_job_shows_in_healthz(scored_store: Store, slack: FakeSlack) -> None:
    subscribe(scored_store, "C1")

    def broken(criteria: Criteria) -> LocalScorer:
        raise RuntimeError("the scorer could not start")

    daily = DailyScheduler(
        scored_store,
        Fetcher(small_listing()),
        {"slack": SlackSender(AsyncWebClient(token="x", base_url=slack.url))},
        broken,
    )
    asyncio.run(daily.run_subscription("slack:C1"))
    app = build_web_app(scored_store, status_token="t0ken-for-tests")
    with WebThread(app) as server:
        base = f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{base}/healthz").json()["problems"] >= 1
        auth = {"Authorization": "Bearer t0ken-for-tests"}
        body = httpx.get(f"{base}/status", headers=auth).json()
    reasons = [p["reason"] for p in body["problems"] if p["subscription"] == "slack:C1"]
    [crash] = [r for r in reasons if "the daily run failed" in r]
    assert "RuntimeError: the scorer could not start" in crash


def test_healthz_reports_state(scored_store: Store, criteria: Criteria) -> None:
    sub = subscribe(scored_store, "C1")
    gone = {"active": False, "paused_reason": "archived", "last_error": "Slack: is_archived"}
    scored_store.save_subscription(Subscription(**{**sub.__dict__, **gone}))
    app = build_web_app(scored_store, status_token="t0ken-for-tests")
    with WebThread(app) as server:
        base = f"http://127.0.0.1:{server.port}"
        response = httpx.get(f"{base}/healthz")
        detail = httpx.get(f"{base}/status", headers={"Authorization": "Bearer t0ken-for-tests"})
        missing = httpx.get(f"{base}/nope")
    health = response.json()
    assert response.status_code == 200 and health["ok"] is True
    assert health["subscriptions"] >= 1 and health["delivery_problems"] >= 1
    assert "slack:C1" not in response.text and "is_archived" not in response.text
    body = detail.json()
    assert detail.status_code == 200 and body["ok"] is True
    assert body["last_fetch"]["day"] == "2026-02-10" and body["last_fetch"]["status"] == "built"
    [c1] = [s for s in body["subscriptions"] if s["id"] == "slack:C1"]
    assert c1["last_error"] == "Slack: is_archived" and body["delivery_problems"] >= 1
    assert body["llm_spend_today_usd"] == 0
    assert missing.status_code == 404


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_scheduled_day_on_postgresql(store_url: str, slack: FakeSlack) -> None:
    store = Store(store_url)
    subscribe(store, "C1")
    subscribe(store, "C2")
    daily, fetch = make(store, slack, small_listing())

    async def go() -> None:
        await daily.run_subscription("slack:C1")
        await daily.run_subscription("slack:C2")
        await daily.run_subscription("slack:C1")

    asyncio.run(go())
    assert fetch.calls == 1
    assert len(slack.posted("C1")) == 1 and len(slack.posted("C2")) == 1
    assert store.last_fetch()["status"] == "built"
    store.close()


def test_a_chat_without_its_digest_by_its_time_is_a_problem(
    scored_store: Store, criteria: Criteria
) -> None:
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a Wednesday
    subscribe(scored_store, "CLATE", "07:30", "UTC")  # due 90 minutes ago, nothing built
    subscribe(scored_store, "CSOON", "08:45", "UTC")  # 15 minutes ago: not late yet
    late = {
        p["subscription"]: p["reason"] for p in status_report(scored_store, now=now)["problems"]
    }
    assert late["slack:CLATE"] == "no digest since Wed 07:30"
    assert "slack:CSOON" not in late
    sample_digest(scored_store, criteria, "slack:CLATE")  # built (now, after its time)
    again = status_report(scored_store, now=now)["problems"]
    assert "slack:CLATE" not in {p["subscription"] for p in again}


def test_a_task_nothing_else_holds_is_not_collected_mid_answer() -> None:
    """Bolt starts each listener with `asyncio.ensure_future` and keeps no reference to it; the
    server's loop holds such a task until it is done, so a collection cannot drop an answer."""
    import gc
    import weakref

    async def listener(waiting: asyncio.Future[None]) -> None:
        await waiting  # a future only this task knows, as an answer awaiting an unreferenced one

    async def stop(task: asyncio.Future[None]) -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def start() -> weakref.ref:
        task = asyncio.ensure_future(listener(asyncio.get_running_loop().create_future()))
        return weakref.ref(task)

    with WebThread(build_web_app()) as server:
        held = server.run(start())
        gc.collect()
        task = held()
        assert task is not None and not task.done()  # pending, and still there
        server.run(stop(task))
        assert task.cancelled()
    unheld = asyncio.new_event_loop()  # without the server's hold, the same task is collected
    try:
        dropped = unheld.run_until_complete(start())
        gc.collect()
        assert dropped() is None
    finally:
        unheld.close()
