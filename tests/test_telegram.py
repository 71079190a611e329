"""Telegram end to end: the real python-telegram-bot Application against a fake Bot API."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from telegram import Bot

from bot.chat.commands import SPECS, Deps
from bot.chat.replies import PaperCard, Reply
from bot.platforms.telegram import (
    COMMANDS,
    TelegramSender,
    build_application,
    register_commands,
    render_messages,
)
from bot.service.outbox import LEASE, deliver, enqueue
from bot.service.web import build_web_app
from digest.config import load_settings
from digest.criteria import Criteria, Topic
from digest.day import Cutoffs
from digest.scoring import Score
from digest.scoring.local import LocalScorer
from digest.store import Store
from digest.subscriptions import Subscription
from tests.conftest import failure_id, sample_digest, start_serve, take_store_away
from tests.conftest import process_updates as process
from tests.fakes.loopback import WebThread
from tests.fakes.telegram_api import FakeTelegram, parse_html
from tests.test_slack import within_deadline

TOKEN = "123456:TEST-token_abc"
GROUP = -1001
OWNER, MEMBER = 11, 22


def register(tg: FakeTelegram, deps: Deps) -> None:
    """The bot's start-up setMyCommands, against the fake."""

    async def go() -> None:
        app = build_application(deps, TOKEN, tg.base_url)
        async with app:
            await register_commands(app)

    asyncio.run(go())


def last_text(tg: FakeTelegram, chat: int) -> str:
    return tg.sent(chat)[-1]["text"]


def test_commands_are_registered_with_set_my_commands(tg: FakeTelegram, deps: Deps) -> None:
    register(tg, deps)
    names = [c["command"] for c in tg.my_commands()]
    assert set(names) == set(COMMANDS) - {"start"} and "why" in names and "criteria" in names


def test_subscribe_in_a_group_and_in_private(tg: FakeTelegram, deps: Deps) -> None:
    process(tg, deps, tg.send_text(GROUP, "/subscribe", user_id=OWNER))
    assert "Subscribed" in last_text(tg, GROUP)
    assert deps.store.subscription(f"telegram:{GROUP}").subscribed_by == f"telegram:{OWNER}"
    process(tg, deps, tg.send_text(OWNER, "/subscribe@paperdigest_bot", user_id=OWNER))
    assert deps.store.subscription(f"telegram:{OWNER}") is not None


EXAMPLES = {
    "help": "/help",
    "subscribe": "/subscribe",
    "settings": "/settings",
    "top": "/top 3",
    "why": "/why 2602.08007",
    "preview": "/preview",
    "criteria": "/criteria",
    "criteria add": "/criteria add Graphs: message passing",
    "criteria remove": "/criteria remove 5",
    "criteria history": "/criteria history",
    "criteria undo": "/criteria undo",
    "criteria set": "/criteria set\n## Sparse things\n- Relevant: sparse autoencoders",
    "threshold": "/threshold relevance=7 novelty=6",
    "topk": "/topk 7",
    "follow": "/follow Ada Lovelace",
    "unfollow": "/unfollow Ada Lovelace",
    "categories": "/categories cs.LG cs.CL",
    "schedule": "/schedule 07:30 Europe/Berlin",
    "search": "/search attention",
    "more": "/more 2602.08007",
    "language": "/language de",
    "like": "/like 2602.08007",  # a stored paper: arXiv is not asked
    "unlike": "/unlike 2602.08007",
    "ours": "/ours 2602.08007",
    "zotero": "/zotero off",
    "rate": "rate 2602.08007 +1",
    "unsubscribe": "/unsubscribe",
}


def test_every_command(tg: FakeTelegram, deps: Deps, criteria: Criteria) -> None:
    assert set(EXAMPLES) == set(SPECS)
    process(tg, deps, tg.send_text(GROUP, "/subscribe", user_id=OWNER))
    sample_digest(deps.store, criteria, f"telegram:{GROUP}")
    for name, text in EXAMPLES.items():
        if name == "rate":
            continue  # a button, below
        before = len(tg.sent(GROUP))
        process(tg, deps, tg.send_text(GROUP, text, user_id=OWNER))
        answer = "\n".join(m["text"] for m in tg.sent(GROUP)[before:])
        assert answer and "Wrong arguments" not in answer and "Sorry" not in answer, name
    sub = deps.store.subscription(f"telegram:{GROUP}")
    assert sub.categories == ("cs.LG", "cs.CL") and (sub.schedule, sub.timezone) == (
        "07:30",
        "Europe/Berlin",
    )


def test_group_members_are_refused_admins_may(tg: FakeTelegram, deps: Deps) -> None:
    process(tg, deps, tg.send_text(GROUP, "/subscribe", user_id=OWNER))
    process(tg, deps, tg.send_text(GROUP, "/topk 3", user_id=MEMBER))
    assert "Not allowed" in last_text(tg, GROUP)
    tg.members[(GROUP, MEMBER)] = "administrator"
    process(tg, deps, tg.send_text(GROUP, "/topk 3", user_id=MEMBER))
    assert "Top-k updated" in last_text(tg, GROUP)
    # asked for each change (/subscribe and both /topk), and for the bot itself on /subscribe
    assert tg.count("getChatMember") == 4


def test_help_speaks_telegram_and_the_menu_describes_each_command(
    tg: FakeTelegram, deps: Deps
) -> None:
    process(tg, deps, tg.send_text(OWNER, "/help", user_id=OWNER))
    shown = parse_html(last_text(tg, OWNER))
    assert "/why <arxiv id | rank>: why a paper scored as it did" in shown
    assert "/criteria add <topic>" in shown and "`" not in shown
    process(tg, deps, tg.send_text(OWNER, "/subscibe", user_id=OWNER))
    assert "did you mean /subscribe" in parse_html(last_text(tg, OWNER))

    register(tg, deps)
    menu = {c["command"]: c["description"] for c in tg.my_commands()}
    assert menu["why"] == (
        "<arxiv id | rank> — why a paper scored as it did, and why it is in or out"
    )
    assert menu["criteria"].startswith("[add | remove | set | undo | history] — ")


def test_subscribe_where_the_bot_may_not_post_says_what_to_do(tg: FakeTelegram, deps: Deps) -> None:
    tg.members[(GROUP, tg.bot_id)] = "kicked"
    process(tg, deps, tg.send_text(GROUP, "/subscribe", user_id=OWNER))
    assert "Not subscribed" in last_text(tg, GROUP) and "Add me" in last_text(tg, GROUP)
    assert deps.store.subscription(f"telegram:{GROUP}") is None
    tg.members[(GROUP, tg.bot_id)] = "administrator"
    process(tg, deps, tg.send_text(GROUP, "/subscribe", user_id=OWNER))
    assert "Subscribed" in last_text(tg, GROUP)


def test_a_short_retry_after_on_a_reply_is_waited_out(tg: FakeTelegram, deps: Deps) -> None:
    tg.fail_next("sendMessage", "retry_after", retry_after=1)  # Telegram never says 0
    process(tg, deps, tg.send_text(OWNER, "/help", user_id=OWNER))
    assert len(tg.calls_to("sendMessage")) == 2 and "paperdigest commands" in last_text(tg, OWNER)
    tg.fail_next("sendMessage", "retry_after", retry_after=90)
    process(tg, deps, tg.send_text(OWNER, "/settings", user_id=OWNER))
    assert len(tg.calls_to("sendMessage")) == 3  # dropped and logged, not retried for 90 s


def test_a_dm_question_in_words_is_answered_in_the_same_chat(
    tg: FakeTelegram, deps: Deps, criteria: Criteria
) -> None:
    process(tg, deps, tg.send_text(OWNER, "/subscribe", user_id=OWNER))
    sample_digest(deps.store, criteria, f"telegram:{OWNER}")
    before = len(tg.sent())
    process(tg, deps, tg.send_text(OWNER, "what are the top papers today?", user_id=OWNER))
    answers = tg.sent()[before:]
    assert answers and all(m["chat_id"] == OWNER for m in answers)
    assert "(ran /top)" in parse_html(answers[0]["text"])


def test_wrong_arguments_answer_with_usage(tg: FakeTelegram, deps: Deps) -> None:
    process(tg, deps, tg.send_text(OWNER, "/subscribe", user_id=OWNER))
    process(tg, deps, tg.send_text(OWNER, "/threshold relevance=eleven", user_id=OWNER))
    assert "usage: threshold relevance=&lt;1-10&gt;" in last_text(tg, OWNER)


def test_plain_dm_and_buttons(tg: FakeTelegram, deps: Deps, criteria: Criteria) -> None:
    sample_digest(deps.store, criteria, f"telegram:{OWNER}")
    process(tg, deps, tg.send_text(OWNER, "why did 2602.08007 score 9?", user_id=OWNER))
    assert "made the digest" in last_text(tg, OWNER)
    process(tg, deps, tg.send_text(OWNER, "/top 2", user_id=OWNER))
    top = tg.sent(OWNER)[-1]
    buttons = [b for row in top["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["callback_data"] for b in buttons[:3]] == [
        "rate 2602.08235 +1",
        "rate 2602.08235 -1",
        "why 2602.08235",
    ]
    message_id = max(mid for chat, mid in tg.messages if chat == OWNER)
    process(tg, deps, tg.press(OWNER, message_id, "rate 2602.08007 -1", user_id=OWNER))
    answered = tg.calls_to("answerCallbackQuery")[-1].params
    assert "Thanks" in answered["text"]
    assert deps.store.ratings(f"telegram:{OWNER}") == {"2602.08007": -1}
    rows = deps.store.label_rows(criteria.scoring_hash)  # a label the learner reads
    assert ("2602.08007", 0.0, f"rating:telegram:{OWNER}") in rows
    process(tg, deps, tg.press(OWNER, message_id, "why 2602.08007", user_id=OWNER))
    assert tg.count("answerCallbackQuery") == 2 and "made the digest" in last_text(tg, OWNER)


def test_html_escaping_of_titles_and_tex() -> None:
    card = PaperCard(
        "2601.00001",
        "Bounds <b>x</b> & $a<b$ for $O(n^2)$",
        "https://arxiv.org/abs/2601.00001",
        ("A & B",),
        9,
        8,
        "x < y & z > w",
        1,
    )
    [(text, keyboard)] = render_messages(Reply("Top <3 & more", [], [card]))
    parse_html(text)  # Telegram would accept it
    assert "&lt;b&gt;x&lt;/b&gt; &amp; $a&lt;b$" in text and "Top &lt;3 &amp; more" in text
    assert keyboard.inline_keyboard[0][2].callback_data == "why 2601.00001"


def sender(tg: FakeTelegram) -> TelegramSender:
    return TelegramSender(Bot(TOKEN, base_url=tg.base_url))


def subscribe(store: Store, chat: int, top_k: int = 80) -> Subscription:
    sub = Subscription(f"telegram:{chat}", "telegram", str(chat), top_k=top_k)
    store.save_subscription(sub)
    return sub


def big(store: Store, criteria: Criteria, sub: Subscription, n: int = 80):
    digest = sample_digest(store, criteria, sub.id, cutoffs=Cutoffs(1, 1), top_k=n - 2)
    assert len(digest.selected) == n
    return digest


def run_delivery(store: Store, s: TelegramSender, **kw):
    async def go():
        try:
            return await deliver(store, s, **kw)
        finally:
            await s.aclose()

    return asyncio.run(go())


def test_80_paper_digest_is_split_below_4096(
    tg: FakeTelegram, scored_store: Store, criteria: Criteria
) -> None:
    sub = subscribe(scored_store, GROUP)
    count = enqueue(scored_store, sender(tg), sub, big(scored_store, criteria, sub))
    report = run_delivery(scored_store, sender(tg))
    sent = tg.sent(GROUP)
    assert report.sent == count == len(sent) and count > 5 and not report.failed
    assert all(len(m["text"]) <= 4096 for m in sent)
    ranks = [
        int(line.split(".")[0])
        for m in sent
        for line in m["text"].split("\n\n")
        if line[:1].isdigit()
    ]
    assert ranks == list(range(1, 81))
    assert run_delivery(scored_store, sender(tg)).sent == 0  # exactly once
    # Bengio is the sixth author of the first paper: three authors are shown, and he is named
    first = parse_html(sent[0]["text"])
    assert "Jaylen Jones, Zhehao Zhang, Yuting Ning et al. (with Yoshua Bengio)" in first
    assert "Author match: Yoshua Bengio" in first


def test_retry_after_blocked_bot_and_migrated_group(
    tg: FakeTelegram, scored_store: Store, criteria: Criteria
) -> None:
    from datetime import UTC, datetime, timedelta

    small = [subscribe(scored_store, chat, top_k=3) for chat in (GROUP, -1002, -1003)]
    for sub in small:
        enqueue(scored_store, sender(tg), sub, big(scored_store, criteria, sub, n=5))
    tg.fail_chat(-1002, "forbidden", reason="kicked")
    tg.fail_chat(GROUP, "migrate", to=-1009)  # this chat's: the chats are served side by side
    now = datetime.now(UTC)
    tg.fail_chat(-1003, "retry_after", retry_after=30)
    first = run_delivery(scored_store, sender(tg), now=now)
    assert scored_store.subscription("telegram:-1009") is not None  # moved with its history
    assert scored_store.subscription(f"telegram:{GROUP}") is None
    paused = scored_store.subscription("telegram:-1002")
    assert not paused.active and "kicked" in paused.last_error
    assert first.deferred >= 1 and len(tg.sent(-1009)) == 1
    tg.clear_chat(-1003)
    later = run_delivery(scored_store, sender(tg), now=now + timedelta(seconds=31))
    assert later.sent == 1 and len(tg.sent(-1003)) == 1


class Crash(BaseException):
    """The process is killed between two messages."""


def test_restart_during_delivery(tg: FakeTelegram, scored_store: Store, criteria: Criteria) -> None:
    sub = subscribe(scored_store, GROUP)
    total = enqueue(scored_store, sender(tg), sub, big(scored_store, criteria, sub))

    class Dying(TelegramSender):
        sent = 0

        async def send(self, *args, **kw):
            if Dying.sent == 3:
                raise Crash
            Dying.sent += 1
            return await super().send(*args, **kw)

    with pytest.raises(Crash):
        run_delivery(scored_store, Dying(Bot(TOKEN, base_url=tg.base_url)))
    assert len(tg.sent(GROUP)) == 3
    assert run_delivery(scored_store, sender(tg)).sent == 0  # the dead sender's claim holds
    after_lease = datetime.now(UTC) + LEASE + timedelta(seconds=1)
    report = run_delivery(scored_store, sender(tg), now=after_lease)
    assert report.in_doubt == 1  # Telegram cannot tell if the 4th arrived: sent again
    texts = [m["text"] for m in tg.sent(GROUP)]
    assert len(texts) == total and len(set(texts)) == total  # none twice, none lost
    doubted = [r for r in scored_store.outbox(sub.id) if r["doubt"]]
    assert len(doubted) == 1 and doubted[0]["state"] == "sent"
    from typer.testing import CliRunner

    from bot.cli import app

    env = {"PAPERDIGEST_DATABASE_URL": scored_store.dsn, "COLUMNS": "200"}
    status = CliRunner().invoke(app, ["status"], env=env)
    assert "1 sent again in doubt" in status.output, status.output


def test_webhook_refuses_a_wrong_secret(tg: FakeTelegram, deps: Deps) -> None:
    app = build_application(deps, TOKEN, tg.base_url)
    with WebThread(build_web_app(telegram=app, telegram_secret="s3cret")) as web:
        web.run(app.initialize())
        web.run(app.start())
        url = f"http://127.0.0.1:{web.port}/telegram"
        update = tg.send_text(OWNER, "/help", user_id=OWNER)
        bad = tg.post_update_to(url, update, "wrong")
        good = tg.post_update_to(url, update, "s3cret")
        tg.wait_for("sendMessage")
        web.run(app.stop())
        web.run(app.shutdown())
    assert bad == 403 and good == 200
    assert "paperdigest commands" in last_text(tg, OWNER)


def test_serve_polls_telegram_and_stops_on_sigterm(tg: FakeTelegram, tmp_path) -> None:
    import signal

    proc = start_serve(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, PAPERDIGEST_TELEGRAM_API_URL=tg.base_url)
    try:
        tg.wait_polling(timeout=60)  # a whole `serve` starting, on a loaded machine
        tg.send_text(OWNER, "/help", user_id=OWNER)
        tg.wait_for("sendMessage")
        assert "paperdigest commands" in last_text(tg, OWNER)
        assert tg.my_commands()  # registered at start
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
    assert TOKEN not in proc.stderr.read()


class HeldScorer(LocalScorer):
    """The local scorer's path off the event loop, with CPU work that lasts until the test
    says (then every paper scores 1: what matters here is who waits for whom)."""

    def __init__(self, started: threading.Event, release: threading.Event) -> None:
        super().__init__()
        self.started, self.release = started, release

    def score_now(self, papers, criteria):  # type: ignore[no-untyped-def]
        self.started.set()
        assert self.release.wait(60)
        return [Score(p.id, 1, 1, "held", None, self.name) for p in papers]


def test_help_is_answered_while_a_preview_rescores(
    tg: FakeTelegram, scored_store: Store, criteria: Criteria
) -> None:
    """One chat's /preview rescoring the day never holds another chat's /help."""
    started, release = threading.Event(), threading.Event()
    settings = load_settings(env={})
    deps = Deps(scored_store, settings, lambda c: HeldScorer(started, release))
    sub = subscribe(scored_store, GROUP)
    sample_digest(scored_store, criteria, sub.id)
    changed = replace(criteria, topics=(*criteria.topics, Topic("Graphs", "message passing")))
    scored_store.save_criteria(sub.id, changed.to_text(), changed.hash)  # nothing scored yet

    async def go() -> float:
        app = build_application(deps, TOKEN, tg.base_url)
        async with app:
            await app.start()
            await app.updater.start_polling(poll_interval=0)
            tg.send_text(GROUP, "/preview", user_id=OWNER)
            assert await asyncio.to_thread(started.wait, 30)  # the preview is scoring
            asked = time.monotonic()
            tg.send_text(MEMBER, "/help", user_id=MEMBER)
            await asyncio.to_thread(tg.wait_for, "sendMessage", 1)
            answered = time.monotonic() - asked
            release.set()
            await asyncio.to_thread(tg.wait_for, "sendMessage", 2, 60)
            await app.updater.stop()
            await app.stop()
        return answered

    answered = asyncio.run(go())
    assert answered < 1.0, f"/help waited {answered:.2f} s behind a preview"
    assert "paperdigest commands" in last_text(tg, MEMBER)
    assert "would be selected" in last_text(tg, GROUP)  # and the preview answered after


# every request gets an answer --------------------------------------------------------------


def test_with_the_store_away_commands_dms_and_buttons_are_answered(
    tg: FakeTelegram, deps: Deps, criteria: Criteria, caplog: pytest.LogCaptureFixture
) -> None:
    """A command, a command addressed to the bot by name (Telegram's mention in a group), a
    DM and two buttons each get the failure line within 3 s (timed from the update to the
    answer's arrival, the Application's start included), with the id of the log line."""
    sample_digest(deps.store, criteria, f"telegram:{OWNER}")
    process(tg, deps, tg.send_text(OWNER, "/top 2", user_id=OWNER))
    message_id = max(mid for chat, mid in tg.messages if chat == OWNER)
    take_store_away(deps.store)
    caplog.set_level(logging.ERROR, "bot.platforms.failures")
    ids = set()
    for chat, text in ((GROUP, "/settings"), (GROUP, "/settings@paperdigest_bot"),
                       (OWNER, "what are the top papers today?")):  # fmt: skip
        started = time.monotonic()
        process(tg, deps, tg.send_text(chat, text, user_id=MEMBER if chat == GROUP else OWNER))
        within_deadline(started)
        said = last_text(tg, chat)
        assert "the database is unreachable" in said and "Trying again in a few minutes" in said
        ids.add(failure_id(said, caplog))
    for data in ("why 2602.08007", "rate 2602.08007 +1"):
        before = tg.count("answerCallbackQuery")
        started = time.monotonic()
        process(tg, deps, tg.press(OWNER, message_id, data, user_id=OWNER))
        within_deadline(started)
        answers = tg.calls_to("answerCallbackQuery")[before:]
        assert [c.status for c in answers].count(200) == 1  # the button stops spinning
        ids.add(failure_id(last_text(tg, OWNER), caplog))
    assert len(ids) == 5


def test_telegram_failing_under_a_command_is_said(
    tg: FakeTelegram, deps: Deps, caplog: pytest.LogCaptureFixture
) -> None:
    tg.fail_next("sendMessage", "not_json")  # a proxy's 502 page instead of the answer
    caplog.set_level(logging.ERROR, "bot.platforms.failures")
    process(tg, deps, tg.send_text(OWNER, "/help", user_id=OWNER))
    text = last_text(tg, OWNER)
    assert "Telegram did not answer us" in text
    failure_id(text, caplog)


def test_get_chat_answers_the_sdk_cannot_read(tg: FakeTelegram, deps: Deps) -> None:
    tg.fail_next("getChat", "not_json")
    process(tg, deps, tg.send_text(GROUP, "/subscribe", user_id=OWNER))
    said = last_text(tg, GROUP)
    assert "Not subscribed" in said and "Telegram would not tell me about this chat" in said
    assert "<html>" not in said and "&lt;html" not in said  # the proxy's page is not shown
    tg.fail_next("getChat", "garbled")  # JSON, but not a chat
    process(tg, deps, tg.send_text(GROUP, "/subscribe", user_id=OWNER))
    assert "made no sense to me" in last_text(tg, GROUP)
    process(tg, deps, tg.send_text(GROUP, "/subscribe", user_id=OWNER))
    assert "Subscribed" in last_text(tg, GROUP)
