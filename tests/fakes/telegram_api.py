"""A loopback stand-in for the Telegram Bot API, spoken to by the real python-telegram-bot.

with FakeTelegram() as fake:
    async with Bot(TOKEN, base_url=fake.base_url) as bot:      # base_url ends with "/bot"
        await bot.send_message(42, "<b>hi</b>", parse_mode="HTML")
    fake.sent(42)[0]["text"]                                   # accepted sendMessage params
    fake.send_text(42, "/help")                                # queue an update for getUpdates
    fake.press(42, message_id, "sub:1")                        # queue a callback_query update
    fake.send_document(42, "refs.bib", b"@article{...}")       # a file: getFile + download
    fake.fail_next("sendMessage", "retry_after", retry_after=3)  # -> telegram.error.RetryAfter
    fake.fail_chat(-5, "migrate", to=-1005)                    # -> telegram.error.ChatMigrated
    fake.on_answer = lambda call: ...                          # acts before a call is answered
    fake.on_arrival = lambda call: ...                         # acts before a call is counted

Requests are POST (form-encoded, multipart or JSON) or GET (query string) to
`/bot<TOKEN>/<method>`; method names are case-insensitive, as in Telegram. Answers follow the
Bot API: 200 {"ok": true, "result": ...}, or {"ok": false, "error_code", "description",
"parameters"} with the HTTP status equal to error_code, which PTB turns into RetryAfter (429),
Forbidden (403), ChatMigrated / BadRequest (400), InvalidToken (401/404), Conflict (409) and
NetworkError (5xx). Texts are checked the way Telegram checks them: length after entity parsing
(1..4096), well-formed HTML with Telegram's tags for parse_mode=HTML, callback_data of 1..64
bytes, bot command names and descriptions.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import itertools
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import Loopback
from tests.fakes.rates import RateLimits, retry_after

Payload = dict[str, Any]

BOT_ID = 999
BOT_USERNAME = "paperdigest_bot"
BOT_FIRST_NAME = "PaperDigest"
FIRST_UPDATE_ID = 100_000
MAX_MESSAGE_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_COMMANDS = 100
COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")

# Form fields that carry JSON-serialized objects (PTB json.dumps every non-str value).
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "commands",
        "scope",
        "entities",
        "caption_entities",
        "allowed_updates",
        "link_preview_options",
        "reply_parameters",
        "media",
        "results",
        "permissions",
    }
)
INT_FIELDS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "user_id",
        "offset",
        "limit",
        "timeout",
        "message_thread_id",
        "reply_to_message_id",
        "cache_time",
        "max_connections",
        "until_date",
    }
)
BOOL_PREFIXES = ("disable_", "protect_", "show_", "drop_", "allow_", "only_", "revoke_", "is_")
# Methods that `fail_chat` affects (the ones that put something into a chat).
CHAT_SEND_METHODS = frozenset(
    {
        "sendmessage",
        "senddocument",
        "sendphoto",
        "sendchataction",
        "editmessagetext",
        "editmessagereplymarkup",
        "copymessage",
        "forwardmessage",
    }
)
FAIL_KINDS = (
    "retry_after", "forbidden", "migrate", "server_error", "bad_request", "not_json", "garbled",
)  # fmt: skip

# Telegram's HTML subset: tag -> allowed attributes.
HTML_TAGS: dict[str, frozenset[str]] = {
    "b": frozenset(),
    "strong": frozenset(),
    "i": frozenset(),
    "em": frozenset(),
    "u": frozenset(),
    "ins": frozenset(),
    "s": frozenset(),
    "strike": frozenset(),
    "del": frozenset(),
    "a": frozenset({"href"}),
    "code": frozenset({"class"}),
    "pre": frozenset(),
    "tg-spoiler": frozenset(),
    "span": frozenset({"class"}),
    "blockquote": frozenset({"expandable"}),
    "tg-emoji": frozenset({"emoji-id"}),
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_TAG_NAME_RE = re.compile(r"[A-Za-z0-9-]*")
_ATTR_RE = re.compile(r"""\s*([A-Za-z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")


# the methods that post a message: what the Bot API's rate limits count
_SENDS = frozenset({"sendmessage", "senddocument", "sendphoto"})


class HtmlError(ValueError):
    """Raised by `parse_html`; str(exc) is the part after "can't parse entities: "."""


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_entities(text: str, where: int, full: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "&":
            out.append(text[i])
            i += 1
            continue
        m = _ENTITY_RE.match(text, i)
        if not m:
            raise HtmlError(f"Unsupported HTML entity at byte offset {_byte_offset(full, where)}")
        named, dec, hexa = m.groups()
        out.append(NAMED_ENTITIES[named] if named else chr(int(dec or hexa, 10 if dec else 16)))
        i = m.end()
    return "".join(out)


def parse_html(text: str) -> str:
    """The plain text Telegram shows for `text` sent with parse_mode=HTML, or HtmlError.

    Only Telegram's tags (see HTML_TAGS) and the entities &lt; &gt; &amp; &quot; (plus numeric
    ones, which Telegram also accepts) are allowed; every tag must be closed, in order.
    """
    out: list[str] = []
    stack: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "&":
            m = _ENTITY_RE.match(text, i)
            if not m:
                raise HtmlError(f"Unsupported HTML entity at byte offset {_byte_offset(text, i)}")
            out.append(_decode_entities(m.group(0), i, text))
            i = m.end()
            continue
        if c != "<":
            out.append(c)
            i += 1
            continue
        start = i
        if text.startswith("</", i):
            end = text.find(">", i)
            if end < 0:
                raise HtmlError(f"Unclosed end tag at byte offset {_byte_offset(text, start)}")
            name = text[i + 2 : end].strip().lower()
            if not stack:
                raise HtmlError(f"Unexpected end tag at byte offset {_byte_offset(text, start)}")
            if name != stack[-1]:
                raise HtmlError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, start)}, "
                    f'expected "</{stack[-1]}>", found "</{name}>"'
                )
            stack.pop()
            i = end + 1
            continue
        m = _TAG_NAME_RE.match(text, i + 1)
        name = m.group(0).lower() if m else ""
        if name not in HTML_TAGS:
            raise HtmlError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, start)}'
            )
        i = m.end() if m else i + 1
        attrs: dict[str, str] = {}
        while True:
            while i < n and text[i].isspace():
                i += 1
            if i >= n:
                raise HtmlError(f"Unclosed start tag at byte offset {_byte_offset(text, start)}")
            if text[i] == ">":
                i += 1
                break
            am = _ATTR_RE.match(text, i)
            if not am or am.end() == i:
                raise HtmlError(
                    f"Expected equal sign in declaration of an attribute of the tag at byte "
                    f"offset {_byte_offset(text, start)}"
                )
            value = next((v for v in am.groups()[1:] if v is not None), "")
            attrs[am.group(1).lower()] = _decode_entities(value, i, text)
            i = am.end()
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise HtmlError(
                f'Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(text, start)}"
            )
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise HtmlError(
                f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset '
                f"{_byte_offset(text, start)}"
            )
        stack.append(name)
    if stack:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


class ApiError(Exception):
    """An error answer: {"ok": false, "error_code": status, "description": ..., ...}."""

    def __init__(
        self, status: int, description: str, parameters: Payload | None = None, raw: Any = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters
        self.raw = raw  # answered as is instead: a str as text/html, anything else as JSON

    def body(self) -> Any:
        if self.raw is not None:
            return self.raw
        body: Payload = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


@dataclass
class Call:
    """One request the fake received (failed ones too)."""

    method: str  # canonical camelCase name when known ("sendMessage"), else as requested
    params: Payload  # query + body; JSON fields decoded, ids/limits as int, flags as bool
    time: float
    token: str | None = None
    status: int = 200
    response: Any = None  # the whole JSON answered


@dataclass
class _Injection:
    kind: str
    opts: Payload
    remaining: int


def _coerce(name: str, value: Any) -> Any:
    """A form field (always a str from PTB) as the type Telegram reads it as."""
    if not isinstance(value, str):
        return value
    if name in JSON_FIELDS:
        with contextlib.suppress(ValueError):
            return json.loads(value)
        return value
    if name in INT_FIELDS and re.fullmatch(r"-?\d+", value):
        return int(value)
    if name in INT_FIELDS and re.fullmatch(r"-?\d+\.\d*", value):
        return float(value)
    if value in ("true", "false", "True", "False") and name.startswith(BOOL_PREFIXES):
        return value.lower() == "true"
    return value


def _chat_type_for(chat_id: int | str) -> str:
    if isinstance(chat_id, str):
        return "channel"
    if chat_id > 0:
        return "private"
    return "supergroup" if chat_id <= -1_000_000_000_000 else "group"


NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


def _edited(message: Payload, markup: Any) -> Payload:
    """Apply a new keyboard (or none) and stamp the edit, as Telegram answers an edit."""
    if markup:
        message["reply_markup"] = markup
    else:
        message.pop("reply_markup", None)
    message["edit_date"] = int(time.time())
    return dict(message)


class FakeTelegram(Loopback):
    """A Telegram Bot API on 127.0.0.1:<free port>; see the module docstring.

    token: when given, any other token is answered 401 Unauthorized (malformed ones 404).
    members[(chat_id, user_id)] = "creator" | "administrator" | "member" | "left" | "kicked"
    chats[chat_id] = {"type": ..., "title": ..., ...} overrides what getChat / Message.chat say.
    max_poll_timeout caps getUpdates' long-polling `timeout` (seconds) so shutdown stays quick.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        bot_id: int = BOT_ID,
        username: str = BOT_USERNAME,
        first_name: str = BOT_FIRST_NAME,
        max_poll_timeout: float = 2.0,
        limits: RateLimits | None = None,
        latency: float = 0.0,
    ) -> None:
        """`limits`: answer 429 to a message over them (tests.fakes.rates.telegram_limits);
        `latency`: seconds every answer but getUpdates' takes, as over a real network."""
        self.token = token
        self.limits = limits
        self.latency = latency
        self.bot_id = bot_id
        self.username = username
        self.first_name = first_name
        self.max_poll_timeout = max_poll_timeout
        self.members: dict[tuple[int | str, int], str] = {}
        self.chats: dict[int | str, Payload] = {}
        self.calls: list[Call] = []
        self.messages: dict[tuple[int | str, int], Payload] = {}  # live messages by (chat, id)
        self.commands: dict[tuple[str, str], list[Payload]] = {}  # (scope json, lang) -> list
        self.webhook: Payload = {}  # setWebhook params while a webhook is set
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._updates: list[Payload] = []  # not yet confirmed via getUpdates' offset
        self._update_ids = itertools.count(FIRST_UPDATE_ID)
        self._message_ids: dict[int | str, itertools.count[int]] = {}
        self._callback_ids = itertools.count(1)
        self._open_callbacks: set[str] = set()
        self._injections: dict[str, list[_Injection]] = {}
        self._chat_failures: dict[int | str, tuple[str, Payload]] = {}
        self._closing = False
        self._pollers = 0  # getUpdates calls currently long-polling
        # called (in the server's thread) with each call it took, before the answer is sent:
        # a test acts while the bot waits for it (e.g. the bot's store goes away mid-send)
        self.on_answer: Callable[[Call], None] | None = None
        self.on_arrival: Callable[[Call], None] | None = None
        self._methods: dict[str, tuple[str, Callable[[Payload], Any]]] = {}
        for attr in dir(self):
            if attr.startswith("_api_"):
                name = attr[len("_api_") :]
                self._methods[name.lower()] = (name, getattr(self, attr))

    # ---- lifecycle -------------------------------------------------------------------------
    def handler(self) -> type[BaseHTTPRequestHandler]:
        self._closing = False
        return type("Handler", (_Handler,), {"fake": self})

    def stop(self) -> None:
        with self._cond:
            self._closing = True  # long polls answer now
            self._cond.notify_all()
        super().stop()

    @property
    def base_url(self) -> str:
        """For Bot(base_url=...) / ApplicationBuilder().base_url(...); PTB appends the token."""
        return f"{self.root}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.root}/file/bot"

    # ---- inspection ------------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        key = method.lower()
        with self._lock:
            return [c for c in self.calls if c.method.lower() == key]

    def count(self, method: str) -> int:
        return len(self.calls_to(method))

    def wait_for(self, method: str, count: int = 1, timeout: float = 30.0) -> list[Call]:
        """Block until `method` was called `count` times (any outcome); its calls."""
        with self._cond:
            done = self._cond.wait_for(lambda: self.count(method) >= count, timeout)
        if not done:
            raise AssertionError(f"{method} was called {self.count(method)} times, not {count}")
        return self.calls_to(method)

    def wait_polling(self, timeout: float = 10.0) -> None:
        """Block until some getUpdates request is waiting inside the fake (long polling)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._pollers > 0, timeout):
                raise AssertionError("nobody is long-polling getUpdates")

    def sent(self, chat_id: int | str | None = None) -> list[Payload]:
        """Params of the sendMessage calls that were accepted, in order."""
        return [
            c.params
            for c in self.calls_to("sendMessage")
            if c.status == 200 and (chat_id is None or c.params.get("chat_id") == chat_id)
        ]

    def sent_texts(self, chat_id: int | str | None = None) -> list[str]:
        return [p.get("text", "") for p in self.sent(chat_id)]

    def my_commands(self, scope: Payload | None = None, language_code: str = "") -> list[Payload]:
        """The list setMyCommands stored for this scope and language (default scope: all)."""
        with self._lock:
            return list(self.commands.get((_scope_key(scope), language_code), []))

    def pending_updates(self) -> list[Payload]:
        """Queued updates not yet confirmed by a getUpdates offset."""
        with self._lock:
            return list(self._updates)

    def reset(self) -> None:
        """Forget calls, messages, queued updates, commands, webhook and injected failures."""
        with self._cond:
            self.calls.clear()
            self.messages.clear()
            self.commands.clear()
            self.webhook = {}
            self._updates.clear()
            self._injections.clear()
            self._chat_failures.clear()
            self._open_callbacks.clear()
            self._cond.notify_all()

    # ---- failure injection -----------------------------------------------------------------
    def fail_next(self, method: str, kind: str, times: int = 1, **opts: Any) -> None:
        """The next `times` calls to `method` fail.

        kind "retry_after" (opts retry_after=1): 429 "Too Many Requests: retry after N";
        "forbidden" (opts reason="blocked"|"kicked", default from the chat type): 403;
        "migrate" (opts to=new_chat_id): 400 with parameters.migrate_to_chat_id;
        "server_error" (opts status=500|502, description); "bad_request" (opts description,
        default "Bad Request: chat not found"); "not_json" (opts status=502, body: an HTML page,
        as a proxy in front of Telegram answers); "garbled" (200, ok, with opts result, default
        {}: an object the SDK cannot read).
        """
        if kind not in FAIL_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}; one of {FAIL_KINDS}")
        with self._lock:
            self._injections.setdefault(method.lower(), []).append(_Injection(kind, opts, times))

    def fail_chat(self, chat_id: int | str, kind: str, **opts: Any) -> None:
        """Every sendMessage (and other send/edit) to `chat_id` fails until `clear_chat`."""
        if kind not in FAIL_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}; one of {FAIL_KINDS}")
        with self._lock:
            self._chat_failures[chat_id] = (kind, opts)

    def clear_chat(self, chat_id: int | str) -> None:
        with self._lock:
            self._chat_failures.pop(chat_id, None)

    def _failure(self, kind: str, opts: Payload, params: Payload) -> ApiError:
        chat_id = params.get("chat_id", 0)
        if kind == "retry_after":
            n = int(opts.get("retry_after", 1))
            return ApiError(429, f"Too Many Requests: retry after {n}", {"retry_after": n})
        if kind == "forbidden":
            reason = opts.get("reason")
            if reason is None:
                reason = "blocked" if self._chat(chat_id)["type"] == "private" else "kicked"
            description = opts.get("description") or {
                "blocked": "Forbidden: bot was blocked by the user",
                "kicked": "Forbidden: bot was kicked from the group chat",
            }.get(reason, f"Forbidden: {reason}")
            return ApiError(403, description)
        if kind == "migrate":
            to = opts.get("to")
            if to is None:
                to = -1_000_000_000_000 - abs(int(chat_id or 1))
            return ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": to},
            )
        if kind == "not_json":
            page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
            return ApiError(int(opts.get("status", 502)), "", raw=opts.get("body", page))
        if kind == "garbled":
            return ApiError(200, "", raw={"ok": True, "result": opts.get("result", {})})
        if kind == "server_error":
            status = int(opts.get("status", 500))
            default = "Bad Gateway" if status == 502 else "Internal Server Error"
            return ApiError(status, opts.get("description", default))
        return ApiError(400, opts.get("description", "Bad Request: chat not found"))

    def _take_failure(self, key: str, params: Payload) -> ApiError | None:
        with self._lock:
            queue = self._injections.get(key) or []
            if queue:
                inj = queue[0]
                inj.remaining -= 1
                if inj.remaining <= 0:
                    queue.pop(0)
                return self._failure(inj.kind, inj.opts, params)
            if key in CHAT_SEND_METHODS and params.get("chat_id") in self._chat_failures:
                kind, opts = self._chat_failures[params["chat_id"]]
                return self._failure(kind, opts, params)
        return None

    # ---- updates: what users do ------------------------------------------------------------
    def _queue(self, body: Payload) -> Payload:
        with self._cond:
            update = {"update_id": next(self._update_ids), **body}
            self._updates.append(update)
            self._cond.notify_all()
        return update

    def _user(self, user_id: int, username: str | None) -> Payload:
        user: Payload = {"id": user_id, "is_bot": False, "first_name": (username or "user").title()}
        if username:
            user["username"] = username
        user["language_code"] = "en"
        return user

    def _next_message_id(self, chat_id: int | str) -> int:
        with self._lock:
            return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def send_text(
        self,
        chat_id: int | str,
        text: str,
        user_id: int = 1,
        chat_type: str | None = None,
        username: str | None = "alice",
        title: str | None = None,
        reply_to: int | None = None,
    ) -> Payload:
        """Queue the update Telegram sends when `user_id` writes `text` in `chat_id`
        (as a reply to message `reply_to` of that chat, when given).

        chat_type defaults from the id (positive: private, -100...: supergroup, else group).
        A leading "/command" (or "/command@bot") gets a bot_command entity, as in Telegram.
        """
        with self._lock:
            message, chat_type = self._incoming(chat_id, user_id, chat_type, username, title)
            message["text"] = text
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0] if text.strip() else text
                length = len(command.encode("utf-16-le")) // 2
                message["entities"] = [{"offset": 0, "length": length, "type": "bot_command"}]
            if reply_to is not None:
                message["reply_to_message"] = dict(self.messages[(chat_id, reply_to)])
            self.messages[(chat_id, message["message_id"])] = message
        key = "channel_post" if chat_type == "channel" else "message"
        return self._queue({key: message})

    def _incoming(
        self, chat_id: int | str, user_id: int, chat_type: str | None, username: str | None,
        title: str | None,
    ) -> tuple[Payload, str]:  # fmt: skip
        """A new message from `user_id` in `chat_id` (its chat noted), and the chat's type."""
        chat_type = chat_type or self.chats.get(chat_id, {}).get("type")
        chat_type = chat_type or _chat_type_for(chat_id)
        chat: Payload = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = (username or "user").title()
            if username:
                chat["username"] = username
        else:
            chat["title"] = (
                title
                or self.chats.get(chat_id, {}).get("title")
                or ("Channel" if chat_type == "channel" else "Group")
            )
        known = self.chats.setdefault(chat_id, {})
        for key, value in chat.items():
            known.setdefault(key, value)
        message: Payload = {"message_id": self._next_message_id(chat_id)}
        if chat_type == "channel":
            message["sender_chat"] = dict(chat)
        else:
            message["from"] = self._user(user_id, username)
        message.update({"chat": chat, "date": int(time.time())})
        return message, chat_type

    def send_document(
        self, chat_id: int | str, name: str, content: bytes, user_id: int = 1,
        chat_type: str | None = None, username: str | None = "alice", caption: str = "",
    ) -> Payload:  # fmt: skip
        """Queue the update Telegram sends when `user_id` sends the file `name` in `chat_id`;
        getFile and the file download URL then serve `content`."""
        with self._lock:
            message, chat_type = self._incoming(chat_id, user_id, chat_type, username, None)
            file_id = f"BQACAgIAAxkBAAI{len(self.files) + 1:04d}"
            self.files[file_id] = (f"documents/file_{len(self.files)}.bib", content)
            message["document"] = {
                "file_name": name, "mime_type": "application/x-bibtex", "file_id": file_id,
                "file_unique_id": f"AgAD{len(self.files):04d}", "file_size": len(content),
            }  # fmt: skip
            if caption:
                message["caption"] = caption
            self.messages[(chat_id, message["message_id"])] = message
        return self._queue({"channel_post" if chat_type == "channel" else "message": message})

    def press(
        self,
        chat_id: int | str,
        message_id: int,
        data: str,
        user_id: int = 1,
        username: str | None = "alice",
    ) -> Payload:
        """Queue the callback_query Telegram sends when `user_id` taps a button with `data`."""
        with self._lock:
            message = self.messages.get((chat_id, message_id))
            if message is None:
                message = {
                    "message_id": message_id,
                    "from": self._me(),
                    "chat": self._chat(chat_id),
                    "date": int(time.time()),
                    "text": "",
                }
            query_id = str(4_000_000_000_000_000_000 + next(self._callback_ids))
            self._open_callbacks.add(query_id)
            query = {
                "id": query_id,
                "from": self._user(user_id, username),
                "message": json.loads(json.dumps(message)),
                "chat_instance": str(zlib.crc32(str(chat_id).encode()) * 1_000_003),
                "data": data,
            }
        return self._queue({"callback_query": query})

    def queue_update(self, body: Payload) -> Payload:
        """Queue any update body ({"message": ...}); update_id is assigned."""
        return self._queue(dict(body))

    @staticmethod
    def post_update_to(url: str, update: Payload, secret: str | None = None) -> int:
        """POST `update` to a webhook like Telegram does; the HTTP status. Blocking: from async
        code run it in a thread (asyncio.to_thread) so the webhook server can answer."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        req = urllib.request.Request(
            url, data=json.dumps(update).encode(), headers=headers, method="POST"
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    # ---- request handling ------------------------------------------------------------------
    def _handle(self, method: str, token: str | None, params: Payload) -> tuple[int, Any]:
        key = method.lower()
        name, func = self._methods.get(key, (method, None))
        call = Call(name, params, time.time(), token)
        if self.on_arrival is not None:
            self.on_arrival(call)  # on its way: not counted by the limits yet
        try:
            if token is None or not TOKEN_RE.match(token):
                raise ApiError(404, "Not Found")
            if self.token is not None and token != self.token:
                raise ApiError(401, "Unauthorized")
            if func is None:
                raise ApiError(404, "Not Found")
            failure = self._take_failure(key, params) or self._over_limit(key, token, params)
            if failure is not None:
                raise failure
            if key == "getupdates":
                body: Payload = {"ok": True, "result": self._api_getUpdates(params)}
            else:
                with self._lock:
                    body = {"ok": True, "result": func(params)}
            status = 200
        except ApiError as exc:
            status, body = exc.status, exc.body()
        call.status, call.response = status, body
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()
        if self.on_answer is not None:
            self.on_answer(call)  # the request is taken; its answer is not on its way yet
        if self.latency and key != "getupdates":
            time.sleep(self.latency)
        return status, body

    def _over_limit(self, key: str, token: str | None, params: Payload) -> ApiError | None:
        """A 429 when a message would break the enforced limits (the bot's, the chat's)."""
        if self.limits is None or key not in _SENDS or "chat_id" not in params:
            return None
        chat = params["chat_id"]
        keys = [("bot", token), ("chat", chat)]
        if str(chat).startswith("-"):
            keys.append(("group", chat))
        wait = self.limits.take(*keys)
        if wait is None:
            return None
        n = retry_after(wait)
        return ApiError(429, f"Too Many Requests: retry after {n}", {"retry_after": n})

    def refused(self) -> int:
        """Messages answered 429 because they broke the enforced limits."""
        return self.limits.refused if self.limits else 0

    def _file(self, path: str) -> bytes | None:
        with self._lock:
            for file_path, content in self.files.values():
                if file_path == path:
                    return content
        return None

    # ---- object shapes ---------------------------------------------------------------------
    def _me(self) -> Payload:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def _chat(self, chat_id: int | str) -> Payload:
        chat: Payload = {"id": chat_id, "type": _chat_type_for(chat_id)}
        chat.update(self.chats.get(chat_id, {}))
        if chat["type"] != "private":
            chat.setdefault("title", "Group" if "group" in chat["type"] else "Channel")
        else:
            chat.setdefault("first_name", "User")
        return chat

    def _new_message(self, params: Payload, **content: Any) -> Payload:
        chat_id = _require(params, "chat_id")
        message: Payload = {
            "message_id": self._next_message_id(chat_id),
            "from": self._me(),
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            **content,
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages[(chat_id, message["message_id"])] = message
        return message

    # ---- validation ------------------------------------------------------------------------
    def _check_text(self, params: Payload) -> str:
        text = params.get("text")
        if text is None:
            raise bad_request("message text is empty")
        plain = str(text)
        mode = str(params.get("parse_mode") or "").lower()
        if mode == "html":
            try:
                plain = parse_html(plain)
            except HtmlError as exc:
                raise bad_request(f"can't parse entities: {exc}") from None
        if not plain.strip():
            raise bad_request("message text is empty")
        if len(plain) > MAX_MESSAGE_LENGTH:
            raise bad_request("message is too long")
        return plain

    def _check_markup(self, params: Payload) -> None:
        markup = params.get("reply_markup")
        if markup is None:
            return
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise bad_request('can\'t find field "text"')
                if "callback_data" in button:
                    size = len(str(button["callback_data"]).encode("utf-8"))
                    if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                        raise bad_request("BUTTON_DATA_INVALID")
                elif "url" in button and not re.match(r"^(https?|tg)://\S+$", str(button["url"])):
                    raise bad_request("BUTTON_URL_INVALID")

    # ---- methods (name after _api_ is the Bot API method) ----------------------------------
    def _api_getMe(self, params: Payload) -> Payload:
        return {
            **self._me(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _api_logOut(self, params: Payload) -> bool:
        return True

    def _api_close(self, params: Payload) -> bool:
        return True

    def _api_sendMessage(self, params: Payload) -> Payload:
        _require(params, "chat_id")
        plain = self._check_text(params)
        self._check_markup(params)
        return self._new_message(params, text=plain)  # like Telegram: markup parsed away

    def _api_sendChatAction(self, params: Payload) -> bool:
        _require(params, "chat_id")
        _require(params, "action")
        return True

    def _api_sendDocument(self, params: Payload) -> Payload:
        doc = _require(params, "document")
        if isinstance(doc, str) and doc.startswith("attach://"):
            doc = params.get(doc[len("attach://") :])
        if isinstance(doc, dict):  # an upload
            file_id = f"DOC{len(self.files) + 1}"
            name = doc.get("filename") or "file"
            self.files[file_id] = (f"documents/{file_id}_{name}", doc["content"])
            document = {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_name": name,
                "file_size": len(doc["content"]),
            }
        else:
            document = {"file_id": str(doc), "file_unique_id": f"u{doc}"}
        content: Payload = {"document": document}
        if params.get("caption"):
            content["caption"] = params["caption"]
        self._check_markup(params)
        return self._new_message(params, **content)

    def _api_getFile(self, params: Payload) -> Payload:
        file_id = _require(params, "file_id")
        if file_id not in self.files:
            raise bad_request("invalid file_id")
        path, content = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(content),
            "file_path": path,
        }

    def _stored_message(self, params: Payload, what: str) -> tuple[Any, int, Payload]:
        if params.get("inline_message_id"):
            raise bad_request(f"message to {what} not found")
        chat_id = _require(params, "chat_id")
        message_id = _require(params, "message_id")
        message = self.messages.get((chat_id, message_id))
        if message is None:
            raise bad_request(f"message to {what} not found")
        return chat_id, message_id, message

    def _api_editMessageText(self, params: Payload) -> Payload:
        _chat_id, _message_id, message = self._stored_message(params, "edit")
        if message.get("from", {}).get("id") != self.bot_id:
            raise bad_request("message can't be edited")
        plain = self._check_text(params)
        self._check_markup(params)
        markup = params.get("reply_markup")
        if message.get("text") == plain and message.get("reply_markup") == markup:
            raise bad_request(NOT_MODIFIED)
        message["text"] = plain
        return _edited(message, markup)

    def _api_editMessageReplyMarkup(self, params: Payload) -> Payload:
        _chat_id, _message_id, message = self._stored_message(params, "edit")
        self._check_markup(params)
        markup = params.get("reply_markup")
        if message.get("reply_markup") == markup:
            raise bad_request(NOT_MODIFIED)
        return _edited(message, markup)

    def _api_deleteMessage(self, params: Payload) -> bool:
        chat_id, message_id, _message = self._stored_message(params, "delete")
        del self.messages[(chat_id, message_id)]
        return True

    def _api_answerCallbackQuery(self, params: Payload) -> bool:
        query_id = str(_require(params, "callback_query_id"))
        if len(str(params.get("text") or "")) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        if query_id not in self._open_callbacks:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self._open_callbacks.discard(query_id)
        return True

    def _api_setMyCommands(self, params: Payload) -> bool:
        commands = _require(params, "commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > MAX_COMMANDS:
            raise bad_request("too many commands")
        for cmd in commands:
            if not isinstance(cmd, dict) or not COMMAND_RE.match(str(cmd.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description") or "").strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self.commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _api_getMyCommands(self, params: Payload) -> list[Payload]:
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        return list(self.commands.get(key, []))

    def _api_deleteMyCommands(self, params: Payload) -> bool:
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self.commands.pop(key, None)
        return True

    def _api_getChat(self, params: Payload) -> Payload:
        chat = self._chat(_require(params, "chat_id"))
        return {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
            **chat,
        }

    def _api_getChatMember(self, params: Payload) -> Payload:
        chat_id = _require(params, "chat_id")
        user_id = _require(params, "user_id")
        status = self.members.get((chat_id, user_id), "member")
        if user_id == self.bot_id:
            user = self._me()
        else:
            user = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        member: Payload = {"user": user, "status": status}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": True,
                    "can_restrict_members": True,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                }
            )
        elif status == "kicked":
            member["until_date"] = 0
        return member

    def _api_setWebhook(self, params: Payload) -> bool:
        url = str(params.get("url") or "")
        if url and not url.startswith("https://") and not url.startswith("http://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = dict(params) if url else {}
        return True

    def _api_deleteWebhook(self, params: Payload) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = {}
        return True

    def _api_getWebhookInfo(self, params: Payload) -> Payload:
        info: Payload = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook.get("max_connections"):
            info["max_connections"] = self.webhook["max_connections"]
        if self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    def _api_getUpdates(self, params: Payload) -> list[Payload]:
        """Long polling: waits on the condition (never sleeps) up to min(timeout, cap)."""
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, min(float(params.get("timeout") or 0), self.max_poll_timeout))
        deadline = time.monotonic() + timeout
        with self._cond:
            if self.webhook:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if offset > 0:  # confirms every update before `offset`
                self._updates[:] = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates[:] = self._updates[offset:]
            self._pollers += 1
            self._cond.notify_all()
            try:
                while not self._updates and not self._closing:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
            finally:
                self._pollers -= 1
            return [json.loads(json.dumps(u)) for u in self._updates[:limit]]


def _scope_key(scope: Any) -> str:
    if not scope or scope == {"type": "default"}:
        return "default"
    return json.dumps(scope, sort_keys=True)


def _require(params: Payload, name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise bad_request(f"{name} is empty" if name != "chat_id" else "chat not found")
    return value


def _parse_multipart(ctype: str, raw: bytes) -> Payload:
    head = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    params: Payload = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        content = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            params[str(name)] = {"filename": filename, "content": content}
        else:
            params[str(name)] = content.decode("utf-8", errors="replace")
    return params


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeTelegram

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle + delayed ACK add ~40 ms
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _read_params(self, query: str) -> Payload:
        params: Payload = {k: v[-1] for k, v in parse_qs(query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type") or ""
        if raw:
            if "multipart/form-data" in ctype.lower():
                params.update(_parse_multipart(ctype, raw))
            elif "json" in ctype.lower():
                body = json.loads(raw.decode("utf-8"))
                if isinstance(body, dict):
                    params.update(body)
            else:
                text = raw.decode("utf-8", errors="replace")
                params.update({k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()})
        return {k: _coerce(k, v) for k, v in params.items()}

    def _send(self, status: int, data: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)  # a cancelled long poll hung up already

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        try:
            params = self._read_params(parts.query)
        except (ValueError, UnicodeDecodeError):
            body = {"ok": False, "error_code": 400, "description": "Bad Request: invalid JSON"}
            self._send(400, json.dumps(body).encode(), "application/json")
            return
        path = parts.path
        if path.startswith("/file/bot"):
            _token, _, file_path = path[len("/file/bot") :].partition("/")
            content = self.fake._file(file_path)
            if content is None:
                self._send(
                    404,
                    b'{"ok":false,"error_code":404,"description":"Not Found"}',
                    "application/json",
                )
            else:
                self._send(200, content, "application/octet-stream")
            return
        token: str | None = None
        method = path.strip("/")
        if path.startswith("/bot"):
            token, _, method = path[len("/bot") :].partition("/")
        status, body = self.fake._handle(method, token, params)
        if isinstance(body, str):
            self._send(status, body.encode("utf-8"), "text/html")
            return
        self._send(status, json.dumps(body).encode("utf-8"), "application/json")
