"""One more chat's day: what it adds to the store and what it costs a worker before delivery.

The real sample day (692 papers of 2026-02-10) is built once for a first chat with the local
scorer (scores and embeddings stored), made as the service makes it (`make_scorer`). Then
`--chats` more channels (default 20; half Slack, half Telegram, the same criteria and day)
each get their digest: built, written to the store and queued in the outbox
(`bot.service.daily.build_for`, what a daily run does before it delivers). Prints, per chat:
the store's growth (everything: digest, outbox rows, shown papers, by table, as the database
counts it) and the worker's time (wall and CPU, median and mean).

    python benchmarks/chat_day.py [--chats 20] [--database-url postgresql+psycopg://...]

SQLite by default (a file in a temporary folder); with --database-url (or
PAPERDIGEST_TEST_DATABASE_URL) a fresh schema of that PostgreSQL, dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402
from sqlalchemy import create_engine, make_url, text  # noqa: E402
from telegram import Bot  # noqa: E402

from bot.platforms.slack import SlackSender  # noqa: E402
from bot.platforms.telegram import TelegramSender  # noqa: E402
from bot.service.daily import build_for  # noqa: E402
from digest import load_settings, make_scorer  # noqa: E402
from digest.criteria import Criteria, default_criteria_path  # noqa: E402
from digest.pipeline import sample_listing  # noqa: E402
from digest.scoring import Scorer  # noqa: E402
from digest.store import Store  # noqa: E402
from digest.subscriptions import Subscription  # noqa: E402


def table_sizes(store: Store) -> dict[str, int]:
    """Bytes per table (indexes included), as the database counts them."""
    sizes = store.table_sizes() if hasattr(store, "table_sizes") else _sizes(store)
    return dict(sizes)


def _sizes(store: Store) -> dict[str, int]:  # before Store.table_sizes existed
    with store.engine.connect() as conn:
        if store.engine.dialect.name == "sqlite":
            rows = conn.execute(
                text(
                    "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
                    "LEFT JOIN sqlite_schema m ON m.name = d.name GROUP BY 1"
                )
            )
        else:
            rows = conn.execute(
                text(
                    "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN "
                    "pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND "
                    "n.nspname = current_schema()"
                )
            )
        return {name: int(size) for name, size in rows}


def open_store(url: str | None, tmp: str) -> tuple[Store, str | None]:
    if not url:
        return Store(f"sqlite:///{tmp}/chat_day.sqlite3"), None
    schema = f"chatday_{uuid.uuid4().hex[:10]}"
    with create_engine(url).begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return Store(scoped.render_as_string(hide_password=False)), schema


async def day_for(store: Store, subs: list[Subscription], criteria: Criteria) -> list[tuple]:
    listing = sample_listing()
    senders = {
        "slack": SlackSender(AsyncWebClient(token="xoxb-bench", base_url="http://127.0.0.1:9")),
        "telegram": TelegramSender(Bot("123456:BENCH", base_url="http://127.0.0.1:9/bot")),
    }
    settings = load_settings(env={})

    def scorer_for(criteria: Criteria) -> Scorer:  # the service's: serve.run_service
        return make_scorer("local", store, criteria, settings, env={})

    times = []
    for sub in subs:
        wall, cpu = time.perf_counter(), time.process_time()
        await build_for(store, listing, sub, senders[sub.platform], scorer_for)
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return times


def subscribe(store: Store, criteria: Criteria, first: int, n: int) -> list[Subscription]:
    subs = []
    for i in range(first, first + n):
        platform, chat = ("slack", f"C{i}") if i % 2 == 0 else ("telegram", str(-1000 - i))
        sub = Subscription(f"{platform}:{chat}", platform, chat)
        store.save_subscription(sub)
        store.save_criteria(sub.id, criteria.to_text(), criteria.hash)
        subs.append(sub)
    return subs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--database-url", default=os.environ.get("PAPERDIGEST_TEST_DATABASE_URL"))
    args = parser.parse_args()
    criteria = Criteria.load(default_criteria_path())
    with tempfile.TemporaryDirectory() as tmp:
        store, schema = open_store(args.database_url, tmp)
        try:
            first = subscribe(store, criteria, 0, 1)
            asyncio.run(day_for(store, first, criteria))  # scores and embeddings, once
            before = table_sizes(store)
            more = subscribe(store, criteria, 1, args.chats)
            times = asyncio.run(day_for(store, more, criteria))
            after = table_sizes(store)
        finally:
            store.close()
            if schema:
                with create_engine(args.database_url).begin() as conn:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    n = args.chats
    growth = {t: after.get(t, 0) - before.get(t, 0) for t in after}
    where = "PostgreSQL" if schema else "SQLite"
    print(f"{where}: {n} more chats, the same criteria and day (692 papers)")
    print(f"store growth per chat: {sum(growth.values()) / n / 1024:.1f} KB")
    for table, grew in sorted(growth.items(), key=lambda kv: -kv[1]):
        if grew:
            print(f"  {table:<20} {grew / n / 1024:8.1f} KB")
    walls, cpus = [t[0] * 1000 for t in times], [t[1] * 1000 for t in times]
    print(f"per chat, build + write + queue: wall median {statistics.median(walls):.1f} ms, "
          f"mean {statistics.mean(walls):.1f} ms; CPU median {statistics.median(cpus):.1f} ms, "
          f"mean {statistics.mean(cpus):.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
