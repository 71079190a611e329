"""arXiv export API backfill: an `arxiv.Client` pointed at a loopback fake serving real bodies."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlsplit

import arxiv
import pytest

from digest.errors import FeedParseError, FetchError
from digest.papers.export_api import build_query, default_client, fetch_range, parse_atom
from tests.fakes.arxiv import FakeArxiv, closed_port, recorded_atom

START, END = date(2026, 4, 1), date(2026, 4, 2)


def loopback_client(url_format: str) -> arxiv.Client:
    """A client for the fake: no courtesy delay, no retries, no proxies from the env."""
    client = arxiv.Client(page_size=100, delay_seconds=0, num_retries=0)
    client.query_url_format = url_format
    client._session.trust_env = False
    return client


def test_build_query() -> None:
    assert build_query(["cs.LG", "cs.AI"], START, END) == (
        "(cat:cs.LG OR cat:cs.AI) AND submittedDate:[202604010000 TO 202604022359]"
    )
    with pytest.raises(ValueError):
        build_query([], START, END)


def test_default_client_keeps_the_courtesy_delay() -> None:
    assert default_client().delay_seconds == 3.0


def test_parse_recorded_id_list() -> None:
    (paper,) = parse_atom(recorded_atom("id-list"))
    assert (paper.id, paper.version) == ("1707.08567", 1)
    assert paper.title == (
        "Proceedings of Workshop AEW10: Concepts in Information Theory and Communications"
    )
    assert paper.abstract.startswith('The 10th Asia-Europe workshop in "Concepts')
    assert len(paper.authors) == 34
    assert paper.authors[:2] == ("Kees A. Schouhamer Immink", "Stan Baggen")
    assert "Dirk WÃ¼bben" in paper.authors  # the recorded fixture's own mojibake, kept as-is
    assert paper.categories == ("cs.IT",)
    assert paper.primary_category == "cs.IT"
    assert paper.comment.startswith("44 pages")
    assert paper.announce_type == "new"


def test_parse_recorded_query_with_categories() -> None:
    papers = parse_atom(recorded_atom("q-testing").decode("utf-8"), ["cs.LG"])
    assert len(papers) == 10
    first = papers[0]
    assert (first.id, first.version) == ("2202.12139", 1)
    assert first.categories == ("cs.SE", "cs.LG")
    assert first.primary_category == "cs.SE"
    assert first.announce_type == "cross"
    assert first.feeds == {"cs.LG": "cross"}
    assert first.authors == ("Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker")
    assert all(p.title and p.abstract and p.authors for p in papers)


def test_parse_atom_rejects_garbage() -> None:
    with pytest.raises(FeedParseError, match="not a valid Atom feed"):
        parse_atom(b"")


def test_fetch_range_from_loopback() -> None:
    with FakeArxiv(atom=recorded_atom("q-testing")) as fake:
        client = loopback_client(fake.api_url_format)
        papers = fetch_range(["cs.LG", "cs.SE"], START, END, client=client, max_results=10)
    assert len(papers) == 10
    assert papers[0].id == "2202.12139"
    assert papers[0].announce_type == "new"  # primary cs.SE is among the categories asked for
    assert papers[0].feeds == {"cs.LG": "cross", "cs.SE": "new"}
    (request,) = fake.requests
    query = parse_qs(urlsplit(request).query)
    assert query["search_query"] == [
        "(cat:cs.LG OR cat:cs.SE) AND submittedDate:[202604010000 TO 202604022359]"
    ]
    assert query["sortBy"] == ["submittedDate"]
    assert query["sortOrder"] == ["ascending"]


def test_fetch_range_stops_at_total_results() -> None:
    with FakeArxiv(atom=recorded_atom("id-list")) as fake:
        papers = fetch_range(["cs.IT"], START, END, client=loopback_client(fake.api_url_format))
    assert [p.id for p in papers] == ["1707.08567"]
    assert len(fake.requests) == 1


def test_fetch_range_http_error() -> None:
    with FakeArxiv(atom=recorded_atom("id-list")) as fake:
        fake.fail("api", 503)
        where = f"{fake.base}/api/query"
        with pytest.raises(FetchError) as info:
            fetch_range(["cs.LG"], START, END, client=loopback_client(fake.api_url_format))
    message = str(info.value)
    assert message.startswith(
        f"could not query the arXiv export API ({where}) for cs.LG "
        "submitted 2026-04-01 to 2026-04-02: HTTPError Page request resulted in HTTP 503"
    )


def test_fetch_range_closed_port() -> None:
    url_format = f"http://127.0.0.1:{closed_port()}/api/query?{{}}"
    with pytest.raises(FetchError) as info:
        fetch_range(["cs.LG", "cs.AI"], START, END, client=loopback_client(url_format))
    message = str(info.value)
    assert message.startswith(
        f"could not query the arXiv export API ({url_format.split('?')[0]}) for cs.LG, cs.AI "
        "submitted 2026-04-01 to 2026-04-02: ConnectionError [Errno"
    )
    assert "search_query" not in message


def test_fetch_range_rejects_a_reversed_range() -> None:
    with pytest.raises(ValueError, match="ends"):
        fetch_range(["cs.LG"], END, START, client=loopback_client("http://127.0.0.1:9/?{}"))
