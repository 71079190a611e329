"""Backfill through the arXiv export API (export.arxiv.org/api/query) via the `arxiv` package."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

import arxiv

from digest.errors import FeedParseError, FetchError
from digest.papers import Paper, split_id

_ERRNO_RE = re.compile(r"\[Errno -?\d+\][^'\")]*")
COURTESY_DELAY = 3.0  # seconds between requests, as arXiv's API terms ask
PAGE_SIZE = 500


def build_query(categories: Iterable[str], start: date, end: date) -> str:
    """'(cat:cs.LG OR cat:cs.AI) AND submittedDate:[202604010000 TO 202604022359]'."""
    cats = " OR ".join(f"cat:{cat}" for cat in categories)
    if not cats:
        raise ValueError("no arXiv categories to query")
    return f"({cats}) AND submittedDate:[{start:%Y%m%d}0000 TO {end:%Y%m%d}2359]"


def default_client(
    url_format: str = arxiv.Client.query_url_format, delay: float = COURTESY_DELAY
) -> arxiv.Client:
    """A client that keeps arXiv's courtesy delay between pages."""
    client = arxiv.Client(page_size=PAGE_SIZE, delay_seconds=delay, num_retries=3)
    client.query_url_format = url_format
    return client


def to_paper(result: arxiv.Result, categories: Iterable[str] = ()) -> Paper:
    """Convert one API result; announce type 'new' if its primary is among `categories`."""
    pid, version = split_id(result.entry_id)
    cats = tuple(result.categories)
    primary = result.primary_category or (cats[0] if cats else None)
    wanted = list(categories)
    feeds = {c: ("new" if c == primary else "cross") for c in wanted if c in cats}
    return Paper(
        id=pid,
        version=version,
        title=" ".join(result.title.split()),
        abstract=" ".join(result.summary.split()),
        authors=tuple(author.name for author in result.authors),
        categories=cats,
        primary_category=primary,
        announce_type="new" if not wanted or primary in wanted else "cross",
        feeds=feeds,
        comment=result.comment or None,
    )


def fetch_range(
    categories: Iterable[str],
    start: date,
    end: date,
    client: arxiv.Client | None = None,
    max_results: int = 2000,
) -> list[Paper]:
    """Papers in `categories` submitted from `start` to `end` (inclusive), oldest first."""
    cats = list(categories)
    if end < start:
        raise ValueError(f"backfill range ends ({end}) before it starts ({start})")
    client = client or default_client()
    search = arxiv.Search(
        query=build_query(cats, start, end),
        max_results=max_results,
        sort_by=arxiv.SortCriterion.SubmittedDate,
        sort_order=arxiv.SortOrder.Ascending,
    )
    try:
        return [to_paper(result, cats) for result in client.results(search)]
    except (arxiv.ArxivError, OSError) as exc:  # requests' errors are OSErrors
        where = client.query_url_format.split("?", 1)[0]
        errno = _ERRNO_RE.search(str(exc))  # requests' messages repeat the whole URL
        cause = errno.group(0).strip() if errno else str(exc)
        raise FetchError(
            f"could not query the arXiv export API ({where}) for {', '.join(cats)} "
            f"submitted {start} to {end}: {type(exc).__name__} {cause}"
        ) from exc


def parse_atom(body: bytes | str, categories: Iterable[str] = ()) -> list[Paper]:
    """Parse a recorded export API response with the same parser the client uses."""
    from arxiv import _feed  # the package's own Atom parser (arxiv>=4)

    parsed = _feed.parse(body.encode("utf-8") if isinstance(body, str) else body)
    if parsed.malformed:
        raise FeedParseError(f"arXiv export API response is not a valid Atom feed ({parsed.error})")
    cats = list(categories)
    return [to_paper(result, cats) for result in parsed.results]
