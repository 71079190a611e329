"""The long-running service: one job per subscription, catch-up, retries, shared work, /healthz."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import Context, Deps, handle
from bot.health import serve_health
from bot.schedule import RETRIES, DailyScheduler
from bot.slack import SlackSender
from digest.config import load_settings
from digest.criteria import Criteria
from digest.day import DayStatus
from digest.pipeline import DayListing, sample_listing
from digest.scoring.local import LocalScorer
from digest.store import Store
from digest.subscriptions import Subscription
from tests.fakes.slack_api import FakeSlack

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


class Fetcher:
    """Stands in for arXiv: answers with a listing and counts the fetches."""

    def __init__(self, listing: DayListing) -> None:
        self.listing, self.calls = listing, 0

    async def __call__(self, categories: tuple[str, ...]) -> DayListing:
        self.calls += 1
        return self.listing


def make(store: Store, slack: FakeSlack, listing: DayListing | None = None):
    fetch = Fetcher(listing or sample_listing())
    daily = DailyScheduler(
        store,
        fetch,
        lambda: {"slack": SlackSender(AsyncWebClient(token="x", base_url=slack.url))},
        lambda criteria: LocalScorer(),
    )
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
    daily, _ = make(scored_store, slack)
    daily.scheduler.start(paused=True)  # jobs live in the job store; nothing runs
    daily.sync()
    daily.sync()  # idempotent: replaced, never duplicated
    jobs = {j.id: j for j in daily.scheduler.get_jobs()}
    assert set(jobs) == {"sub-slack:C1", "sub-slack:C2"}
    paris = jobs["sub-slack:C1"].trigger.get_next_fire_time(None, MONDAY)
    assert paris.astimezone(UTC) == datetime(2026, 11, 23, 6, 15, tzinfo=UTC)
    saturday = MONDAY - timedelta(days=2)
    assert jobs["sub-slack:C2"].trigger.get_next_fire_time(None, saturday).date() == MONDAY.date()


def test_schedule_from_chat_reschedules_at_once(scored_store: Store, slack: FakeSlack) -> None:
    daily, _ = make(scored_store, slack)
    daily.scheduler.start(paused=True)
    settings = load_settings(env={})
    deps = Deps(scored_store, settings, lambda c: LocalScorer(), on_change=daily.reschedule)
    owner = Context("slack", "C9", "U1")
    asyncio.run(handle("subscribe", owner, deps))
    assert daily.scheduler.get_job("sub-slack:C9") is not None
    asyncio.run(handle("schedule 09:00 America/New_York", owner, deps))
    job = daily.scheduler.get_job("sub-slack:C9")
    assert job.trigger.get_next_fire_time(None, MONDAY) == datetime(
        2026, 11, 23, 14, 0, tzinfo=UTC
    ).astimezone(job.trigger.timezone)
    asyncio.run(handle("unsubscribe", owner, deps))
    assert daily.scheduler.get_job("sub-slack:C9") is None


def test_missed_run_is_caught_up_once_within_the_grace(
    scored_store: Store, slack: FakeSlack
) -> None:
    subscribe(scored_store, "C1", "06:30")
    daily, _ = make(scored_store, slack)
    assert daily.catch_up(MONDAY + timedelta(hours=7)) == ["slack:C1"]  # 30 min late
    assert daily.catch_up(MONDAY + timedelta(hours=11)) == []  # beyond the 3 h grace
    daily.run_subscription("slack:C1")
    assert daily.catch_up(MONDAY + timedelta(hours=7)) == []  # queued already: never twice


def test_a_day_is_fetched_once_and_posted_once(scored_store: Store, slack: FakeSlack) -> None:
    subscribe(scored_store, "C1")
    subscribe(scored_store, "C2")
    daily, fetch = make(scored_store, slack)
    daily.run_subscription("slack:C1")
    daily.run_subscription("slack:C2")
    daily.run_subscription("slack:C1")  # a second run of the same day
    assert fetch.calls == 1
    assert len(slack.posted("C1")) == 1 and len(slack.posted("C2")) == 1


def test_unreachable_arxiv_is_retried_then_told_once(scored_store: Store, slack: FakeSlack) -> None:
    subscribe(scored_store, "C1")
    failed = DayListing(
        date(2026, 11, 23), DayStatus.FETCH_FAILED, "could not fetch arXiv feed cs.LG"
    )
    daily, fetch = make(scored_store, slack, failed)
    for attempt in range(RETRIES):
        assert daily.run_subscription("slack:C1") is None
        retry = daily.scheduler.get_job("retry-slack:C1")
        assert retry is not None and slack.count("chat.postMessage") == 0, attempt
    daily.run_subscription("slack:C1")
    assert len(slack.posted("C1")) == 1 and "could not fetch arXiv feed cs.LG" in json.dumps(
        slack.posted("C1")[0]["blocks"]
    )
    daily.run_subscription("slack:C1")  # a later failure the same day
    assert fetch.calls == RETRIES + 2


def test_the_real_scheduler_runs_a_due_job(scored_store: Store, slack: FakeSlack) -> None:
    subscribe(scored_store, "C1")
    daily, _ = make(scored_store, slack)
    done = threading.Event()
    daily.scheduler.add_listener(lambda event: done.set(), mask=2**12)  # EVENT_JOB_EXECUTED
    daily.start(now=MONDAY + timedelta(hours=20))  # no catch-up that late
    try:
        daily.scheduler.modify_job("sub-slack:C1", next_run_time=datetime.now(UTC))
        assert done.wait(timeout=60)
    finally:
        daily.shutdown()
    assert len(slack.posted("C1")) == 1


def test_healthz_reports_state(scored_store: Store, criteria: Criteria) -> None:
    sub = subscribe(scored_store, "C1")
    gone = {"active": False, "paused_reason": "archived", "last_error": "Slack: is_archived"}
    scored_store.save_subscription(Subscription(**{**sub.__dict__, **gone}))
    server = serve_health(scored_store, "127.0.0.1", 0)
    try:
        response = httpx.get(f"http://127.0.0.1:{server.server_port}/healthz")
        missing = httpx.get(f"http://127.0.0.1:{server.server_port}/nope")
    finally:
        server.shutdown()
    body = response.json()
    assert response.status_code == 200 and body["ok"] is True
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
    daily, fetch = make(store, slack)
    daily.run_subscription("slack:C1")
    daily.run_subscription("slack:C2")
    daily.run_subscription("slack:C1")
    assert fetch.calls == 1
    assert len(slack.posted("C1")) == 1 and len(slack.posted("C2")) == 1
    assert store.last_fetch()["status"] == "built"
    store.close()
