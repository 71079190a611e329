"""Many chats, several workers: N subscriptions on 5 criteria, all due at the same minute.

Each run starts W `paperdigest serve` processes on one fresh PostgreSQL schema. The day is the
real sample day (692 papers of 2026-02-10), served as cs.LG and cs.AI RSS feeds by a loopback
arXiv; half the chats are Slack and half Telegram (loopback fakes of their APIs). Every chat's
schedule is the current minute, so the workers' first tick finds them all due.

Prints one row per worker count: the day's builds (fetch + score, once per criteria), then the
messages: how many, per second, duplicated and lost (goal 0 and 0), and the time from due to
the last message delivered.

    PAPERDIGEST_TEST_DATABASE_URL=postgresql+psycopg://... python benchmarks/scale.py \\
        [--subs 1000] [--workers 1 2 4] [--papers 692]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, make_url, text  # noqa: E402

from digest.criteria import Criteria, Topic, default_criteria_path  # noqa: E402
from digest.papers import Paper  # noqa: E402
from digest.pipeline import sample_listing  # noqa: E402
from digest.store import Store  # noqa: E402
from digest.subscriptions import Subscription  # noqa: E402
from tests.fakes.arxiv import FakeArxiv  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

TG_TOKEN = "123456:SCALE-bench"
CATEGORIES = ("cs.LG", "cs.AI")


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


def fresh_schema(base: str) -> tuple[str, str]:
    schema = f"scale_{uuid.uuid4().hex[:10]}"
    with create_engine(base).begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def drop_schema(base: str, schema: str) -> None:
    with create_engine(base).begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def run(base: str, subs: int, workers: int, papers: list[Paper]) -> dict[str, float]:
    dsn, schema = fresh_schema(base)
    try:
        return _run(dsn, subs, workers, papers)
    finally:
        drop_schema(base, schema)


def _run(dsn: str, subs: int, workers: int, papers: list[Paper]) -> dict[str, float]:
    store = Store(dsn)
    criteria = Criteria.load(default_criteria_path())
    variants = [criteria] + [
        Criteria(**{**criteria.__dict__, "topics": (*criteria.topics, Topic(name, name))})
        for name in ("Graph neural networks", "Robotics", "Speech", "Causal inference")
    ]
    now = datetime.now(UTC)
    for i in range(subs):
        platform, chat = ("slack", f"C{i:05d}") if i % 2 == 0 else ("telegram", str(-(10**6) - i))
        sub = Subscription(f"{platform}:{chat}", platform, chat, schedule=now.strftime("%H:%M"),
                           top_k=10, subscribed_by="bench")  # fmt: skip
        store.save_subscription(sub)
        crit = variants[i % len(variants)]
        store.save_criteria(sub.id, crit.to_text(), crit.hash)
    feeds = {c: rss(c, papers) for c in CATEGORIES}
    with (
        FakeSlack() as slack,
        FakeTelegram(token=TG_TOKEN) as tg,
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
        due = time.time()
        serve = [sys.executable, "-m", "bot.cli", "serve"]
        log = open(Path(tmp) / "serve.log", "w")  # noqa: SIM115
        quiet = {"stdout": subprocess.DEVNULL, "stderr": log}
        procs = [subprocess.Popen(serve, env=env, cwd=tmp, **quiet) for _ in range(workers)]
        try:
            while True:
                time.sleep(0.5)
                built = store.last_built()
                box = store.outbox()
                done = box and all(r["state"] in ("sent", "failed") for r in box)
                if len(built) == subs and done:
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
        planned = store.outbox()
        slack_keys = Counter(m["metadata"]["event_payload"]["key"] for m in slack.messages)
        tg_texts = Counter((m["chat_id"], m["text"]) for m in tg.sent())
        fetches = len(arxiv.requests)
        times = [c.time for c in slack.calls_to("chat.postMessage") + tg.calls_to("sendMessage")]
    store.close()
    delivered = sum(slack_keys.values()) + sum(tg_texts.values())
    unique = len(slack_keys) + len(tg_texts)
    first, last = min(times), max(times)
    return {
        "workers": workers,
        "fetches": fetches,
        "built_s": max(built.values()).timestamp() - due,
        "messages": len(planned),
        "per_s": len(planned) / max(last - first, 1e-9),
        "duplicated": delivered - unique,
        "lost": len(planned) - unique,
        "due_to_last_s": last - due,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subs", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--papers", type=int, default=0, help="use only the first N papers")
    parser.add_argument("--dsn", default=os.environ.get("PAPERDIGEST_TEST_DATABASE_URL", ""))
    args = parser.parse_args()
    if not args.dsn.startswith("postgresql"):
        raise SystemExit("needs PostgreSQL: --dsn or PAPERDIGEST_TEST_DATABASE_URL")
    papers = sample_listing().papers
    papers = papers[: args.papers] if args.papers else papers
    print(f"{args.subs} subscriptions (half Slack, half Telegram), 5 criteria, "
          f"{len(papers)} papers, all due at once; PostgreSQL")  # fmt: skip
    print("| workers | arXiv fetches | built (s) | messages | msg/s | duplicated | lost | "
          "due -> last message (s) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for w in args.workers:
        r = run(args.dsn, args.subs, w, papers)
        print(f"| {w} | {r['fetches']} | {r['built_s']:.1f} | {r['messages']} | "
              f"{r['per_s']:.0f} | {r['duplicated']} | {r['lost']} | "
              f"{r['due_to_last_s']:.1f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
