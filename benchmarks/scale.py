"""Many chats, several workers: N chats on C distinct criteria, all due at the same minute.

Each run starts W `paperdigest serve` processes on one fresh PostgreSQL schema. The day is the
real sample day (692 papers of 2026-02-10), served as cs.LG and cs.AI RSS feeds by a loopback
arXiv; half the chats are Slack channels and half Telegram groups, on loopback fakes of their
APIs that answer in 50 ms and enforce the platforms' published rates (Telegram: 30 messages a
second per bot, 1 a second per chat, 20 a minute per group; Slack: 1 a second per channel),
answering 429 past them. Every chat's schedule is the same minute, a little ahead: the workers
start first, as a service's would be running, and that minute's cron jobs fire for every chat
at once. Before it, the workers have `--ahead` seconds (beyond their start) for the day's work
that a running service does up to 10 minutes ahead of its chats: the day fetched, embedded
and ranked under every criteria; the row says when that was done. The workers keep the
product's default pace (config/default.toml) unless `--pace` sets another.

Prints one row per worker count: the messages, duplicated and lost (goal 0 and 0), the 429s
met (goal 0), and the time from due to the last message against the bound the platforms'
rates allow (goal within +20%). The bound: Telegram's 30 messages a second per bot make its M
messages take M / 30 s, and a chat's m messages take (m - 1) gaps (3 s in a Telegram group,
1 s in a Slack channel); Slack publishes no limit across channels. The bound is the largest of
these. Then the per-chat cost before delivery: the CPU a worker spends on one more chat's day
(criteria, cached scores, ranking, the stored digest, its queued messages) once the day's
builds exist, measured in this process on extra chats, with what dominates it (cProfile).
On stderr: the chats built and the messages sent in every 20 s after the due minute.

    PAPERDIGEST_TEST_DATABASE_URL=postgresql+psycopg://... python benchmarks/scale.py \\
        [--chats 10000] [--criteria 200] [--workers 1 2] [--papers 692] [--ahead 300] \\
        [--pace 30] [--log serve.log]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402
from sqlalchemy import create_engine, make_url, text  # noqa: E402

from bot.platforms import SlackSender  # noqa: E402
from bot.service.daily import build_for  # noqa: E402
from digest import load_settings, make_scorer  # noqa: E402
from digest.criteria import Criteria, Topic, default_criteria_path  # noqa: E402
from digest.papers import Paper  # noqa: E402
from digest.pipeline import fetch_listing, sample_listing  # noqa: E402
from digest.store import Store  # noqa: E402
from digest.subscriptions import Subscription  # noqa: E402
from tests.fakes.arxiv import FakeArxiv  # noqa: E402
from tests.fakes.rates import slack_limits, telegram_limits  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

TG_TOKEN = "123456:SCALE-bench"
CATEGORIES = ("cs.LG", "cs.AI")
LATENCY = 0.05  # seconds each fake takes to answer
PROFILED = 50  # chats built under cProfile after the timed probe, for the profile printed
TG_PER_SECOND = 30  # Telegram's published limits, for the bound
TG_GROUP_GAP = 60 / 20
SLACK_CHANNEL_GAP = 1.0
AREAS = (
    "Graph neural networks", "Robotics", "Speech", "Causal inference", "Time series",
    "Federated learning", "Recommender systems", "Medical imaging", "Program synthesis",
    "Reinforcement learning", "Computer vision", "Protein design", "Climate modelling",
    "Tabular data", "Quantum machine learning", "Information retrieval", "Autonomous driving",
    "Music generation", "Theorem proving", "Education",
)  # fmt: skip
ASPECTS = (
    "theory", "benchmarks", "efficiency", "safety", "datasets", "applications",
    "optimization", "interpretability", "robustness", "scaling laws",
)  # fmt: skip


def rss(category: str, papers: list[Paper]) -> bytes:
    """An rss.arxiv.org feed of the papers this category announced, in arXiv's format."""
    when = format_datetime(datetime.now(UTC))
    items = []
    for p in papers:
        kind = p.feeds.get(category)
        if kind is None:
            continue
        cats = "".join(f"<category>{c}</category>" for c in p.categories)
        items.append(
            f"<item><title>{escape(p.title)}</title><link>https://arxiv.org/abs/{p.id}</link>"
            f"<description>arXiv:{p.id}v1 Announce Type: {kind} \nAbstract: "
            f'{escape(p.abstract)}</description><guid isPermaLink="false">oai:arXiv.org:'
            f"{p.id}v1</guid>{cats}<pubDate>{when}</pubDate>"
            f"<arxiv:announce_type>{kind}</arxiv:announce_type>"
            f"<dc:creator>{escape(', '.join(p.authors))}</dc:creator></item>"
        )
    return (
        '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0"><channel>'
        f"<title>{category} updates on arXiv.org</title><pubDate>{when}</pubDate>"
        f"{''.join(items)}</channel></rss>"
    ).encode()


SETUP_SECONDS = 45.0  # a worker's start: imports, the model, a job per chat
SECONDS_PER_CHAT = 0.008  # storing a chat and its criteria (about 4 ms) and its job


def fresh_schema(base: str) -> tuple[str, str]:
    schema = f"scale_{uuid.uuid4().hex[:10]}"
    with create_engine(base).begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def commits_now(dsn: str) -> int:
    """The database's committed transactions so far (every client's)."""
    engine = create_engine(dsn)
    with engine.connect() as conn:
        query = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        n = int(conn.execute(text(query)).scalar_one())
    engine.dispose()
    return n


def rankings(store: Store) -> int:
    """The day's rankings stored so far (one per criteria, made ahead of the chats)."""
    with store.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM rankings")).scalar_one())


def drop_schema(base: str, schema: str) -> None:
    with create_engine(base).begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def run(args: argparse.Namespace, workers: int, papers: list[Paper]) -> dict[str, float]:
    dsn, schema = fresh_schema(args.dsn)
    try:
        return _run(dsn, args, workers, papers)
    finally:
        drop_schema(args.dsn, schema)


def variants(count: int) -> list[Criteria]:
    """`count` distinct criteria: the default ones with one more topic each."""
    criteria = Criteria.load(default_criteria_path())
    names = [f"{area}: {aspect}" for aspect in ASPECTS for area in AREAS]
    if count > len(names):
        raise SystemExit(f"--criteria: at most {len(names)}")
    return [
        Criteria(**{**criteria.__dict__, "topics": (*criteria.topics, Topic(name, name))})
        for name in names[:count]
    ]


def _run(dsn: str, args: argparse.Namespace, workers: int, papers: list[Paper]) -> dict[str, float]:
    subs, ncriteria, probe = args.chats, args.criteria, args.probe
    store = Store(dsn)
    crits = variants(ncriteria)
    # the due minute: after the chats are stored (about 4 ms each), the workers have started
    # and made a job per chat, and `--ahead` more: the day's work ahead of its chats
    lead = SETUP_SECONDS + subs * SECONDS_PER_CHAT + args.ahead
    due_at = (datetime.now(UTC) + timedelta(seconds=lead + 59)).replace(second=0, microsecond=0)
    for i in range(subs):
        platform, chat = ("slack", f"C{i:05d}") if i % 2 == 0 else ("telegram", str(-(10**6) - i))
        sub = Subscription(f"{platform}:{chat}", platform, chat, schedule=due_at.strftime("%H:%M"),
                           top_k=10, subscribed_by="bench")  # fmt: skip
        store.save_subscription(sub)
        crit = crits[(i // 2) % len(crits)]  # each criteria on Slack and Telegram alike
        store.save_criteria(sub.id, crit.to_text(), crit.hash)
    feeds = {c: rss(c, papers) for c in CATEGORIES}
    with (
        FakeSlack(limits=slack_limits(), latency=LATENCY) as slack,
        FakeTelegram(token=TG_TOKEN, limits=telegram_limits(), latency=LATENCY) as tg,
        FakeArxiv(rss=feeds) as arxiv,
        tempfile.TemporaryDirectory() as tmp,
    ):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PAPERDIGEST_")},
            "PAPERDIGEST_DATABASE_URL": dsn,
            "SLACK_BOT_TOKEN": "xoxb-scale",
            "SLACK_SIGNING_SECRET": "scale-secret",
            "TELEGRAM_BOT_TOKEN": TG_TOKEN,
            "PAPERDIGEST_SLACK_API_URL": slack.url,
            "PAPERDIGEST_TELEGRAM_API_URL": tg.base_url,
            "PAPERDIGEST_SLACK_PORT": "0",
            "PAPERDIGEST_SERVE_HEALTH_PORT": "0",
            "PAPERDIGEST_SERVE_DAYS": "mon-sun",
            "PAPERDIGEST_ARXIV_RSS_URL": arxiv.rss_base_url,
        }
        if args.pace is not None:
            env["PAPERDIGEST_TELEGRAM_MESSAGES_PER_SECOND"] = str(args.pace)
        commits = commits_now(dsn)
        # The fakes count a message when they read it, as Telegram counts it when it arrives;
        # a pause of this process (a full garbage collection: 0.2 to 0.5 s with the fakes'
        # records) would let messages pile up unread and then count them in one instant, a
        # burst that never reached the wire. No collection while the workers run.
        gc.collect()
        gc.freeze()
        gc.disable()
        serve = [sys.executable, "-m", "bot.cli", "serve"]
        log = open(Path(tmp) / "serve.log", "w")  # noqa: SIM115
        quiet = {"stdout": subprocess.DEVNULL, "stderr": log}
        procs = [subprocess.Popen(serve, env=env, cwd=tmp, **quiet) for _ in range(workers)]
        due = due_at.timestamp()
        try:
            if time.time() > due:
                print(f"the workers started {time.time() - due:.0f} s after the due minute: "
                      "raise SETUP_SECONDS", file=sys.stderr)  # fmt: skip
            ranked = None  # when every criteria's ranking of the day was stored
            while time.time() < due:
                time.sleep(min(1.0, max(0.0, due - time.time())))
                if ranked is None and rankings(store) >= ncriteria:
                    ranked = time.time() - due
            if ranked is None:
                print("the day was not ranked ahead by the due minute: raise --ahead",
                      file=sys.stderr)  # fmt: skip
            while True:
                time.sleep(1.0)
                built = store.last_built()
                counts = store.outbox_counts()  # by state, not the payloads: a light query
                open_ = sum(c["pending"] + c["sending"] for c in counts.values())
                if len(built) == subs and len(counts) == subs and not open_:
                    break
                stopped = any(p.poll() is not None for p in procs)
                if stopped or time.time() - due > 1800:
                    print(Path(tmp, "serve.log").read_text()[-3000:])
                    raise SystemExit("a worker stopped" if stopped else "not done in 30 min")
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(timeout=60)
            gc.enable()
            gc.unfreeze()
            if args.log:
                Path(args.log).write_text(Path(tmp, "serve.log").read_text())
        commits = commits_now(dsn) - commits
        planned = store.outbox()
        slack_keys = Counter(m["metadata"]["event_payload"]["key"] for m in slack.messages)
        tg_texts = Counter((m["chat_id"], m["text"]) for m in tg.sent())
        fetches = len(arxiv.requests)
        refused = slack.refused() + tg.refused()
        if refused:
            print(f"429s: Slack {dict(slack.limits.refused_by)}, Telegram "
                  f"{dict(tg.limits.refused_by)}", file=sys.stderr)  # fmt: skip
        times = [c.time for c in slack.calls_to("chat.postMessage") + tg.calls_to("sendMessage")]
        peak = busiest_second([c.time for c in tg.calls_to("sendMessage") if c.status == 200])
        timeline(
            due,
            built,
            [c.time for c in tg.calls_to("sendMessage") if c.status == 200],
            [c.time for c in slack.calls_to("chat.postMessage") if c.status == 200],
        )
        cost = per_chat_cost(store, env, crits, probe) if probe else {}
    store.close()
    delivered = sum(slack_keys.values()) + sum(tg_texts.values())
    unique = len(slack_keys) + len(tg_texts)
    last = max(times)
    per_chat = Counter(r["subscription"] for r in planned)
    tg_messages = sum(n for sub, n in per_chat.items() if sub.startswith("telegram:"))
    gaps = [(n - 1) * (TG_GROUP_GAP if sub.startswith("telegram:") else SLACK_CHANNEL_GAP)
            for sub, n in per_chat.items()]  # fmt: skip
    bound = max(tg_messages / TG_PER_SECOND, *gaps)
    return {
        "workers": workers,
        "ranked_s": ranked if ranked is not None else float("nan"),
        "fetches": fetches,
        "built_s": max(built.values()).timestamp() - due,
        "messages": len(planned),
        "tg_messages": tg_messages,
        "duplicated": delivered - unique,
        "lost": len(planned) - unique,
        "refused": refused,
        "peak": peak,
        "due_to_last_s": last - due,
        "bound_s": bound,
        "commits_per_chat": commits / subs,
        **cost,
    }


def timeline(
    due: float, built: dict[str, datetime], tg: list[float], slack: list[float], step: int = 20
) -> None:
    """Per `step` seconds after the due minute: chats built, Telegram and Slack messages sent."""
    print("| from (s) | chats built | Telegram messages | Slack messages |", file=sys.stderr)
    rows: dict[int, list[int]] = {}
    for col, times in enumerate(([b.timestamp() for b in built.values()], tg, slack)):
        for t in times:
            rows.setdefault(int((t - due) // step), [0, 0, 0])[col] += 1
    for k in sorted(rows):
        print(f"| {k * step} | " + " | ".join(map(str, rows[k])) + " |", file=sys.stderr)


def busiest_second(times: list[float]) -> int:
    """The most messages the fake accepted in any one-second window (Telegram's limit: 30)."""
    times, first, most = sorted(times), 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def per_chat_cost(
    store: Store, env: dict[str, str], crits: list[Criteria], probe: int
) -> dict[str, float]:
    """CPU seconds per chat of one more chat's day, in this process, once the builds exist:
    `probe` new Slack channels on the run's criteria, each built and queued (not sent), after
    one chat of every criteria (not timed) has made what a worker makes once per criteria and
    day (the scorer, the cut of its ranking), as the workers had for every chat after a
    criteria's first. PROFILED more are then built under cProfile, untimed, for its profile."""
    settings = load_settings(env=env)

    async def go() -> tuple[float, float, str]:
        async with httpx.AsyncClient() as client:
            listing = await fetch_listing(settings, client, categories=CATEGORIES)
        sender = SlackSender(AsyncWebClient(token="xoxb-probe", base_url="http://127.0.0.1:9/"))

        def scorer_for(criteria: Criteria):  # type: ignore[no-untyped-def]
            return make_scorer(settings.scoring.scorer, store, criteria, settings, env)

        subs = []
        warm, profiled = len(crits), min(probe, PROFILED)
        for i in range(warm + probe + profiled):
            sub = Subscription(f"slack:P{i:05d}", "slack", f"P{i:05d}", top_k=10,
                               subscribed_by="bench")  # fmt: skip
            store.save_subscription(sub)
            crit = crits[i % len(crits)]
            store.save_criteria(sub.id, crit.to_text(), crit.hash)
            subs.append(sub)
        for sub in subs[:warm]:  # one chat per criteria: its scorer and cut made
            await build_for(store, listing, sub, sender, scorer_for)
        cpu, wall = time.process_time(), time.perf_counter()
        for sub in subs[warm : warm + probe]:
            await build_for(store, listing, sub, sender, scorer_for)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        profile = cProfile.Profile()  # more chats, untimed: the profiler's cost is no chat's
        profile.enable()
        for sub in subs[warm + probe :]:
            await build_for(store, listing, sub, sender, scorer_for)
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
        return cpu / probe, wall / probe, out.getvalue()

    cpu, wall, profile = asyncio.run(go())
    print(profile, file=sys.stderr)
    return {"chat_cpu_ms": cpu * 1000, "chat_wall_ms": wall * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", "--subs", type=int, default=10000, dest="chats")
    parser.add_argument("--criteria", type=int, default=200, help="distinct criteria")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--papers", type=int, default=0, help="use only the first N papers")
    probe = "extra chats whose day is timed in-process after each run"
    parser.add_argument("--probe", type=int, default=200, help=probe)
    ahead = (
        "seconds the workers run before the due minute besides their start, as a running "
        "service's would: the day is fetched, embedded and ranked up to 10 minutes ahead"
    )
    parser.add_argument("--ahead", type=float, default=300.0, help=ahead)
    pace = "the workers' Telegram messages a second (default: the product's)"
    parser.add_argument("--pace", type=float, help=pace)
    parser.add_argument("--log", help="keep the workers' log in this file")
    parser.add_argument("--dsn", default=os.environ.get("PAPERDIGEST_TEST_DATABASE_URL", ""))
    args = parser.parse_args()
    if not args.dsn.startswith("postgresql"):
        raise SystemExit("needs PostgreSQL: --dsn or PAPERDIGEST_TEST_DATABASE_URL")
    papers = sample_listing().papers
    papers = papers[: args.papers] if args.papers else papers
    print(f"{args.chats} chats (half Slack channels, half Telegram groups), {args.criteria} "
          f"criteria, {len(papers)} papers, all due at once; fakes answer in "
          f"{LATENCY * 1000:.0f} ms and enforce the platforms' rates; PostgreSQL")  # fmt: skip
    print("| workers | arXiv fetches | ranked ahead (s from due) | last built (s) "
          "| messages (Telegram) | duplicated | lost "
          "| 429s met | Telegram's busiest second | due -> last message (s) | bound (s) "
          "| over the bound | chat CPU (ms) | chat wall (ms) | commits per chat |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for w in args.workers:
        r = run(args, w, papers)
        over = r["due_to_last_s"] / r["bound_s"] - 1
        print(f"| {w} | {r['fetches']} | {r['ranked_s']:.0f} | {r['built_s']:.1f} | "
              f"{r['messages']} ({r['tg_messages']}) | {r['duplicated']} | {r['lost']} | "
              f"{r['refused']} | {r['peak']} | "
              f"{r['due_to_last_s']:.1f} | {r['bound_s']:.1f} | {over:+.0%} | "
              f"{r.get('chat_cpu_ms', float('nan')):.1f} | "
              f"{r.get('chat_wall_ms', float('nan')):.1f} | {r['commits_per_chat']:.0f} |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
