"""`paperdigest backup FILE`: a consistent copy of the SQLite store while another process writes
it, which restores into a store holding everything; PostgreSQL gets the pg_dump line."""

from __future__ import annotations

import shutil
import signal
import sqlite3
from pathlib import Path

import httpx
from slack_sdk.web.async_client import AsyncWebClient
from typer.testing import CliRunner

from bot.cli import app
from bot.platforms.slack import SlackSender
from bot.service.outbox import enqueue
from digest.criteria import Criteria
from digest.store import Store
from digest.subscriptions import Subscription
from tests.conftest import logged, sample_digest, start_serve

runner = CliRunner()
TOKEN = "status-token-0123456789"


def everything(store: Store, hash_: str) -> dict[str, object]:
    """What a restore must bring back: chats, criteria versions, labels, ratings, the outbox."""
    subs = store.subscriptions(active_only=False)
    return {
        "subscriptions": subs,
        "criteria": {s.id: store.criteria_versions(s.id) for s in subs},
        "labels": store.label_rows(hash_),
        "ratings": {s.id: store.ratings(s.id) for s in subs},
        "outbox": store.outbox(),
    }


def test_backup_while_a_writer_is_busy_restores_everything(
    scored_store: Store, criteria: Criteria, tmp_path: Path
) -> None:
    store = scored_store
    sub = Subscription("slack:C1", "slack", "C1", top_k=3, subscribed_by="slack:U1")
    store.save_subscription(sub)
    store.save_subscription(
        Subscription("telegram:-5", "telegram", "-5", active=False, paused_reason="blocked")
    )
    store.save_criteria(sub.id, criteria.to_text(), criteria.hash, "slack:U1")
    store.save_criteria(sub.id, criteria.to_text() + "\n", "second-version", "slack:U2")
    store.save_labels(criteria.scoring_hash, {"2602.08007": 1.0, "2602.08235": 0.0}, "rating:x")
    store.save_rating(sub.id, "2602.08007", "U1", 1)
    sender = SlackSender(AsyncWebClient(token="xoxb-test", base_url="http://127.0.0.1:9/api/"))
    digest = sample_digest(store, criteria, sub.id, top_k=3)
    assert enqueue(store, sender, sub, digest) == 1
    before = everything(store, criteria.scoring_hash)
    assert all(before.values())

    database = Path(store.engine.url.database or "")
    writer = sqlite3.connect(database)  # `serve`, in the middle of a write
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM outbox")
    target = tmp_path / "backups" / "copy.sqlite3"
    target.parent.mkdir()
    result = runner.invoke(
        app, ["backup", str(target)], env={"PAPERDIGEST_DATABASE_PATH": str(database)}
    )
    writer.rollback()
    writer.close()
    assert result.exit_code == 0, result.output
    assert f"backup written: {target}" in result.output
    assert sorted(p.name for p in target.parent.iterdir()) == ["copy.sqlite3"]  # one file
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"

    restored_path = tmp_path / "restored" / "paperdigest.sqlite3"
    restored_path.parent.mkdir()
    shutil.copy(target, restored_path)
    restored = Store(f"sqlite:///{restored_path}")  # as `serve` opens it: migrations run
    try:
        assert everything(restored, criteria.scoring_hash) == before  # not the unfinished write
    finally:
        restored.close()
    status = serve_status(tmp_path, restored_path)  # `serve` starts on the restored store
    assert {s["id"] for s in status["subscriptions"]} == {"slack:C1", "telegram:-5"}
    outbox = next(s["outbox"] for s in status["subscriptions"] if s["id"] == "slack:C1")
    assert outbox["waiting"] == 1  # the message queued before the backup, still to be sent

    again = runner.invoke(
        app, ["backup", str(target)], env={"PAPERDIGEST_DATABASE_PATH": str(database)}
    )
    assert again.exit_code == 1 and "exists" in again.output  # never overwrites


def serve_status(tmp_path: Path, database: Path) -> dict:
    """Start `serve` on `database`, read its /status, stop it with SIGTERM."""
    proc = start_serve(
        tmp_path, PAPERDIGEST_DATABASE_PATH=str(database), PAPERDIGEST_STATUS_TOKEN=TOKEN
    )
    try:
        port = int(logged(proc, r"healthz on [\d.]+:(\d+)/healthz")[1])
        status = httpx.get(
            f"http://127.0.0.1:{port}/status",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert status.status_code == 200, status.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        proc.kill()
    return dict(status.json())


def test_postgresql_is_pointed_to_pg_dump_without_the_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://digest:hunter2@db.internal:5433/paperdigest"
    target = tmp_path / "pg.dump"
    result = runner.invoke(app, ["backup", str(target)], env={"PAPERDIGEST_DATABASE_URL": url})
    flat = " ".join(result.output.split())
    assert result.exit_code == 1 and "pg_dump --format=custom" in flat
    assert "--host=db.internal --port=5433 --username=digest paperdigest" in flat
    assert "hunter2" not in result.output and not target.exists()
