"""`ours`: the group's own papers. A new paper close to one of them leads the digest with the
📌 line and the two closest sentences, on Slack, Telegram, HTML and Markdown."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import date

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from telegram import Bot

from bot.chat.commands import Context, Deps, handle
from bot.platforms.slack import SlackSender
from bot.platforms.telegram import TelegramSender
from bot.service.outbox import deliver, enqueue
from digest.config import load_settings
from digest.criteria import Criteria
from digest.ours import THRESHOLD, sentences
from digest.papers import Paper, read_sample
from digest.render.html import render_day_html
from digest.render.markdown import render_markdown
from digest.store import Store
from digest.subscriptions import Subscription
from tests.conftest import sample_digest
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram

OWNER = Context("slack", "C1", "UOWNER", "owner")


def follow_up(paper: Paper) -> Paper:
    """The group's earlier paper that `paper` continues: the same abstract, its last sentence
    left out, and a title of its own."""
    kept = sentences(paper.abstract)[:-1]
    title = f"Towards {paper.title}"
    authors = ("Jane Q. Doe", *paper.authors[:2])
    return replace(paper, id="2512.90001", title=title, abstract=" ".join(kept), authors=authors)


@pytest.fixture
def low(scored_store: Store, criteria: Criteria) -> Paper:
    """A paper the criteria leave far out of the sample day's digest (one whose title needs no
    escaping, so the renderers' text can be compared as it is)."""
    digest = sample_digest(scored_store, criteria, "probe")
    plain = (e.paper for e in digest.entries[400:] if not set("&<>*_`") & set(e.paper.title))
    return next(plain)


def marked(store: Store, chat: str, platform: str, ours: Paper) -> Subscription:
    store.save_papers([ours])
    sub = Subscription(f"{platform}:{chat}", platform, chat, top_k=5, ours=(ours.id,))
    store.save_subscription(sub)
    return sub


def test_a_paper_close_to_ours_leads_the_digest_in_markdown_and_html(
    scored_store: Store, criteria: Criteria, low: Paper
) -> None:
    ours = follow_up(low)
    sub = marked(scored_store, "C1", "slack", ours)
    digest = sample_digest(scored_store, criteria, sub.id, cutoffs=sub.cutoffs, top_k=5)
    first = digest.selected[0]
    assert first.paper.id == low.id and first.close_to is not None
    assert first.close_to.similarity >= THRESHOLD + 0.05  # a margin: not a knife edge
    assert first.score.relevance < sub.relevance_cutoff  # whatever its score
    plain = sample_digest(scored_store, criteria, "plain", cutoffs=sub.cutoffs, top_k=5)
    pinned = [e for e in digest.entries if e.close_to is not None]
    assert all(e.close_to.similarity >= THRESHOLD for e in pinned if e.close_to)
    assert digest.selected[: len(pinned)] == pinned  # every pinned paper leads
    ids = {e.paper.id for e in pinned}
    unpinned = [e.paper.id for e in digest.selected if e.close_to is None]
    assert unpinned == [e.paper.id for e in plain.selected if e.paper.id not in ids]
    line = f"📌 close to {ours.title}"
    markdown = render_markdown(digest)
    assert line in markdown and markdown.index(line) < markdown.index("## 2.")
    assert first.close_to.theirs in markdown and first.close_to.ours in markdown
    assert line in render_day_html(digest, None, None, "index.html")
    assert scored_store.digest(sub.id).selected[0].close_to == first.close_to  # stored


def test_no_pin_without_ours_and_none_for_a_paper_of_another_field(
    scored_store: Store, criteria: Criteria
) -> None:
    text = "We measure soil moisture in alpine meadows over three summers."
    far = replace(read_sample()[0], id="2512.90002", title="Soil moisture", abstract=text)
    sub = marked(scored_store, "C2", "slack", far)
    digest = sample_digest(scored_store, criteria, sub.id, cutoffs=sub.cutoffs, top_k=5)
    assert not any(e.close_to for e in digest.entries)


def test_the_pin_on_slack_and_telegram(
    scored_store: Store, criteria: Criteria, low: Paper, slack: FakeSlack, tg: FakeTelegram
) -> None:
    ours = follow_up(low)
    line = f"📌 close to {ours.title}"
    sub = marked(scored_store, "C1", "slack", ours)
    digest = sample_digest(scored_store, criteria, sub.id, cutoffs=sub.cutoffs, top_k=5)
    slack_sender = SlackSender(AsyncWebClient(token="xoxb-test", base_url=slack.url))
    assert enqueue(scored_store, slack_sender, sub, digest) >= 2
    assert asyncio.run(deliver(scored_store, slack_sender)).sent >= 2
    blocks = [b for p in slack.posted("C1") for b in p["blocks"]]
    texts = [str(b) for b in blocks]
    at = next(i for i, t in enumerate(texts) if low.id in t)
    assert line in " ".join(texts[at : at + 3])
    first_paper = next(i for i, t in enumerate(texts) if "<https://arxiv" in t)
    assert first_paper == at  # the pinned paper comes first

    tsub = marked(scored_store, "-1001", "telegram", ours)
    tdigest = sample_digest(scored_store, criteria, tsub.id, cutoffs=tsub.cutoffs, top_k=5)
    bot_sender = TelegramSender(Bot("123456:TEST-token_abc", base_url=tg.base_url))

    async def go() -> int:
        try:
            return (await deliver(scored_store, bot_sender)).sent
        finally:
            await bot_sender.aclose()

    assert enqueue(scored_store, bot_sender, tsub, tdigest) >= 1
    assert asyncio.run(go()) >= 1
    sent = "\n".join(m["text"] for m in tg.sent(-1001))
    assert line in sent and sent.index(low.title[:30]) < sent.index(line) < sent.index("\n2. ")


@pytest.fixture
def arxiv_deps(subscribed: Deps, low: Paper) -> Iterator[tuple[Deps, FakeArxiv]]:
    with FakeArxiv(papers=[follow_up(low)]) as fake:
        env = {"PAPERDIGEST_ARXIV_EXPORT_URL": fake.api_url_format,
               "PAPERDIGEST_ARXIV_EXPORT_DELAY": "0"}  # fmt: skip
        subscribed.settings = load_settings(env=env)
        yield subscribed, fake


def say(text: str, deps: Deps, ctx: Context = OWNER):
    return asyncio.run(handle(text, ctx, deps))


def test_ours_by_id_and_by_author_then_remove(arxiv_deps: tuple[Deps, FakeArxiv]) -> None:
    deps, fake = arxiv_deps
    reply = say("ours 2512.90001 2512.99999", deps)
    assert reply.title == "1 paper marked as your own", reply.text()
    assert "not found on arXiv, so not marked: 2512.99999" in reply.text()
    assert deps.store.subscription("slack:C1").ours == ("2512.90001",)
    assert "your own papers (`ours`" in say("settings", deps).text()
    assert say("ours remove 2512.90001", deps).title == "1 removed from your own papers"
    assert deps.store.subscription("slack:C1").ours == ()
    by_name = say("ours Jane Q. Doe", deps)
    assert by_name.title == "1 paper marked as your own" and "2512.90001" in by_name.text()
    assert any("au%3A%22Jane+Q.+Doe%22" in r or "au:" in r for r in fake.requests)
    nobody = say("ours Nobody Atall", deps)
    assert nobody.error and "arXiv has no paper for 'Nobody Atall'" in nobody.text()
    assert say("ours remove banana", deps).error
    assert deps.store.subscription("slack:C1").ours == ("2512.90001",)
    member = Context("slack", "C1", "UMEMBER", "member")
    assert say("ours 2512.90001", deps, member).title == "Not allowed"


def test_digest_day_is_unchanged_without_ours(scored_store: Store, criteria: Criteria) -> None:
    digest = sample_digest(scored_store, criteria, "plain")
    assert digest.day == date(2026, 2, 10) and not any(e.close_to for e in digest.entries)
