"""What the service shows, and to whom: /healthz for anyone, /status for the token's holder,
`paperdigest status` whole when piped, and logs without routine noise or request bodies."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from bot.service import logs
from bot.service.web import build_web_app
from digest.config import load_settings
from digest.store import Store
from digest.subscriptions import Subscription
from tests.conftest import logged, start_serve
from tests.fakes.loopback import WebThread

TOKEN = "status-token-0123456789"
LONG_ID = "telegram:-100" + "7" * 60  # a Telegram id, longer than a piped line of 80 columns
LONG_ERROR = "Telegram: Forbidden: bot was blocked by the user " + "and then some " * 8 + "END"


def add_chats(store: Store) -> None:
    store.save_subscription(
        Subscription("slack:C1", "slack", "C1", top_k=3, subscribed_by="slack:U1")
    )
    store.save_subscription(
        Subscription(
            LONG_ID,
            "telegram",
            LONG_ID.split(":", 1)[1],
            top_k=3,
            subscribed_by="telegram:1",
            active=False,
            paused_reason="blocked",
            last_error=LONG_ERROR,
        )
    )


class BrokenStore:
    """A store whose database cannot be reached; the error names a host and a password."""

    def __getattr__(self, name: str) -> object:
        def fail(*args: object, **kwargs: object) -> object:
            raise RuntimeError("could not connect to db.internal as digest:hunter2")

        return fail


def test_healthz_says_ok_and_counts_only(scored_store: Store) -> None:
    add_chats(scored_store)
    with WebThread(build_web_app(scored_store, status_token=TOKEN)) as server:
        response = httpx.get(f"http://127.0.0.1:{server.port}/healthz")
    body = response.json()
    assert response.status_code == 200 and body["ok"] is True
    assert body["subscriptions"] == 2 and body["delivery_problems"] >= 1
    assert isinstance(body["problems"], int)
    assert set(body) == {"ok", "subscriptions", "problems", "delivery_problems"}
    text = response.text
    assert "C1" not in text and "7777" not in text and "blocked" not in text
    assert "llm" not in text


def test_healthz_is_503_without_detail_when_the_store_is_down() -> None:
    app = build_web_app(BrokenStore(), status_token=TOKEN)  # type: ignore[arg-type]
    with WebThread(app) as server:
        health = httpx.get(f"http://127.0.0.1:{server.port}/healthz")
    assert health.status_code == 503 and health.json() == {"ok": False}
    assert "hunter2" not in health.text and "db.internal" not in health.text


def test_status_needs_the_bearer_token(scored_store: Store) -> None:
    add_chats(scored_store)
    with WebThread(build_web_app(scored_store)) as server:  # no token configured
        assert httpx.get(f"http://127.0.0.1:{server.port}/status").status_code == 404
        guess = httpx.get(
            f"http://127.0.0.1:{server.port}/status", headers={"Authorization": "Bearer x"}
        )
        assert guess.status_code == 404
    with WebThread(build_web_app(scored_store, status_token=TOKEN)) as server:
        url = f"http://127.0.0.1:{server.port}/status"
        bare = httpx.get(url)
        wrong = httpx.get(url, headers={"Authorization": "Bearer not-the-token"})
        basic = httpx.get(url, headers={"Authorization": TOKEN})
        right = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
    for refused in (bare, wrong, basic):
        assert refused.status_code == 401
        assert "7777" not in refused.text and "blocked" not in refused.text
    assert right.status_code == 200
    body = right.json()
    assert body["ok"] is True and body["llm_spend_today_usd"] == 0
    assert body["last_fetch"]["day"] == "2026-02-10" and body["last_fetch"]["status"] == "built"
    [gone] = [s for s in body["subscriptions"] if s["id"] == LONG_ID]
    assert gone["last_error"] == LONG_ERROR and body["delivery_problems"] >= 1


def test_the_status_token_is_no_setting() -> None:
    """PAPERDIGEST_STATUS_TOKEN is read by `serve` itself: load_settings lets it be."""
    load_settings(env={"PAPERDIGEST_STATUS_TOKEN": TOKEN})


def test_status_command_is_whole_when_piped(
    scored_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    monkeypatch.delenv("COLUMNS", raising=False)  # as under cron: rich would assume 80
    db = tmp_path / "status.sqlite3"
    shutil.copy(scored_db, db)
    store = Store(f"sqlite:///{db}")
    add_chats(store)
    store.close()
    result = CliRunner().invoke(app, ["status"], env={"PAPERDIGEST_DATABASE_PATH": str(db)})
    assert result.exit_code == 0, result.output
    [line] = [x for x in result.output.splitlines() if LONG_ID in x]
    assert LONG_ERROR in line and "blocked" in line


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """logs.setup() reconfigures the root logger; put back what pytest had."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    names = (*logs.QUIET, *logs.BOLT_VERIFICATION)
    levels = {name: logging.getLogger(name).level for name in names}
    filters = {name: logging.getLogger(name).filters[:] for name in names}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in names:
        logging.getLogger(name).setLevel(levels[name])
        logging.getLogger(name).filters[:] = filters[name]


def test_routine_library_lines_are_quiet(logging_restored: None) -> None:
    logs.setup(env={})
    for name in ("alembic", "alembic.runtime.migration", "apscheduler.scheduler",
                 "apscheduler.executors.default"):  # fmt: skip
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING, name
    assert logging.getLogger("paperdigest").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("apscheduler").isEnabledFor(logging.WARNING)


def test_a_forged_slack_request_is_logged_without_its_body(
    logging_restored: None, caplog: pytest.LogCaptureFixture, scored_store: Store
) -> None:
    from slack_sdk.signature import SignatureVerifier

    from bot.chat.commands import Deps
    from bot.platforms.slack import build_app
    from digest.scoring.factory import make_scorer

    logs.setup(env={})  # as serve does, before the app is built
    logging.getLogger().addHandler(caplog.handler)  # setup() replaced pytest's handler
    settings = load_settings(env={})
    deps = Deps(scored_store, settings, lambda c: make_scorer("local", scored_store, c, settings))
    bolt = build_app(deps, "xoxb-test-token", "the-signing-secret", base_url="http://127.0.0.1:9/")
    body = urlencode({"token": "verification-token-XYZ", "command": "/digest", "text": "help"})
    stamp = str(int(time.time()))
    forged = SignatureVerifier("wrong-secret").generate_signature(timestamp=stamp, body=body)
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": forged,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    with caplog.at_level(logging.DEBUG), WebThread(build_web_app(slack=bolt)) as server:
        response = httpx.post(
            f"http://127.0.0.1:{server.port}/slack/events", content=body, headers=headers
        )
    assert response.status_code == 401
    lines = [r.getMessage() for r in caplog.records]
    assert not [line for line in lines if "verification-token-XYZ" in line or "command" in line]
    [refused] = [r for r in caplog.records if r.getMessage() == logs.BAD_SIGNATURE]
    assert refused.levelno == logging.WARNING


def test_serve_logs_events_not_routine(tmp_path: Path) -> None:
    """A short run of `serve`: /healthz and /status on its port, and no alembic or APScheduler
    INFO lines, nor the status token, in its log."""
    proc = start_serve(tmp_path, PAPERDIGEST_STATUS_TOKEN=TOKEN)
    seen: list[str] = []
    try:
        port = int(logged(proc, r"healthz on [\d.]+:(\d+)/healthz", seen)[1])
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        status = httpx.get(
            f"http://127.0.0.1:{port}/status",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert health.status_code == 200 and health.json()["ok"] is True
        assert status.status_code == 200 and status.json()["subscriptions"] == []
        if sys.platform == "linux":  # the work threads (the store read /status) run nicer
            niceness = {
                int(task.name): int(task.joinpath("stat").read_text().rsplit(")", 1)[1].split()[16])
                for task in Path(f"/proc/{proc.pid}/task").iterdir()
            }  # field 19 of stat, counted after the name's closing bracket
            loop = niceness[proc.pid]
            assert loop == os.getpriority(os.PRIO_PROCESS, 0)  # the loop's thread: as started
            work = [n for thread, n in niceness.items() if thread != proc.pid]
            assert min(19, loop + 10) in work
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        proc.kill()
    log = "".join(seen) + proc.stderr.read()
    assert "serving as" in log and "stopped" in log
    assert TOKEN not in log
    assert " INFO alembic" not in log and "Context impl" not in log
    assert " INFO apscheduler" not in log
