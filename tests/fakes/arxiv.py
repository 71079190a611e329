"""A loopback stand-in for rss.arxiv.org and export.arxiv.org, serving recorded responses.

with FakeArxiv(rss={"cs.LG": lg_bytes}, atom=atom_bytes) as fake:
    fake.rss_base_url      # "http://127.0.0.1:PORT/rss/"   (GET /rss/{category})
    fake.api_url_format    # "http://127.0.0.1:PORT/api/query?{}"
    fake.fail("cs.AI", 503); fake.garbage("cs.LG"); fake.requests  # paths seen

FakeArxiv(papers=[...]) answers `id_list` queries as export.arxiv.org does: an Atom entry (the
recorded shape) for each id it holds, nothing for the others.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from html import escape
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from digest.papers import Paper
from tests.fakes.loopback import Loopback

DATA = Path(__file__).resolve().parent.parent / "data"
RSS_FILES = {
    "cs.LG": "rss-arxiv-org_cs.LG_2026-04-27.trimmed.xml",
    "cs.AI": "rss-arxiv-org_cs.AI_2026-04-27.trimmed.xml",
}
ATOM_FILES = {
    "id-list": "arxiv-api-atom_2026-04-12_id-list.body.xml",
    "q-testing": "arxiv-api-atom_2026-04-12_q-testing-m10.body.xml",
}
GARBAGE = b"<html><body><h1>Service Unavailable</h1><p>try again</body></html>"
EMPTY_ATOM = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
    b'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
    b"<opensearch:totalResults>0</opensearch:totalResults></feed>"
)


def recorded_rss(category: str) -> bytes:
    """The real rss.arxiv.org response recorded for `category` (2026-04-27)."""
    return (DATA / RSS_FILES[category]).read_bytes()


def recorded_atom(name: str) -> bytes:
    """A real export API response body ('id-list' or 'q-testing')."""
    return (DATA / ATOM_FILES[name]).read_bytes()


def closed_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeArxiv(Loopback):
    """A ThreadingHTTPServer on 127.0.0.1 serving RSS per category and one Atom body."""

    def __init__(
        self,
        rss: dict[str, bytes] | None = None,
        atom: bytes | None = None,
        papers: Iterable[Paper] = (),
    ) -> None:
        self.rss = dict(rss) if rss is not None else {c: recorded_rss(c) for c in RSS_FILES}
        self.atom = atom
        self.papers = {p.id: p for p in papers}
        self.failures: dict[str, int | bytes] = {}
        self.requests: list[str] = []

    def fail(self, key: str, status: int = 503) -> None:
        """Answer `key` (a category, or 'api') with an HTTP error status."""
        self.failures[key] = status

    def garbage(self, key: str, body: bytes = GARBAGE) -> None:
        """Answer `key` with 200 and a body that is not a feed."""
        self.failures[key] = body

    @property
    def base(self) -> str:
        return self.root

    @property
    def rss_base_url(self) -> str:
        return f"{self.base}/rss/"

    @property
    def api_url_format(self) -> str:
        return f"{self.base}/api/query?{{}}"

    def _answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, bytes]:
        if path.startswith("/rss/"):
            key, body = path.removeprefix("/rss/"), self.rss.get(path.removeprefix("/rss/"))
        elif path == "/api/query" and query.get("id_list"):
            ids = [i for i in query["id_list"][0].split(",") if i]
            start = int(query.get("start", ["0"])[0])
            key, body = "api", id_list_atom([self.papers[i] for i in ids if i in self.papers][
                start : start + int(query.get("max_results", ["100"])[0])])  # fmt: skip
        elif path == "/api/query" and "au:" in query.get("search_query", [""])[0]:
            name = query["search_query"][0].split("au:", 1)[1].strip('"').lower()
            key, body = (
                "api",
                id_list_atom(
                    [p for p in self.papers.values() if any(name in a.lower() for a in p.authors)]
                ),
            )
            if query.get("start", ["0"])[0] != "0":
                body = EMPTY_ATOM
        elif path == "/api/query":
            first = query.get("start", ["0"])[0] == "0"
            key, body = "api", (self.atom if first else EMPTY_ATOM)
        else:
            return 404, b"not found"
        failure = self.failures.get(key)
        if isinstance(failure, int):
            return failure, b"unavailable"
        if isinstance(failure, bytes):
            return 200, failure
        return (200, body) if body is not None else (404, b"no such feed")

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append(self.path)
                parts = urlsplit(self.path)
                status, body = fake._answer(parts.path, parse_qs(parts.query))
                self.send_response(status)
                self.send_header("Content-Type", "application/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def _entry(p: Paper) -> str:
    """One paper as an export API entry."""
    cats = "".join(
        f'    <category term="{c}" scheme="http://arxiv.org/schemas/atom"/>\n'
        for c in p.categories or ("cs.LG",)
    )
    authors = "".join(f"    <author><name>{escape(a)}</name></author>\n" for a in p.authors)
    return (
        f"  <entry>\n    <id>http://arxiv.org/abs/{p.id}v{p.version or 1}</id>\n"
        f"    <title>{escape(p.title)}</title>\n    <updated>2026-02-10T00:00:00Z</updated>\n"
        f'    <link href="https://arxiv.org/abs/{p.id}v1" rel="alternate" type="text/html"/>\n'
        f"    <summary>{escape(p.abstract)}</summary>\n{cats}"
        "    <published>2026-02-09T00:00:00Z</published>\n"
        f'    <arxiv:primary_category term="{p.primary_category or "cs.LG"}"/>\n{authors}'
        "  </entry>\n"
    )


def id_list_atom(papers: list[Paper]) -> bytes:
    """An export API answer holding `papers`, in the shape of the recorded id-list response."""
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n<feed xmlns:opensearch=\"http://a9.com/-/spec/"
        'opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns="http://www.w3.org/2005/Atom">\n'
        "  <opensearch:itemsPerPage>100</opensearch:itemsPerPage>\n"
        f"  <opensearch:totalResults>{len(papers)}</opensearch:totalResults>\n"
        "  <opensearch:startIndex>0</opensearch:startIndex>\n"
        f"{''.join(_entry(p) for p in papers)}</feed>\n"
    ).encode()
