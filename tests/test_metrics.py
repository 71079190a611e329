"""GET /metrics: Prometheus' text format, behind the status token, and counters that move with
the work (a day built and posted, an LLM scoring, a command, the store going away)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat import Context, answer
from bot.chat.commands import Deps
from bot.platforms.slack import SlackSender
from bot.service.daily import post_day
from bot.service.outbox import deliver
from bot.service.web import build_web_app
from digest.config import load_settings
from digest.criteria import Criteria
from digest.pipeline import sample_listing
from digest.scoring.factory import make_scorer
from digest.store import Store
from digest.subscriptions import Subscription
from digest.work import once
from tests.conftest import take_store_away
from tests.fakes.loopback import WebThread
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlack

TOKEN = "metrics-token-0123456789"
KEY = "sk-test-secret-key-1234"


def scrape(url: str, token: str | None = TOKEN) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape, by name and labels."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(url, headers=headers)
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def moved(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_metrics_need_the_token_when_one_is_set(scored_store: Store) -> None:
    with WebThread(build_web_app(scored_store, status_token=TOKEN)) as server:
        url = f"http://127.0.0.1:{server.port}/metrics"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert scrape(url)  # the token's holder reads them
    with WebThread(build_web_app(scored_store)) as server:  # no token: open, like /healthz
        assert scrape(f"http://127.0.0.1:{server.port}/metrics", token=None)


def test_counters_move_with_the_work(
    scored_store: Store, criteria: Criteria, slack: FakeSlack
) -> None:
    store = scored_store
    store.save_subscription(
        Subscription("slack:C1", "slack", "C1", top_k=3, subscribed_by="slack:U1")
    )
    sender = SlackSender(AsyncWebClient(token="xoxb-test", base_url=slack.url))
    listing = sample_listing()
    listing = replace(listing, papers=listing.papers[:40])  # a short day for the LLM
    settings = load_settings(env={"PAPERDIGEST_LLM_MAX_RETRIES": "1"})
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": ""}
    with (
        WebThread(build_web_app(store, status_token=TOKEN)) as server,
        FakeOpenAI(scores={p.id: (8, 7) for p in listing.papers}, reasoning_tokens=30) as llm,
    ):
        url = f"http://127.0.0.1:{server.port}/metrics"
        before = scrape(url)
        env["OPENAI_BASE_URL"] = llm.url

        def scorer_for(c: Criteria):
            return make_scorer("llm", store, c, settings, env=env)

        report = asyncio.run(post_day(store, listing, {"slack": sender}, scorer_for))
        deps = Deps(store, settings, scorer_for)
        asyncio.run(answer("help", Context("telegram", "5", "5", dm=True), deps))
        after = scrape(url)

    assert report.delivery["slack"].sent == 1 and len(slack.posted("C1")) == 1
    assert moved(before, after, "paperdigest_digests_total", status="built") == 1
    assert moved(before, after, "paperdigest_messages_total", platform="slack", outcome="sent") == 1
    model = "llm:gpt-5-mini"
    usage = next(u for u in report.digests[0].usage if u.model == model)
    spent_by_kind = (("prompt", usage.prompt_tokens), ("completion", usage.completion_tokens),
                     ("reasoning", usage.reasoning_tokens))  # fmt: skip
    for kind, spent in spent_by_kind:
        assert spent > 0
        assert moved(before, after, "paperdigest_llm_tokens_total", model=model, kind=kind) == spent
    dollars = moved(before, after, "paperdigest_llm_dollars_total", model=model)
    assert usage.cost and abs(dollars - usage.cost) < 1e-9
    assert moved(before, after, "paperdigest_scoring_seconds_count", scorer=scorer_for(
        criteria).name) >= 1  # fmt: skip
    assert moved(before, after, "paperdigest_command_seconds_count", platform="telegram") == 1


def test_a_store_that_went_away_is_counted(scored_store: Store) -> None:
    with WebThread(build_web_app(scored_store, status_token=TOKEN)) as server:
        base = f"http://127.0.0.1:{server.port}"
        before = scrape(f"{base}/metrics")
        take_store_away(scored_store)
        assert httpx.get(f"{base}/healthz").status_code == 503
        after = scrape(f"{base}/metrics")  # /metrics itself needs no store
    assert moved(before, after, "paperdigest_store_errors_total", where="healthz") == 1


def test_a_message_tried_again_is_not_counted_failed(scored_store: Store, slack: FakeSlack) -> None:
    """An unexpected error (here a message the sender cannot read) leaves the message to be
    tried again a minute later: counted as `error`, never as `failed`."""
    store = scored_store
    store.save_subscription(Subscription("slack:C1", "slack", "C1", subscribed_by="slack:U1"))
    store.enqueue("slack:C1", datetime(2026, 2, 10).date(), [{"not": "a reply"}])
    sender = SlackSender(AsyncWebClient(token="xoxb-test", base_url=slack.url))
    with WebThread(build_web_app(store, status_token=TOKEN)) as server:
        url = f"http://127.0.0.1:{server.port}/metrics"
        before = scrape(url)
        report = asyncio.run(deliver(store, sender))
        after = scrape(url)
    [row] = store.outbox("slack:C1")
    assert report.failed and row["state"] == "pending" and row["not_before"] is not None
    assert moved(before, after, "paperdigest_messages_total", platform="slack", outcome="error")
    assert not moved(before, after, "paperdigest_messages_total", platform="slack",
                     outcome="failed")  # fmt: skip


def test_a_build_taken_over_from_a_dead_worker_is_counted(scored_store: Store) -> None:
    """A digest build whose worker died (its lease ended) is built by the next one: counted."""
    store, key = scored_store, "build:2026-02-10:criteria:local:ids"
    assert store.claim(key, "dead-worker", timedelta(seconds=-1))  # its lease ran out
    built: list[str] = []

    async def build() -> dict:
        built.append("again")
        return {"scored": 0}

    with WebThread(build_web_app(store, status_token=TOKEN)) as server:
        url = f"http://127.0.0.1:{server.port}/metrics"
        before = scrape(url)
        asyncio.run(once(store, "build:other", build))  # a fresh claim: nothing taken over
        after_fresh = scrape(url)
        asyncio.run(once(store, key, build))
        after = scrape(url)
    assert built == ["again", "again"]
    taken = "paperdigest_claims_taken_over_total"
    assert moved(before, after_fresh, taken, work="build", platform="") == 0
    assert moved(before, after, taken, work="build", platform="") == 1
