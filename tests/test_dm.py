"""A direct message answers about the digests its person reads, and never about a private
channel they are not in: through the real slack-bolt and python-telegram-bot, against fakes."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import pytest

from bot.chat.commands import Deps
from bot.platforms.slack import build_app
from bot.service.web import build_web_app
from digest.criteria import Criteria
from digest.store import Store
from digest.subscriptions import Subscription
from tests.conftest import process_updates, sample_digest
from tests.fakes.loopback import WebThread
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram
from tests.test_slack import SECRET, TOKEN, post_json, text_of

PAPER = "2602.08007"  # in the sample day's digest
_events = itertools.count()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.channel_names.update({"C1": "papers", "C2": "secret-lab"})
        fake.private_channels.add("C2")
        fake.memberships.update({"UALICE": {"C1"}, "UBOB": {"C1", "C2"}})
        yield fake


@pytest.fixture
def bolt(slack: FakeSlack, deps: Deps) -> Iterator[str]:
    app = build_app(deps, TOKEN, SECRET, base_url=slack.url)
    with WebThread(build_web_app(slack=app)) as server:
        yield f"http://127.0.0.1:{server.port}/slack/events"


def channel_digest(store: Store, criteria: Criteria, sub_id: str) -> None:
    platform, chat = sub_id.split(":")
    store.save_subscription(Subscription(sub_id, platform, chat, subscribed_by=f"{platform}:U0"))
    store.save_criteria(sub_id, criteria.to_text(), criteria.hash)
    sample_digest(store, criteria, sub_id)


def dm(bolt: str, slack: FakeSlack, user: str, text: str) -> str:
    """A DM (message.im) to the bot; the text of the answer posted in that DM."""
    n = next(_events)
    event = {
        "type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": f"Ev{n}",
        "event_time": 1,
        "event": {"type": "message", "channel_type": "im", "channel": f"D{user}", "user": user,
                  "text": text, "ts": f"1700000000.{n:06d}"},
    }  # fmt: skip
    before = len(slack.calls_to("chat.postMessage"))
    assert post_json(bolt, event).status_code == 200
    posted = slack.wait_for("chat.postMessage", before + 1)[before].params
    assert posted["channel"] == f"D{user}"
    return text_of(posted)


def test_a_slack_dm_answers_from_the_channel_digest(
    bolt: str, slack: FakeSlack, deps: Deps, criteria: Criteria
) -> None:
    channel_digest(deps.store, criteria, "slack:C1")
    answer = dm(bolt, slack, "UALICE", f"why {PAPER}")
    assert "in #papers' digest of 2026-02-10" in answer and "relevance" in answer
    top = dm(bolt, slack, "UALICE", "top 3")
    assert "from #papers' digest of 2026-02-10" in top
    settings = dm(bolt, slack, "UALICE", "settings")
    assert "for #papers (send commands there to change them" in settings


def test_a_slack_dm_never_reveals_a_private_channel_to_a_non_member(
    bolt: str, slack: FakeSlack, deps: Deps, criteria: Criteria
) -> None:
    channel_digest(deps.store, criteria, "slack:C2")  # private; Alice is not in it
    for text in (f"why {PAPER}", "top 5", "settings", "subscribe like #secret-lab"):
        answer = dm(bolt, slack, "UALICE", text)
        assert "relevance" not in answer and "secret-lab" not in answer.replace(
            "like #secret-lab", ""
        ).replace("'#secret-lab'", ""), text
    assert "no digest you can read" in dm(bolt, slack, "UALICE", f"why {PAPER}")
    assert "relevance" in dm(bolt, slack, "UBOB", f"why {PAPER}")  # Bob is a member


def test_a_personal_copy_changes_alone(
    bolt: str, slack: FakeSlack, deps: Deps, criteria: Criteria
) -> None:
    channel_digest(deps.store, criteria, "slack:C1")
    answer = dm(bolt, slack, "UALICE", "subscribe like #papers")
    assert "Subscribed" in answer and "copy of #papers" in answer
    assert "Criteria updated" in dm(bolt, slack, "UALICE", "criteria add Graphs: message passing")
    channel = deps.store.criteria_versions("slack:C1")
    mine = deps.store.criteria_versions("slack:DUALICE")
    assert len(channel) == 1 and "Graphs" not in channel[-1][2]
    assert "Graphs" in mine[-1][2] and mine[0][1] == channel[0][1]  # started as a copy
    # and a settings change from the DM is refused for the channel: it applies to the DM
    dm(bolt, slack, "UALICE", "topk 3")
    assert deps.store.subscription("slack:DUALICE").top_k == 3
    assert deps.store.subscription("slack:C1").top_k != 3


GROUP, SECRET_GROUP, ALICE = -1001, -1002, 11


def telegram_dm(tg: FakeTelegram, deps: Deps, *updates: dict) -> None:
    process_updates(tg, deps, *updates, token="123456:DM-token")


def test_a_telegram_dm_answers_for_groups_its_person_is_in(deps: Deps, criteria: Criteria) -> None:
    channel_digest(deps.store, criteria, f"telegram:{GROUP}")
    channel_digest(deps.store, criteria, f"telegram:{SECRET_GROUP}")
    with FakeTelegram(token="123456:DM-token") as tg:
        tg.chats[GROUP] = {"title": "Papers"}
        tg.chats[SECRET_GROUP] = {"title": "Secret lab"}
        tg.members[(SECRET_GROUP, ALICE)] = "left"  # seen there once; not a member now
        telegram_dm(
            tg, deps,
            tg.send_text(GROUP, "/help", user_id=ALICE),  # the bot sees Alice in both groups
            tg.send_text(SECRET_GROUP, "/help", user_id=ALICE),
            tg.send_text(ALICE, f"/why {PAPER}", user_id=ALICE),
        )  # fmt: skip
        answer = tg.sent(ALICE)[-1]["text"]
    assert "in Papers' digest of 2026-02-10" in answer and "relevance" in answer
    assert "Secret lab" not in answer


def test_a_mention_in_an_unsubscribed_channel_and_a_paper_under_two_criteria(
    bolt: str, slack: FakeSlack, deps: Deps, criteria: Criteria
) -> None:
    from dataclasses import replace

    from digest.criteria import Topic
    from digest.pipeline import DayListing, build_digest, sample_listing
    from digest.scoring.local import LocalScorer

    channel_digest(deps.store, criteria, "slack:C1")
    other = replace(criteria, topics=(*criteria.topics, Topic("Graphs", "message passing")))
    deps.store.save_subscription(Subscription("slack:C3", "slack", "C3", subscribed_by="x"))
    day = sample_listing()
    few = [p for p in day.papers if p.id == PAPER] + day.papers[:30]
    listing = DayListing(day.day, day.status, day.message, few, len(few))
    asyncio.run(build_digest(deps.store, listing, other, LocalScorer(), subscription="slack:C3"))
    slack.channel_names["C3"] = "graphs"
    slack.memberships["UALICE"] = {"C1", "C3"}
    mention = {
        "type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": "EvM",
        "event_time": 1,
        "event": {"type": "app_mention", "channel": "C9", "user": "UALICE",
                  "text": f"<@UBOT> why {PAPER}", "ts": "1700000000.000009"},
    }  # fmt: skip
    assert post_json(bolt, mention).status_code == 200
    posted = slack.wait_for("chat.postEphemeral")[0].params
    answer = text_of(posted)
    assert posted["channel"] == "C9" and "relevance" in answer
    assert "digest of 2026-02-10 (other criteria): relevance" in answer  # the second criteria
    search = dm(bolt, slack, "UALICE", "search low-rank Adam")
    assert "answering for #" in search
