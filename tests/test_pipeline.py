"""One day end to end on the real sample day, and every day status."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date

import httpx
import pytest

from digest.config import load_settings
from digest.criteria import Criteria
from digest.day import Cutoffs, DayStatus
from digest.papers import Paper
from digest.pipeline import DayListing, build_digest, fetch_listing, sample_listing
from digest.scoring import Score
from digest.scoring.local import LocalScorer
from digest.store import Store
from tests.fakes.arxiv import FakeArxiv, closed_port, recorded_rss

SAMPLE_DAY = date(2026, 2, 10)


class CountingScorer:
    """The real local scorer, counting the papers it is asked to score."""

    def __init__(self) -> None:
        self.inner = LocalScorer()
        self.name = self.inner.name
        self.asked: list[str] = []

    async def score(self, papers: list[Paper], criteria: Criteria) -> list[Score]:
        self.asked += [p.id for p in papers]
        return await self.inner.score(papers, criteria)


def run(store: Store, listing: DayListing, criteria: Criteria, scorer=None, **kw):
    return asyncio.run(build_digest(store, listing, criteria, scorer or CountingScorer(), **kw))


def test_sample_day_digest(scored_store: Store, criteria: Criteria) -> None:
    digest = run(scored_store, sample_listing(), criteria)
    selected = digest.selected
    assert digest.status is DayStatus.BUILT
    assert digest.scanned == 692
    assert digest.total_entries == 855  # cs.LG + cs.AI entries; a paper in both counts twice
    assert 60 <= len(selected) <= 110  # about the reference's 82
    # the reference's followed authors (Bengio, LeCun) lead, marked as author matches
    assert [e.paper.id for e in selected[:2]] == ["2602.08235", "2602.08968"]
    assert all(e.followed and e.score.comment == "Author match" for e in selected[:2])
    for e in selected[2:]:
        assert e.score.relevance >= 8 and e.score.novelty >= 7
        assert e.score.matched, "a selected paper names the criterion it matched"
    sums = [(e.score.relevance + e.score.novelty, e.score.relevance) for e in selected[2:]]
    assert sums == sorted(sums, reverse=True)
    unselected = [e for e in digest.entries if not e.selected]
    assert all("below the cutoffs" in e.reason for e in unselected)


def test_rerun_costs_nothing_and_gives_the_same_digest(
    scored_store: Store, criteria: Criteria
) -> None:
    first = scored_store.digest("default", SAMPLE_DAY)
    scorer = CountingScorer()
    again = run(scored_store, sample_listing(), criteria, scorer)
    assert scorer.asked == []
    assert again.usage[0].total_tokens == 0 and again.usage[0].cost == 0
    assert first is not None
    assert [e.paper.id for e in first.selected] == [e.paper.id for e in again.selected]


def test_changed_criteria_scores_again(scored_store: Store, criteria: Criteria) -> None:
    narrower = replace(criteria, topics=criteria.topics[:1])
    few = replace(sample_listing(), papers=sample_listing().papers[:5])
    scorer = CountingScorer()
    run(scored_store, few, narrower, scorer)
    assert len(scorer.asked) == 5
    assert scored_store.criteria_versions("default") == []  # building a digest writes none


def test_followed_authors_skip_the_scorer(scored_store: Store, criteria: Criteria) -> None:
    follow = criteria.with_authors(("Shihao Yang",))  # author of "Free Energy Mixer"
    scorer = CountingScorer()
    digest = run(scored_store, sample_listing(), follow, scorer)
    mine = [e for e in digest.selected if e.followed]
    assert "2602.07160" in [e.paper.id for e in mine]
    assert "2602.07160" not in scorer.asked
    assert digest.selected[: len(mine)] == mine


def test_no_repeats_across_days(scored_store: Store, criteria: Criteria) -> None:
    day1 = run(scored_store, sample_listing(), criteria)
    shown = day1.selected[3].paper
    chosen = {e.paper.id for e in day1.selected}
    others = [p for p in sample_listing().papers if p.id not in chosen][:20]
    again = replace(shown, version=2)  # the same paper, a new version
    day2 = DayListing(date(2026, 2, 11), DayStatus.BUILT, "next day", [again, *others], 21)
    digest = run(scored_store, day2, criteria)
    entry = digest.entry(shown.id)
    assert entry is not None and not entry.selected
    assert entry.reason == "already shown on an earlier day"
    assert digest.already_shown == (shown.id,)
    # without no_repeats the paper is back
    assert run(scored_store, day2, criteria, no_repeats=False).entry(shown.id).selected


def test_top_k_and_cutoffs(scored_store: Store, criteria: Criteria) -> None:
    digest = run(scored_store, sample_listing(), criteria, top_k=5, cutoffs=Cutoffs(9, 8))
    scored = [e for e in digest.selected if not e.followed]
    assert len(scored) == 5
    assert all(e.score.relevance >= 9 and e.score.novelty >= 8 for e in scored)


def fetch(fake_url: str, **env: str) -> DayListing:
    settings = load_settings(env={"PAPERDIGEST_ARXIV_RSS_URL": fake_url, **env})

    async def go() -> DayListing:
        async with httpx.AsyncClient(timeout=5) as client:
            return await fetch_listing(settings, client, expected=date(2026, 4, 27))

    return asyncio.run(go())


def empty(raw: bytes) -> bytes:
    head, _, rest = raw.partition(b"<item>")
    return head + b"</channel>\n</rss>" if rest else raw


def test_status_built_from_real_feeds(tmp_path, criteria: Criteria) -> None:
    with FakeArxiv() as fake:
        listing = fetch(fake.rss_base_url)
    assert listing.status is DayStatus.BUILT
    assert listing.day == date(2026, 4, 27)
    assert len(listing.papers) == 6 and listing.total_entries == 6


def test_status_no_announcement(tmp_path, criteria: Criteria) -> None:
    feeds = {c: empty(recorded_rss(c)) for c in ("cs.LG", "cs.AI")}
    with FakeArxiv(rss=feeds) as fake:
        listing = fetch(fake.rss_base_url)
    assert listing.status is DayStatus.NO_ANNOUNCEMENT
    store = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    digest = run(store, listing, criteria)
    assert digest.entries == [] and store.digest("default").status is DayStatus.NO_ANNOUNCEMENT


def test_one_empty_feed_is_named_in_the_chat_header(tmp_path, criteria: Criteria) -> None:
    from bot.service.outbox import digest_messages

    feeds = {"cs.LG": recorded_rss("cs.LG"), "cs.AI": empty(recorded_rss("cs.AI"))}
    with FakeArxiv(rss=feeds) as fake:
        listing = fetch(fake.rss_base_url)
    assert listing.status is DayStatus.BUILT and listing.empty_feeds == ("cs.AI",)
    store = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    digest = run(store, listing, criteria, categories=("cs.LG", "cs.AI"))
    header, _ = digest_messages(digest)
    assert "note: the cs.AI feed was empty today" in header.lines
    assert "cs.AI feed was empty" in digest.message


def test_status_stale_feed() -> None:
    stale = recorded_rss("cs.AI").replace(b"27 Apr 2026", b"24 Apr 2026")
    with FakeArxiv(rss={"cs.LG": recorded_rss("cs.LG"), "cs.AI": stale}) as fake:
        listing = fetch(fake.rss_base_url)
    assert listing.status is DayStatus.STALE_FEED
    assert "cs.AI" in listing.message and "2026-04-24" in listing.message


def test_status_fetch_failed_names_the_feed() -> None:
    listing = fetch(f"http://127.0.0.1:{closed_port()}/rss/")
    assert listing.status is DayStatus.FETCH_FAILED
    assert "cs.LG" in listing.message


def test_status_malformed_feed() -> None:
    with FakeArxiv() as fake:
        fake.garbage("cs.AI")
        listing = fetch(fake.rss_base_url)
    assert listing.status is DayStatus.FETCH_FAILED
    assert "cs.AI" in listing.message


@pytest.mark.parametrize("kind", ["replace", "replace-cross"])
def test_replacements_kept_only_when_configured(kind: str) -> None:
    raw = recorded_rss("cs.LG").replace(
        b"<arxiv:announce_type>new</arxiv:announce_type>",
        f"<arxiv:announce_type>{kind}</arxiv:announce_type>".encode(),
        1,
    )
    with FakeArxiv(rss={"cs.LG": raw, "cs.AI": recorded_rss("cs.AI")}) as fake:
        default = fetch(fake.rss_base_url)
        kept = fetch(fake.rss_base_url, PAPERDIGEST_ARXIV_ANNOUNCE_TYPES=f"new,cross,{kind}")
    assert len(default.papers) == 5 and default.total_entries == 6
    assert len(kept.papers) == 6


def test_chats_with_the_same_criteria_share_the_days_ranking(
    scored_store: Store, criteria: Criteria
) -> None:
    """A chat's digest row keeps what is its own; the day's ranking is stored once, and each
    chat reads it back whole, with its own cutoffs, top-k and what no-repeats removed."""
    from sqlalchemy import text

    from tests.conftest import sample_digest

    def rows(sql: str) -> list:
        with scored_store.engine.connect() as conn:
            return conn.execute(text(sql)).all()

    def seen(entries: list) -> list:
        return [(e.paper.id, e.paper.title, e.score, e.rank, e.selected, e.reason) for e in entries]

    [(rankings,)] = rows("SELECT count(*) FROM rankings")
    scored_store.mark_shown("slack:C2", date(2026, 2, 9), ["2602.08007"])
    c1 = sample_digest(scored_store, criteria, "slack:C1")
    c2 = sample_digest(scored_store, criteria, "slack:C2", cutoffs=Cutoffs(6, 5), top_k=3)
    assert rows("SELECT count(*) FROM rankings") == [(rankings,)]  # the first build's
    for sub, digest in (("slack:C1", c1), ("slack:C2", c2)):
        stored = scored_store.digest(sub)
        assert stored is not None and seen(stored.entries) == seen(digest.entries)
        assert len(stored.entries) == 692 and stored.prompt == digest.prompt
    back = scored_store.digest("slack:C2")
    assert back is not None and back.top_k == 3 and back.selected != c1.selected
    assert back.entry("2602.08007").reason == "already shown on an earlier day"
    sizes = rows("SELECT length(payload) FROM digests WHERE subscription LIKE 'slack:%'")
    assert all(size < 8_000 for (size,) in sizes), sizes  # the whole ranking was 350 kB
