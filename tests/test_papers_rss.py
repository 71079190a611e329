"""arXiv RSS: parse the real rss.arxiv.org feeds, merge them, fetch them from a loopback fake."""

from __future__ import annotations

import asyncio
import re
from datetime import date

import httpx
import pytest

from digest.errors import FeedParseError, FetchError
from digest.papers.rss import (
    Feed,
    feed_staleness,
    fetch_feeds,
    merge_feeds,
    parse_feed,
    split_authors,
)
from tests.fakes.arxiv import FakeArxiv, closed_port, recorded_rss

LG = recorded_rss("cs.LG")
AI = recorded_rss("cs.AI")
DAY = date(2026, 4, 27)
ITEM_RE = re.compile(rb"\s*<item>.*?</item>", re.S)


def with_types(raw: bytes, *types: str) -> bytes:
    """The feed with its items' announce types set to `types`, in order."""
    items = iter(types)
    return ITEM_RE.sub(
        lambda m: m.group(0).replace(b">new<", b">" + next(items).encode() + b"<", 1), raw
    )


def empty_channel(raw: bytes) -> bytes:
    return ITEM_RE.sub(b"", raw)


def lg_item_in_ai_feed() -> bytes:
    """The cs.AI feed plus the cs.LG paper 2604.21952 (which lists cs.AI) as a cross-list."""
    item = ITEM_RE.search(LG).group(0).replace(b">new<", b">cross<")
    return AI.replace(b"\n    </channel>", item + b"\n    </channel>", 1)


def test_parse_real_lg_feed() -> None:
    feed = parse_feed(LG, "cs.LG")
    assert feed.category == "cs.LG"
    assert feed.pub_date == DAY
    assert [(p.id, p.version) for p in feed.entries] == [
        ("2604.21952", 1),
        ("2604.21953", 1),
        ("2604.21956", 1),
    ]
    first = feed.entries[0]
    assert first.title == (
        "Focus Session: Hardware and Software Techniques for Accelerating Multimodal "
        "Foundation Models"
    )
    assert first.abstract.startswith("This work presents a multi-layered methodology")
    assert "visual resolution & stride" in first.abstract
    assert first.authors[0] == "Muhammad Shafique"
    assert first.authors[-1] == "Minghao Shao"
    assert len(first.authors) == 6
    assert first.categories == ("cs.LG", "cs.AI", "cs.AR", "cs.NE", "cs.RO")
    assert first.primary_category == "cs.LG"
    assert first.announce_type == "new"
    assert first.feeds == {"cs.LG": "new"}
    assert feed.entries[2].categories == ("cs.LG",)
    assert len(feed.entries[2].authors) == 5


def test_parse_real_ai_feed_strips_prefix_and_splits_authors() -> None:
    feed = parse_feed(AI.decode("utf-8"), "cs.AI")
    assert feed.pub_date == DAY
    assert [p.id for p in feed.entries] == ["2604.21935", "2604.21936", "2604.21937"]
    for paper in feed.entries:
        assert not paper.abstract.startswith("arXiv:")
        assert "Announce Type" not in paper.abstract
        assert paper.primary_category == "cs.AI"
    assert feed.entries[0].authors == ("Michael Cooper", "Samuel Cooper")
    assert len(feed.entries[1].authors) == 18
    assert "Aravind R. Krishnan" in feed.entries[1].authors
    assert len(feed.entries[2].authors) == 17
    assert feed.entries[1].categories == ("cs.AI", "cs.CV", "cs.MA")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("A One, B Two", ("A One", "B Two")),
        ("A One, B Two and C Three", ("A One", "B Two", "C Three")),
        ("A One, B Two, and C Three", ("A One", "B Two", "C Three")),
        ("Alexandra Sanders", ("Alexandra Sanders",)),
        ("", ()),
    ],
)
def test_split_authors(raw: str, expected: tuple[str, ...]) -> None:
    assert split_authors(raw) == expected


def test_merge_real_feeds() -> None:
    listing = merge_feeds([parse_feed(LG, "cs.LG"), parse_feed(AI, "cs.AI")])
    assert (listing.total_entries, listing.kept_entries, listing.unique) == (6, 6, 6)
    assert [p.id for p in listing.papers][:3] == ["2604.21952", "2604.21953", "2604.21956"]


def test_merge_counts_a_shared_paper_once() -> None:
    ai = parse_feed(lg_item_in_ai_feed(), "cs.AI")
    assert [p.announce_type for p in ai.entries] == ["new", "new", "new", "cross"]
    for order in ([parse_feed(LG, "cs.LG"), ai], [ai, parse_feed(LG, "cs.LG")]):
        listing = merge_feeds(order)
        assert (listing.total_entries, listing.kept_entries, listing.unique) == (7, 7, 6)
        shared = next(p for p in listing.papers if p.id == "2604.21952")
        assert shared.feeds == {"cs.LG": "new", "cs.AI": "cross"}
        assert shared.announce_type == "new"
    assert ai.entries[3].feeds == {"cs.AI": "cross"}  # the input is not mutated


def test_replacements_are_dropped_unless_kept() -> None:
    lg = parse_feed(with_types(LG, "new", "replace", "replace-cross"), "cs.LG")
    ai = parse_feed(with_types(AI, "cross", "new", "replace"), "cs.AI")
    assert [p.announce_type for p in lg.entries] == ["new", "replace", "replace-cross"]
    listing = merge_feeds([lg, ai])
    assert (listing.total_entries, listing.kept_entries, listing.unique) == (6, 3, 3)
    assert [p.id for p in listing.papers] == ["2604.21952", "2604.21935", "2604.21936"]
    everything = merge_feeds([lg, ai], keep={"new", "cross", "replace", "replace-cross"})
    assert (everything.total_entries, everything.kept_entries, everything.unique) == (6, 6, 6)


def test_empty_channel_is_not_an_error() -> None:
    feed = parse_feed(empty_channel(LG), "cs.LG")
    assert feed == Feed(category="cs.LG", pub_date=DAY, entries=())
    listing = merge_feeds([feed])
    assert (listing.total_entries, listing.kept_entries, listing.unique) == (0, 0, 0)


@pytest.mark.parametrize(
    "body",
    [
        LG.replace(b"</title>", b"</titel>", 1),
        LG[: len(LG) // 2],
        b"<html><body><h1>Service Unavailable</h1></body></html>",
        b"this is not xml at all",
        b"",
    ],
)
def test_malformed_feed_names_the_feed(body: bytes) -> None:
    with pytest.raises(FeedParseError, match=r"^arXiv feed cs\.LG is not a valid RSS feed \("):
        parse_feed(body, "cs.LG")


def test_malformed_xml_reports_the_line() -> None:
    broken = LG.replace(b"</title>", b"</titel>", 1)
    with pytest.raises(FeedParseError, match=r"\(line 3: mismatched tag\)"):
        parse_feed(broken, "cs.LG")
    declared = b'<?xml version="1.0" encoding="UTF-8"?>\n' + broken
    with pytest.raises(FeedParseError, match=r"\(line 4: mismatched tag\)"):
        parse_feed(declared.decode("utf-8"), "cs.LG")


def test_staleness() -> None:
    lg = parse_feed(LG, "cs.LG")
    ai = parse_feed(AI.replace(b"27 Apr 2026", b"24 Apr 2026"), "cs.AI")
    assert ai.pub_date == date(2026, 4, 24)
    assert feed_staleness([lg, ai], None) == (
        "feed cs.AI is stale: it carries the announcement of 2026-04-24, the others 2026-04-27"
    )
    assert feed_staleness([lg, parse_feed(AI, "cs.AI")], DAY) is None
    assert feed_staleness([lg], date(2026, 4, 28)) == (
        "feed cs.LG is stale: it carries the announcement of 2026-04-27, expected 2026-04-28"
    )
    empty_old = parse_feed(empty_channel(AI.replace(b"27 Apr 2026", b"24 Apr 2026")), "cs.AI")
    assert feed_staleness([lg, empty_old], None) is None


def fetch(categories: list[str], base_url: str) -> list[Feed]:
    async def run() -> list[Feed]:
        async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
            return await fetch_feeds(categories, client, base_url=base_url)

    return asyncio.run(run())


def test_fetch_feeds_from_loopback() -> None:
    with FakeArxiv(rss={"cs.LG": LG, "cs.AI": AI}) as fake:
        feeds = fetch(["cs.LG", "cs.AI"], fake.rss_base_url)
    assert [f.category for f in feeds] == ["cs.LG", "cs.AI"]
    assert [len(f.entries) for f in feeds] == [3, 3]
    assert sorted(fake.requests) == ["/rss/cs.AI", "/rss/cs.LG"]
    assert merge_feeds(feeds).unique == 6


def test_fetch_feeds_http_error() -> None:
    with FakeArxiv(rss={"cs.LG": LG, "cs.AI": AI}) as fake:
        fake.fail("cs.AI", 503)
        url = f"{fake.rss_base_url}cs.AI"
        with pytest.raises(FetchError) as info:
            fetch(["cs.LG", "cs.AI"], fake.rss_base_url)
    assert str(info.value) == (
        f"could not fetch arXiv feed cs.AI ({url}): HTTP 503 Service Unavailable"
    )
    assert not isinstance(info.value, FeedParseError)


def test_fetch_feeds_garbage_body() -> None:
    with FakeArxiv(rss={"cs.LG": LG}) as fake:
        fake.garbage("cs.LG")
        with pytest.raises(FeedParseError, match=r"^arXiv feed cs\.LG is not a valid RSS feed"):
            fetch(["cs.LG"], fake.rss_base_url)


def test_fetch_feeds_closed_port() -> None:
    base = f"http://127.0.0.1:{closed_port()}/rss/"
    with pytest.raises(FetchError) as info:
        fetch(["cs.LG"], base)
    message = str(info.value)
    assert message.startswith(f"could not fetch arXiv feed cs.LG ({base}cs.LG): ConnectError")
    assert "\n" not in message
