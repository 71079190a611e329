"""The store goes away and comes back: a PostgreSQL this test starts and stops itself (its own
data directory, never the one the rest of the suite uses). While it is down, /healthz answers
503 and a command gets the failure line; once it is back, the next command is answered, and
the digests due or being delivered meanwhile go out once each."""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from slack_sdk.web.async_client import AsyncWebClient
from telegram import Bot, Update

from bot.chat import Reply
from bot.chat.commands import Deps
from bot.platforms.slack import SlackSender, build_app
from bot.platforms.telegram import TelegramSender, build_application
from bot.service.schedule import DailyScheduler
from bot.service.web import build_web_app
from digest.config import load_settings
from digest.metrics import REGISTRY
from digest.scoring.factory import make_scorer
from digest.scoring.local import LocalScorer
from digest.store import OPEN, Store
from digest.subscriptions import Subscription
from tests.conftest import failure_id
from tests.fakes.loopback import WebThread
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import Call, FakeTelegram
from tests.test_serve import Fetcher, small_listing
from tests.test_slack import SECRET, TOKEN, answer, slash, text_of, within_deadline

TG_TOKEN = "123456:TEST-token_abc"
UNREACHABLE = "the database is unreachable"


def _bin(name: str) -> str | None:
    """A PostgreSQL tool: on the PATH, else the newest of Debian's versioned ones."""
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return shutil.which(name) or (versions[-1] if versions else None)


class OwnPostgres:
    """A PostgreSQL cluster in a fresh directory, on a free port, stopped and started at will;
    `url` names the database of the test at hand (a new one per test, see `postgres`)."""

    def __init__(self, root: Path) -> None:
        self.root, self.data = root, root / "data"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.database, self.running = "postgres", False
        self._run("initdb", "-D", str(self.data), "-U", "digest", "--auth=trust", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://digest@127.0.0.1:{self.port}/{self.database}"

    @property
    def where(self) -> list[str]:
        """How the client tools (createdb, pg_dump, ...) reach it."""
        return ["--host=127.0.0.1", f"--port={self.port}", "--username=digest"]

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        command = [_bin(tool) or tool, *args]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=check, capture_output=True, cwd=self.root, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.root / "log"), "-o",
                  options, "start")  # fmt: skip
        self.running = True

    def stop(self, mode: str = "fast", check: bool = True) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", mode, "stop", check=check)
        self.running = False


@pytest.fixture(scope="module")
def cluster() -> Iterator[OwnPostgres]:
    """One cluster for the module's tests (initdb takes seconds); each test has its database."""
    if _bin("initdb") is None or _bin("pg_ctl") is None:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) here; .ci/run provides them")
    root = Path(tempfile.mkdtemp(prefix="paperdigest-pg-"))  # /tmp: reachable by `postgres`
    root.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    server = None
    try:
        server = OwnPostgres(root)
        yield server
    finally:
        if server is not None:
            server.stop("immediate", check=False)  # already stopped: pg_ctl says so, no harm
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres(cluster: OwnPostgres) -> OwnPostgres:
    """The module's cluster, running (a test before may have left it stopped), with a new
    empty database of this test's own."""
    if not cluster.running:
        cluster.start()
    cluster.database = f"t_{uuid.uuid4().hex[:10]}"
    cluster._run("createdb", *cluster.where, cluster.database)
    return cluster


@pytest.fixture
def pg_deps(postgres: OwnPostgres) -> Iterator[Deps]:
    store = Store(postgres.url)
    settings = load_settings(env={})
    yield Deps(store, settings, lambda c: make_scorer("local", store, c, settings))
    store.close()


def test_slack_and_healthz_ride_out_the_store_going_away(
    postgres: OwnPostgres, pg_deps: Deps, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    app = build_app(pg_deps, TOKEN, SECRET, base_url=slack.url)
    with WebThread(build_web_app(pg_deps.store, slack=app)) as server:
        base = f"http://127.0.0.1:{server.port}"
        events = f"{base}/slack/events"
        slash(events, slack, "subscribe")
        assert "Subscribed" in text_of(answer(slack))
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        postgres.stop()
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 503
        caplog.set_level(logging.ERROR, "bot.platforms.failures")
        started = time.monotonic()
        assert slash(events, slack, "settings", n=2).status_code == 200
        said = answer(slack, 2)["text"]
        within_deadline(started)  # no connection attempt waits longer than connect_timeout
        assert UNREACHABLE in said
        failure_id(said, caplog)  # the log line with the traceback has the same id
        postgres.start()
        slash(events, slack, "settings", n=3)
        assert "top-k: 10" in text_of(answer(slack, 3))  # the next command is answered
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200


def test_telegram_rides_out_the_store_going_away(
    postgres: OwnPostgres, pg_deps: Deps, tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    async def send(text: str) -> str:
        app = build_application(pg_deps, TG_TOKEN, tg.base_url)
        async with app:
            update = tg.send_text(11, text, user_id=11)
            await app.process_update(Update.de_json(update, app.bot))
        return str(tg.sent(11)[-1]["text"])

    assert "Subscribed" in asyncio.run(send("/subscribe"))
    postgres.stop()
    caplog.set_level(logging.ERROR, "bot.platforms.failures")
    started = time.monotonic()
    said = asyncio.run(send("/settings"))
    within_deadline(started)
    assert UNREACHABLE in said
    failure_id(said, caplog)
    postgres.start()
    assert "top-k: 10" in asyncio.run(send("/settings"))


def test_a_due_minute_and_a_delivery_ride_out_the_store_going_away(
    postgres: OwnPostgres, slack: FakeSlack, tg: FakeTelegram
) -> None:
    """The scheduler and outbox `serve` runs, on a PostgreSQL stopped for a minute of the
    service's clock: Telegram chat 11's digest is being delivered when the store goes (one
    message sent and recorded, the next taken by Telegram but not yet recorded), Slack channel
    C1's minute comes while it is away. Nothing stops; once the store is back each chat has its
    digest once, every message exactly once, and the outbox is empty.

    The service's clock runs from D - 30 s (the store goes) to D + 30 s (it is back), D being
    C1's minute; the real outage lasts only as long as the work done meanwhile (a few seconds,
    printed)."""
    real = datetime.now(UTC)
    due = (real + timedelta(minutes=2)).replace(second=0, microsecond=0)  # D: not reached
    store = Store(postgres.url)  # for real while the test runs: its jobs are fired by hand
    for platform, chat in (("slack", "C1"), ("telegram", "11")):
        sub = Subscription(f"{platform}:{chat}", platform, chat, relevance_cutoff=1,
                           novelty_cutoff=1, top_k=30, schedule=due.strftime("%H:%M"),
                           subscribed_by=f"{platform}:U1")  # fmt: skip
        store.save_subscription(sub)
    bot = Bot(TG_TOKEN, base_url=tg.base_url)
    senders = {
        "slack": SlackSender(AsyncWebClient(token="xoxb-test", base_url=slack.url)),
        "telegram": TelegramSender(bot),
    }
    daily = DailyScheduler(store, Fetcher(small_listing()), senders, lambda c: LocalScorer(),
                           days="mon-sun")  # fmt: skip
    gone, outage = threading.Event(), [0.0, 0.0]

    def store_goes_mid_send(call: Call) -> None:
        """Telegram has taken the digest's second message; the store goes before the answer."""
        if call.method == "sendMessage" and len(tg.sent(11)) == 2 and not gone.is_set():
            postgres.stop()
            outage[0] = time.monotonic()
            gone.set()

    tg.on_answer = store_goes_mid_send

    async def go() -> list[JobExecutionEvent]:
        events: list[JobExecutionEvent] = []
        finished = {job: asyncio.Event() for job in ("sub-slack:C1", "sub-telegram:11")}

        def seen(event: JobExecutionEvent) -> None:
            events.append(event)
            if event.job_id in finished:
                finished[event.job_id].set()

        async with bot:
            daily.scheduler.add_listener(seen, mask=EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
            daily.scheduler.start()  # the real scheduler; the tick is driven by the test
            daily.sync()
            daily.scheduler.modify_job("sub-telegram:11", next_run_time=datetime.now(UTC))
            assert await asyncio.to_thread(gone.wait, 60)  # the store is away mid-delivery
            with WebThread(build_web_app(store)) as server:
                health = httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=10)
            assert health.status_code == 503
            daily.scheduler.modify_job("sub-slack:C1", next_run_time=datetime.now(UTC))
            await asyncio.wait_for(finished["sub-slack:C1"].wait(), 30)  # C1's minute: D
            await daily.tick(now=due)  # the service's tick at D: the store is still away
            assert not finished["sub-telegram:11"].is_set()  # still holding what it sent
            await asyncio.to_thread(postgres.start)
            outage[1] = time.monotonic()
            await asyncio.wait_for(finished["sub-telegram:11"].wait(), 60)
            await daily.tick(now=due + timedelta(seconds=30))  # back: C1's missed minute
            later = due + daily.lease + timedelta(minutes=1)  # every lease ended
            await daily.tick(now=later)
            await daily.shutdown()
        return events

    errors = {where: store_errors(where) for where in ("schedule", "outbox")}
    events = asyncio.run(go())
    print(f"real outage: {outage[1] - outage[0]:.1f} s")
    for where, before in errors.items():  # /metrics shows that the store went away, and where
        assert store_errors(where) > before, where
    assert [e.exception for e in events if e.exception] == []  # nothing crashed
    rows = store.outbox()
    assert rows and store.outbox(states=OPEN) == []  # nothing left, nothing lost
    assert {r["state"] for r in rows} == {"sent"} and not any(r["doubt"] for r in rows)
    slack_rows = [r for r in rows if r["subscription"] == "slack:C1"]
    tg_rows = [r for r in rows if r["subscription"] == "telegram:11"]
    assert len(slack.posted("C1")) == len(slack_rows) >= 1  # each message once
    sent = tg.sent(11)
    assert len(sent) == len(tg_rows) >= 3  # the digest's header and its cards, once each
    assert len({m["text"] for m in sent}) == len(sent)
    assert sorted(int(r["message_id"]) for r in tg_rows) == sorted(
        int(c.response["result"]["message_id"]) for c in tg.calls_to("sendMessage")
    )
    for sub_id in ("slack:C1", "telegram:11"):
        assert len(store.digest_days(sub_id)) == 1, sub_id
    restored = restore_as_the_readme_says(postgres)  # and the outcome backs up whole
    assert restored.outbox() == rows and restored.subscriptions() == store.subscriptions()
    assert restored.digest_days("slack:C1") == store.digest_days("slack:C1")
    restored.close()
    store.close()


def store_errors(where: str) -> float:
    return REGISTRY.get_sample_value("paperdigest_store_errors_total", {"where": where}) or 0.0


def restore_as_the_readme_says(postgres: OwnPostgres) -> Store:
    """The README's pg_dump, createdb and pg_restore lines, run on the test's own server
    (the test's database backed up, restored into a new one)."""
    where, source = postgres.where, postgres.database
    dump = str(postgres.root / f"{source}.dump")
    postgres._run("pg_dump", "--format=custom", f"--file={dump}", *where, source)
    restored = f"{source}_restored"
    postgres._run("createdb", *where, restored)
    postgres._run("pg_restore", "--no-owner", f"--dbname={restored}", *where, dump)
    return Store(postgres.url.rsplit("/", 1)[0] + f"/{restored}")


HOLD_THE_LOCK = """
import sqlite3, sys
holder = sqlite3.connect(sys.argv[1], isolation_level=None)
holder.execute("BEGIN IMMEDIATE")  # SQLite's write lock, as a long write would hold it
holder.execute("UPDATE subscriptions SET last_error = 'written by another process'")
print("held", flush=True)
sys.stdin.readline()
holder.execute("COMMIT")
"""


def test_a_sqlite_store_locked_by_another_process_past_the_busy_timeout(
    tmp_path: Path, slack: FakeSlack, tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process holds SQLite's write lock longer than `database.busy_timeout` (0.3 s
    here): commands that write get the 'busy, try again' line within 3 s, /healthz says 503,
    a delivery pass leaves its message queued; once the lock is let go the same command
    works, the other process's write is kept and the message goes out once."""
    path = tmp_path / "store.sqlite3"
    settings = load_settings(
        env={"PAPERDIGEST_DATABASE_PATH": str(path), "PAPERDIGEST_DATABASE_BUSY_TIMEOUT": "0.3"}
    )
    store = Store.open(settings.database)
    deps = Deps(store, settings, lambda c: make_scorer("local", store, c, settings))
    sender = SlackSender(AsyncWebClient(token="xoxb-test", base_url=slack.url))
    daily = DailyScheduler(store, Fetcher(small_listing()), {"slack": sender},
                           lambda c: LocalScorer())  # fmt: skip
    app = build_app(deps, TOKEN, SECRET, base_url=slack.url)

    async def telegram(text: str) -> str:
        application = build_application(deps, TG_TOKEN, tg.base_url)
        async with application:
            update = tg.send_text(11, text, user_id=11)
            await application.process_update(Update.de_json(update, application.bot))
        return str(tg.sent(11)[-1]["text"])

    with WebThread(build_web_app(store, slack=app)) as server:
        base = f"http://127.0.0.1:{server.port}"
        events = f"{base}/slack/events"
        slash(events, slack, "subscribe")
        assert "Subscribed" in text_of(answer(slack))
        day = small_listing().day
        store.enqueue("slack:C1", day, sender.plan(Reply(f"paperdigest {day}", ["1 paper"]), []))
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_THE_LOCK, str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            assert httpx.get(f"{base}/healthz", timeout=10).status_code == 503
            caplog.set_level(logging.ERROR, "bot.platforms.failures")
            started = time.monotonic()
            slash(events, slack, "topk 5", n=2)
            said = answer(slack, 2)["text"]
            within_deadline(started)
            assert "the database is busy" in said and "Trying again in a few minutes" in said
            failure_id(said, caplog)
            started = time.monotonic()
            said = asyncio.run(telegram("/subscribe"))
            within_deadline(started)
            assert "the database is busy" in said
            failure_id(said, caplog)
            asyncio.run(daily.deliver_due())  # the scheduler's pass: nothing sent, nothing lost
            assert slack.posted("C1") == [] and len(store.outbox(states=OPEN)) == 1
        finally:
            holder.communicate("\n", timeout=30)  # the other process commits and exits
        assert holder.returncode == 0
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        slash(events, slack, "topk 5", n=3)
        assert "Top-k updated" in text_of(answer(slack, 3))
        assert "Subscribed" in asyncio.run(telegram("/subscribe"))
        asyncio.run(daily.deliver_due())
    sub = store.subscription("slack:C1")
    assert sub is not None and sub.top_k == 5
    assert sub.last_error == "written by another process"  # its write is kept too
    assert len(slack.posted("C1")) == 1 and store.outbox(states=OPEN) == []
    store.close()
