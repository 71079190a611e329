"""Paced fan-out (issue 25): digest messages keep to Slack's and Telegram's published limits
before they are met, across workers, and each still goes out exactly once.

The loopback fakes enforce the limits (tests.fakes.rates) and answer 429 past them. The
tests run them, and the senders' pace, SPEED times faster than the real rates: the same
limits with every window SPEED times shorter, so a fan-out takes a second, not minutes.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient
from telegram import Bot

from bot.chat import PaperCard, Reply
from bot.platforms.pacing import Pace
from bot.platforms.slack import SlackSender
from bot.platforms.telegram import TelegramSender
from bot.service.outbox import DeliveryReport, deliver
from digest.store import PaceRate, Store
from digest.subscriptions import Subscription
from tests.fakes.rates import Limit, RateLimits, slack_limits, telegram_limits
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram

SPEED = 4.0  # the fakes' limits and the senders' pace, this many times the real ones
TG_TOKEN = "123456:PACE-test"
DAY = date(2026, 2, 10)
CHATS = 12  # per platform; Telegram's half groups (20 a minute), half private chats
MESSAGES = 3  # per chat


def telegram_pace() -> Pace:
    """The product's default pace (config/default.toml), SPEED times faster."""
    return Pace.telegram(30 * SPEED, 1 / SPEED, 20 * SPEED, 1 / SPEED)


def slack_pace() -> Pace:
    return Pace.slack(0, 1 / SPEED)


def cards(n: int) -> list[PaperCard]:
    made = []
    for i in range(1, n + 1):
        pid = f"2602.{i:05d}"
        made.append(PaperCard(pid, f"Paper {i}", f"https://arxiv.org/abs/{pid}", ("A. Author",),
                              9, 8, "matches the criteria", i))  # fmt: skip
    return made


def queue_day(store: Store, chats: int = CHATS) -> None:
    """`chats` Slack channels and as many Telegram chats, each with MESSAGES messages queued."""
    slack_plan = SlackSender(AsyncWebClient(token="x")).plan(
        Reply("paperdigest 2026-02-10", ["25 papers"]), cards(25)
    )
    assert len(slack_plan) == MESSAGES  # a header and two thread messages
    for i in range(chats):
        chat = f"C{i:03d}"
        store.save_subscription(Subscription(f"slack:{chat}", "slack", chat))
        store.enqueue(f"slack:{chat}", DAY, slack_plan)
        tg_chat = str(-1000 - i) if i % 2 else str(1000 + i)  # groups and private chats
        store.save_subscription(Subscription(f"telegram:{tg_chat}", "telegram", tg_chat))
        payloads = [
            {"text": f"<b>paperdigest</b> {tg_chat} part {n}", "keyboard": None,
             "in_thread": False}
            for n in range(MESSAGES)
        ]  # fmt: skip
        store.enqueue(f"telegram:{tg_chat}", DAY, payloads)


def two_workers(url: str, slack: FakeSlack, tg: FakeTelegram, paced: bool) -> list[DeliveryReport]:
    """Two outbox workers (each its own store connection and clients) deliver at once."""

    async def worker() -> list[DeliveryReport]:
        store = Store(url)
        senders = [
            SlackSender(AsyncWebClient(token="xoxb-test", base_url=slack.url),
                        slack_pace() if paced else None),
            TelegramSender(Bot(TG_TOKEN, base_url=tg.base_url),
                           telegram_pace() if paced else None),
        ]  # fmt: skip
        try:
            return list(await asyncio.gather(*(deliver(store, s) for s in senders)))
        finally:
            await senders[1].aclose()
            store.close()

    async def both() -> list[DeliveryReport]:
        reports = await asyncio.gather(worker(), worker())
        return [r for pair in reports for r in pair]

    return asyncio.run(both())


def limited_fakes() -> tuple[FakeSlack, FakeTelegram]:
    return (
        FakeSlack(limits=slack_limits().scaled(SPEED)),
        FakeTelegram(token=TG_TOKEN, limits=telegram_limits().scaled(SPEED)),
    )


def test_two_workers_fan_out_without_meeting_a_rate_limit(store: Store, store_url: str) -> None:
    queue_day(store)
    slack, tg = limited_fakes()
    with slack, tg:
        started = time.monotonic()
        reports = two_workers(store_url, slack, tg, paced=True)
        took = time.monotonic() - started
        refused = slack.refused() + tg.refused()
        slack_keys = Counter(m["metadata"]["event_payload"]["key"] for m in slack.posted())
        tg_texts = Counter((m["chat_id"], m["text"]) for m in tg.sent())
        tg_order = [m["text"] for m in tg.sent(-1001)]
    assert refused == 0  # no 429 met: the pace kept under every limit
    assert sum(r.sent for r in reports) == 2 * CHATS * MESSAGES
    assert sum(r.deferred for r in reports) == 0 and not any(r.failed for r in reports)
    # every message exactly once, in its order
    assert len(slack_keys) == CHATS * MESSAGES and set(slack_keys.values()) == {1}
    assert len(tg_texts) == CHATS * MESSAGES and set(tg_texts.values()) == {1}
    assert tg_order == [f"<b>paperdigest</b> -1001 part {n}" for n in range(MESSAGES)]
    assert all(r["state"] == "sent" for r in store.outbox())
    # a group's messages are 60/20 s apart (at SPEED): the pace was waited, not skipped
    assert took >= (MESSAGES - 1) * 3 / SPEED


def test_without_a_pace_the_same_fan_out_meets_429s(store: Store, store_url: str) -> None:
    """The fakes do enforce the limits: unpaced, a chat's messages follow each other faster
    than its limit allows, are refused and deferred."""
    queue_day(store, chats=2)
    # the real windows (1 s a channel and a chat): unpaced, two messages are far closer than that
    slack = FakeSlack(limits=slack_limits())
    tg = FakeTelegram(token=TG_TOKEN, limits=telegram_limits())
    with slack, tg:
        reports = two_workers(store_url, slack, tg, paced=False)
        refused = slack.refused(), tg.refused()
    assert refused[0] > 0 and refused[1] > 0
    assert sum(r.deferred for r in reports) > 0  # a 429 is honoured: deferred to Retry-After
    assert sum(r.sent for r in reports) < 2 * 2 * MESSAGES


def test_the_bots_pace_is_shared_by_every_worker(store: Store, store_url: str) -> None:
    """Two workers asking the store for the bot's next moment get them one interval apart."""
    other = Store(store_url)
    try:
        start = datetime.now(UTC)
        step = timedelta(seconds=1 / 30)
        stores = [store, other] * 10  # the two workers ask in turn
        rate = PaceRate(step, 30)
        moments = [x.at for s in stores for x in s.next_slots("telegram:bot", rate, 1, start)]
        moments += [x.at for x in store.next_slots("telegram:bot", rate, 5, start)]  # at once
    finally:
        other.close()
    assert moments[0] == start
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    assert gaps == [step] * 24
    later = start + timedelta(seconds=5)  # an idle bot: the next message goes at once
    assert [x.at for x in store.next_slots("telegram:bot", rate, 1, later)] == [later]


def test_a_moment_waits_until_the_platform_cannot_count_too_many(store: Store) -> None:
    """30 messages in any second: a message counts from its moment until its answer came back
    (it reached Telegram somewhere in between), and one second more."""
    rate, start = PaceRate(timedelta(seconds=1 / 30), 30), datetime.now(UTC)
    slots = store.next_slots("telegram:bot", rate, 40, start)
    # 30 on their way, none answered: a 31st could reach Telegram in the same second
    assert len(slots) == 30
    assert store.next_slots("telegram:bot", rate, 1, start) == []
    first, unused = slots[0], slots[1]
    answered = first.at + timedelta(seconds=0.4)  # its answer came 0.4 s after its moment
    [nxt] = store.next_slots("telegram:bot", rate, 1, start, answers=[(first, answered)])
    assert nxt.at == answered + timedelta(seconds=1)
    store.slots_done([(unused, None)])  # never sent: it does not count at all
    assert [x.at for x in store.next_slots("telegram:bot", rate, 2, start)] == [
        nxt.at + rate.interval
    ]
    # a worker killed mid-send never answers: its moments count until STALE has passed
    assert store.next_slots("telegram:bot", rate, 1, start) == []
    assert len(store.next_slots("telegram:bot", rate, 1, start + timedelta(seconds=62))) == 1


def test_messages_late_on_their_way_keep_to_the_bots_limit(store: Store, store_url: str) -> None:
    """The bot sends at its limit while some messages take longer to arrive than others (the
    network, the worker's loop): however they bunch, no window counts one too many. (10 in any
    0.25 s here, so that two workers' moments fill the window as Telegram's 30 a second.)"""
    from telegram.request import HTTPXRequest

    chats, window = 40, 0.25
    for i in range(chats):
        chat = str(3000 + i)
        store.save_subscription(Subscription(f"telegram:{chat}", "telegram", chat))
        store.enqueue(f"telegram:{chat}", DAY, [
            {"text": f"{chat} part {n}", "keyboard": None, "in_thread": False} for n in range(2)
        ])  # fmt: skip
    seen = itertools.count()

    def on_its_way(call: object) -> None:
        if getattr(call, "method", "") == "sendMessage" and next(seen) % 4 == 0:
            time.sleep(window / 3)  # one message in four takes a third of a window to arrive

    limits = RateLimits([Limit("bot", 10, window), Limit("chat", 1, window)])
    pace = Pace.telegram(10 / window, window, 0, window)
    with FakeTelegram(token=TG_TOKEN, limits=limits) as tg:
        tg.on_arrival = on_its_way

        async def worker() -> DeliveryReport:
            mine = Store(store_url)
            bot = Bot(TG_TOKEN, base_url=tg.base_url,
                      request=HTTPXRequest(connection_pool_size=16))  # fmt: skip
            try:
                return await deliver(mine, TelegramSender(bot, pace))
            finally:
                await bot.shutdown()
                mine.close()

        async def both() -> list[DeliveryReport]:
            return list(await asyncio.gather(worker(), worker()))

        reports = asyncio.run(both())
        refused, texts = tg.refused(), Counter(m["text"] for m in tg.sent())
    assert refused == 0
    assert sum(r.sent for r in reports) == 2 * chats
    assert len(texts) == 2 * chats and set(texts.values()) == {1}


def test_a_groups_messages_keep_to_twenty_a_minute(tmp_path: Path) -> None:
    """A Telegram group gets at most 20 messages a minute: 3 s apart (here 40 times faster);
    with only the chat's 1 s gap the 21st would be refused."""
    speed, group = 40.0, "-5001"

    def day_of_21(paced_group: bool) -> tuple[int, int]:
        store = Store(f"sqlite:///{tmp_path / f'{paced_group}.sqlite3'}")
        store.save_subscription(Subscription(f"telegram:{group}", "telegram", group))
        payloads = [{"text": f"part {n}", "keyboard": None, "in_thread": False} for n in range(21)]
        store.enqueue(f"telegram:{group}", DAY, payloads)
        pace = Pace.telegram(30 * speed, 1 / speed, 20 * speed if paced_group else 0, 1 / speed)
        # unpaced, the group's real minute: the 21st is refused however slowly the 20 went out
        window = 60 / speed if paced_group else 60.0
        limits = RateLimits([Limit("bot", 30, 1 / speed), Limit("chat", 1, 1 / speed),
                             Limit("group", 20, window)])  # fmt: skip
        with FakeTelegram(token=TG_TOKEN, limits=limits) as tg:
            sender = TelegramSender(Bot(TG_TOKEN, base_url=tg.base_url), pace)

            async def go() -> DeliveryReport:
                try:
                    return await deliver(store, sender)
                finally:
                    await sender.aclose()

            report = asyncio.run(go())
            store.close()
            return report.sent, tg.refused()

    assert day_of_21(paced_group=True) == (21, 0)
    sent, refused = day_of_21(paced_group=False)
    assert refused == 1 and sent == 20  # the 21st met the group's limit: deferred, as before


def test_a_digest_message_answered_slowly_is_waited_for_not_sent_again(store: Store) -> None:
    """A Bot API slow to answer (loaded) has taken the message: a send that gave up at the
    client's usual read timeout would count it failed and send it again a minute later, twice
    in the chat. Digest messages wait longer for their answer (SEND_TIMEOUT)."""
    from telegram.request import HTTPXRequest

    chat = "-2001"
    store.save_subscription(Subscription(f"telegram:{chat}", "telegram", chat))
    store.enqueue(f"telegram:{chat}", DAY, [{"text": "<b>paperdigest</b> today",
                                              "keyboard": None, "in_thread": False}])  # fmt: skip
    late = 2.0  # seconds the fake takes to answer sendMessage, past the client's 1 s

    def slow(call: object) -> None:
        if getattr(call, "method", "") == "sendMessage":
            time.sleep(late)  # the fake's own slowness, as its `latency` is

    with FakeTelegram(token=TG_TOKEN) as tg:
        tg.on_answer = slow
        bot = Bot(TG_TOKEN, base_url=tg.base_url, request=HTTPXRequest(read_timeout=1.0))

        async def go() -> DeliveryReport:
            try:
                return await deliver(store, TelegramSender(bot))
            finally:
                await bot.shutdown()

        report = asyncio.run(go())
        sent = tg.sent(int(chat))
    assert (report.sent, report.deferred, report.failed) == (1, 0, [])
    assert [m["text"] for m in sent] == ["<b>paperdigest</b> today"]
    [row] = store.outbox(f"telegram:{chat}")
    assert row["state"] == "sent" and row["message_id"] is not None
