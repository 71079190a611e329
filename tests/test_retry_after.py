"""Rate limits (issue 11): `post` waits out a short Retry-After; `serve` delivers when it ends."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient
from telegram import Bot

from bot.platforms import Sender
from bot.platforms.slack import SlackSender
from bot.platforms.telegram import TelegramSender
from bot.service.daily import DayReport, post_day
from bot.service.schedule import DELIVER_DUE, DailyScheduler
from digest.pipeline import DayListing, sample_listing
from digest.scoring.local import LocalScorer
from digest.store import Store
from digest.subscriptions import Subscription
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram

TG_TOKEN = "123456:TEST-token_abc"
GROUP = -1001


def slack_chat(store: Store, chat: str = "C1") -> Subscription:
    sub = Subscription(f"slack:{chat}", "slack", chat, top_k=3, subscribed_by="slack:U1")
    store.save_subscription(sub)
    return sub


def slack_sender(slack: FakeSlack) -> SlackSender:
    return SlackSender(AsyncWebClient(token="xoxb-test", base_url=slack.url))


def post(store: Store, senders: dict[str, Sender]) -> tuple[DayReport, float]:
    """`paperdigest post`'s work for the sample day; the report and the seconds it took."""

    async def go() -> DayReport:
        try:
            return await post_day(store, sample_listing(), senders, lambda c: LocalScorer())
        finally:
            for s in senders.values():
                if isinstance(s, TelegramSender):
                    await s.aclose()

    start = time.monotonic()
    report = asyncio.run(go())
    return report, time.monotonic() - start


def test_post_waits_out_a_short_slack_retry_after(slack: FakeSlack, scored_store: Store) -> None:
    slack_chat(scored_store)
    slack.rate_limit_next("chat.postMessage", retry_after=1)
    report, took = post(scored_store, {"slack": slack_sender(slack)})
    delivered = report.delivery["slack"]
    assert delivered.sent >= 1 and delivered.deferred == 0 and delivered.next_at is None
    assert len(slack.posted("C1")) == delivered.sent  # in this same call, not a later run
    assert 0.9 <= took < 15


def test_post_waits_out_a_short_telegram_retry_after(tg: FakeTelegram, scored_store: Store) -> None:
    scored_store.save_subscription(
        Subscription(f"telegram:{GROUP}", "telegram", str(GROUP), top_k=3)
    )
    tg.fail_next("sendMessage", "retry_after", retry_after=1)
    sender = TelegramSender(Bot(TG_TOKEN, base_url=tg.base_url))
    report, took = post(scored_store, {"telegram": sender})
    delivered = report.delivery["telegram"]
    assert delivered.sent >= 1 and delivered.deferred == 0 and delivered.next_at is None
    assert len(tg.sent(GROUP)) == delivered.sent
    assert 0.9 <= took < 15


def test_post_leaves_a_long_retry_after_deferred(slack: FakeSlack, scored_store: Store) -> None:
    slack_chat(scored_store)
    slack.rate_limit_next("chat.postMessage", retry_after=120)
    before = datetime.now(UTC)
    report, took = post(scored_store, {"slack": slack_sender(slack)})
    delivered = report.delivery["slack"]
    assert delivered.sent == 0 and delivered.deferred == 1 and slack.posted("C1") == []
    assert delivered.next_at is not None
    assert before + timedelta(seconds=119) <= delivered.next_at <= before + timedelta(seconds=125)
    assert took < 10  # not waited for


def test_serve_delivers_when_the_retry_after_ends(slack: FakeSlack, scored_store: Store) -> None:
    sub = slack_chat(scored_store)

    async def fetch(categories: tuple[str, ...]) -> DayListing:
        return sample_listing()

    daily = DailyScheduler(
        scored_store,
        fetch,
        {"slack": slack_sender(slack)},
        lambda c: LocalScorer(),
        lease=timedelta(hours=1),
    )
    slack.rate_limit_next("chat.postMessage", retry_after=1)

    async def go() -> tuple[float, float]:
        daily.start()
        daily.scheduler.remove_job("tick")  # no minute tick: only the one-off job may deliver
        try:
            start = time.monotonic()
            report = await daily.run_subscription(sub.id)
            assert report is not None and report.delivery["slack"].deferred == 1
            assert slack.posted("C1") == []
            job = daily.scheduler.get_job(DELIVER_DUE)
            assert job is not None
            assert job.next_run_time == report.delivery["slack"].next_at

            def delivered() -> bool:  # posted, and recorded as sent (not cut off by shutdown)
                rows = scored_store.outbox(sub.id)
                return bool(slack.posted("C1")) and all(r["state"] == "sent" for r in rows)

            while not delivered():
                assert time.monotonic() - start < 5, "not delivered when the Retry-After ended"
                await asyncio.sleep(0.05)
            return start, time.monotonic()
        finally:
            await daily.shutdown()

    start, end = asyncio.run(go())
    assert end - start >= 0.9
    assert len(slack.posted("C1")) == len(scored_store.outbox(sub.id))
    assert all(row["state"] == "sent" for row in scored_store.outbox(sub.id))


def test_an_earlier_wake_is_kept(slack: FakeSlack, scored_store: Store) -> None:
    """A pass whose messages are due later never postpones a pass already set for sooner."""
    for chat in ("C1", "C2"):
        slack_chat(scored_store, chat)
    listing = sample_listing()

    async def fetch(categories: tuple[str, ...]) -> DayListing:
        return listing

    daily = DailyScheduler(
        scored_store, fetch, {"slack": slack_sender(slack)}, lambda c: LocalScorer()
    )

    async def go() -> datetime:
        daily.scheduler.start(paused=True)
        try:
            slack.rate_limit_next("chat.postMessage", retry_after=5)
            await daily.run_subscription("slack:C1")
            slack.rate_limit_next("chat.postMessage", retry_after=50)
            await daily.run_subscription("slack:C2")
            return daily.scheduler.get_job(DELIVER_DUE).next_run_time
        finally:
            daily.scheduler.shutdown(wait=False)

    before = datetime.now(UTC)
    due = asyncio.run(go())
    assert before + timedelta(seconds=4) <= due <= before + timedelta(seconds=10)
