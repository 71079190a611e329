"""A simulated month of `serve`: 30 announcement days, 100 chats, 4 criteria, flaky platforms.

The real listings in ../shared/data/arxiv (--data; 47 days there) are replayed in turn as 30
days (`--listings N`: only the first N, so that after N days every paper is scored). 100
subscriptions, half Slack and half Telegram (loopback fakes of their APIs), share 4 distinct
criteria; the LLM is a loopback OpenAI-compatible server. 5% of platform calls fail at random
(seeded): rate limits and server errors. Delivery is retried until every message is out.

Each simulated day ends with the day's pruning (`store.keep_days`, `--keep-days`; the
simulated day is "today"), and a line with the store's size then: the tables' pages (SQLite's
dbstat) and the file, and the largest tables. With `--keep-days 7` the size levels off from
the eighth day on: what older days added is deleted as each new day is added. (Claims and LLM
usage are dated by the real clock, not the simulated one: in a month's run none is old.)

Prints: the store per day, digests posted, messages lost and duplicated (goal 0 and 0), LLM
papers asked versus distinct (criteria x paper) (goal: none asked twice), wall time and peak
memory.

    python benchmarks/month.py [--data ../shared/data/arxiv] [--days 30] [--chats 100] \
        [--keep-days 7] [--listings 4]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402
from telegram import Bot  # noqa: E402

from bot.platforms import close_senders  # noqa: E402
from bot.platforms.slack import SlackSender  # noqa: E402
from bot.platforms.telegram import TelegramSender  # noqa: E402
from bot.service.daily import post_day  # noqa: E402
from bot.service.outbox import deliver  # noqa: E402
from digest.config import DEFAULTS, load_settings  # noqa: E402
from digest.criteria import Criteria, Topic, default_criteria_path  # noqa: E402
from digest.day import DayStatus  # noqa: E402
from digest.papers import read_listing  # noqa: E402
from digest.pipeline import DayListing  # noqa: E402
from digest.retention import prune_day  # noqa: E402
from digest.scoring.factory import make_scorer  # noqa: E402
from digest.store import Store  # noqa: E402
from digest.subscriptions import Subscription  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

FAIL = 0.05
TOKEN = "123456:BENCH-token"


def criteria_variants() -> list[Criteria]:
    base = Criteria.load(default_criteria_path())
    extra = [
        Topic("Graph Learning", "message passing, graph neural networks, over-smoothing"),
        Topic("Reinforcement Learning", "policy optimization, RLHF, reward models"),
        Topic("Diffusion Models", "score matching, denoising diffusion, flow matching"),
    ]
    return [base, *(replace(base, topics=(*base.topics, t)) for t in extra)]


def listings(data: Path) -> list[DayListing]:
    days = []
    for path in sorted(data.glob("*.jsonl")):
        papers = read_listing(path)
        day = date.fromisoformat(path.stem)
        days.append(DayListing(day, DayStatus.BUILT, path.stem, papers, len(papers)))
    return days


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "arxiv")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--listings", type=int, default=0, help="replay only the first N days")
    parser.add_argument("--keep-days", type=int, default=DEFAULTS.store.keep_days)
    args = parser.parse_args()
    rng = random.Random(20261124)
    days = listings(args.data)[: args.listings or None]
    variants = criteria_variants()
    start = time.perf_counter()
    liked = {p.id: (9, 8) for dl in days for p in dl.papers if rng.random() < 0.15}
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as slack, FakeTelegram() as tg, \
            FakeOpenAI(scores=liked) as llm:  # fmt: skip
        store = Store(f"sqlite:///{tmp}/month.sqlite3")
        settings = load_settings(env={"PAPERDIGEST_LLM_DAILY_BUDGET": "0"})
        keys = {"OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": llm.url}
        subs = []
        for i in range(args.chats):
            platform, chat = ("slack", f"C{i}") if i % 2 == 0 else ("telegram", str(-1000 - i))
            sub = Subscription(f"{platform}:{chat}", platform, chat, top_k=8)
            store.save_subscription(sub)
            crit = variants[i % 4]
            store.save_criteria(sub.id, crit.to_text(), crit.hash)
            subs.append(sub)

        original = slack._api_chat_postMessage

        def flaky_slack(params):
            if rng.random() < FAIL:
                return {"ok": False, "error": rng.choice(["ratelimited", "internal_error"])}
            return original(params)

        slack.set_response("chat.postMessage", flaky_slack)

        def senders():
            return {
                "slack": SlackSender(AsyncWebClient(token="xoxb-bench", base_url=slack.url)),
                "telegram": TelegramSender(Bot(TOKEN, base_url=tg.base_url)),
            }

        def scorer_for(crit: Criteria):
            return make_scorer("cascade", store, crit, settings, env=keys)

        now = datetime.now(UTC)  # the outbox is stamped with real time; rounds move it on
        posted_digests = 0
        for d in range(args.days):
            listing = replace(days[d % len(days)], day=date(2026, 1, 5) + timedelta(days=d))
            for _ in range(3):  # Telegram's share of the 5% flaky calls
                if rng.random() < FAIL * 8:
                    kind = rng.choice(["server_error", "retry_after"])
                    tg.fail_next("sendMessage", kind, retry_after=5)
            report = asyncio.run(_post_and_close(store, listing, senders(), scorer_for))
            posted_digests += sum(1 for dg in report.digests if dg.status is DayStatus.BUILT)
            for _ in range(50):  # retry rounds, the clock moving on as `serve` would
                if not store.outbox(states=("pending", "sending")):
                    break
                now += timedelta(minutes=2)
                for sender in senders().values():
                    asyncio.run(_deliver_and_close(store, sender, now))
            asyncio.run(prune_day(store, args.keep_days, today=listing.day))
            sizes = store.table_sizes()
            top = ", ".join(f"{t} {b / 1e6:.1f}" for t, b in list(sizes.items())[:4])
            file = Path(f"{tmp}/month.sqlite3").stat().st_size
            print(f"day {d + 1:2} {listing.day}: tables {sum(sizes.values()) / 1e6:6.1f} MB, "
                  f"file {file / 1e6:6.1f} MB; largest (MB): {top}", flush=True)  # fmt: skip
        wall = time.perf_counter() - start
        planned = store.outbox()
        unsent = [r for r in planned if r["state"] != "sent"]
        lost = len(unsent)
        for r in unsent[:5]:
            where = f"{r['subscription']} {r['day']} #{r['seq']}"
            print(f"not sent: {where} {r['state']}: {r['error']}")
        slack_keys = Counter(m["metadata"]["event_payload"]["key"] for m in slack.messages)
        tg_texts = Counter((m["chat_id"], m["text"]) for m in tg.sent())
        duplicated = sum(n - 1 for n in slack_keys.values() if n > 1) + sum(
            n - 1 for n in tg_texts.values() if n > 1
        )
        asked = Counter()
        for body, ids in zip(llm.scoring_requests(), llm.ids_asked(), strict=True):
            user = body["messages"][-1]["content"]
            extra = [i for i, c in enumerate(variants) if i and f"5. {c.topics[-1].name}" in user]
            crit = extra[0] if extra else 0
            asked.update((crit, pid) for pid in ids)
        twice = sum(n - 1 for n in asked.values() if n > 1)
        distinct = {(i, p.id) for i in range(4) for dl in days for p in dl.papers}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"days {args.days}, subscriptions {len(subs)}, distinct criteria {len(variants)}, "
          f"keep_days {args.keep_days}")  # fmt: skip
    print(f"digests built {posted_digests}, messages planned {len(planned)}, "
          f"lost {lost}, duplicated {duplicated}")  # fmt: skip
    print(f"LLM: {sum(asked.values())} paper judgements asked in {len(llm.requests)} calls; "
          f"{len(asked)} distinct (criteria, paper) of {len(distinct)} possible; asked twice: "
          f"{twice}")  # fmt: skip
    print(f"wall {wall:.0f} s, peak memory {peak:.0f} MB")


async def _post_and_close(store, listing, chats, scorer_for):
    try:
        return await post_day(store, listing, chats, scorer_for)
    finally:
        await close_senders(chats)


async def _deliver_and_close(store, sender, now):
    try:
        await deliver(store, sender, now=now)
    finally:
        await sender.aclose() if hasattr(sender, "aclose") else None


if __name__ == "__main__":
    main()
