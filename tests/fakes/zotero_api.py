"""A loopback stand-in for the Zotero Web API v3, read by the real pyzotero.

with FakeZotero(key="K" * 24, page_max=4) as fake:
    fake.url                                   # the `library.zotero_url` setting
    fake.add("users/123", preprint("2106.09685", "LoRA"), collection="ABCD2345")
    fake.remove("users/123", item_key)         # the item leaves the library
    fake.fail(500)                             # every request answers this status
    fake.requests                              # (path, query) of each GET

GET /users/<id>/items/top and /groups/<id>/collections/<key>/items/top answer as api.zotero.org
does: a JSON list of items ({"key", "version", "library", "links", "meta", "data"}), with the
headers Zotero-API-Version: 3, Total-Results, Last-Modified-Version (the library's version,
raised by every change) and Link (rel="next" while more pages follow, rel="last",
rel="alternate"), a page being `limit` items from `start` (at most 100, or `page_max`). The key
comes in `Authorization: Bearer` or `Zotero-API-Key`; a wrong one answers 403 "Forbidden", a
collection the library lacks 404 "Collection not found".
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fakes.loopback import Loopback

_KEYS = itertools.count(1)


def _key() -> str:
    """An 8-character item key, as Zotero's."""
    n = next(_KEYS)
    return f"Q{n:07X}"


def preprint(arxiv_id: str, title: str) -> dict[str, Any]:
    """An arXiv paper as Zotero's connector saves it (itemType preprint)."""
    return {
        "itemType": "preprint", "title": title,
        "creators": [{"creatorType": "author", "firstName": "Ada", "lastName": "Lovelace"}],
        "abstractNote": "", "genre": "", "repository": "arXiv", "archiveID": f"arXiv:{arxiv_id}",
        "place": "", "date": "2021-06-17", "series": "", "seriesNumber": "",
        "DOI": f"10.48550/arXiv.{arxiv_id}", "citationKey": "",
        "url": f"http://arxiv.org/abs/{arxiv_id}", "accessDate": "2026-01-10T09:12:44Z",
        "archive": "", "archiveLocation": "", "shortTitle": "", "language": "",
        "libraryCatalog": "arXiv.org", "callNumber": "", "rights": "",
        "extra": f"arXiv:{arxiv_id} [cs]", "tags": [{"tag": "Computer Science - Machine Learning",
                                                      "type": 1}],
        "relations": {},
    }  # fmt: skip


def article(title: str, doi: str = "", extra: str = "", url: str = "") -> dict[str, Any]:
    """A journal article (its arXiv id, if any, only in `extra` or `url`, or behind its DOI)."""
    return {
        "itemType": "journalArticle", "title": title,
        "creators": [{"creatorType": "author", "firstName": "Alan", "lastName": "Turing"}],
        "abstractNote": "", "publicationTitle": "Journal of Examples", "volume": "12",
        "issue": "3", "pages": "1-20", "date": "2024", "series": "", "seriesTitle": "",
        "seriesText": "", "journalAbbreviation": "", "language": "en", "DOI": doi, "ISSN": "",
        "shortTitle": "", "url": url, "accessDate": "", "archive": "", "archiveLocation": "",
        "libraryCatalog": "", "callNumber": "", "rights": "", "extra": extra, "tags": [],
        "relations": {},
    }  # fmt: skip


def note(text: str) -> dict[str, Any]:
    """A standalone note (a top-level item that is no paper)."""
    return {"itemType": "note", "note": f"<p>{text}</p>", "tags": [], "relations": {}}


@dataclass
class _Library:
    version: int = 1
    items: dict[str, dict[str, Any]] | None = None  # key -> item (insertion order)


class FakeZotero(Loopback):
    """Libraries by "users/123" / "groups/456"; see the module docstring."""

    def __init__(self, key: str = "", page_max: int = 100) -> None:
        self.key = key
        self.page_max = page_max
        self.libraries: dict[str, _Library] = {}
        self.status: int | None = None
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.root

    def fail(self, status: int | None) -> None:
        self.status = status

    def add(self, where: str, data: dict[str, Any], collection: str = "") -> str:
        """Add an item (its `data`) to a library, in `collection` if given; its key."""
        with self._lock:
            lib = self.libraries.setdefault(where, _Library(items={}))
            assert lib.items is not None
            lib.version += 1
            key = _key()
            kind, number = where.split("/")
            item = {
                "key": key, "version": lib.version,
                "library": {"type": kind.removesuffix("s"), "id": int(number), "name": "alice",
                            "links": {"alternate": {"href": f"https://www.zotero.org/{where}",
                                                    "type": "text/html"}}},
                "links": {"self": {"href": f"https://api.zotero.org/{where}/items/{key}",
                                   "type": "application/json"},
                          "alternate": {"href": f"https://www.zotero.org/{where}/items/{key}",
                                        "type": "text/html"}},
                "meta": {"creatorSummary": "Lovelace", "parsedDate": "2021-06-17",
                         "numChildren": 1},
                "data": {"key": key, "version": lib.version, **data,
                         "collections": [collection] if collection else [],
                         "dateAdded": "2026-01-10T09:12:44Z",
                         "dateModified": "2026-01-10T09:12:44Z"},
            }  # fmt: skip
            lib.items[key] = item
            return key

    def remove(self, where: str, key: str) -> None:
        with self._lock:
            lib = self.libraries[where]
            assert lib.items is not None
            del lib.items[key]
            lib.version += 1

    def _answer(self, path: str, query: dict[str, list[str]], key: str) -> tuple[int, Any, dict]:
        parts = path.strip("/").split("/")
        if self.status is not None:
            return self.status, "An error occurred", {}
        if self.key and key != self.key:
            return 403, "Forbidden", {}
        if len(parts) < 4 or parts[0] not in ("users", "groups") or parts[-2:] != ["items", "top"]:
            return 404, "Not found", {}
        where = f"{parts[0]}/{parts[1]}"
        lib = self.libraries.get(where)
        if lib is None:
            return 403, "Forbidden", {}  # as Zotero answers a library the key cannot read
        items = list((lib.items or {}).values())
        if parts[2] == "collections":
            collection = parts[3]
            if not any(collection in i["data"]["collections"] for i in items):
                return 404, "Collection not found", {}
            items = [i for i in items if collection in i["data"]["collections"]]
        start = int(query.get("start", ["0"])[0])
        limit = min(int(query.get("limit", ["25"])[0] or 25), 100, self.page_max)
        page = items[start : start + limit]
        base = f"{self.root}/{'/'.join(parts)}"
        kept = {k: v[-1] for k, v in query.items() if k not in ("start", "limit")}

        def link(at: int) -> str:
            return f"{base}?{urlencode({**kept, 'limit': limit, 'start': at})}"

        links = []
        if start + limit < len(items):
            links.append(f'<{link(start + limit)}>; rel="next"')
        last = max(0, (len(items) - 1) // limit * limit)
        links.append(f'<{link(last)}>; rel="last"')
        links.append(f'<https://www.zotero.org/{where}/items>; rel="alternate"')
        headers = {"Total-Results": str(len(items)), "Last-Modified-Version": str(lib.version),
                   "Link": ", ".join(links)}  # fmt: skip
        return 200, page, headers

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                fake.requests.append((parts.path, query))
                auth = self.headers.get("Authorization") or ""
                key = auth.removeprefix("Bearer ").strip() or self.headers.get("Zotero-API-Key", "")
                with fake._lock:
                    status, body, headers = fake._answer(parts.path, query, key)
                data = (json.dumps(body) if not isinstance(body, str) else body).encode()
                self.send_response(status)
                kind = "application/json" if not isinstance(body, str) else "text/plain"
                self.send_header("Content-Type", kind)
                self.send_header("Zotero-API-Version", "3")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
