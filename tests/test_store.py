"""The store on SQLite and, when PAPERDIGEST_TEST_DATABASE_URL is set, on PostgreSQL.

Every query the rest of paperdigest uses, and the migrations: a new database reaches head, a
migrated one is left alone, and the models never drift from what the migrations build.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import StatementError

from digest.day import DayStatus, Digest, Entry, Usage
from digest.errors import DigestError, NotFoundError
from digest.papers import Paper
from digest.scoring import Score
from digest.store import Base, Store, alembic_config, schema_head, store_unreachable
from digest.store.migrate import HEAD
from digest.subscriptions import Subscription

DAY1, DAY2, DAY3 = date(2026, 2, 10), date(2026, 2, 11), date(2026, 2, 12)


def _paper(pid: str, title: str = "A paper", **kw: object) -> Paper:
    return Paper(id=pid, title=title, abstract=f"The abstract of {pid}.", **kw)


def _score(pid: str, relevance: int = 8, scorer: str = "local", **kw: object) -> Score:
    return Score(pid, relevance, 7, f"comment on {pid}", "Topic", scorer, **kw)


# papers and listings


def test_listing_round_trips(store: Store) -> None:
    long = _paper(
        "2602.00001",
        title="Ünïcödé — “quotes” and 数学",
        authors=("Ada Lovelace", "Alan Turing"),
        categories=("cs.LG", "cs.AI", "stat.ML"),
        primary_category="cs.LG",
        version=2,
        comment="12 pages; " + "x" * 5000,
        announce_type="cross",
        feeds={"cs.AI": "cross", "cs.LG": "new"},
    )
    long = Paper(**{**long.__dict__, "abstract": "word " * 20000})  # 100k characters
    plain = _paper("2602.00002")
    store.save_listing(DAY1, [long, plain])
    store.save_listing(DAY1, [long, plain])  # the same day again changes nothing
    store.save_listing(DAY2, [plain])

    day1 = store.papers_of_day(DAY1)
    assert day1 == [long, plain]
    assert day1[0].feeds == {"cs.AI": "cross", "cs.LG": "new"}
    assert day1[0].announce_type == "cross"
    assert [p.id for p in store.papers_of_day(DAY2)] == ["2602.00002"]
    assert store.papers_of_day(DAY3) == []
    assert store.paper("2602.00001").abstract == long.abstract
    assert store.paper("2602.99999") is None
    assert store.require_paper("2602.00002").title == "A paper"
    with pytest.raises(NotFoundError, match=r"2602\.99999"):
        store.require_paper("2602.99999")


def test_criteria_versions(store: Store) -> None:
    assert store.save_criteria("slack:C1", "one", "h1", author="U1") == 1
    assert store.save_criteria("slack:C1", "one", "h1") == 1  # unchanged: no new version
    assert store.save_criteria("slack:C1", "two", "h2") == 2
    assert store.save_criteria("slack:C1", "one", "h1") == 3  # back to the first text
    assert store.save_criteria("telegram:-100", "other", "h9") == 1
    assert store.criteria_versions("slack:C1") == [(1, "h1", "one"), (2, "h2", "two"),
                                                   (3, "h1", "one")]  # fmt: skip
    assert store.criteria_versions("nobody") == []


# scores


def test_scores_are_keyed_per_paper_criteria_and_key(store: Store) -> None:
    store.save_scores([_score("a", 9), _score("b", 3, cost=None, raw=0.25)], "h1")
    assert store.scores(["a", "b", "c"], "h1", "local") == {
        "a": _score("a", 9),
        "b": _score("b", 3, cost=None, raw=0.25),
    }
    assert store.scores(["a"], "h2", "local") == {}  # other criteria
    assert store.scores(["a"], "h1", "llm:m") == {}  # other scorer

    # a second score for a known (paper, criteria, key) is ignored: the first one stands
    store.save_scores([_score("a", 1), _score("a", 2)], "h1")
    assert store.scores(["a"], "h1", "local")["a"].relevance == 9


def test_save_scores_with_a_cache_key_keeps_each_judge(store: Store) -> None:
    """A cascade caches under its own name; each Score still names what judged it."""
    key = "cascade:llm:gpt-4o-mini@0.3"
    judged = [
        _score("a", 9, scorer="llm:gpt-4o-mini", prompt_tokens=900, cached_tokens=100,
               completion_tokens=40, cost=0.0012),
        _score("b", 2, scorer="local"),
    ]  # fmt: skip
    store.save_scores(judged, "h1", key)
    cached = store.scores(["a", "b"], "h1", key)
    assert cached == {"a": judged[0], "b": judged[1]}
    assert cached["a"].scorer == "llm:gpt-4o-mini"
    assert store.scores(["a", "b"], "h1", "local") == {}  # not cached under the judge
    store.save_scores([_score("b", 5)], "h1")  # the local scorer's own cache is separate
    assert store.scores(["b"], "h1", "local")["b"].relevance == 5
    assert store.scores(["b"], "h1", key)["b"].relevance == 2


def test_scores_of_many_papers_and_long_fields(store: Store) -> None:
    ids = [f"2602.{i:05d}" for i in range(1200)]  # more than one query chunk
    long_matched = "A topic a person named at length " * 20
    store.save_scores([_score(pid, i % 10 + 1) for i, pid in enumerate(ids)], "h" * 64)
    store.save_scores([Score("x", 5, 5, "c" * 10000, long_matched, "s" * 100)], "h" * 64)
    got = store.scores([*ids, "x"], "h" * 64, "local")
    assert len(got) == 1200 and got["2602.01199"].relevance == 1199 % 10 + 1
    assert store.scores(["x"], "h" * 64, "s" * 100)["x"].matched == long_matched


# digests and what was shown


def _digest(sub: str, day: date, message: str = "", ids: tuple[str, ...] = ()) -> Digest:
    entries = [
        Entry(
            Paper(pid, f"T {pid}", "A"), Score(pid, 9 - i, 7, "c", "t", "local"), i + 1, i < 1, "r"
        )
        for i, pid in enumerate(ids)
    ]
    return Digest(day, DayStatus.BUILT, message, sub, entries=entries, criteria_hash="h")


def test_digest_upsert_and_typed_read_back(store: Store) -> None:
    store.save_listing(DAY1, [Paper("a", "Stored title", "abstract", ("Ada Lovelace",))])
    store.save_digest(_digest("slack:C1", DAY1, "first", ("a",)))
    store.save_digest(Digest(DAY2, DayStatus.NO_ANNOUNCEMENT, "none", "slack:C1"))
    store.save_digest(_digest("slack:C1", DAY1, "again", ("a", "b")))  # replaces DAY1
    assert store.digest_days("slack:C1") == [DAY1, DAY2]
    got = store.digest("slack:C1", DAY1)
    assert got is not None and got.message == "again" and got.status is DayStatus.BUILT
    assert [(e.paper.id, e.rank, e.selected) for e in got.entries] == [
        ("a", 1, True),
        ("b", 2, False),
    ]
    # a paper's text comes from the papers table; one the store never saw keeps its id
    assert got.entries[0].paper.authors == ("Ada Lovelace",)
    assert got.entries[0].score == Score("a", 9, 7, "c", "t", "local")
    assert got.entries[1].paper.title == ""
    latest = store.digest("slack:C1")
    assert latest is not None and latest.status is DayStatus.NO_ANNOUNCEMENT
    assert store.digest("slack:C2") is None
    assert store.digest("slack:C1", DAY3) is None


def test_shown_papers_are_not_repeated(store: Store) -> None:
    store.mark_shown("s", DAY1, ["a", "b"])
    store.mark_shown("s", DAY2, ["b", "c", "c"])  # b was shown already; c once
    store.mark_shown("other", DAY1, ["z"])
    assert store.shown_before("s", DAY1) == set()
    assert store.shown_before("s", DAY2) == {"a", "b"}
    assert store.shown_before("s", DAY3) == {"a", "b", "c"}
    assert store.shown_before("other", DAY3) == {"z"}


# learning


def test_labels_and_models(store: Store) -> None:
    store.save_labels("h1", {"a": 1.0, "b": 0.0}, "reference")
    store.save_labels("h1", {"b": 1.0}, "reference")  # updated in place
    store.save_labels("h1", {"a": 0.0}, "ratings")  # a later source overrides
    store.save_labels("h2", {"a": 1.0}, "reference")
    assert store.labels("h1") == {"a": 0.0, "b": 1.0}
    assert store.labels("h2") == {"a": 1.0}
    assert store.labels("h3") == {}

    assert store.model("h1", "local") is None
    store.save_model("h1", "local", {"id": "m1", "w": [0.5, -1.25]})
    store.save_model("h1", "local", {"id": "m2", "w": [1.0]})
    assert store.model("h1", "local") == {"id": "m2", "w": [1.0]}


# subscriptions and ratings


def _sub(sid: str, **kw: object) -> Subscription:
    platform, chat = sid.split(":", 1)
    return Subscription(id=sid, platform=platform, chat=chat, **kw)


def test_subscriptions(store: Store) -> None:
    slack = _sub("slack:C1", categories=("cs.LG",), top_k=5, timezone="Europe/Paris",
                 subscribed_by="U1", admins=("U1", "U2"))  # fmt: skip
    paused = _sub("telegram:-100", active=False, paused_reason="bot removed", last_error="403")
    store.save_subscription(slack)
    store.save_subscription(paused)
    assert store.subscription("slack:C1") == slack
    assert store.subscriptions() == [slack]
    assert store.subscriptions(active_only=False) == [slack, paused]
    store.save_subscription(_sub("slack:C1", top_k=3))
    assert store.subscription("slack:C1").top_k == 3
    assert store.subscription("nobody") is None


def test_move_subscription_takes_its_history(store: Store) -> None:
    old, new = _sub("telegram:-1"), _sub("telegram:-1001", subscribed_by="U9")
    store.save_subscription(old)
    store.save_criteria(old.id, "text", "h1")
    store.save_digest(_digest(old.id, DAY1, "kept"))
    store.mark_shown(old.id, DAY1, ["a"])
    store.save_rating(old.id, "a", "U1", 1)
    store.enqueue(old.id, DAY1, [{"text": "hi"}])

    store.move_subscription(old.id, new)
    assert store.subscription(old.id) is None
    assert store.subscription(new.id) == new
    assert store.criteria_versions(new.id) == [(1, "h1", "text")]
    moved = store.digest(new.id, DAY1)
    assert moved is not None and moved.message == "kept"
    assert store.shown_before(new.id, DAY2) == {"a"}
    assert store.ratings(new.id) == {"a": 1}
    assert [r["subscription"] for r in store.outbox()] == [new.id]
    assert store.criteria_versions(old.id) == [] and store.ratings(old.id) == {}


def test_ratings_sum_per_paper(store: Store) -> None:
    store.save_rating("s", "a", "U1", 1)
    store.save_rating("s", "a", "U2", 1)
    store.save_rating("s", "b", "U1", 1)
    store.save_rating("s", "b", "U1", -1)  # a person changes their mind
    store.save_rating("t", "a", "U1", -1)
    assert store.ratings("s") == {"a": 2, "b": -1}
    assert store.ratings("t") == {"a": -1}


# the outbox


def test_a_digest_its_messages_and_its_run_s_end_are_stored_together_or_not_at_all(
    store: Store,
) -> None:
    key, who = "run:slack:C1:2026-02-10", "worker-1"
    assert store.claim(key, who, timedelta(minutes=5)) is not None
    with pytest.raises((StatementError, TypeError), match="not JSON serializable"):  # no commit
        store.save_digest(_digest("slack:C1", DAY1, "first", ("a", "b")), shown=["a"],
                          messages=[{"text": object()}], done=(key, who))  # fmt: skip
    assert store.digest("slack:C1", DAY1) is None and store.outbox("slack:C1") == []
    assert store.shown_before("slack:C1", DAY2) == set()
    assert store.claim_of(key).state == "running"  # the run is made again: nothing was lost
    store.save_digest(_digest("slack:C1", DAY1, "first", ("a", "b")), shown=["a"],
                      messages=[{"text": "header"}, {"text": "a"}], done=(key, who))  # fmt: skip
    assert store.digest("slack:C1", DAY1).message == "first"
    assert [r["payload"] for r in store.outbox("slack:C1")] == [{"text": "header"}, {"text": "a"}]
    assert store.shown_before("slack:C1", DAY2) == {"a"}
    done = store.claim_of(key)
    assert done.state == "done" and done.result == {"day": "2026-02-10", "status": "built"}
    store.save_digest(_digest("slack:C1", DAY1, "again", ("a", "b")),
                      messages=[{"text": "twice?"}])  # fmt: skip
    assert store.digest("slack:C1", DAY1).message == "again"  # a rebuild replaces the digest...
    assert len(store.outbox("slack:C1")) == 2  # ...but never queues the day's messages twice


def test_outbox_enqueues_once_and_updates(store: Store) -> None:
    assert store.enqueue("s", DAY1, [{"text": "header"}, {"text": "paper", "buttons": [1]}]) == 2
    assert store.enqueue("s", DAY1, [{"text": "again"}]) == 0
    assert store.enqueue("t", DAY1, [{"text": "other"}]) == 1
    rows = store.outbox("s")
    assert [(r["seq"], r["payload"], r["state"], r["attempts"]) for r in rows] == [
        (0, {"text": "header"}, "pending", 0),
        (1, {"text": "paper", "buttons": [1]}, "pending", 0),
    ]
    later = datetime(2026, 2, 10, 7, 30, tzinfo=UTC)  # delivery writes UTC; SQLite keeps no offset
    sent = datetime(2026, 2, 10, 6, 31, 5, tzinfo=UTC)
    store.update_outbox(rows[0]["id"], state="pending", attempts=1, not_before=later, error="429")
    store.update_outbox(rows[1]["id"], state="sent", message_id="1707550000.000100", sent_at=sent)
    first, second = store.outbox("s")
    assert (first["attempts"], first["error"]) == (1, "429")
    assert _utc(first["not_before"]) == later  # the same instant on every database
    assert _utc(second["sent_at"]) == sent and second["message_id"] == "1707550000.000100"
    assert [r["seq"] for r in store.outbox(states=("pending",))] == [0, 0]
    assert [r["subscription"] for r in store.outbox()] == ["s", "s", "t"]
    with pytest.raises(NotFoundError):
        store.update_outbox(10**6, state="sent")


def _utc(moment: datetime) -> datetime:
    """SQLite gives back naive UTC, PostgreSQL an aware datetime."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# accounting and explanations


def test_usage_and_spent(store: Store) -> None:
    store.record_usage(DAY1, "s", Usage("gpt-4o-mini", 1000, 200, 100, 0.25, reasoning_tokens=60))
    store.record_usage(DAY1, "t", Usage("gpt-4o-mini", 500, 0, 50, 0.125, reasoning_tokens=8))
    store.record_usage(DAY1, "s", Usage("local-llama", 300, 0, 30, None))  # unpriced
    store.record_usage(DAY2, "s", Usage("gpt-4o-mini", 10, 0, 1, 0.5))
    store.record_usage(DAY2, "s", Usage("nothing", 0, 0, 0, 9.0))  # no tokens: not recorded
    assert store.usage() == [
        (DAY1, Usage("gpt-4o-mini", 1500, 200, 150, 0.375, reasoning_tokens=68)),
        (DAY1, Usage("local-llama", 300, 0, 30, None)),
        (DAY2, Usage("gpt-4o-mini", 10, 0, 1, 0.5)),
    ]
    assert store.spent(DAY1) == pytest.approx(0.375)
    assert store.spent(DAY2) == pytest.approx(0.5)
    assert store.spent(DAY3) == 0


def test_explanations(store: Store) -> None:
    assert store.explanation("a", "h1", "gpt-4o") is None
    store.save_explanation("a", "h1", "gpt-4o", "Because " + "it matters. " * 1000)
    assert store.explanation("a", "h1", "gpt-4o").startswith("Because it matters.")
    assert store.explanation("a", "h1", "other") is None


# migrations


def _revision(url: str) -> str | None:
    engine = create_engine(url)
    with engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
    engine.dispose()
    return revision


def test_a_new_store_is_at_head(store_url: str) -> None:
    Store(store_url).close()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head == schema_head() == HEAD == "0008"  # HEAD: the fast check at every start
    assert _revision(store_url) == head


def test_a_second_store_migrates_nothing(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first = Store(store_url)
    first.save_listing(DAY1, [_paper("a")])
    first.close()

    def refuse(*args: object, **kw: object) -> None:
        raise AssertionError("a store at head ran alembic")

    monkeypatch.setattr(command, "upgrade", refuse)
    monkeypatch.setattr(command, "stamp", refuse)
    second = Store(store_url)
    assert [p.id for p in second.papers_of_day(DAY1)] == ["a"]
    second.close()
    assert _revision(store_url) == "0008"


def test_models_and_migrations_do_not_drift(store_url: str) -> None:
    Store(store_url).close()
    engine = create_engine(store_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == [], "models and migrations differ: add a migration (alembic autogenerate)"


def test_migrations_go_down_and_up(store_url: str) -> None:
    Store(store_url).close()
    engine = create_engine(store_url)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    Store(store_url).close()
    assert _revision(store_url) == "0008"


def test_a_store_made_before_migrations_is_stamped(store_url: str) -> None:
    engine = create_engine(store_url)
    tables = [t for name, t in Base.metadata.tables.items() if name != "explanations"]
    Base.metadata.create_all(engine, tables=tables)  # an older paperdigest: one table fewer
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO labels (paper_id, criteria_hash, label, source) "
                          "VALUES ('a', 'h1', 1.0, 'reference')"))  # fmt: skip
    engine.dispose()

    store = Store(store_url)
    assert store.labels("h1") == {"a": 1.0}  # the data is kept
    store.save_explanation("a", "h1", "m", "the missing table was made")
    assert store.explanation("a", "h1", "m") == "the missing table was made"
    store.close()
    assert _revision(store_url) == "0008"


def test_a_store_at_0004_keeps_its_usage_and_scores_with_no_reasoning(store_url: str) -> None:
    engine = create_engine(store_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0004")
        conn.execute(text("INSERT INTO usage (day, model, subscription, prompt_tokens, "
                          "cached_tokens, completion_tokens, cost) "
                          "VALUES ('2026-02-10', 'llm:gpt-5', 's', 100, 0, 40, 0.5)"))  # fmt: skip
    engine.dispose()
    store = Store(store_url)
    assert store.usage() == [(DAY1, Usage("llm:gpt-5", 100, 0, 40, 0.5, reasoning_tokens=0))]
    store.save_scores([Score("a", 9, 8, "c", None, "llm:gpt-5", completion_tokens=50,
                             reasoning_tokens=30)], "h", "llm:gpt-5")  # fmt: skip
    assert store.scores(["a"], "h", "llm:gpt-5")["a"].reasoning_tokens == 30
    store.close()
    assert _revision(store_url) == "0008"


def test_a_store_newer_than_the_code_is_refused(store_url: str) -> None:
    Store(store_url).close()
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(DigestError, match="schema revision 9999, newer than this paperdigest"):
        Store(store_url)


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # SQLite: one writer
def test_stores_opened_at_once_migrate_once(store_url: str) -> None:
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            Store(store_url).close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _revision(store_url) == "0008"


def test_a_memory_store_keeps_what_it_is_given() -> None:
    store = Store("sqlite:///:memory:")
    store.save_listing(DAY1, [_paper("a")])
    assert [p.id for p in store.papers_of_day(DAY1)] == ["a"]
    store.close()


def test_a_store_at_0001_upgrades_and_keeps_its_outbox(store_url: str) -> None:
    """A message left `sending` by a paperdigest before claims is in doubt after the upgrade."""
    from datetime import timedelta

    engine = create_engine(store_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
        conn.execute(text("INSERT INTO outbox (subscription, day, seq, payload, state, attempts) "
                          "VALUES ('s', '2026-02-10', 0, '{}', 'sending', 1)"))  # fmt: skip
    engine.dispose()
    store = Store(store_url)
    [row] = store.outbox()
    assert row["state"] == "sending" and row["claimed_by"] is None and not row["doubt"]
    assert store.claim_message(row["id"], "worker", timedelta(seconds=5)) == "in doubt"
    assert store.claim_message(row["id"], "other", timedelta(seconds=5)) is None  # claimed
    store.close()
    assert _revision(store_url) == "0008"


def test_digests_stored_before_0004_are_read_as_typed_digests(store_url: str) -> None:
    """A digest stored by paperdigest 0003 (selected `papers`, whole `ranking`) is kept."""
    row = {"id": "2602.00001", "rank": 1, "relevance": 9, "novelty": 8, "comment": "fits",
           "matched": "MoE", "scorer": "local", "selected": True, "followed": False,
           "reason": "above the cutoffs"}  # fmt: skip
    old = {
        "date": "2026-02-10", "status": "built", "message": "", "subscription": "slack:C1",
        "categories": ["cs.LG"], "totals": {"total_entries": 9, "scanned": 2, "selected": 1},
        "scorer": "local", "cutoffs": {"relevance": 8, "novelty": 7}, "criteria_hash": "h1",
        "usage": [{"model": "local", "prompt_tokens": 0, "cached_tokens": 0,
                   "completion_tokens": 0, "total_tokens": 0, "cost": 0.0}],
        "papers": [{**row, "title": "Mixture of Experts", "abstract": "A", "authors": []}],
        "ranking": [row, {**row, "id": "2602.00002", "rank": 2, "relevance": 3,
                          "selected": False, "reason": "below the cutoffs"}],
        "criteria_text": "## MoE", "prompt": "", "unscored": [],
    }  # fmt: skip
    engine = create_engine(store_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003")
        conn.execute(
            Base.metadata.tables["digests"].insert(),
            [{"subscription": "slack:C1", "day": DAY1, "status": "built", "message": "",
              "criteria_hash": "h1", "payload": old, "created_at": datetime.now(UTC)}],
        )  # fmt: skip
    engine.dispose()
    store = Store(store_url)
    store.save_listing(DAY1, [_paper("2602.00001")])
    digest = store.digest("slack:C1", DAY1)
    assert digest is not None and (digest.day, digest.scanned, digest.categories) == (
        DAY1, 2, ("cs.LG",),
    )  # fmt: skip
    assert [(e.paper.id, e.score.relevance, e.selected) for e in digest.entries] == [
        ("2602.00001", 9, True),
        ("2602.00002", 3, False),
    ]
    assert digest.entries[0].paper.title == _paper("2602.00001").title
    assert digest.usage[0].model == "local" and digest.cutoffs.novelty == 7
    store.close()

    engine = create_engine(store_url)  # and back down, for a paperdigest of 0003
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0003")
        payload = conn.execute(text("SELECT payload FROM digests")).scalar_one()
    engine.dispose()
    payload = json.loads(payload) if isinstance(payload, str) else payload
    assert [r["id"] for r in payload["ranking"]] == ["2602.00001", "2602.00002"]
    assert [p["title"] for p in payload["papers"]] == [_paper("2602.00001").title]


def test_a_query_bug_is_not_the_store_being_unreachable(tmp_path: Path) -> None:
    """SQLite reports a missing table as OperationalError too; only a locked or missing
    database is one that asking again later may help with."""
    import sqlite3

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from digest.store import store_unreachable

    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with engine.connect() as connection, pytest.raises(OperationalError) as bug:
        connection.execute(text("select nope from no_such_table"))
    assert not store_unreachable(bug.value)
    locked = OperationalError("select 1", {}, sqlite3.OperationalError("database is locked"))
    assert store_unreachable(locked)


def test_digests_stored_before_0007_share_one_ranking_and_go_back_down(store_url: str) -> None:
    """Two chats' digests of 0006 (each with the whole ranking) become one shared ranking and
    two small rows; `why` reads the same entries; the downgrade gives back each payload."""
    entries = [
        {"paper": {"id": f"2602.0000{i}"}, "rank": i,
         "score": {"paper_id": f"2602.0000{i}", "relevance": 10 - i, "novelty": 8,
                   "comment": f"fits {i}", "matched": "MoE", "scorer": "local", "raw": 0.5,
                   "prompt_tokens": 0, "cached_tokens": 0, "completion_tokens": 0,
                   "reasoning_tokens": 0, "cost": 0.0},
         "selected": i <= 2, "followed": False,
         "reason": f"relevance {10 - i} >= 8 and novelty 8 >= 7" if i <= 2 else
                   "below the cutoffs (relevance 7 vs >= 8, novelty 8 vs >= 7)"}
        for i in (1, 2, 3)
    ]  # fmt: skip
    entries[1]["selected"], entries[1]["reason"] = False, "hand-made: left out"
    entries[0] |= {"tldr": "It routes tokens to experts.", "tldr_by": "llm:gpt-5-mini"}
    payloads = {
        sub: {"day": "2026-02-10", "status": "built", "message": "2 of 3", "subscription": sub,
              "categories": ["cs.LG"], "total_entries": 3, "scanned": 3, "entries": entries,
              "usage": [], "scorer": "local", "cutoffs": {"relevance": 8, "novelty": 7},
              "criteria_text": "## MoE", "criteria_hash": "h1", "prompt": "P" * 3000,
              "already_shown": [], "unscored": [], "notes": []}
        for sub in ("slack:C1", "telegram:-2")
    }  # fmt: skip
    engine = create_engine(store_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0006")
        conn.execute(
            Base.metadata.tables["digests"].insert(),
            [{"subscription": sub, "day": DAY1, "status": "built", "message": "2 of 3",
              "criteria_hash": "h1", "payload": p, "created_at": datetime.now(UTC)}
             for sub, p in payloads.items()],
        )  # fmt: skip
    engine.dispose()
    store = Store(store_url)
    store.save_listing(DAY1, [_paper("2602.00001")])
    for sub in payloads:
        digest = store.digest(sub, DAY1)
        assert digest is not None and digest.prompt == "P" * 3000
        assert [(e.paper.id, e.rank, e.selected, e.reason) for e in digest.entries] == [
            (e["paper"]["id"], e["rank"], e["selected"], e["reason"]) for e in entries
        ]
        assert digest.entries[0].score.comment == "fits 1"
        assert digest.entries[0].tldr == "It routes tokens to experts."  # the chat's own
        assert digest.entries[0].paper.title == _paper("2602.00001").title
    store.close()
    engine = create_engine(store_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM rankings")).scalar_one() == 1
        own = conn.execute(text("SELECT payload FROM digests")).scalars().all()
        assert all(len(json.dumps(p) if not isinstance(p, str) else p) < 1000 for p in own)
    with engine.begin() as conn:  # and back down, for a paperdigest of 0006
        command.downgrade(alembic_config(conn), "0006")
        rows = conn.execute(text("SELECT subscription, payload FROM digests")).all()
        assert not inspect(conn).has_table("rankings")
    engine.dispose()
    back = {sub: json.loads(p) if isinstance(p, str) else p for sub, p in rows}
    assert back == payloads


def test_outbox_rows_stored_before_0008_lose_their_papers_fields_and_go_back_down(
    store_url: str,
) -> None:
    """A Slack and a Telegram message of 0007 (each card with its paper's title, link, authors
    and abstract) keep only the chat's own fields; drawn whole again they are what they were
    (a paper no longer stored keeps its fields); the downgrade gives back each payload."""
    from bot.chat import whole

    stored, gone = _paper("2602.00001", authors=("A. One", "B. Two")), "2602.00009"
    cards = [
        {"id": p, "title": f"Title {p}", "url": f"https://arxiv.org/abs/{p}", "authors": ["A. One"],
         "relevance": 9, "novelty": 8, "comment": "fits", "rank": i, "followed": None,
         "tldr": "It does a thing.", "tldr_extractive": False, "abstract": f"Abstract {p}."}
        for i, p in enumerate((stored.id, gone), 1)
    ]  # fmt: skip
    cards[0] |= {"title": stored.title, "authors": list(stored.authors),
                 "abstract": stored.abstract}  # fmt: skip
    payloads = [
        {"reply": {"title": "paperdigest 2026-02-10", "lines": ["2 papers"], "papers": cards,
                   "ephemeral": False, "error": False, "buttons": []}, "in_thread": False},
        {"text": "<b>paperdigest</b>", "keyboard": None, "in_thread": False, "head": "",
         "cards": cards},
    ]  # fmt: skip
    engine = create_engine(store_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0007")
        conn.execute(Base.metadata.tables["papers"].insert(),
                     [{"id": stored.id, "title": stored.title, "abstract": stored.abstract,
                       "authors": list(stored.authors), "categories": []}])  # fmt: skip
        conn.execute(
            Base.metadata.tables["outbox"].insert(),
            [{"subscription": "slack:C1", "day": DAY1, "seq": i, "payload": p, "state": "sent",
              "attempts": 0, "doubt": False} for i, p in enumerate(payloads)],
        )  # fmt: skip
    engine.dispose()
    store = Store(store_url)
    lean = [r["payload"] for r in store.outbox("slack:C1")]
    lean_cards = [lean[0]["reply"]["papers"], lean[1]["cards"]]
    for kept in lean_cards:
        assert "abstract" not in kept[0] and "title" not in kept[0]  # the papers table has them
        assert kept[0]["comment"] == "fits" and kept[1]["abstract"] == f"Abstract {gone}."
    assert whole(store, lean) == payloads
    store.close()
    with engine.begin() as conn:  # and back down, for a paperdigest of 0007
        command.downgrade(alembic_config(conn), "0007")
        rows = conn.execute(text("SELECT payload FROM outbox ORDER BY seq")).scalars().all()
    engine.dispose()
    assert [json.loads(p) if isinstance(p, str) else p for p in rows] == payloads


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # a server to drop it
def test_a_connection_the_server_dropped_is_replaced_once_idle(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled PostgreSQL connection is pinged only after a pause: one the server dropped
    (a restart, an idle timeout) is then replaced unseen. Within the pause no ping is spent,
    so an operation meets the drop once, as an unreachable store, and the next one works."""
    import digest.store

    sub = Subscription("slack:C1", "slack", "C1")
    store.save_subscription(sub)

    def drop_the_pooled_connection() -> None:
        with store.engine.connect() as c:
            pid = c.execute(text("SELECT pg_backend_pid()")).scalar_one()
        admin = create_engine(store.dsn)
        with admin.connect() as c:
            c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.dispose()

    monkeypatch.setattr(digest.store, "PING_IDLE_SECONDS", 3600.0)  # always "just used"
    drop_the_pooled_connection()
    with pytest.raises(Exception) as met:
        store.subscription(sub.id)
    assert store_unreachable(met.value)
    assert store.subscription(sub.id) == sub  # the pool started afresh

    monkeypatch.setattr(digest.store, "PING_IDLE_SECONDS", 0.0)  # always idle: pinged
    drop_the_pooled_connection()
    assert store.subscription(sub.id) == sub
