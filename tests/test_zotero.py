"""The Zotero sync: `zotero users/123` links a library (read by the real pyzotero from a loopback
Zotero Web API v3, page by page), its items with an arXiv paper become wanted examples, and the
daily sync (under a claim: one worker of two) adds and removes them as the library changes;
examples added with `like` stay. A missing key or a Zotero error is one line and loses nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.chat.commands import Context, Deps, handle
from bot.service.zotero_sync import ZoteroSync
from digest.config import load_settings
from digest.criteria import Criteria
from digest.examples import ZOTERO, of_chat
from digest.papers import Paper, read_sample
from digest.scoring.factory import make_scorer
from digest.store import Store
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.semantic_scholar import FakeSemanticScholar
from tests.fakes.zotero_api import FakeZotero, article, note, preprint

KEY = "P9NiFoyLeZu2bZNvvuQPDWsd"
OWNER = Context("slack", "C1", "UOWNER")
MEMBER = Context("slack", "C1", "UMEMBER")
LIB = "users/123"


@pytest.fixture
def papers() -> list[Paper]:
    return [replace(p, id=f"2601.{92000 + i}") for i, p in enumerate(read_sample()[:8])]


@pytest.fixture
def zot(papers: list[Paper]) -> Iterator[FakeZotero]:
    """A library of 7 top-level items, 2 a page: 3 arXiv preprints, an article whose arXiv id
    is only in Extra, one whose DOI Semantic Scholar maps to an arXiv id, one whose DOI has no
    arXiv version, and a note."""
    with FakeZotero(key=KEY, page_max=2) as fake:
        for p in papers[:3]:
            fake.add(LIB, preprint(p.id, p.title), collection="ABCD2345")
        fake.add(LIB, article("Extra only", extra=f"arXiv: {papers[3].id}"))
        fake.add(LIB, article("Behind a DOI", doi="10.1145/3600001"))
        fake.add(LIB, article("No preprint", doi="10.1038/s41586-99"))
        fake.add(LIB, note("read this next week"))
        yield fake


@pytest.fixture
def deps(
    scored_store: Store, papers: list[Paper], zot: FakeZotero, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deps]:
    dois = {"10.1145/3600001": papers[4].id, "10.1038/s41586-99": ""}
    with FakeArxiv(papers=papers) as arxiv, FakeSemanticScholar(dois) as s2:
        env = {"PAPERDIGEST_ARXIV_EXPORT_URL": arxiv.api_url_format,
               "PAPERDIGEST_ARXIV_EXPORT_DELAY": "0", "PAPERDIGEST_LIBRARY_DOI_URL": s2.url,
               "PAPERDIGEST_LIBRARY_ZOTERO_URL": zot.url}  # fmt: skip
        settings = load_settings(env=env)
        deps = Deps(scored_store, settings,
                    lambda c: make_scorer("local", scored_store, c, settings))  # fmt: skip
        assert asyncio.run(handle("subscribe", OWNER, deps)).title == "Subscribed"
        monkeypatch.setenv("ZOTERO_API_KEY", KEY)
        yield deps


def say(text: str, deps: Deps, ctx: Context = OWNER):
    return asyncio.run(handle(text, ctx, deps))


def examples(deps: Deps, criteria: Criteria, origin: str | None = None) -> set[str]:
    return set(of_chat(deps.store, criteria, "slack:C1", origin))


def test_the_sync_adds_and_removes_examples_as_the_library_changes(
    deps: Deps, criteria: Criteria, zot: FakeZotero, papers: list[Paper]
) -> None:
    ids = [p.id for p in papers]
    reply = say(f"zotero {LIB}", deps)
    assert reply.title == f"Zotero {LIB} linked", reply.text()
    assert "6 items read: 5 examples added, 0 removed, 1 items without an arXiv paper" in (
        reply.text()
    )
    assert "No preprint: DOI 10.1038/s41586-99: no arXiv version" in reply.text()
    assert examples(deps, criteria) == set(ids[:5])
    pages = [q for path, q in zot.requests if path.endswith("/items/top")]
    assert len(pages) == 4 and pages[-1]["start"] == ["6"]  # 7 items, 2 a page, by Link
    assert "Zotero: users/123, read daily" in say("settings", deps, MEMBER).text()
    say(f"like {ids[0]}", deps)  # liked too: stays when it leaves Zotero

    keys = list(zot.libraries[LIB].items or {})
    zot.remove(LIB, keys[0])  # papers[0]
    zot.remove(LIB, keys[3])  # "Extra only": papers[3]
    zot.add(LIB, preprint(ids[5], papers[5].title))
    zot.add(LIB, preprint(ids[6], papers[6].title))
    sync = ZoteroSync(deps.store, deps.settings)
    now = datetime(2026, 2, 11, 5, 0, tzinfo=UTC)

    async def two_workers() -> list[dict]:
        return list(await asyncio.gather(sync.run(now), sync.run(now)))

    runs = asyncio.run(two_workers())
    done = [r["slack:C1"] for r in runs if r]
    assert len(done) == 1, runs  # one worker synced the chat, the other found it taken
    assert sorted(done[0].added) == ids[5:7] and done[0].removed == [ids[3]]
    assert examples(deps, criteria) == {ids[0], ids[1], ids[2], ids[4], ids[5], ids[6]}
    assert examples(deps, criteria, ZOTERO) == {ids[1], ids[2], ids[4], ids[5], ids[6]}
    assert asyncio.run(sync.run(now)) == {}  # today's sync is done: not again

    collection = say(f"zotero {LIB} ABCD2345", deps)  # one collection only: papers 1 and 2
    assert "removed" in collection.text() and examples(deps, criteria, ZOTERO) == set(ids[1:3])
    off = say("zotero off", deps)
    assert "2 examples that came from Zotero removed" in off.text()
    assert examples(deps, criteria) == {ids[0]}
    assert "Zotero: none" in say("settings", deps).text()


def test_zotero_errors_are_one_line_and_lose_nothing(
    deps: Deps,
    criteria: Criteria,
    zot: FakeZotero,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert not say(f"zotero {LIB}", deps).error
    before = examples(deps, criteria)
    assert len(before) == 5
    cases = {
        "zotero user/abc": "is not a Zotero library",
        "zotero users/123 nope": "is not a Zotero collection key",
        "zotero users/123 ZZZZ9999": "Zotero has no collection ZZZZ9999 of users/123 (404)",
        "zotero groups/456": "Zotero refused to show groups/456",
        "zotero": "usage: zotero",
    }
    for text, says in cases.items():
        reply = say(text, deps)
        assert reply.error and says in reply.text() and len(reply.lines) == 1, (text, reply)
    assert say("zotero off", deps, MEMBER).title == "Not allowed"
    zot.fail(503)
    assert "Zotero could not be read" in say(f"zotero {LIB}", deps).text()
    monkeypatch.delenv("ZOTERO_API_KEY")
    assert "ZOTERO_API_KEY is not set" in say(f"zotero {LIB}", deps).text()
    assert examples(deps, criteria) == before
    assert deps.store.subscription("slack:C1").zotero_library == LIB  # unchanged

    sync = ZoteroSync(deps.store, deps.settings)
    now = datetime(2026, 2, 11, 5, 0, tzinfo=UTC)
    with caplog.at_level(logging.WARNING, logger="bot.service.zotero_sync"):
        assert asyncio.run(sync.run(now)) == {}
        monkeypatch.setenv("ZOTERO_API_KEY", KEY)
        assert asyncio.run(sync.run(now)) == {}
    lines = [r.getMessage() for r in caplog.records]
    assert "ZOTERO_API_KEY is not set" in lines[0] and len(lines) == 2, lines
    assert "Zotero sync of users/123 failed, its examples stay as they are" in lines[1]
    assert KEY not in " ".join(lines)
    assert examples(deps, criteria) == before
