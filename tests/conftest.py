"""Shared fixtures: no test reaches beyond loopback; the sample day is scored once per session."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock

from bot.chat.commands import Context, Deps, handle
from digest.config import load_settings
from digest.criteria import Criteria, default_criteria_path
from digest.pipeline import build_digest, sample_listing
from digest.scoring.factory import make_scorer
from digest.scoring.local import LocalScorer
from digest.store import Store
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram

DATA = Path(__file__).parent / "data"
# pytest-xdist's workers are started with COLUMNS=80, which rich would fix as the width of every
# console made at import; without it a console is as wide as each test's COLUMNS, as in one process
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)
_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in (
        "127.0.0.1",
        "::1",
        "localhost",
    ):
        raise ConnectionRefusedError(f"tests may not reach the network ({host})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection beyond loopback fails loudly."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No PAPERDIGEST_* variable or ./paperdigest.toml of the developer leaks into a test."""
    for name in list(os.environ):
        if name.startswith("PAPERDIGEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A loopback Slack Web API."""
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    """A loopback Telegram Bot API."""
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def deps(scored_store: Store) -> Deps:
    """The command core's dependencies on the scored sample day, with the local scorer."""
    settings = load_settings(env={})
    return Deps(scored_store, settings, lambda c: make_scorer("local", scored_store, c, settings))


@pytest.fixture
def subscribed(deps: Deps, criteria: Criteria) -> Deps:
    """Slack channel C1 subscribed by its owner, with the sample day's digest built for it."""
    owner = Context("slack", "C1", "UOWNER", "owner")
    assert asyncio.run(handle("subscribe", owner, deps)).title == "Subscribed"
    sub = deps.store.subscription("slack:C1")
    sample_digest(deps.store, criteria, sub.id, cutoffs=sub.cutoffs, top_k=sub.top_k)
    return deps


@pytest.fixture(scope="session")
def criteria() -> Criteria:
    return Criteria.load(default_criteria_path())


def process_updates(
    tg: FakeTelegram, deps: Deps, *updates: dict, token: str = "123456:TEST-token_abc"
) -> None:
    """Feed Telegram updates to the real Application, as its update loop would."""
    from telegram import Update

    from bot.platforms.telegram import build_application

    async def go() -> None:
        app = build_application(deps, token, tg.base_url)
        async with app:
            for update in updates:
                await app.process_update(Update.de_json(update, app.bot))

    asyncio.run(go())


def sample_digest(store: Store, criteria: Criteria, subscription: str = "default", **kw: object):
    """The sample day's digest for a subscription, by the local scorer (cached in the store)."""
    return asyncio.run(
        build_digest(
            store,
            sample_listing(),
            criteria,
            LocalScorer(vectors=store),
            subscription=subscription,
            **kw,
        )
    )


FAILED_LINE = re.compile(r"failed on our side.*error id ([0-9a-f]{8})")


def take_store_away(store: Store) -> None:
    """The database file is gone and a directory stands in its place: SQLite cannot open it
    (OperationalError "unable to open database file"), as when the disk or server is away."""
    path = Path(store.engine.url.database or "")
    store.engine.dispose()
    for extra in ("", "-wal", "-shm"):
        moved = Path(f"{path}{extra}")
        if moved.exists():
            moved.rename(f"{moved}.away")
    path.mkdir()


def failure_id(text: str, caplog: pytest.LogCaptureFixture) -> str:
    """The error id the person was given; asserts the log has it with the traceback."""
    found = FAILED_LINE.search(text)
    assert found, text
    logged = [r for r in caplog.records if found.group(1) in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None, [
        r.getMessage() for r in caplog.records
    ]
    return found.group(1)


def logged(
    proc: subprocess.Popen, pattern: str, seen: list[str] | None = None, timeout: float = 60
) -> re.Match[str]:
    """Read `proc`'s log (stderr) to the first line matching `pattern`, each line kept in
    `seen`; fail with them if it ends first, or logs no match for `timeout` s (killed then)."""
    assert proc.stderr is not None
    seen = [] if seen is None else seen
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    try:
        for line in proc.stderr:
            seen.append(line)
            if found := re.search(pattern, line):
                return found
    finally:
        watchdog.cancel()
    pytest.fail(f"serve never logged {pattern!r}:\n" + "".join(seen))


def start_serve(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen:
    """`paperdigest serve [args]` in its own process, its store in tmp_path, /healthz on a free
    port."""
    env = {
        **os.environ,
        "PAPERDIGEST_DATABASE_PATH": str(tmp_path / "serve.sqlite3"),
        "PAPERDIGEST_SERVE_HEALTH_PORT": "0",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", *args], env=env, cwd=tmp_path,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.fixture(scope="session")
def scored_db(tmp_path_factory: pytest.TempPathFactory, worker_id: str, criteria: Criteria) -> Path:
    """A SQLite store holding the sample day, scored by the local scorer: made once a run, by
    the first pytest-xdist worker that needs it, while the others wait for it."""
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":  # each worker has its own directory in the run's
        shared = shared.parent
    path = shared / "scored-sample.sqlite3"
    with FileLock(f"{path}.lock"):
        if not path.exists():
            making = shared / "scored-sample.making.sqlite3"
            store = Store(f"sqlite:///{making}")
            sample_digest(store, criteria)
            store.close()
            making.rename(path)
    return path


@pytest.fixture
def scored_store(scored_db: Path, tmp_path: Path) -> Store:
    """A private copy of the scored store, free to change."""
    copy = tmp_path / "store.sqlite3"
    shutil.copy(scored_db, copy)
    store = Store(f"sqlite:///{copy}")
    yield store
    store.close()


# Read at import: the autouse clean_env fixture removes PAPERDIGEST_* before each test runs.
_PG_URL = os.environ.get("PAPERDIGEST_TEST_DATABASE_URL")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A Store on `store_url`: SQLite, and PostgreSQL when one is given."""
    store = Store(store_url)
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file in tmp, or a fresh schema in the PostgreSQL that
    PAPERDIGEST_TEST_DATABASE_URL names (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    if not _PG_URL:
        pytest.skip("PostgreSQL: PAPERDIGEST_TEST_DATABASE_URL is not set (.ci/run sets it)")
    import uuid

    from sqlalchemy import create_engine, make_url, text

    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(_PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
