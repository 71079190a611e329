"""A loopback stand-in for Semantic Scholar's graph API: the DOI look-ups of a .bib file.

with FakeSemanticScholar({"10.1145/3442188.3445922": "2106.09685", "10.1/nope": ""}) as fake:
    fake.url              # "http://127.0.0.1:PORT/graph/v1" (the `library.doi_url` setting)
    fake.fail(429)        # every request answers this status (429: Semantic Scholar's body)
    fake.requests         # the JSON bodies POSTed

POST /graph/v1/paper/batch?fields=externalIds with {"ids": ["DOI:...", ...]} answers as the
real API does: a list in the order asked, each paper as {"paperId", "externalIds": {"DOI",
"ArXiv" (when it has an arXiv version), "CorpusId", ...}}, and null for an id it does not know;
400 {"error": "No valid paper ids given"} when none is an id; 429 with its message when busy.
DOIs match case-insensitively, as the real API's do.
"""

from __future__ import annotations

import hashlib
import json
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import Loopback

BUSY = {
    "message": "Too Many Requests. Please wait and try again or apply for a key for higher "
    "rate limits. https://www.semanticscholar.org/product/api#api-key-form",
    "code": "429",
}


class FakeSemanticScholar(Loopback):
    """DOI -> arXiv id ("" for a paper with no arXiv version); other DOIs are unknown."""

    def __init__(self, papers: dict[str, str] | None = None) -> None:
        self.papers = {doi.lower(): arxiv for doi, arxiv in (papers or {}).items()}
        self.status: int | None = None
        self.requests: list[Any] = []

    @property
    def url(self) -> str:
        return f"{self.root}/graph/v1"

    def fail(self, status: int | None) -> None:
        self.status = status

    def _paper(self, doi: str) -> dict[str, Any] | None:
        if doi.lower() not in self.papers:
            return None
        arxiv = self.papers[doi.lower()]
        digest = hashlib.sha1(doi.lower().encode()).hexdigest()
        ids: dict[str, Any] = {"DOI": doi, "CorpusId": int(digest[:7], 16)}
        if arxiv:
            ids = {"ArXiv": arxiv, "DBLP": f"journals/corr/abs-{arxiv}", **ids}
        return {"paperId": digest, "externalIds": ids}

    def _answer(self, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        self.requests.append(body)
        if self.status == 429:
            return 429, BUSY
        if self.status is not None:
            return self.status, {"message": "Internal Server Error"}
        if path != "/graph/v1/paper/batch":
            return 404, {"error": f"Paper with id {path.rsplit('/', 1)[-1]} not found"}
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids:
            return 400, {"error": "No valid paper ids given"}
        if len(ids) > 500:
            return 400, {"error": "Cannot process more than 500 paper ids at once"}
        if query.get("fields", [""])[0] != "externalIds":
            return 200, [{"paperId": "x"} for _ in ids]  # without the field asked: no ids
        return 200, [
            self._paper(i[4:]) if isinstance(i, str) and i.upper().startswith("DOI:") else None
            for i in ids
        ]

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw or b"null")
                except json.JSONDecodeError:
                    body = None
                status, answer = fake._answer(parts.path, parse_qs(parts.query), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
