"""Retention (`store.keep_days`): what is older goes, once a day and in batches; what a kept
day or a label needs stays. On SQLite and, when PAPERDIGEST_TEST_DATABASE_URL is set, on
PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text
from typer.testing import CliRunner

from bot.cli import app
from digest.day import DayStatus, Digest, Entry, Usage
from digest.papers import Paper
from digest.retention import prune_day
from digest.scoring import Score
from digest.store import Store

OLD, KEPT = date(2026, 1, 5), date(2026, 2, 10)
TODAY = KEPT + timedelta(days=1)  # keep_days 7: OLD is 37 days old, KEPT 1
LONG_AGO = datetime(2026, 1, 5, 12, tzinfo=UTC)


def _digest(sub: str, day: date, ids: tuple[str, ...]) -> Digest:
    entries = [
        Entry(Paper(pid, f"T {pid}", "A"), Score(pid, 9 - i, 7, "c", "t", "local"), i + 1,
              i == 0, "r")
        for i, pid in enumerate(ids)
    ]  # fmt: skip
    return Digest(day, DayStatus.BUILT, "m", sub, entries=entries, criteria_hash="h")


def _fill(store: Store) -> None:
    """Two days of one chat: an old one (37 days) and a kept one (1 day)."""
    papers = {pid: Paper(pid, f"T {pid}", "A") for pid in ("old", "labelled", "both", "new")}
    store.save_listing(OLD, [papers["old"], papers["labelled"], papers["both"]])
    store.save_listing(KEPT, [papers["both"], papers["new"]])
    store.save_labels("h", {"labelled": 1.0}, "rating:slack:C1")
    store.save_model("h", "local", {"id": "m1"})
    store.save_rating("slack:C1", "old", "U1", 1)
    for pid in papers:
        store.save_scores([Score(pid, 8, 7, "c", "t", "local")], "h", "local")
        store.save_embeddings("minilm", [(pid, "th", b"\x01" * 8, 0.1)])
        store.save_explanation(pid, "h", "gpt", f"why {pid}")
    store.save_digest(_digest("slack:C1", OLD, ("old", "labelled", "both")))
    store.save_digest(_digest("slack:C1", KEPT, ("both", "new")))
    store.mark_shown("slack:C1", OLD, ["old"])
    store.mark_shown("slack:C1", KEPT, ["both"])
    for day in (OLD, KEPT):
        store.enqueue("slack:C1", day, [{"text": "header"}, {"text": "papers"}])
        store.record_usage(day, "slack:C1", Usage("llm:gpt", 10, 0, 5, 0.01))
    store.propose("slack:C1:U1", "owner", "top 5", timedelta(minutes=5))
    with store.engine.begin() as conn:  # what was written then
        conn.execute(text("UPDATE claims SET updated_at = :at"), {"at": LONG_AGO})
        conn.execute(text("UPDATE explanations SET created_at = :at WHERE paper_id = 'old'"),
                     {"at": LONG_AGO})  # fmt: skip


def _count(store: Store, table: str) -> int:
    with store.engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_a_day_past_keep_days_goes_and_what_is_kept_reads_as_before(store: Store) -> None:
    _fill(store)
    result = asyncio.run(prune_day(store, keep_days=7, today=TODAY))
    deleted = result["deleted"]
    assert (deleted["digests"], deleted["outbox"], deleted["usage"]) == (1, 2, 1)
    assert deleted["claims"] == 1 and deleted["explanations"] == 1  # the proposal, 'old'
    # the kept day reads as before: `why` finds its papers, their text and its ranking
    digest = store.digest("slack:C1", KEPT)
    assert digest is not None and [e.paper.title for e in digest.entries] == ["T both", "T new"]
    assert store.digest("slack:C1", OLD) is None
    assert store.digest_days("slack:C1") == [KEPT]
    assert [(r["day"], r["seq"]) for r in store.outbox()] == [(KEPT, 0), (KEPT, 1)]
    assert store.shown_before("slack:C1", TODAY) == {"both"}
    assert [d for d, _ in store.usage()] == [KEPT]
    # papers no kept day lists and no label names go, with their scores and embeddings
    assert store.paper("old") is None
    assert store.scores(["old"], "h", "local") == {}
    assert store.embeddings("minilm", [("old", "th")]) == {}
    assert store.explanation("old", "h", "gpt") is None
    for pid in ("labelled", "both", "new"):  # a label keeps its paper and embedding
        assert store.paper(pid) is not None and store.embeddings("minilm", [(pid, "th")])
    # scores only rank the days listing their paper: one listed on no kept day keeps none
    assert store.scores(["labelled"], "h", "local") == {}
    assert store.scores(["both"], "h", "local") and store.scores(["new"], "h", "local")
    # the chat's training data is kept whatever its age
    assert store.labels("h") == {"labelled": 1.0}
    assert store.model("h", "local") == {"id": "m1"}
    assert store.ratings("slack:C1") == {"old": 1}
    assert _count(store, "rankings") == 1 and _count(store, "day_listings") == 2


def test_pruning_is_done_once_a_day_whoever_asks(store: Store) -> None:
    _fill(store)
    first = asyncio.run(prune_day(store, keep_days=7, today=TODAY))
    store.save_digest(_digest("slack:C2", OLD, ("both",)))  # written after today's pruning
    again = asyncio.run(prune_day(store, keep_days=7, today=TODAY))  # another worker
    assert again == first and store.digest("slack:C2", OLD) is not None
    tomorrow = asyncio.run(prune_day(store, keep_days=7, today=TODAY + timedelta(days=1)))
    assert tomorrow["deleted"]["digests"] == 1 and store.digest("slack:C2", OLD) is None


def test_pruning_goes_in_batches_until_nothing_old_is_left(store: Store) -> None:
    for i in range(7):
        store.enqueue(f"slack:C{i}", OLD, [{"text": "a"}, {"text": "b"}, {"text": "c"}])
    store.enqueue("slack:C1", KEPT, [{"text": "kept"}])
    deleted = store.prune(KEPT, datetime.now(UTC) - timedelta(days=2), batch=4)
    assert deleted["outbox"] == 21 and [r["day"] for r in store.outbox()] == [KEPT]


def test_status_shows_the_stores_size_by_table(tmp_path) -> None:
    db = tmp_path / "s.sqlite3"
    store = Store(f"sqlite:///{db}")
    _fill(store)
    store.close()
    result = CliRunner().invoke(app, ["status"], env={"PAPERDIGEST_DATABASE_PATH": str(db)})
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("store: "))
    assert "by table: " in line and "digests " in line and "rankings " in line
