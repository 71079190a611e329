"""Plain words for examples and the group's own papers: "more like <id>", "we wrote <id>", and
"I like this one" in a paper's thread (Slack and Telegram through their real SDKs)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import pytest

from bot.chat import Context, Deps, answer
from bot.platforms.slack import build_app
from bot.service.web import build_web_app
from digest.config import load_settings
from digest.criteria import Criteria
from digest.papers import read_sample
from digest.scoring.learning import label_counts
from digest.subscriptions import Subscription
from tests.conftest import sample_digest
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.loopback import WebThread
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram
from tests.test_slack import SECRET, event, post_json, text_of
from tests.test_slack import TOKEN as SLACK_TOKEN
from tests.test_telegram import last_text, process

OWNER = Context("slack", "C1", "UOWNER", "owner")
TWIN = replace(read_sample()[5], id="2601.90000")


@pytest.fixture
def words(subscribed: Deps) -> Iterator[Deps]:
    with FakeArxiv(papers=[TWIN]) as fake:
        env = {"PAPERDIGEST_ARXIV_EXPORT_URL": fake.api_url_format,
               "PAPERDIGEST_ARXIV_EXPORT_DELAY": "0"}  # fmt: skip
        subscribed.settings = load_settings(env=env)
        yield subscribed


def say(text: str, deps: Deps, ctx: Context = OWNER):
    return asyncio.run(answer(text, ctx, deps))


def test_more_like_an_id_is_proposed_then_applied(words: Deps, criteria: Criteria) -> None:
    reply = say("show me more papers like 2601.90000", words)
    assert reply.title == "Change a setting?" and [b.command for b in reply.buttons] == [
        "like 2601.90000"
    ]
    assert label_counts(words.store, criteria)["example"] == 0  # nothing changed yet
    done = say("yes", words)
    assert done.title == "1 wanted example added" and "(ran `like 2601.90000`)" in done.text()
    assert label_counts(words.store, criteria)["example"] == 1


def test_we_wrote_an_id_is_proposed_then_applied(words: Deps) -> None:
    reply = say("we wrote 2601.90000", words)
    assert [b.command for b in reply.buttons] == ["ours 2601.90000"]
    assert say("yes", words).title == "1 paper marked as your own"
    assert words.store.subscription("slack:C1").ours == ("2601.90000",)


def test_this_one_needs_the_papers_thread(words: Deps) -> None:
    here = replace(OWNER, paper="2602.08007")
    assert [b.command for b in say("I like this one", words, here).buttons] == ["like 2602.08007"]
    assert [b.command for b in say("we wrote this", words, here).buttons] == ["ours 2602.08007"]
    lost = say("I like this one", words)
    assert lost.title == "Which paper?" and "`like <arXiv id>`" in lost.text()
    assert say("why did 2602.08007 score 9?", words).title.startswith("2602.08007")
    assert "(ran `why 2602.08007`)" in say("is 2602.08007 in our digest?", words).text()


def test_i_like_this_one_under_a_papers_message_on_telegram(
    tg: FakeTelegram, words: Deps, criteria: Criteria
) -> None:
    group = -1001
    words.store.save_subscription(replace(words.store.subscription("slack:C1"),
                                          id=f"telegram:{group}", platform="telegram",
                                          chat=str(group)))  # fmt: skip
    sample_digest(words.store, criteria, f"telegram:{group}")
    process(tg, words, tg.send_text(group, "/why 2602.08007", user_id=11))
    paper_message = max(mid for chat, mid in tg.messages if chat == group)
    assert tg.messages[(group, paper_message)]["from"]["is_bot"]
    process(tg, words, tg.send_text(group, "I like this one", user_id=11, reply_to=paper_message))
    assert "like 2602.08007" in last_text(tg, group)
    chatter = tg.send_text(group, "lunch at noon?", user_id=11, reply_to=paper_message)
    sent = len(tg.sent(group))
    process(tg, words, chatter)
    assert len(tg.sent(group)) == sent  # other replies in a group are left alone


def test_i_like_this_one_in_a_slack_thread(slack: FakeSlack, words: Deps) -> None:
    words.store.save_subscription(Subscription("slack:D9", "slack", "D9"))  # a DM's own digest
    app = build_app(words, SLACK_TOKEN, SECRET, base_url=slack.url)
    parent = "1699999999.000100"
    slack.messages.append({"channel": "D9", "ts": parent, "text": "2602.08007: why it scored 9"})
    with WebThread(build_web_app(slack=app)) as server:
        url = f"http://127.0.0.1:{server.port}/slack/events"
        message = event("message", "I like this one", channel="D9", channel_type="im",
                        thread_ts=parent)  # fmt: skip
        assert post_json(url, message).status_code == 200
        posted = slack.wait_for("chat.postMessage")[0].params
    assert posted["thread_ts"] == parent and "like 2602.08007" in text_of(posted)
