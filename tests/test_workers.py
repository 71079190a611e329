"""The service as it runs: several processes deliver and build at once on one store; a worker
killed mid-delivery leaves its work to the others. Each message goes out exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import event
from telegram import Bot

from bot.platforms.slack import SlackSender
from bot.platforms.telegram import TelegramSender
from bot.service.daily import build_for
from digest.criteria import Criteria
from digest.pipeline import sample_listing
from digest.scoring.local import LocalScorer
from digest.store import Store
from digest.subscriptions import Subscription
from digest.work import owner, renewed
from tests.fakes.arxiv import FakeArxiv, closed_port
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram

TOKEN, TG_TOKEN, SECRET = "xoxb-workers", "123456:WORKERS-token", "workers-secret"


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TG_TOKEN) as fake:
        yield fake


def seed_sample(store: Store, scored_db: Path, criteria: Criteria) -> None:
    """The sample day and its local scores, copied from the session's scored store."""
    listing = sample_listing()
    source = Store(f"sqlite:///{scored_db}")
    scores = source.scores([p.id for p in listing.papers], criteria.scoring_hash, "local")
    source.close()
    store.save_listing(listing.day, listing.papers)
    store.save_scores(scores.values(), criteria.scoring_hash, "local")


def subscribe(store: Store, platform: str, chat: str, **kw: object) -> Subscription:
    sub = Subscription(f"{platform}:{chat}", platform, chat, subscribed_by="x:U1", **kw)
    store.save_subscription(sub)
    return sub


def not_due() -> str:
    """A schedule time whose last occurrence is hours ago: serve builds nothing by itself."""
    return (datetime.now(UTC) + timedelta(hours=6)).strftime("%H:%M")


def slow(call: Callable, seconds: float = 0.005) -> Callable:
    """A fake's answer, a little late: deliverers overlap as they do against the real API."""

    def answer(params):  # type: ignore[no-untyped-def]
        time.sleep(seconds)
        return call(params)

    return answer


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args], env={**os.environ, **env}, cwd=cwd,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def slack_serve_env(store_url: str, slack: FakeSlack, rss: str) -> dict[str, str]:
    """`serve` on the store, Slack's fake (HTTP mode, any free port) and an arXiv at `rss`."""
    return {
        "PAPERDIGEST_DATABASE_URL": store_url,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "PAPERDIGEST_SLACK_API_URL": slack.url,
        "PAPERDIGEST_SLACK_PORT": "0",
        "PAPERDIGEST_SERVE_HEALTH_PORT": "0",
        "PAPERDIGEST_ARXIV_RSS_URL": rss,
    }


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_two_posts_and_serve_deliver_at_once(
    store_url: str,
    slack: FakeSlack,
    tg: FakeTelegram,
    scored_db: Path,
    criteria: Criteria,
    tmp_path: Path,
) -> None:
    store = Store(store_url)
    seed_sample(store, scored_db, criteria)
    at = not_due()
    subs = [subscribe(store, "slack", f"C{i}", top_k=25, schedule=at) for i in range(12)]
    subs += [subscribe(store, "telegram", str(-1000 - i), top_k=12, schedule=at) for i in range(6)]
    senders = {
        "slack": SlackSender(AsyncWebClient(token=TOKEN, base_url=slack.url)),
        "telegram": TelegramSender(Bot(TG_TOKEN, base_url=tg.base_url)),
    }
    listing = sample_listing()
    for sub in subs:  # the day is queued: now three deliverers start at the same moment
        asyncio.run(build_for(store, listing, sub, senders[sub.platform], lambda c: LocalScorer()))
    expected = {s.id: len(store.outbox(s.id)) for s in subs}
    slack.set_response("chat.postMessage", slow(slack._api_chat_postMessage))
    name, send = tg._methods["sendmessage"]
    tg._methods["sendmessage"] = (name, slow(send))
    env = {
        "PAPERDIGEST_DATABASE_URL": store_url,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "TELEGRAM_BOT_TOKEN": TG_TOKEN,
        "PAPERDIGEST_SLACK_API_URL": slack.url,
        "PAPERDIGEST_TELEGRAM_API_URL": tg.base_url,
        "PAPERDIGEST_SLACK_PORT": "0",
        "PAPERDIGEST_SERVE_HEALTH_PORT": "0",
        "PAPERDIGEST_ARXIV_RSS_URL": f"http://127.0.0.1:{closed_port()}/rss/",
    }
    procs = [cli(["post", "--sample"], env, tmp_path) for _ in range(2)]
    serve = cli(["serve"], env, tmp_path)
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, out + err
        total = sum(expected.values())
        wait_until(lambda: len(store.outbox(states=("sent",))) == total, 60, "every message")
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=30) == 0
    finally:
        serve.kill()
    slack_keys = [p["metadata"]["event_payload"]["key"] for p in slack.posted()]
    assert len(slack_keys) == len(set(slack_keys))  # none twice
    for sub in subs:
        if sub.platform == "slack":
            sent = [k for k in slack_keys if k.startswith(f"{sub.id}/")]
        else:
            sent = tg.sent_texts(int(sub.chat))
            assert len(sent) == len(set(sent)), sub.id  # none twice
        assert len(sent) == expected[sub.id], sub.id  # none lost
    store.close()


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_two_serve_workers_share_the_day_and_survive_a_kill(
    store_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    """50 chats due at once on two workers: each digest once; one worker is SIGKILLed while
    Slack is answering it, and the other finishes its work when the lease ends."""
    store = Store(store_url)
    due = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%H:%M")
    chats = [f"C{i:02d}" for i in range(50)]
    for chat in chats:
        subscribe(store, "slack", chat, top_k=3, schedule=due)
    held, release = threading.Event(), threading.Event()
    calls: dict = {}
    counted = itertools.count(1)  # the fake answers on many threads: one number each
    post = slack._api_chat_postMessage

    def hold_the_tenth(params):  # type: ignore[no-untyped-def]
        if next(counted) == 10:
            meta = params["metadata"]
            calls["held"] = (json.loads(meta) if isinstance(meta, str) else meta)["event_payload"]
            held.set()
            release.wait(30)  # Slack is slow to answer; the worker dies meanwhile
        return post(params)

    slack.set_response("chat.postMessage", hold_the_tenth)
    with FakeArxiv() as arxiv:
        env = {
            **slack_serve_env(store_url, slack, arxiv.rss_base_url),
            "PAPERDIGEST_SERVE_DAYS": "mon-sun",  # due today, whatever the day of the test
            "PAPERDIGEST_SERVE_LEASE_SECONDS": "5",  # a live worker's stalls fit in
        }
        workers = [cli(["serve"], env, tmp_path) for _ in range(2)]
        try:
            assert held.wait(120), "no worker reached Slack"
            sub_id, _, seq = calls["held"]["key"].rsplit("/", 2)
            [sending] = [r for r in store.outbox(sub_id) if r["seq"] == int(seq)]
            victim = int(sending["claimed_by"].split("/")[0].rsplit(":", 1)[1])
            os.kill(victim, signal.SIGKILL)
            release.set()  # Slack posts the held message after all
            survivor = next(w for w in workers if w.pid != victim)
            wait_until(lambda: len(store.outbox(states=("sent",))) == len(chats), 90, "50 digests")
            survivor.send_signal(signal.SIGTERM)
            assert survivor.wait(timeout=30) == 0
        finally:
            release.set()
            for w in workers:
                w.kill()
        assert arxiv.requests.count("/rss/cs.LG") == 1  # the day was fetched once
    keys = [p["metadata"]["event_payload"]["key"] for p in slack.posted()]
    assert len(keys) == len(set(keys)) == len(chats)  # each digest exactly once
    assert {k.split("/")[0] for k in keys} == {f"slack:{c}" for c in chats}
    assert store.claims("run:", states=("failed",)) == []
    store.close()


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_telegram_polling_passes_to_another_worker(
    store_url: str, tg: FakeTelegram, tmp_path: Path
) -> None:
    """One worker long-polls Telegram (two would conflict); when it dies, another takes over."""
    store = Store(store_url)
    env = {
        "PAPERDIGEST_DATABASE_URL": store_url,
        "TELEGRAM_BOT_TOKEN": TG_TOKEN,
        "PAPERDIGEST_TELEGRAM_API_URL": tg.base_url,
        "PAPERDIGEST_SERVE_HEALTH_PORT": "0",
        "PAPERDIGEST_SERVE_LEASE_SECONDS": "2",
        "PAPERDIGEST_ARXIV_RSS_URL": f"http://127.0.0.1:{closed_port()}/rss/",
    }
    workers = [cli(["serve"], env, tmp_path) for _ in range(2)]
    try:
        wait_until(lambda: store.claim_of("poll:telegram") is not None, 60, "a poller")
        poller = store.claim_of("poll:telegram").owner.split("/")[0].rsplit(":", 1)[1]
        os.kill(int(poller), signal.SIGKILL)
        tg.send_text(11, "/help", user_id=11)
        tg.wait_for("sendMessage", timeout=30)  # answered by the other worker
        assert "paperdigest commands" in tg.sent(11)[-1]["text"]
        survivor = next(w for w in workers if w.pid != int(poller))
        assert f":{survivor.pid}/" in store.claim_of("poll:telegram").owner
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(timeout=30) == 0
    finally:
        for w in workers:
            w.kill()
    store.close()


def test_a_live_worker_keeps_its_claims_past_their_lease(store_url: str) -> None:
    """Claims held longer than their lease are renewed, so no other worker takes them over:
    500 runs and a message being sent, renewed together in a few statements (one per claim
    each time made hundreds of round trips a second while Telegram's pace held messages);
    released, they are renewed no more."""
    store = Store(store_url)
    lease = timedelta(seconds=3)  # renewed every second: a loaded CI machine's stalls fit in
    subscribe(store, "telegram", "-100")
    store.enqueue("telegram:-100", datetime.now(UTC).date(), [{"text": "held"}])
    [message] = store.outbox("telegram:-100")
    renewals: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if " SET lease_until=" in statement:  # a renewal: nothing else but the lease changes
            renewals.append(statement)

    async def hold() -> datetime:
        async with contextlib.AsyncExitStack() as held:
            for i in range(500):
                who = owner()
                assert await asyncio.to_thread(store.claim, f"run:held:{i}", who, lease)
                await held.enter_async_context(renewed(store, f"run:held:{i}", who, lease))
            who = owner()
            assert store.claim_message(message["id"], who, lease) == "pending"
            await held.enter_async_context(renewed(store, message["id"], who, lease))
            event.listen(store.engine, "before_cursor_execute", count)
            end = time.monotonic() + 2 * lease.total_seconds()
            while time.monotonic() < end:  # two leases long, another worker tries its luck
                assert store.claim("run:held:0", "another", lease) is None
                assert store.claim("run:held:499", "another", lease) is None
                assert store.claim_message(message["id"], "another", lease) is None
                await asyncio.sleep(0.05)
            event.remove(store.engine, "before_cursor_execute", count)
        await asyncio.sleep(lease.total_seconds() / 3)  # a renewal already on its way lands
        return datetime.now(UTC)

    released = asyncio.run(hold())
    assert 3 <= len(renewals) <= 200  # 501 claims renewed about 6 times: 3,006 one by one
    assert all(c.lease_until <= released + lease for c in store.claims("run:held:"))
    wait_until(lambda: datetime.now(UTC) > released + lease, 5, "the lease to end")
    assert store.claim("run:held:0", "another", lease) is not None  # no longer renewed
    store.close()


def test_serve_keeps_its_connections_to_slack(
    store_url: str, slack: FakeSlack, scored_db: Path, criteria: Criteria, tmp_path: Path
) -> None:
    """The service's digest messages to Slack share kept connections: two channels' digests
    (four messages each) take a connection or two, not one a message."""
    store = Store(store_url)
    seed_sample(store, scored_db, criteria)
    subs = [subscribe(store, "slack", f"C{i}", top_k=25, schedule=not_due()) for i in range(2)]
    sender = SlackSender(AsyncWebClient(token=TOKEN, base_url=slack.url))
    for sub in subs:  # queued; the service sends them
        asyncio.run(build_for(store, sample_listing(), sub, sender, lambda c: LocalScorer()))
    messages = len(store.outbox())
    env = slack_serve_env(store_url, slack, f"http://127.0.0.1:{closed_port()}/rss/")
    before = slack.connections
    serve = cli(["serve"], env, tmp_path)
    try:
        wait_until(lambda: len(store.outbox(states=("sent",))) == messages, 60, "every message")
        serve.send_signal(signal.SIGTERM)
        _, err = serve.communicate(timeout=30)
        assert serve.returncode == 0, err
    finally:
        serve.kill()
    assert messages >= 3 * len(subs)
    assert len(slack.posted()) == messages
    assert slack.connections - before <= messages // 2  # one a message before
    assert "Unclosed client session" not in err  # closed as the service stopped
    store.close()
