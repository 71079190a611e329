"""The store goes away and comes back: a PostgreSQL this test starts and stops itself (its own
data directory, never the one the rest of the suite uses). While it is down, /healthz answers
503 and a command gets the failure line; once it is back, the next command is answered."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from telegram import Update

from bot.chat.commands import Deps
from bot.platforms.slack import build_app
from bot.platforms.telegram import build_application
from bot.service.web import build_web_app
from digest.config import load_settings
from digest.scoring.factory import make_scorer
from digest.store import Store
from tests.fakes.loopback import WebThread
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram
from tests.test_slack import SECRET, TOKEN, answer, slash, text_of

TG_TOKEN = "123456:TEST-token_abc"
UNREACHABLE = "the database is unreachable"


def _bin(name: str) -> str | None:
    """A PostgreSQL tool: on the PATH, else the newest of Debian's versioned ones."""
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return shutil.which(name) or (versions[-1] if versions else None)


class OwnPostgres:
    """A PostgreSQL cluster in a fresh directory, on a free port, stopped and started at will."""

    def __init__(self, root: Path) -> None:
        self.root, self.data = root, root / "data"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"postgresql+psycopg://digest@127.0.0.1:{self.port}/postgres"
        self._run("initdb", "-D", str(self.data), "-U", "digest", "--auth=trust", "--no-sync")

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        command = [_bin(tool) or tool, *args]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=check, capture_output=True, cwd=self.root, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.root / "log"), "-o",
                  options, "start")  # fmt: skip

    def stop(self, mode: str = "fast", check: bool = True) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", mode, "stop", check=check)


@pytest.fixture
def postgres() -> Iterator[OwnPostgres]:
    if _bin("initdb") is None or _bin("pg_ctl") is None:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) here; .ci/run provides them")
    root = Path(tempfile.mkdtemp(prefix="paperdigest-pg-"))  # /tmp: reachable by `postgres`
    root.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    server = None
    try:
        server = OwnPostgres(root)
        server.start()
        yield server
    finally:
        if server is not None:
            server.stop("immediate", check=False)  # already stopped: pg_ctl says so, no harm
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_deps(postgres: OwnPostgres) -> Iterator[Deps]:
    store = Store(postgres.url)
    settings = load_settings(env={})
    yield Deps(store, settings, lambda c: make_scorer("local", store, c, settings))
    store.close()


def test_slack_and_healthz_ride_out_the_store_going_away(
    postgres: OwnPostgres, pg_deps: Deps, slack: FakeSlack
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
        assert slash(events, slack, "settings", n=2).status_code == 200
        assert UNREACHABLE in answer(slack, 2)["text"]
        postgres.start()
        slash(events, slack, "settings", n=3)
        assert "top-k: 10" in text_of(answer(slack, 3))  # the next command is answered
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200


def test_telegram_rides_out_the_store_going_away(
    postgres: OwnPostgres, pg_deps: Deps, tg: FakeTelegram
) -> None:
    async def send(text: str) -> str:
        app = build_application(pg_deps, TG_TOKEN, tg.base_url)
        async with app:
            update = tg.send_text(11, text, user_id=11)
            await app.process_update(Update.de_json(update, app.bot))
        return str(tg.sent(11)[-1]["text"])

    assert "Subscribed" in asyncio.run(send("/subscribe"))
    postgres.stop()
    assert UNREACHABLE in asyncio.run(send("/settings"))
    postgres.start()
    assert "top-k: 10" in asyncio.run(send("/settings"))
