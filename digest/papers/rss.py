"""arXiv RSS feeds (rss.arxiv.org): parse saved responses, merge feeds, fetch a day.

Parsing is kept apart from fetching so every parser runs on recorded responses.
"""

from __future__ import annotations

import asyncio
import re
import xml.sax
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from email.utils import parsedate_to_datetime

import feedparser
import httpx

from digest.errors import FeedParseError, FetchError
from digest.papers import Paper, split_id

DEFAULT_BASE_URL = "https://rss.arxiv.org/rss/"
DEFAULT_KEEP = frozenset({"new", "cross"})

_PREFIX_RE = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*\S+\s*(?:Abstract:\s*)?", re.I)
_AUTHOR_SEP_RE = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")


@dataclass(frozen=True)
class Feed:
    """One category feed as announced on one day."""

    category: str
    pub_date: date | None
    entries: tuple[Paper, ...] = ()


@dataclass(frozen=True)
class Listing:
    """Papers kept from a day's feeds, with the counts the digest header reports."""

    papers: tuple[Paper, ...]
    total_entries: int
    kept_entries: int

    @property
    def unique(self) -> int:
        return len(self.papers)


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def split_authors(raw: str | None) -> tuple[str, ...]:
    """'A, B and C' (dc:creator) -> ('A', 'B', 'C')."""
    return tuple(name for name in _AUTHOR_SEP_RE.split((raw or "").strip()) if name.strip())


def _pub_date(raw: str | None) -> date | None:
    """The channel pubDate as a date in the feed's own offset (the announcement day)."""
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw).date()
    except (TypeError, ValueError):
        return None


def _declared(content: bytes | str) -> bool:
    head = content[:64] if isinstance(content, str) else content[:64].decode("utf-8", "replace")
    return head.lstrip("\ufeff \t\r\n").startswith("<?xml")


def _describe(exc: BaseException | None, content: bytes | str) -> str:
    if isinstance(exc, xml.sax.SAXParseException):
        # feedparser prepends an XML declaration line when the body has none
        line = (exc.getLineNumber() or 1) - (0 if _declared(content) else 1)
        return f"line {max(line, 1)}: {exc.getMessage()}"
    return str(exc) if exc else "no RSS channel found"


def _paper(entry: dict, feed: str) -> Paper:
    guid = entry.get("id") or entry.get("link") or ""
    try:
        pid, version = split_id(guid)
    except ValueError as exc:
        raise FeedParseError(f"arXiv feed {feed} has an item with no arXiv id ({guid!r})") from exc
    categories = tuple(t["term"] for t in entry.get("tags", ()) if t.get("term"))
    announce = _clean(entry.get("arxiv_announce_type")) or "new"
    return Paper(
        id=pid,
        version=version,
        title=_clean(entry.get("title")),
        abstract=_clean(_PREFIX_RE.sub("", entry.get("summary") or "", count=1)),
        authors=split_authors(entry.get("author")),
        categories=categories,
        primary_category=categories[0] if categories else None,
        announce_type=announce,
        feeds={feed: announce},
    )


def parse_feed(content: bytes | str, feed: str) -> Feed:
    """Parse one rss.arxiv.org response; an empty channel (weekend, holiday) has no entries."""
    body = content.encode("utf-8") if isinstance(content, str) else content  # never a URL/path
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    malformed = isinstance(exc, xml.sax.SAXException)
    if malformed or (exc is not None and not parsed.entries) or not parsed.get("version"):
        raise FeedParseError(
            f"arXiv feed {feed} is not a valid RSS feed ({_describe(exc, content)})"
        )
    return Feed(
        category=feed,
        pub_date=_pub_date(parsed.feed.get("published") or parsed.feed.get("updated")),
        entries=tuple(_paper(entry, feed) for entry in parsed.entries),
    )


def merge_feeds(feeds: Iterable[Feed], keep: Iterable[str] = DEFAULT_KEEP) -> Listing:
    """Keep the wanted announce types, one paper once across feeds, in feed order."""
    keep = set(keep)
    merged: dict[str, Paper] = {}
    total = kept = 0
    for feed in feeds:
        total += len(feed.entries)
        for paper in feed.entries:
            if paper.announce_type not in keep:
                continue
            kept += 1
            seen = merged.get(paper.id)
            if seen is None:
                merged[paper.id] = replace(paper, feeds=dict(paper.feeds))
                continue
            seen.feeds.update(paper.feeds)
            if paper.announce_type == "new" and seen.announce_type != "new":
                merged[paper.id] = replace(seen, announce_type="new")
    return Listing(papers=tuple(merged.values()), total_entries=total, kept_entries=kept)


def feed_staleness(feeds: Iterable[Feed], expected: date | None = None) -> str | None:
    """A sentence naming the first non-empty feed older than the others (or `expected`)."""
    feeds = list(feeds)
    dates = [f.pub_date for f in feeds if f.pub_date is not None]
    if expected is not None:
        dates.append(expected)
    if not dates:
        return None
    latest = max(dates)
    for feed in feeds:
        if feed.entries and feed.pub_date is not None and feed.pub_date < latest:
            others = "expected" if expected == latest else "the others"
            return (
                f"feed {feed.category} is stale: it carries the announcement of "
                f"{feed.pub_date.isoformat()}, {others} {latest.isoformat()}"
            )
    return None


async def _fetch_one(client: httpx.AsyncClient, base_url: str, category: str) -> Feed:
    url = f"{base_url}{category}"
    try:
        response = await client.get(url)
    except httpx.HTTPError as exc:
        cause = f"{type(exc).__name__} {exc}".strip()
        raise FetchError(f"could not fetch arXiv feed {category} ({url}): {cause}") from exc
    if response.status_code != 200:
        raise FetchError(
            f"could not fetch arXiv feed {category} ({url}): "
            f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
        )
    return parse_feed(response.content, category)


async def fetch_feeds(
    categories: Iterable[str], client: httpx.AsyncClient, base_url: str = DEFAULT_BASE_URL
) -> list[Feed]:
    """Fetch and parse each category feed concurrently, in the order given.

    Every request finishes before the first failure (in category order) is raised.
    """
    tasks = [_fetch_one(client, base_url, cat) for cat in categories]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    feeds: list[Feed] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        feeds.append(result)
    return feeds
