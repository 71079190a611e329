"""The one-line TL;DR on every card: written by the LLM in one request per digest (the real
`openai` client against the fake), cached per (paper, language, model), an extractive line
marked as such when it cannot be, and **More** / **Less** through the real Slack and Telegram
SDKs against their fakes."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from telegram import Bot

from bot.chat.commands import Context, Deps, handle
from bot.platforms.slack import SlackSender, build_app
from bot.platforms.telegram import TelegramSender
from bot.service.daily import build_for
from bot.service.outbox import deliver, digest_messages
from bot.service.web import build_web_app
from digest.config import load_settings
from digest.criteria import Criteria
from digest.day import Cutoffs, DayStatus, Digest, Usage
from digest.pipeline import DayListing, build_digest, sample_listing
from digest.render import render_day_html, render_markdown
from digest.scoring.factory import make_scorer
from digest.store import Store
from digest.subscriptions import Subscription
from digest.tldr import EXTRACTIVE, extractive
from tests.conftest import sample_digest
from tests.fakes.loopback import WebThread
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram, parse_html
from tests.test_slack import SECRET, answer, post_action, text_of
from tests.test_slack import TOKEN as SLACK_TOKEN
from tests.test_telegram import OWNER, process
from tests.test_telegram import TOKEN as TG_TOKEN

SHOWN = 5
LEASE = timedelta(seconds=10)  # nothing here waits out the service's two-minute claims


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def small_day(n: int = 8) -> DayListing:
    """The first papers of the sample day: enough for a digest of SHOWN, quick to score."""
    day = sample_listing()
    return DayListing(day.day, DayStatus.BUILT, "test day", day.papers[:n], n)


def keyed(fake: FakeOpenAI, **extra: str) -> tuple[dict[str, str], dict[str, str]]:
    env = {"PAPERDIGEST_LLM_MAX_RETRIES": "0", "PAPERDIGEST_LLM_TIMEOUT": "20", **extra}
    return env, {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake.url}


def llm_digest(
    store: Store, criteria: Criteria, fake: FakeOpenAI, sub: str, language: str = "en", **env: str
) -> Digest:
    settings_env, keys = keyed(fake, **env)
    scorer = make_scorer("llm", store, criteria, load_settings(env=settings_env), env=keys)

    async def go() -> Digest:
        try:
            return await build_digest(
                store, small_day(), criteria, scorer, subscription=sub,
                cutoffs=Cutoffs(1, 1), top_k=SHOWN, language=language, lease=LEASE,
            )  # fmt: skip
        finally:
            await scorer.aclose()

    return asyncio.run(go())


def slack_sender(slack: FakeSlack) -> SlackSender:
    return SlackSender(AsyncWebClient(token=SLACK_TOKEN, base_url=slack.url))


def tg_deliver(store: Store, tg: FakeTelegram) -> None:
    async def go() -> None:
        s = TelegramSender(Bot(TG_TOKEN, base_url=tg.base_url))
        try:
            await deliver(store, s)
        finally:
            await s.aclose()

    asyncio.run(go())


def test_every_card_shows_the_llm_tldr_and_more_shows_the_abstract(
    scored_store: Store, criteria: Criteria, fake: FakeOpenAI, slack: FakeSlack, tg: FakeTelegram
) -> None:
    """One TL;DR request for the digest's papers; Slack and Telegram cards carry each TL;DR;
    Slack's More answers the abstract to the person; Telegram's More opens it in the message
    and Less folds it back."""
    store = scored_store
    slack_sub = Subscription("slack:C1", "slack", "C1", top_k=SHOWN)
    tg_sub = Subscription(f"telegram:{OWNER}", "telegram", str(OWNER), top_k=SHOWN)
    for sub in (slack_sub, tg_sub):
        store.save_subscription(sub)
    digest = llm_digest(store, criteria, fake, slack_sub.id)
    shown = digest.selected
    assert len(shown) == SHOWN and len(fake.tldr_requests()) == 1
    assert sorted(fake.ids_asked(tldr=True)[0]) == sorted(e.paper.id for e in shown)
    assert all(
        e.tldr == f"In short: {e.paper.title}." and e.tldr_by == "llm:gpt-5-mini" for e in shown
    )
    tldr = next(u for u in digest.usage if u.model == "tldr:gpt-5-mini")
    assert tldr.prompt_tokens > 0 and tldr.cost and tldr.cost > 0
    today = datetime.now(UTC).date()
    assert store.spent(today) == pytest.approx(sum(u.cost or 0 for u in digest.usage))
    assert "TL;DRs included" in " ".join(digest_messages(digest)[0].lines)

    from bot.service.outbox import enqueue

    enqueue(store, slack_sender(slack), slack_sub, digest)
    asyncio.run(deliver(store, slack_sender(slack)))
    blocks = slack.posted("C1")[0]["blocks"]
    heads = [
        b["text"]["text"]
        for b in blocks
        if re.match(r"\*\d+\. <", str(b.get("text", {}).get("text")))
    ]
    assert [h.split("\n")[1] for h in heads] == [f"TL;DR: {e.tldr}" for e in shown]
    more = [el["value"] for b in blocks if b["type"] == "actions" for el in b["elements"]]
    assert [v for v in more if v.startswith("more ")] == [f"more {e.paper.id}" for e in shown]

    settings = load_settings(env={})
    deps = Deps(store, settings, lambda c: make_scorer("local", store, c, settings))
    app = build_app(deps, SLACK_TOKEN, SECRET, base_url=slack.url)
    with WebThread(build_web_app(slack=app)) as server:
        url = f"http://127.0.0.1:{server.port}/slack/events"
        assert post_action(url, slack, f"more {shown[0].paper.id}").status_code == 200
        reply = answer(slack)
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    abstract = " ".join(shown[0].paper.abstract.split())
    assert abstract[:200] in " ".join(text_of(reply).split()).replace("&amp;", "&")
    assert f"TL;DR: {shown[0].tldr}" in text_of(reply)

    enqueue(store, TelegramSender(Bot(TG_TOKEN, base_url=tg.base_url)), tg_sub, digest)
    tg_deliver(store, tg)
    messages = tg.sent(OWNER)
    plain = "\n".join(parse_html(m["text"]) for m in messages)
    assert all(f"TL;DR: {e.tldr}" in plain for e in shown)
    first = shown[0].paper
    key = next(k for k, m in tg.messages.items() if first.title[:40] in m.get("text", ""))
    mid = key[1]
    before = tg.messages[key]["text"]
    process(tg, deps, tg.press(OWNER, mid, f"more {first.id}", user_id=OWNER))
    opened = tg.messages[key]
    assert "Abstract: " + " ".join(first.abstract.split())[:200] in " ".join(opened["text"].split())
    datas = [b["callback_data"] for row in opened["reply_markup"]["inline_keyboard"] for b in row]
    assert f"less {first.id}" in datas and f"more {first.id}" not in datas
    assert len(tg.sent(OWNER)) == len(messages)  # edited in place, no new message
    process(tg, deps, tg.press(OWNER, mid, f"less {first.id}", user_id=OWNER))
    assert tg.messages[key]["text"] == before and "Abstract: " not in before
    folded = [b["callback_data"] for r in tg.messages[key]["reply_markup"]["inline_keyboard"]
              for b in r]  # fmt: skip
    assert f"more {first.id}" in folded

    md, page = render_markdown(digest), render_day_html(digest, None, None, "index.html")
    assert all(f"**TL;DR:** {e.tldr}" in md for e in shown)
    assert all(f"TL;DR:</span> {e.tldr}" in page.replace("&#39;", "'") for e in shown)


@pytest.mark.parametrize(
    ("failure", "times", "why"),
    [
        ("500", 1, "the TL;DR request failed (500 Internal Server Error)"),
        ("not_json", 1, "the LLM's TL;DR answer was not usable JSON"),
        ("missing_half", 1, "the LLM's TL;DR answer missed 3 papers"),
    ],
)
def test_a_failing_tldr_call_leaves_extractive_lines_and_the_header_says_why(
    scored_store: Store,
    criteria: Criteria,
    fake: FakeOpenAI,
    slack: FakeSlack,
    failure: str,
    times: int,
    why: str,
) -> None:
    fake.fail_next(failure, times=times, tldr=True)  # the scoring requests are answered
    digest = llm_digest(scored_store, criteria, fake, "slack:C1")
    shown = digest.selected
    fell = [e for e in shown if e.tldr_by == EXTRACTIVE]
    assert len(fell) == (3 if failure == "missing_half" else SHOWN)
    for e in fell:  # the contribution sentence, clipped: never the abstract as a TL;DR
        assert e.tldr == extractive(e.paper.abstract) and len(e.tldr.split()) <= 31
        assert e.tldr != " ".join(e.paper.abstract.split())
    header, cards = digest_messages(digest)
    assert (
        f"note: {len(fell)} of {SHOWN} TL;DRs are lines from the abstract, not written by the "
        f"LLM: {why}"
    ) in header.lines
    assert all(c.tldr_line().startswith("From the abstract (no TL;DR): ") for c in cards
               if c.id in {e.paper.id for e in fell})  # fmt: skip
    assert scored_store.tldrs([e.paper.id for e in fell], "en", "gpt-5-mini") == {}
    sub = Subscription("slack:C1", "slack", "C1", top_k=SHOWN)
    scored_store.save_subscription(sub)
    from bot.service.outbox import enqueue

    enqueue(scored_store, slack_sender(slack), sub, digest)
    asyncio.run(deliver(scored_store, slack_sender(slack)))
    posted = json.dumps(slack.posted("C1")[0]["blocks"], ensure_ascii=False)
    assert posted.count("_From the abstract (no TL;DR):_") == len(fell)


def test_language_de_gives_german_tldrs_cached_per_language(
    scored_store: Store, criteria: Criteria, fake: FakeOpenAI, slack: FakeSlack
) -> None:
    """`language de` (the one command parser), then the daily run: German TL;DRs; a second
    chat in German costs no request; an English chat asks again, in English."""
    store = scored_store
    settings = load_settings(env={})
    deps = Deps(store, settings, lambda c: make_scorer("local", store, c, settings))
    owner = Context("slack", "C1", "UOWNER", "owner")
    assert asyncio.run(handle("subscribe", owner, deps)).title == "Subscribed"
    done = asyncio.run(handle("language de", owner, deps))
    assert done.title == "Language updated" and "German (de)" in done.lines[0]
    assert "TL;DR language: German (de)" in asyncio.run(handle("settings", owner, deps)).lines
    bad = asyncio.run(handle("language klingon", owner, deps))
    assert bad.error and bad.lines == [
        "'klingon' is not a language code; use one like en, de, fr, es, zh or pt-BR; "
        "usage: language <code>"
    ]
    assert store.subscription("slack:C1").language == "de"  # the bad one changed nothing
    help_lines = asyncio.run(handle("help", owner, deps)).lines
    assert any(line.startswith("`language <code>`") for line in help_lines)

    env, keys = keyed(fake)

    def scorer_for(c: Criteria):
        return make_scorer("llm", store, c, load_settings(env=env), env=keys)

    def day_for(sub_id: str) -> Digest:
        sub = store.subscription(sub_id)
        sub = Subscription(**{**sub.__dict__, "top_k": SHOWN, "relevance_cutoff": 1,
                              "novelty_cutoff": 1, "categories": ("cs.LG", "cs.AI")})  # fmt: skip
        store.save_subscription(sub)
        return asyncio.run(build_for(store, small_day(), sub, slack_sender(slack), scorer_for))

    german = day_for("slack:C1")
    assert [e.tldr for e in german.selected] == [
        f"Kurz gesagt: {e.paper.title}." for e in german.selected
    ]
    asyncio.run(deliver(store, slack_sender(slack)))
    assert "TL;DR: Kurz gesagt:" in json.dumps(slack.posted("C1")[0]["blocks"], ensure_ascii=False)
    asked = len(fake.tldr_requests())
    assert asked == 1 and "in German" in fake.tldr_requests()[0]["messages"][1]["content"]

    other = Context("slack", "C2", "UOWNER", "owner")
    asyncio.run(handle("subscribe", other, deps))
    asyncio.run(handle("language de", other, deps))
    again = day_for("slack:C2")
    assert [e.tldr for e in again.selected] == [e.tldr for e in german.selected]
    assert len(fake.tldr_requests()) == asked  # cached per (paper, language, model)
    assert not any(u.model.startswith("tldr:") for u in again.usage)

    third = Context("slack", "C3", "UOWNER", "owner")
    asyncio.run(handle("subscribe", third, deps))
    english = day_for("slack:C3")
    assert len(fake.tldr_requests()) == asked + 1
    assert all(e.tldr.startswith("In short: ") for e in english.selected)


def test_without_a_key_or_over_budget_cards_say_their_line_is_from_the_abstract(
    scored_store: Store, criteria: Criteria, fake: FakeOpenAI
) -> None:
    digest = sample_digest(scored_store, criteria, "slack:C9", top_k=SHOWN)
    assert all(e.tldr_by == EXTRACTIVE for e in digest.selected)
    header, cards = digest_messages(digest)
    assert any("TL;DRs are lines from the abstract" in line and "OPENAI_API_KEY" in line
               for line in header.lines)  # fmt: skip
    assert all(c.tldr_line().startswith("From the abstract (no TL;DR): ") for c in cards)
    md = render_markdown(digest)
    assert md.count("**From the abstract (no TL;DR):**") == len(digest.selected)

    today = datetime.now(UTC).date()
    scored_store.record_usage(today, "elsewhere", Usage("ask:gpt-5-mini", 1000, 0, 10, 0.05))
    spent = llm_digest(
        scored_store, criteria, fake, "slack:C8", PAPERDIGEST_LLM_DAILY_BUDGET="0.05"
    )
    assert fake.tldr_requests() == []  # the budget is spent: nothing asked
    assert any("today's LLM budget is spent" in n for n in spent.notes)
    assert all(e.tldr_by == EXTRACTIVE for e in spent.selected)


def test_more_under_a_command_answer_sends_the_abstract(
    scored_store: Store, criteria: Criteria, tg: FakeTelegram
) -> None:
    """`/top` is no stored digest message: its More answers with the abstract in a new one."""
    settings = load_settings(env={})
    deps = Deps(scored_store, settings, lambda c: make_scorer("local", scored_store, c, settings))
    digest = sample_digest(scored_store, criteria, f"telegram:{OWNER}", top_k=SHOWN)
    process(tg, deps, tg.send_text(OWNER, "/top 1", user_id=OWNER))
    top = tg.sent(OWNER)[-1]
    paper = digest.selected[0].paper
    assert "From the abstract (no TL;DR): " in parse_html(top["text"])
    mid = max(m for chat, m in tg.messages if chat == OWNER)
    before = len(tg.sent(OWNER))
    process(tg, deps, tg.press(OWNER, mid, f"more {paper.id}", user_id=OWNER))
    [more] = tg.sent(OWNER)[before:]
    assert " ".join(paper.abstract.split())[:150] in " ".join(parse_html(more["text"]).split())
