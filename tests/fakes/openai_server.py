"""A loopback stand-in for an OpenAI-compatible chat completions API.

with FakeOpenAI(scores={"2602.08007": (9, 8)}) as fake:
    client = openai.AsyncOpenAI(base_url=fake.url, api_key="test-key", max_retries=2)
    fake.fail_next("429"); fake.fail_next("500", times=2); fake.answer_next("prose")
    fake.requests  # every request body, parsed

It answers each `<paper id="...">` of the last user message with a JSON line (or, for a
`response_format` json_schema request, with {"papers": [...]}: objects, or "id relevance novelty
comment" strings when the schema's items are strings), and counts tokens with o200k_base.
When the prompt says to leave COMMENT empty below a relevance, papers below it get "".
A TL;DR request ("Write every TL;DR in German.") is answered {"papers": [{"ARXIVID", "TLDR"}]},
each TL;DR the paper's title after the language's opening (TLDR_OPENINGS: "Kurz gesagt:" for
German); "not_json" and "missing_half" work on it too.
A paper whose text says "ignore the above" makes it gullible: every id in that request gets 10.
Queued behaviours (one per request, in order): "ok", "429", "500", "401", "hang", "delay",
"not_json", "missing_half", "extra_ids", "bad_scores", "fenced", "duplicate_id", "text",
"tool_calls".
The structured-output 400 (when `structured` is False) comes first and consumes no behaviour.

Parameters, as the real API treats them: `max_tokens` sent for a gpt-5 or o-series model gets a
400 naming it ("Use 'max_completion_tokens' instead"); `reasoning_effort` sent for a model in
`refuses_reasoning_effort` gets a 400 naming it. Both come before everything else and consume no
behaviour. Every answer's usage carries `completion_tokens_details.reasoning_tokens`
(`reasoning_tokens` a request, counted in `completion_tokens` as OpenAI counts them).

Tools: `fake.call_tools_next(("why", {"paper": "3"}), ...)` makes the next answer an assistant
message with those `tool_calls` (finish_reason "tool_calls"). As the real API does, a request
whose assistant `tool_calls` are not each answered by a `tool` message gets a 400. A request with
`tools` and nothing queued (or tool calls queued but `tool_choice` "none") is answered in words:
"Found: " and the first line of the last tool result. `fake.tool_results()` lists the `tool`
messages of the last request.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler
from typing import Any

import bpe_openai

from tests.fakes.loopback import Loopback

KINDS = {
    "ok",
    "429",
    "500",
    "401",
    "hang",
    "delay",
    "not_json",
    "missing_half",
    "extra_ids",
    "bad_scores",
    "fenced",
    "duplicate_id",
    "text",
    "tool_calls",
}
EXTRA_IDS = ("9999.00001", "9999.00002")
GULLIBLE = "ignore the above"
_PAPER = re.compile(r'<paper id="([^"]+)">(.*?)</paper>', re.S)
_TLDR_IN = re.compile(r"Write every TL;DR in ([^.\n]+)\.")
_TITLE = re.compile(r"^Title: (.*)$", re.M)
# how the fake starts a TL;DR in each language it is asked for (others: "[<language>]")
TLDR_OPENINGS = {"English": "In short:", "German": "Kurz gesagt:", "French": "En bref :"}
_COMMENT_FROM = re.compile(r'Leave it empty \(""\) when RELEVANCE is below (\d+)')
_ENCODING = bpe_openai.get_encoding("o200k_base")


def count_tokens(text: str) -> int:
    return len(_ENCODING.encode(text))


class FakeOpenAI(Loopback):
    """POST /v1/chat/completions on 127.0.0.1, in a thread; a context manager."""

    def __init__(
        self,
        scores: dict[str, tuple[Any, Any]] | None = None,
        *,
        structured: bool = True,
        cached_tokens: int = 0,
        delay_seconds: float = 0.0,
        hang_seconds: float = 1.0,
        retry_after_ms: int | None = 5,
        comment: str = "Model Architecture: a new routing scheme for experts.",
        reasoning_tokens: int = 0,
        refuses_reasoning_effort: set[str] | None = None,
        prompt_cache: bool = False,
        tldr_words: int = 0,
    ) -> None:
        self.scores = dict(scores or {})
        self.structured = structured
        self.cached_tokens = cached_tokens
        self.delay_seconds = delay_seconds
        self.hang_seconds = hang_seconds
        self.retry_after_ms = retry_after_ms  # sent with 500s so client back-off stays short
        self.comment = comment
        self.reasoning_tokens = reasoning_tokens  # billed as completion, per request
        self.refuses_reasoning_effort = set(refuses_reasoning_effort or ())  # model names
        # prompt_cache: cached_tokens as OpenAI's cache would give them (prompt_cached_tokens)
        self.prompt_cache = prompt_cache
        self._answered: list[list[int]] = []  # token sequences of the prompts answered so far
        self._seen_at_arrival: dict[int, int] = {}  # request -> prompts answered when it came
        self.tldr_words = tldr_words  # >0: each TL;DR also carries that many abstract words
        self.requests: list[dict[str, Any]] = []
        self._in_flight = 0
        self.most_at_once = 0  # requests answered at once, at the most (each waits its delay)
        self._queue: deque[tuple[str, dict[str, Any]]] = deque()
        self._tldr_queue: deque[tuple[str, dict[str, Any]]] = deque()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._stop = threading.Event()

    # -- control ---------------------------------------------------------------------------

    def fail_next(self, kind: str, times: int = 1, *, tldr: bool = False, **options: Any) -> None:
        """Queue a behaviour for the next `times` requests (e.g. retry_after="0.05", seconds=1);
        with `tldr`, for the next TL;DR requests only (scoring requests answer as usual)."""
        if kind not in KINDS:
            raise ValueError(f"unknown behaviour {kind!r}; known: {sorted(KINDS)}")
        with self._lock:
            (self._tldr_queue if tldr else self._queue).extend([(kind, options)] * times)

    def answer_next(self, text: str) -> None:
        """The next request gets `text` as the assistant's message."""
        self.fail_next("text", text=text)

    def call_tools_next(self, *calls: tuple[str, dict[str, Any] | str]) -> None:
        """The next request is answered by these tool calls (arguments: a dict, or raw text)."""
        self.fail_next("tool_calls", calls=list(calls))

    def tool_results(self, request: int = -1) -> list[dict[str, Any]]:
        """The `tool` messages a request carried back."""
        return [m for m in self.requests[request]["messages"] if m.get("role") == "tool"]

    def ids_asked(self, tldr: bool = False) -> list[list[str]]:
        """The paper ids of each scoring request (with `tldr`: of each TL;DR request), in order."""
        return [_paper_ids(b) for b in self.requests if is_tldr_request(b) == tldr]

    def scoring_requests(self) -> list[dict[str, Any]]:
        """Every request but the TL;DR requests."""
        return [b for b in self.requests if not is_tldr_request(b)]

    def tldr_requests(self) -> list[dict[str, Any]]:
        return [b for b in self.requests if is_tldr_request(b)]

    @property
    def url(self) -> str:
        return f"{self.root}/v1"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    def stop(self) -> None:
        self._stop.set()  # hanging answers return now
        super().stop()

    # -- answering -------------------------------------------------------------------------

    def _next(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        with self._lock:
            self.requests.append(body)
            self._seen_at_arrival[id(body)] = len(self._answered)
            self._arrived.notify_all()
            if self._tldr_queue and is_tldr_request(body):
                return self._tldr_queue.popleft()
            return self._queue.popleft() if self._queue else ("ok", {})

    def wait_requests(self, count: int, timeout: float = 30.0) -> None:
        """Block until `count` requests arrived (a client in another process or thread)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"{len(self.requests)} requests arrived, not {count}")

    def _entries(self, body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
        papers = _PAPER.findall(_user_text(body))
        ids = [pid for pid, _ in papers]
        gullible = any(GULLIBLE in text.lower() for _, text in papers)
        if kind == "missing_half":
            ids = ids[: len(ids) // 2]
        if kind == "extra_ids":
            ids = [*ids, *EXTRA_IDS]
        asked = _COMMENT_FROM.search(_user_text(body))  # as told: no comment below that relevance
        below = int(asked.group(1)) if asked else 0
        entries = []
        for pid in ids:
            rel, nov = (10, 10) if gullible else self.scores.get(pid, (5, 5))
            comment = self.comment if not isinstance(rel, int) or rel >= below else ""
            entries.append({"ARXIVID": pid, "COMMENT": comment, "RELEVANCE": rel, "NOVELTY": nov})
        if kind == "bad_scores" and entries:
            entries[0]["RELEVANCE"] = 11
            if len(entries) > 1:
                entries[1]["RELEVANCE"] = "high"
        if kind == "duplicate_id" and entries:
            entries.append({**entries[0], "RELEVANCE": 10, "NOVELTY": 10})
        return entries

    def _tldrs(self, body: dict[str, Any], kind: str, language: str) -> list[dict[str, Any]]:
        """A TL;DR request's answer: each paper's title after the language's opening."""
        papers = _PAPER.findall(_user_text(body))
        if kind == "missing_half":
            papers = papers[: len(papers) // 2]
        opening = TLDR_OPENINGS.get(language, f"[{language}]")
        out = []
        for pid, text in papers:
            title = _TITLE.search(text)
            line = f"{opening} {title.group(1) if title else pid}."
            if self.tldr_words:  # as long as a real one-sentence TL;DR
                abstract = text.split("Abstract: ", 1)[-1].split()
                line = f"{opening} {' '.join(abstract[: self.tldr_words])}."
            out.append({"ARXIVID": pid, "TLDR": line})
        return out

    def prompt_cached_tokens(self, body: dict[str, Any]) -> tuple[int, list[int]]:
        """The prompt tokens OpenAI's prompt cache would serve: the longest prefix shared with a
        prompt answered before this one arrived, counted only from 1,024 tokens on and in steps
        of 128 (as OpenAI documents); a prompt in flight caches nothing yet. And the tokens."""
        tokens = _ENCODING.encode("".join(str(m.get("content") or "") for m in body["messages"]))
        best = 0
        for seen in self._answered[: self._seen_at_arrival.get(id(body), 0)]:
            n = 0
            for a, b in zip(seen, tokens, strict=False):
                if a != b:
                    break
                n += 1
            best = max(best, n)
        cached = 0 if best < 1024 else 1024 + (best - 1024) // 128 * 128
        return cached, tokens

    def _content(self, body: dict[str, Any], kind: str, options: dict[str, Any]) -> str:
        if kind == "text":
            return str(options["text"])
        if body.get("tools") and kind in ("ok", "tool_calls"):
            results = [m for m in body["messages"] if m.get("role") == "tool"]
            last = str(results[-1].get("content") or "") if results else "nothing"
            return "Found: " + (last.splitlines() or [""])[0]
        if kind == "not_json":
            return "Sorry, I cannot help with that request."
        if language := _TLDR_IN.search(_user_text(body)):
            return json.dumps({"papers": self._tldrs(body, kind, language.group(1))})
        entries = self._entries(body, kind)
        if kind == "fenced":
            lines = [_sloppy(e) for e in entries]
            return "Here are the scores:\n```json\n" + "\n".join(lines) + "\n```\nHope this helps!"
        if _wants_schema(body):
            if _wants_lines(body):  # the compact schema: one "id relevance novelty comment" each
                return json.dumps({"papers": [_line(e) for e in entries]})
            return json.dumps({"papers": entries})
        return "\n".join(json.dumps(e) for e in entries)

    def completion(
        self, body: dict[str, Any], content: str | None, calls: list[Any] | None = None
    ) -> dict[str, Any]:
        """The chat.completion object, usage counted with o200k_base."""
        prompt = sum(_message_tokens(m) for m in body["messages"]) + 3
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
        if calls:
            n = len(self.requests)
            message["tool_calls"] = [
                {
                    "id": f"call_{n}_{i}",
                    "type": "function",
                    "function": {
                        "name": name,
                        "arguments": args if isinstance(args, str) else json.dumps(args),
                    },
                }
                for i, (name, args) in enumerate(calls)
            ]
        answer = count_tokens(json.dumps(message.get("tool_calls")) if calls else content or "")
        completion = answer + self.reasoning_tokens
        cached = self.cached_tokens
        if self.prompt_cache:
            cached, tokens = self.prompt_cached_tokens(body)
            with self._lock:
                self._answered.append(tokens)
        return {
            "id": f"chatcmpl-fake{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if calls else "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": min(cached, prompt)},
                "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            },
        }


def _message_tokens(message: dict[str, Any]) -> int:
    calls = json.dumps(message["tool_calls"]) if message.get("tool_calls") else ""
    return count_tokens(str(message.get("content") or "") + calls) + 3


def _unanswered_calls(body: dict[str, Any]) -> list[str]:
    """Tool call ids of assistant messages that no `tool` message answers (the API's 400)."""
    asked = [c.get("id") for m in body.get("messages", []) for c in (m.get("tool_calls") or [])]
    answered = {m.get("tool_call_id") for m in body.get("messages", []) if m.get("role") == "tool"}
    return [c for c in asked if c not in answered]


def _sloppy(entry: dict[str, Any]) -> str:
    """A Python-ish line: single quotes and a trailing comma."""
    comment = str(entry["COMMENT"]).replace("'", "")
    return (
        f"{{'ARXIVID': '{entry['ARXIVID']}', 'COMMENT': '{comment}', "
        f"'RELEVANCE': {entry['RELEVANCE']}, 'NOVELTY': {entry['NOVELTY']},}}"
    )


def _user_text(body: dict[str, Any]) -> str:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    return str(users[-1].get("content", "")) if users else ""


def is_tldr_request(body: dict[str, Any]) -> bool:
    return _TLDR_IN.search(_user_text(body)) is not None


def _paper_ids(body: dict[str, Any]) -> list[str]:
    return [pid for pid, _ in _PAPER.findall(_user_text(body))]


def _wants_lines(body: dict[str, Any]) -> bool:
    """The schema asks for each paper as a string, not an object."""
    schema = body["response_format"].get("json_schema", {}).get("schema", {})
    items = schema.get("properties", {}).get("papers", {}).get("items", {})
    return items.get("type") == "string"


def _line(entry: dict[str, Any]) -> str:
    return f"{entry['ARXIVID']} {entry['RELEVANCE']} {entry['NOVELTY']} {entry['COMMENT']}".rstrip()


def _wants_schema(body: dict[str, Any]) -> bool:
    fmt = body.get("response_format") or {}
    return isinstance(fmt, dict) and fmt.get("type") == "json_schema"


def _error(message: str, kind: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def reasoning_model(model: str) -> bool:
    """A gpt-5 or o-series name (after any provider prefix): what the real API treats so."""
    return re.match(r"(?:gpt-5|o\d)\b", model.rsplit("/", 1)[-1]) is not None


def _refused_parameter(fake: FakeOpenAI, body: dict[str, Any]) -> dict[str, Any] | None:
    """The real API's 400 for a parameter this model does not take, if the body sends one."""
    model = str(body.get("model", ""))
    if "max_tokens" in body and reasoning_model(model):
        message = (
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead."
        )
        return _error(message, "invalid_request_error", "unsupported_parameter", "max_tokens")
    if "reasoning_effort" in body and model in fake.refuses_reasoning_effort:
        message = "Unsupported parameter: 'reasoning_effort' is not supported with this model."
        return _error(message, "invalid_request_error", "unsupported_parameter", "reasoning_effort")
    return None


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (a hang past its timeout)
                self.close_connection = True

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, _error(f"no route {self.path}", "invalid_request_error", None), {})
                return
            body = json.loads(raw or b"{}")
            if refused := _refused_parameter(fake, body):
                with fake._lock:
                    fake.requests.append(body)
                self._send(400, refused, {})
                return
            if _wants_schema(body) and not fake.structured:
                with fake._lock:
                    fake.requests.append(body)
                message = "response_format json_schema is not supported by this model"
                self._send(400, _error(message, "invalid_request_error", None), {})
                return
            if missing := _unanswered_calls(body):
                with fake._lock:
                    fake.requests.append(body)
                message = (
                    "An assistant message with 'tool_calls' must be followed by tool messages "
                    f"responding to each 'tool_call_id'. Missing: {', '.join(missing)}"
                )
                self._send(400, _error(message, "invalid_request_error", None), {})
                return
            kind, options = fake._next(body)
            if kind == "429":
                headers = {"Retry-After": str(options.get("retry_after", "0.01"))}
                err = _error("Rate limit reached for requests", "requests", "rate_limit_exceeded")
                self._send(429, err, headers)
                return
            if kind == "500":
                ms = fake.retry_after_ms
                headers = {} if ms is None else {"retry-after-ms": str(ms)}
                self._send(500, _error("The server had an error", "server_error", None), headers)
                return
            if kind == "401":
                key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                message = f"Incorrect API key provided: {key}."
                self._send(401, _error(message, "invalid_request_error", "invalid_api_key"), {})
                return
            wait = fake.delay_seconds
            if kind == "hang":
                wait = max(wait, fake.hang_seconds)
            if kind == "delay":
                wait = max(wait, float(options.get("seconds", 1.0)))
            with fake._lock:
                fake._in_flight += 1
                fake.most_at_once = max(fake.most_at_once, fake._in_flight)
            try:
                if wait and fake._stop.wait(wait):
                    self.close_connection = True
                    return
            finally:
                with fake._lock:
                    fake._in_flight -= 1
            if kind == "tool_calls" and body.get("tool_choice") != "none":
                self._send(200, fake.completion(body, None, options["calls"]), {})
                return
            content = fake._content(body, kind, options)
            self._send(200, fake.completion(body, content), {})

    return Handler
