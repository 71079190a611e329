"""A loopback stand-in for the Slack Web API, spoken to by the real slack_sdk and slack_bolt.

with FakeSlack() as fake:
    client = WebClient(base_url=fake.url, token="xoxb-test")   # fake.url ends with "/api/"
    client.chat_postMessage(channel="C1", text="hi", blocks=[...])
    fake.calls_to("chat.postMessage")[0].params["blocks"]      # decoded, whatever the encoding
    fake.fail_next("chat.postMessage", "channel_not_found")    # -> SlackApiError
    fake.rate_limit_next("chat.postMessage", retry_after=0)    # -> HTTP 429 + Retry-After
    fake.fail_channel("C2", "not_in_channel")                  # until conversations.join
    fake.response_url("cmd1")                                  # a `response_url` that records
    fake.add_file("refs.bib", b"@article{...}", user="U1", channel="C1")  # files.info + download

Requests are POST (form-encoded or JSON) or GET (query string) to `/api/<method>`; the bot
token comes from `Authorization: Bearer ...` (or a `token` parameter). Answers follow Slack's
shapes: 200 with {"ok": false, "error": ...} for API errors, 429 with Retry-After when rate
limited. chat.postMessage / chat.postEphemeral / chat.update / response_url bodies are checked
against Block Kit limits the way Slack checks them (invalid_blocks, msg_too_long, no_text).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import Loopback
from tests.fakes.rates import RateLimits, retry_after

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T1"
TEAM_NAME = "Test"
TS_STEP_MICROS = 100

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BLOCK_ID = 255
MAX_TEXT = 40000
MAX_MODAL_BLOCKS = 100

# Form fields Slack accepts as JSON-encoded strings.
JSON_FIELDS = ("blocks", "attachments", "view", "metadata", "user_auth_blocks", "users", "prompts")
RESPONSE_URL_METHOD = "response_url"
Payload = dict[str, Any]


@dataclass
class Call:
    """One request the fake received."""

    method: str  # "chat.postMessage", or "response_url" for POST /response/<id>
    params: dict[str, Any]  # query + body, JSON fields decoded
    token: str | None
    time: float
    http_method: str = "POST"
    path: str = ""
    status: int = 200
    response: Any = None  # the JSON payload answered (or the text, for response_url)


@dataclass
class _Injection:
    kind: str  # "fail" | "ratelimit" | "server_error" | "proxy"
    value: Any
    remaining: int


@dataclass
class _Reply:
    status: int
    body: Any  # dict -> JSON, str -> text/plain
    headers: dict[str, str] = field(default_factory=dict)


def _decode_json_fields(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    for name in JSON_FIELDS:
        value = out.get(name)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            # an undecodable string stays; validation then answers invalid_blocks_format
            with contextlib.suppress(json.JSONDecodeError):
                out[name] = json.loads(value)
    return out


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        text = obj.get("text")
        return text if isinstance(text, str) else ""
    return ""


def validate_blocks(blocks: Any, *, limit: int = MAX_BLOCKS) -> list[str]:
    """Slack's complaints about `blocks` (empty when it would accept them)."""
    if not isinstance(blocks, list):
        return ["invalid_blocks_format"]
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"must be less than {limit + 1} items [json-pointer:/blocks]")
    seen_ids: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"[json-pointer:/blocks/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"missing required field: type {where}]")
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if len(block_id) > MAX_BLOCK_ID:
                errors.append(f"must be less than {MAX_BLOCK_ID + 1} characters {where}/block_id]")
            if block_id in seen_ids:
                errors.append(f"duplicate block_id {where}/block_id]")
            seen_ids.add(block_id)
        kind = block["type"]
        if kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and not fields:
                errors.append(f"must provide either text or fields {where}]")
            if len(_text_of(text)) > MAX_SECTION_TEXT:
                errors.append(
                    f"must be less than {MAX_SECTION_TEXT + 1} characters {where}/text/text]"
                )
            if isinstance(fields, list):
                if len(fields) > MAX_SECTION_FIELDS:
                    errors.append(
                        f"must be less than {MAX_SECTION_FIELDS + 1} items {where}/fields]"
                    )
                for j, f in enumerate(fields):
                    if len(_text_of(f)) > MAX_FIELD_TEXT:
                        errors.append(
                            f"must be less than {MAX_FIELD_TEXT + 1} characters "
                            f"{where}/fields/{j}/text]"
                        )
        elif kind == "header":
            text = block.get("text")
            if not isinstance(text, dict) or text.get("type") != "plain_text":
                errors.append(f"must be a plain_text object {where}/text]")
            elif len(_text_of(text)) > MAX_HEADER_TEXT:
                errors.append(
                    f"must be less than {MAX_HEADER_TEXT + 1} characters {where}/text/text]"
                )
        elif kind in ("context", "actions"):
            cap = MAX_CONTEXT_ELEMENTS if kind == "context" else MAX_ACTIONS_ELEMENTS
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                errors.append(f"must provide elements {where}/elements]")
            elif len(elements) > cap:
                errors.append(f"must be less than {cap + 1} items {where}/elements]")
    return errors


def check_message(params: dict[str, Any], *, need_content: bool = True) -> Payload | None:
    """The error Slack answers for this message body, or None if it would be accepted."""
    text = params.get("text")
    if isinstance(text, str) and len(text) > MAX_TEXT:
        return {"ok": False, "error": "msg_too_long"}
    blocks = params.get("blocks")
    if blocks is not None:
        errors = validate_blocks(blocks)
        if errors == ["invalid_blocks_format"]:
            return {"ok": False, "error": "invalid_blocks_format"}
        if errors:
            return {
                "ok": False,
                "error": "invalid_blocks",
                "errors": errors,
                "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]},
            }
    if need_content and not text and not blocks and not params.get("attachments"):
        return {"ok": False, "error": "no_text"}
    return None


class FakeSlack(Loopback):
    """A Slack Web API on 127.0.0.1:<free port>; see the module docstring."""

    def __init__(
        self,
        *,
        valid_tokens: set[str] | None = None,
        first_ts: float | None = None,
        limits: RateLimits | None = None,
        latency: float = 0.0,
    ) -> None:
        """`first_ts`: the first message's ts; by default the clock, as Slack's ts are.
        `limits`: answer 429 to a chat.postMessage over them (tests.fakes.rates.slack_limits);
        `latency`: seconds every answer takes, as over a real network."""
        self.valid_tokens = valid_tokens  # None: any token is accepted
        self.limits = limits
        self.latency = latency
        start = time.time() if first_ts is None else first_ts
        self._first_ts_micros = int(start * 1_000_000) // TS_STEP_MICROS * TS_STEP_MICROS
        self.users_admin: set[str] = set()
        self.user_names: dict[str, str] = {}
        self.channel_names: dict[str, str] = {}
        self.private_channels: set[str] = set()
        self.memberships: dict[str, set[str]] = {}  # user -> the channels they are in
        self.assistant_enabled = True  # the app has Slack's Assistant feature (agents & AI apps)
        self.calls: list[Call] = []
        self.messages: list[Payload] = []  # accepted chat.postMessage messages, in order
        self._lock = threading.RLock()
        self._arrived = threading.Condition(self._lock)
        self._ts_counter = 0
        self._view_counter = 0
        self._injections: dict[str, list[_Injection]] = {}
        self._channel_errors: dict[str, str] = {}
        self._invalid_auth = False
        self._canned: dict[str, Payload | Callable[[dict[str, Any]], Payload]] = {}
        self.files: dict[str, tuple[Payload, bytes]] = {}  # file id -> (files.info's file, bytes)
        self.downloads: list[tuple[str, str | None]] = []  # (path, bearer token) of each GET
        self.fail_downloads: int | None = None  # an HTTP status every download answers

    # ---- lifecycle -------------------------------------------------------------------------
    def handler(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (_Handler,), {"fake": self})

    @property
    def url(self) -> str:
        """The `base_url` for WebClient / AsyncWebClient (ends with "/api/")."""
        return f"{self.root}/api/"

    def response_url(self, response_id: str = "1") -> str:
        """A Slack-style `response_url`; POSTs to it are recorded as method "response_url"."""
        return f"{self.root}/response/{response_id}"

    def add_file(
        self, name: str, content: bytes, user: str = "U1", channel: str = "C1",
        mimetype: str = "text/plain", filetype: str = "text",
    ) -> str:  # fmt: skip
        """A file `user` shared in `channel`, as files.info describes it; its id. Its
        url_private answers its bytes to a request with a bot token, else Slack's sign-in
        page (HTML)."""
        with self._lock:
            file_id = f"F{len(self.files) + 1:08d}"
            base = f"{self.root}/files-pri/{TEAM_ID}-{file_id}"
            stamp = int(time.time())
            info = {
                "id": file_id, "created": stamp, "timestamp": stamp, "name": name,
                "title": name, "mimetype": mimetype, "filetype": filetype,
                "pretty_type": filetype.title(), "user": user, "user_team": TEAM_ID,
                "editable": False, "size": len(content), "mode": "hosted",
                "is_external": False, "external_type": "", "is_public": channel.startswith("C"),
                "public_url_shared": False, "display_as_bot": False, "username": "",
                "url_private": f"{base}/{name}",
                "url_private_download": f"{base}/download/{name}",
                "permalink": f"https://test.slack.com/files/{user}/{file_id}/{name}",
                "channels": [channel] if channel.startswith("C") else [],
                "groups": [channel] if channel.startswith("G") else [],
                "ims": [channel] if channel.startswith("D") else [],
                "comments_count": 0,
            }  # fmt: skip
            self.files[file_id] = (info, content)
            return file_id

    def _download(self, path: str, token: str | None) -> _Reply:
        """GET of a url_private (or its /download/ twin)."""
        with self._lock:
            self.downloads.append((path, token))
            if self.fail_downloads is not None:
                return _Reply(self.fail_downloads, "<html>error</html>")
            parts = path.split("/")  # "", files-pri, T1-F..., [download,] name
            file_id = parts[2].split("-", 1)[-1] if len(parts) > 3 else ""
            found = self.files.get(file_id)
            valid = token is not None and (self.valid_tokens is None or token in self.valid_tokens)
            if not valid:
                return _Reply(200, "<!DOCTYPE html><html><title>Slack</title>Sign in</html>",
                              {"Content-Type": "text/html; charset=utf-8"})  # fmt: skip
            if found is None:
                return _Reply(404, "<html>Not found</html>", {"Content-Type": "text/html"})
            return _Reply(200, found[1], {"Content-Type": found[0]["mimetype"]})

    # ---- inspection ------------------------------------------------------------------------
    def wait_for(self, method: str, count: int = 1, timeout: float = 30.0) -> list[Call]:
        """Block until `count` calls of `method` arrived (answers sent from other threads)."""
        with self._arrived:
            done = self._arrived.wait_for(lambda: len(self.calls_to(method)) >= count, timeout)
        if not done:
            raise AssertionError(f"{method} was called {self.count(method)} times, not {count}")
        return self.calls_to(method)

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def count(self, method: str) -> int:
        return len(self.calls_to(method))

    def posted(self, channel: str | None = None) -> list[Payload]:
        """Messages chat.postMessage accepted (failed posts are only in `calls`)."""
        with self._lock:
            return [m for m in self.messages if channel is None or m["channel"] == channel]

    def posted_texts(self, channel: str | None = None) -> list[str]:
        return [m.get("text") or "" for m in self.posted(channel)]

    def reset(self) -> None:
        """Forget calls, messages and every injected failure (users_admin and names stay)."""
        with self._lock:
            self.calls.clear()
            self.messages.clear()
            self._injections.clear()
            self._channel_errors.clear()
            self._invalid_auth = False
            self._canned.clear()

    # ---- failure injection -----------------------------------------------------------------
    def _inject(self, method: str, kind: str, value: Any, times: int) -> None:
        with self._lock:
            self._injections.setdefault(method, []).append(_Injection(kind, value, times))

    def fail_next(self, method: str, error: str = "channel_not_found", times: int = 1) -> None:
        """The next `times` calls to `method` answer 200 {"ok": false, "error": error}."""
        self._inject(method, "fail", error, times)

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls answer 429, Retry-After: retry_after, error "ratelimited"."""
        self._inject(method, "ratelimit", retry_after, times)

    def server_error_next(self, method: str, status: int = 500, times: int = 1) -> None:
        """The next `times` calls answer HTTP `status` with {"ok": false, "error": ...}."""
        self._inject(method, "server_error", status, times)

    def proxy_error_next(
        self,
        method: str,
        status: int = 502,
        body: str = "<html>502 Bad Gateway</html>",
        times: int = 1,
    ) -> None:
        """The next `times` calls answer HTTP `status` with a body that is not JSON (text/plain),
        as a proxy in front of Slack does."""
        self._inject(method, "proxy", (status, body), times)

    def fail_channel(self, channel: str, error: str = "not_in_channel") -> None:
        """chat.postMessage/postEphemeral to `channel` fail with `error` until cleared.

        conversations.info reflects it (is_archived / is_member / channel_not_found), and
        conversations.join clears "not_in_channel" like Slack does.
        """
        with self._lock:
            self._channel_errors[channel] = error

    def clear_channel(self, channel: str) -> None:
        with self._lock:
            self._channel_errors.pop(channel, None)

    def invalid_auth(self, enabled: bool = True) -> None:
        """Every API call answers invalid_auth (until invalid_auth(False) or reset())."""
        with self._lock:
            self._invalid_auth = enabled

    def set_response(
        self, method: str, payload: Payload | Callable[[dict[str, Any]], Payload]
    ) -> None:
        """Answer `method` with `payload` (or payload(params)) instead of the built-in reply."""
        with self._lock:
            self._canned[method] = payload

    # ---- the protocol ----------------------------------------------------------------------
    def _next_ts(self) -> str:
        self._ts_counter += 1
        micros = self._first_ts_micros + self._ts_counter * TS_STEP_MICROS
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _take_injection(self, method: str) -> _Injection | None:
        queue = self._injections.get(method)
        if not queue:
            return None
        injection = queue[0]
        injection.remaining -= 1
        if injection.remaining <= 0:
            queue.pop(0)
        return injection

    def _handle(self, call: Call, is_webhook: bool) -> _Reply:
        with self._lock:
            reply = self._over_limit(call) or self._answer(
                call.method, call.params, call.token, is_webhook
            )
            call.status, call.response = reply.status, reply.body
            self.calls.append(call)
            self._arrived.notify_all()
        if self.latency:
            time.sleep(self.latency)
        return reply

    def _over_limit(self, call: Call) -> _Reply | None:
        """A 429 when a chat.postMessage would break the enforced per-channel limit."""
        if self.limits is None or call.method != "chat.postMessage":
            return None
        wait = self.limits.take(("channel", call.params.get("channel")))
        if wait is None:
            return None
        return _Reply(429, {"ok": False, "error": "ratelimited"},
                      {"Retry-After": str(retry_after(wait))})  # fmt: skip

    def refused(self) -> int:
        """Messages answered 429 because they broke the enforced limits."""
        return self.limits.refused if self.limits else 0

    def _answer(
        self, method: str, params: dict[str, Any], token: str | None, is_webhook: bool
    ) -> _Reply:
        if self._invalid_auth and not is_webhook:
            return _Reply(200, {"ok": False, "error": "invalid_auth"})
        injection = self._take_injection(method)
        if injection is not None and injection.kind == "proxy":
            return _Reply(injection.value[0], injection.value[1])
        if injection is not None and injection.kind == "server_error":
            return _Reply(injection.value, {"ok": False, "error": "internal_error"})
        if injection is not None and injection.kind == "ratelimit":
            return _Reply(
                429,
                {"ok": False, "error": "ratelimited"},
                {"Retry-After": str(int(injection.value))},
            )
        if is_webhook:
            return self._webhook(params, injection)
        if injection is not None:
            return _Reply(200, {"ok": False, "error": injection.value})
        if not token:
            return _Reply(200, {"ok": False, "error": "not_authed"})
        if self.valid_tokens is not None and token not in self.valid_tokens:
            return _Reply(200, {"ok": False, "error": "invalid_auth"})
        canned = self._canned.get(method)
        if canned is not None:
            return _Reply(200, canned(params) if callable(canned) else canned)
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return _Reply(200, {"ok": False, "error": "unknown_method"})
        return _Reply(200, handler(params))

    def _webhook(self, params: dict[str, Any], injection: _Injection | None) -> _Reply:
        # Slack's response_url answers plain text: "ok", or an error word with a 4xx status.
        if injection is not None:
            return _Reply(404, str(injection.value))
        error = check_message(params, need_content=not params.get("delete_original"))
        if error is not None:
            return _Reply(400, error["error"])
        return _Reply(200, "ok")

    def _message(self, params: dict[str, Any], ts: str) -> Payload:
        message: Payload = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "team": TEAM_ID,
            "ts": ts,
            "text": params.get("text") or "",
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if params.get(key) is not None:
                message[key] = params[key]
        return message

    def _channel_summary(self, channel: str) -> Payload:
        error = self._channel_errors.get(channel)
        return {
            "id": channel,
            "name": self.channel_names.get(channel, f"chan-{channel.lower()}"),
            "is_channel": True,
            "is_private": channel in self.private_channels,
            "is_archived": error == "is_archived",
            "is_member": error not in ("not_in_channel", "is_archived"),
            "created": 1_600_000_000,
        }

    def _api_auth_test(self, params: dict[str, Any]) -> Payload:
        return {
            "ok": True,
            "url": "https://test.slack.com/",
            "team": TEAM_NAME,
            "user": "paperdigest",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _api_chat_postMessage(self, params: dict[str, Any]) -> Payload:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel in self._channel_errors:
            return {"ok": False, "error": self._channel_errors[channel]}
        error = check_message(params)
        if error is not None:
            return error
        ts = self._next_ts()
        message = self._message(params, ts)
        self.messages.append({"channel": channel, **message})
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _api_chat_postEphemeral(self, params: dict[str, Any]) -> Payload:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("user"):
            return {"ok": False, "error": "user_not_found"}
        if channel in self._channel_errors:
            return {"ok": False, "error": self._channel_errors[channel]}
        error = check_message(params)
        if error is not None:
            return error
        return {"ok": True, "message_ts": self._next_ts()}

    def _assistant_thread(self, params: dict[str, Any]) -> Payload | None:
        """An error unless the app has the Assistant feature and names a thread."""
        if not self.assistant_enabled:
            return {"ok": False, "error": "not_allowed_token_type"}
        if not params.get("channel_id") or not params.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        return None

    def _api_assistant_threads_setStatus(self, params: dict[str, Any]) -> Payload:
        return self._assistant_thread(params) or {"ok": True}

    def _api_assistant_threads_setSuggestedPrompts(self, params: dict[str, Any]) -> Payload:
        prompts = params.get("prompts")
        if not isinstance(prompts, list) or not all("message" in p for p in prompts):
            return {"ok": False, "error": "invalid_arguments"}
        return self._assistant_thread(params) or {"ok": True}

    def _api_assistant_threads_setTitle(self, params: dict[str, Any]) -> Payload:
        return self._assistant_thread(params) or {"ok": True}

    def _api_chat_update(self, params: dict[str, Any]) -> Payload:
        channel, ts = params.get("channel"), params.get("ts")
        target = next((m for m in self.messages if m["channel"] == channel and m["ts"] == ts), None)
        if target is None:
            return {"ok": False, "error": "message_not_found"}
        error = check_message(params)
        if error is not None:
            return error
        target["text"] = params.get("text") or ""
        for key in ("blocks", "attachments"):
            if key in params:
                target[key] = params[key]
        message = {k: v for k, v in target.items() if k != "channel"}
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": target["text"],
            "message": message,
        }

    def _api_chat_getPermalink(self, params: dict[str, Any]) -> Payload:
        channel, ts = params.get("channel"), params.get("message_ts")
        if not channel or not ts:
            return {"ok": False, "error": "message_not_found"}
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://test.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _api_conversations_history(self, params: dict[str, Any]) -> Payload:
        """Newest first, like Slack; `oldest` filters by ts; metadata kept when posted."""
        channel = params.get("channel")
        if channel in self._channel_errors:
            return {"ok": False, "error": self._channel_errors[channel]}
        oldest = float(params.get("oldest") or 0)
        found = [
            {k: v for k, v in m.items() if k != "channel"}
            for m in reversed(self.messages)
            if m["channel"] == channel and float(m["ts"]) >= oldest and "thread_ts" not in m
        ]
        limit = int(params.get("limit") or 100)
        return {"ok": True, "messages": found[:limit], "has_more": len(found) > limit}

    def _api_conversations_replies(self, params: dict[str, Any]) -> Payload:
        channel, parent = params.get("channel"), params.get("ts")
        found = [
            {k: v for k, v in m.items() if k != "channel"}
            for m in self.messages
            if m["channel"] == channel and (m["ts"] == parent or m.get("thread_ts") == parent)
        ]
        return {"ok": True, "messages": found, "has_more": False}

    def _api_conversations_info(self, params: dict[str, Any]) -> Payload:
        channel = params.get("channel")
        if not channel or self._channel_errors.get(channel) == "channel_not_found":
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": self._channel_summary(channel)}

    def _api_conversations_join(self, params: dict[str, Any]) -> Payload:
        channel = params.get("channel")
        error = self._channel_errors.get(channel or "", None)
        if not channel or error == "channel_not_found":
            return {"ok": False, "error": "channel_not_found"}
        if error == "is_archived":
            return {"ok": False, "error": "is_archived"}
        if error == "not_in_channel":
            del self._channel_errors[channel]
        return {"ok": True, "channel": self._channel_summary(channel)}

    def _api_users_conversations(self, params: dict[str, Any]) -> Payload:
        """The channels `user` is in (the bot is in all of them), one page."""
        user = params.get("user")
        if not user:
            return {"ok": False, "error": "user_not_found"}
        channels = sorted(self.memberships.get(user, set()))
        types = (params.get("types") or "public_channel").split(",")
        kept = [
            self._channel_summary(c)
            for c in channels
            if ("private_channel" if c in self.private_channels else "public_channel") in types
        ]
        return {"ok": True, "channels": kept, "response_metadata": {"next_cursor": ""}}

    def _api_users_info(self, params: dict[str, Any]) -> Payload:
        user = params.get("user")
        if not user:
            return {"ok": False, "error": "user_not_found"}
        name = self.user_names.get(user, f"user-{user.lower()}")
        is_admin = user in self.users_admin
        return {
            "ok": True,
            "user": {
                "id": user,
                "team_id": TEAM_ID,
                "name": name,
                "real_name": name.replace("-", " ").title(),
                "deleted": False,
                "is_admin": is_admin,
                "is_owner": False,
                "is_bot": user == BOT_USER_ID,
                "tz": "Europe/Berlin",
                "profile": {"real_name": name.replace("-", " ").title(), "display_name": name},
            },
        }

    def _api_files_info(self, params: dict[str, Any]) -> Payload:
        found = self.files.get(params.get("file") or "")
        if found is None:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": dict(found[0]), "comments": [],
                "response_metadata": {"next_cursor": ""}}  # fmt: skip

    def _api_views_open(self, params: dict[str, Any]) -> Payload:
        view = params.get("view")
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        blocks = view.get("blocks", [])
        if validate_blocks(blocks, limit=MAX_MODAL_BLOCKS):
            return {"ok": False, "error": "invalid_arguments"}
        self._view_counter += 1
        return {
            "ok": True,
            "view": {
                "id": f"V{self._view_counter:08d}",
                "team_id": TEAM_ID,
                "app_id": "A1",
                "bot_id": BOT_ID,
                "hash": f"{self._view_counter}.hash",
                **view,
            },
        }

    def _api_apps_connections_open(self, params: dict[str, Any]) -> Payload:
        return {"ok": False, "error": "not_allowed"}  # socket mode is not faked


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeSlack

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _read_params(self, query: str) -> dict[str, Any]:
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = (self.headers.get("Content-Type") or "").lower()
        if raw:
            text = raw.decode("utf-8", errors="replace")
            if "json" in ctype or text.lstrip().startswith("{"):
                try:
                    body = json.loads(text)
                except json.JSONDecodeError:
                    body = {"_raw": text}
                params.update(body if isinstance(body, dict) else {"_body": body})
            elif "multipart/form-data" in ctype:
                params["_raw"] = text  # file uploads are not faked
            else:
                params.update({k: v[-1] for k, v in parse_qs(text).items()})
        return _decode_json_fields(params)

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        params = self._read_params(parts.query)
        path = parts.path
        auth = self.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        token = token or params.get("token")
        if path.startswith("/files-pri/"):
            self._answer_raw(self.fake._download(path, token))
            return
        if path.startswith("/response/"):
            method, is_webhook = RESPONSE_URL_METHOD, True
            params.setdefault("_response_id", path[len("/response/") :])
        elif path.startswith("/api/"):
            method, is_webhook = path[len("/api/") :], False
        else:
            method, is_webhook = path.lstrip("/"), False
        call = Call(method, params, token, time.time(), http_method=self.command, path=path)
        self._answer_raw(self.fake._handle(call, is_webhook))

    def _answer_raw(self, reply: _Reply) -> None:
        if isinstance(reply.body, bytes):
            data, ctype = reply.body, "application/octet-stream"
        elif isinstance(reply.body, str):
            data, ctype = reply.body.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(reply.body).encode("utf-8"), "application/json; charset=utf-8"
        headers = {"Content-Type": ctype, **reply.headers}
        self.send_response(reply.status)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
