"""Slack: a Bolt app for /digest, mentions, DMs and buttons; Block Kit; the outbox's sender.

Listeners only ack, build a Context, call `bot.chat.answer` and post the rendered Reply.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
from cachetools import TTLCache
from slack_bolt.async_app import AsyncApp, AsyncAssistant
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat import (
    Context,
    Deps,
    PaperCard,
    Reply,
    answer,
    dump_reply,
    is_bib,
    is_slow,
    load_reply,
    only_paper,
    read_bib,
    this_paper,
    writes,
)
from bot.platforms.failures import could_not_tell, failed
from bot.platforms.pacing import Pace, RateLimited, reply_within
from digest import BIB_MAX_BYTES, ChatUnavailable, FetchError, RetryLater, Subscription

log = logging.getLogger(__name__)

MAX_BLOCKS = 50
MAX_TEXT = 3000
PAPERS_IN_HEADER = 5
PAPERS_PER_THREAD_MESSAGE = 10  # 3 blocks a paper: well under 50 blocks
AUDIENCE_TTL = 300  # seconds a person's channels (and a channel's name) are remembered
METADATA_EVENT = "paperdigest_message"
PERMANENT = {
    "channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "account_inactive",
    "token_revoked", "missing_scope", "not_authed", "restricted_action",
}  # fmt: skip
_MENTION = re.compile(r"<@[A-Z0-9]+>")


def escape(text: str) -> str:
    """Slack mrkdwn needs &, < and > escaped; everything else is literal."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fallback(reply: Reply) -> str:
    """The plain `text` of a message (notifications, screen readers), escaped as mrkdwn is.

    A digest's header says its total ("80 papers from ..."), not the papers it carries."""
    text = f"{reply.title}: {reply.lines[0]}" if reply.papers and reply.lines else reply.title
    return escape(text[:MAX_TEXT])


def _section(text: str) -> dict[str, Any]:
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _paper_blocks(card: PaperCard, index: int) -> list[dict[str, Any]]:
    title = escape(card.title).replace("|", "/")  # "|" ends a link's text
    scores = (
        "" if card.relevance is None else f" · relevance {card.relevance} · novelty {card.novelty}"
    )
    tldr = f"\n{_tldr_mrkdwn(card)}" if card.tldr else ""
    head = f"*{card.rank}. <{card.url}|{title}>*{tldr}\n{escape(card.byline())}{scores}"
    blocks = [_section(head)]
    if card.comment:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": escape(card.comment)[:MAX_TEXT]}],
            }
        )
    blocks.append(
        {
            "type": "actions",
            "block_id": f"paper-{index}-{card.id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": f"cmd-{j}",
                    "text": {"type": "plain_text", "text": button.label, "emoji": True},
                    "value": button.command,
                }
                for j, button in enumerate(card.buttons())
            ],
        }
    )
    return blocks


def _tldr_mrkdwn(card: PaperCard) -> str:
    """The TL;DR under the title; an extractive line is marked in italics as not being one."""
    label, _, text = card.tldr_line().partition(": ")
    return (
        f"_{escape(label)}:_ {escape(text)}" if card.tldr_extractive else escape(card.tldr_line())
    )


def render_blocks(reply: Reply) -> list[dict[str, Any]]:
    """A Reply as Block Kit: a bold title, its lines, then each paper with buttons."""
    blocks: list[dict[str, Any]] = [_section(f"*{escape(reply.title)}*")]
    text = "\n".join(escape(line) for line in reply.lines)
    while text:
        blocks.append(_section(text[:MAX_TEXT]))
        text = text[MAX_TEXT:]
    for i, card in enumerate(reply.papers):
        blocks += _paper_blocks(card, i)
    if len(blocks) > MAX_BLOCKS:
        blocks = [*blocks[: MAX_BLOCKS - 1], _section("_(more in the thread)_")]
    if reply.buttons:  # the reply's own buttons (a proposal's Apply), last; `cmd-N` runs them
        elements = [
            {"type": "button", "action_id": f"cmd-{j}", "value": b.command,
             "text": {"type": "plain_text", "text": b.label, "emoji": True}}
            for j, b in enumerate(reply.buttons)
        ]  # fmt: skip
        blocks = [*blocks[: MAX_BLOCKS - 1], {"type": "actions", "elements": elements}]
    return blocks


class SlackAudience:
    """What Slack says about one person: the channels they are in (users.conversations, with
    the bot's token: public ones, and private ones the bot is in too), which are public, and
    their names. Answers are cached for a few minutes."""

    def __init__(self, client: AsyncWebClient, user: str, cache: TTLCache) -> None:
        self.client, self.user, self.cache = client, user, cache

    async def member_of(self, chats: list[str]) -> set[str]:
        key = ("member", self.user)
        if key not in self.cache:
            channels: set[str] = set()
            cursor = None
            while True:
                page = await self.client.users_conversations(
                    user=self.user, types="public_channel,private_channel", limit=1000,
                    cursor=cursor, exclude_archived=True,
                )  # fmt: skip
                channels |= {c["id"] for c in page.get("channels") or []}
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
            self.cache[key] = channels
        return self.cache[key] & set(chats)

    async def _info(self, chat: str) -> dict[str, Any]:
        key = ("info", chat)
        if key not in self.cache:
            try:
                self.cache[key] = (await self.client.conversations_info(channel=chat))["channel"]
            except SlackApiError:
                self.cache[key] = {"is_private": True, "name": chat}  # unknown: not public
        return self.cache[key]

    async def is_public(self, chat: str) -> bool:
        info = await self._info(chat)
        return not info.get("is_private", True) and not info.get("is_im", False)

    async def name(self, chat: str) -> str:
        return f"#{(await self._info(chat)).get('name') or chat}"

    async def is_admin(self) -> bool:
        """A workspace admin or owner (users.info) may change any channel's settings."""
        key = ("admin", self.user)
        if key not in self.cache:
            try:
                user = (await self.client.users_info(user=self.user))["user"]
            except SlackApiError:
                return False  # not cached: Slack may answer next time
            self.cache[key] = any(user.get(k) for k in ("is_admin", "is_owner", "is_primary_owner"))
        return self.cache[key]

    async def cannot_post(self, chat: str) -> str | None:
        """Asked fresh (not cached): the person may have just invited the bot."""
        try:
            info = (await self.client.conversations_info(channel=chat))["channel"]
        except SlackApiError as exc:
            error = error_word(exc)
            if error == "channel_not_found":
                return f"I cannot see this channel, so I could not post here. {_INVITE}"
            return f"Slack would not tell me about this channel ({error}); try again later."
        if info.get("is_im") or info.get("is_mpim"):
            return None
        if info.get("is_archived"):
            return "This channel is archived, so I could not post here."
        if not info.get("is_member", False):
            return f"I am not a member of this channel, so I could not post here. {_INVITE}"
        return None


_INVITE = "Add me first (`/invite` and my name), then send `subscribe` again."


def build_app(deps: Deps, token: str, signing_secret: str, base_url: str | None = None) -> AsyncApp:
    """The Bolt app on the service's event loop; HTTP requests are verified with the secret."""
    client = (
        AsyncWebClient(token=token, base_url=base_url) if base_url else AsyncWebClient(token=token)
    )
    app = AsyncApp(client=client, signing_secret=signing_secret, process_before_response=False)
    cache: TTLCache = TTLCache(maxsize=10_000, ttl=AUDIENCE_TTL)

    def audience(user: str) -> SlackAudience:
        return SlackAudience(client, user, cache)

    async def ack_command(ack: Any, body: dict[str, Any]) -> None:
        """Within Slack's 3 seconds, always; slow commands say so."""
        if is_slow(body.get("text", "")):
            await ack(text="Working on it…")
        else:
            await ack()

    async def context(
        text: str, channel: str, user: str, name: str = "", dm: bool = False, paper: str = ""
    ) -> Context:
        asker = audience(user)
        admin = await asker.is_admin() if writes(text) and not dm else False
        return Context("slack", channel, user, name, admin, dm, asker, paper)

    async def thread_paper(event: dict[str, Any], text: str) -> str:
        """The paper a thread is about ("I like this one" under it): the one arXiv id its
        first message names; "" elsewhere, or when it names none or several."""
        thread = event.get("thread_ts")
        if not thread or thread == event.get("ts") or this_paper(text) is None:
            return ""
        found = await client.conversations_replies(channel=event["channel"], ts=thread, limit=1)
        first = (found.get("messages") or [{}])[0]
        return only_paper(f"{first.get('text', '')} {first.get('blocks', '')}")

    def visibility(text: str, reply: Reply) -> str:
        """Only the digest and changes to a channel's settings are for everyone."""
        return "in_channel" if writes(text) and not reply.ephemeral else "ephemeral"

    async def answer_command(body: dict[str, Any], respond: Any) -> None:
        text = body.get("text", "")
        dm = body.get("channel_name") == "directmessage"
        ctx = await context(
            text, body["channel_id"], body["user_id"], body.get("user_name", ""), dm
        )
        reply = await answer(text, ctx, deps)

        async def send() -> None:
            response = await respond(
                text=fallback(reply),
                blocks=render_blocks(reply),
                response_type=visibility(text, reply),
            )
            _raise_if_limited(response.status_code, response.headers)

        await reply_within(send, f"slack:{body['channel_id']}")

    app.command("/digest")(ack=ack_command, lazy=[answered(answer_command)])

    async def ack_action(ack: Any) -> None:
        await ack()

    async def answer_action(body: dict[str, Any], respond: Any) -> None:
        action = body["actions"][0]
        channel = (body.get("channel") or {}).get("id") or body["container"].get("channel_id")
        user = body["user"]
        ctx = await context(action["value"], channel, user["id"], user.get("username", ""))
        reply = await answer(action["value"], ctx, deps)

        async def send() -> None:
            response = await respond(
                text=fallback(reply), blocks=render_blocks(reply), response_type="ephemeral",
                replace_original=False,
            )  # fmt: skip
            _raise_if_limited(response.status_code, response.headers)

        await reply_within(send, f"slack:{channel}")

    app.action(re.compile(r"^cmd-\d+$"))(ack=ack_action, lazy=[answered(answer_action)])

    @app.event("app_mention")
    @answered
    async def on_mention(event: dict[str, Any], say: Any, client: AsyncWebClient) -> None:
        """`@paperdigest why 2602.08007` in a channel: answered in the thread; reads only to
        the asker."""
        text = _MENTION.sub("", event.get("text", "")).strip()
        channel, user = event["channel"], event["user"]
        paper = await thread_paper(event, text)
        reply = await answer(text, await context(text, channel, user, paper=paper), deps)
        thread = event.get("thread_ts") or event["ts"]

        async def send() -> None:
            if visibility(text, reply) == "ephemeral":
                await client.chat_postEphemeral(
                    channel=channel, user=user, text=fallback(reply),
                    blocks=render_blocks(reply), thread_ts=thread,
                )  # fmt: skip
            else:
                await say(text=fallback(reply), blocks=render_blocks(reply), thread_ts=thread)

        await reply_within(_limited(send), f"slack:{channel}")

    @app.event("message")
    @answered
    async def on_message(event: dict[str, Any], say: Any) -> None:
        """A DM to the bot, in plain words or as a command: answered in its thread."""
        if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype"):
            return
        await answer_in_thread(event, say)

    async def answer_in_thread(event: dict[str, Any], say: Any) -> None:
        text = event.get("text", "")
        paper = await thread_paper(event, text)
        ctx = await context(text, event["channel"], event["user"], dm=True, paper=paper)
        reply = await answer(text, ctx, deps)
        thread = event.get("thread_ts") or event["ts"]

        async def send() -> None:
            await say(text=fallback(reply), blocks=render_blocks(reply), thread_ts=thread)

        await reply_within(_limited(send), f"slack:{event['channel']}")

    @app.event("file_shared")
    @answered
    async def on_file(event: dict[str, Any], client: AsyncWebClient) -> None:
        """A file shared in a channel the bot is in, or in its DM: a .bib becomes wanted
        examples (`read_bib`); in a channel other files are left alone."""
        channel, user = event.get("channel_id") or "", event.get("user_id") or ""
        dm = channel.startswith("D")  # Slack's DM channel ids
        if not channel or not user or user == await bot_user():
            return
        info = (await client.files_info(file=event["file_id"]))["file"]
        name = str(info.get("name") or info.get("title") or "")
        if not dm and not is_bib(name):
            return

        async def download() -> bytes:
            url = info.get("url_private_download") or info.get("url_private") or ""
            return await _download(url, token)

        ctx = await context("like", channel, user, dm=dm)
        reply = await read_bib(name, info.get("size"), download, ctx, deps)
        if reply is None:
            return

        async def send() -> None:
            if reply.ephemeral and not dm:
                await client.chat_postEphemeral(channel=channel, user=user, text=fallback(reply),
                                                blocks=render_blocks(reply))  # fmt: skip
            else:
                await client.chat_postMessage(channel=channel, text=fallback(reply),
                                              blocks=render_blocks(reply))  # fmt: skip

        await reply_within(_limited(send), f"slack:{channel}")

    me: dict[str, str] = {}

    async def bot_user() -> str:
        """The bot's own user id (auth.test, once): its own uploads are not read."""
        if "id" not in me:
            me["id"] = str((await client.auth_test()).get("user_id") or "")
        return me["id"]

    app.use(_assistant(answer_in_thread))

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        """Log the failure with the request type; never the token or the payload."""
        log.error("Slack listener failed on a %s request: %r", body.get("type", "command"), error)

    return app


async def _download(url: str, token: str) -> bytes:
    """A file's `url_private`, with the bot token in the Authorization header (Slack answers
    its sign-in page, as HTML, to a request without it); at most BIB_MAX_BYTES + 1 bytes."""
    if not url:
        raise FetchError("Slack gave no download link for the file; nothing was added")
    timeout = aiohttp.ClientTimeout(total=30)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers={"Authorization": f"Bearer {token}"}) as response,
        ):
            kind = response.headers.get("Content-Type", "")
            if response.status != 200 or kind.startswith("text/html"):
                raise FetchError(f"could not download the file from Slack (HTTP "
                                 f"{response.status}{', a sign-in page' if 'html' in kind else ''}"
                                 "); nothing was added, try again")  # fmt: skip
            data = b""
            async for chunk in response.content.iter_chunked(1 << 16):
                data += chunk
                if len(data) > BIB_MAX_BYTES:  # parse_bib says it is too large
                    break
            return data
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise FetchError(f"could not download the file from Slack ({type(exc).__name__}); "
                         "nothing was added, try again in a few minutes") from None  # fmt: skip


ASSISTANT_PROMPTS = [
    {"title": "Today's best papers", "message": "what are the top papers today?"},
    {"title": "Why this paper?", "message": "why is #1 in the digest?"},
    {"title": "Search", "message": "papers about mixture of experts"},
    {"title": "My criteria", "message": "what are my criteria?"},
]


def _assistant(reply_in_thread: Callable[[dict[str, Any], Any], Awaitable[None]]) -> AsyncAssistant:
    """The Assistant panel (where the app has it enabled in its Slack settings): a new thread
    gets a greeting and suggested questions; each message in it is a DM, answered in place."""
    assistant = AsyncAssistant()

    @assistant.thread_started
    @answered
    async def started(say: Any, set_suggested_prompts: Any) -> None:
        await say("Ask me about today's arXiv papers: the best ones, why one scored as it did, "
                  "or papers about a topic.")  # fmt: skip
        await set_suggested_prompts(prompts=ASSISTANT_PROMPTS)

    @assistant.user_message
    @answered
    async def asked(payload: dict[str, Any], say: Any, set_status: Any) -> None:
        with contextlib.suppress(SlackApiError):  # an app without the Assistant feature
            await set_status("is reading the digest…")
        await reply_in_thread(payload, say)

    return assistant


Listener = Callable[..., Awaitable[None]]


def answered(listener: Listener) -> Listener:
    """The edge of every listener: when it raises, the person gets one line saying so (with an
    error id that is in the log line with the traceback) instead of silence.

    Bolt passes a listener the arguments its signature names (it reads through this wrapper);
    the line goes where the answer would have: a command's or button's `respond`, a mention's
    thread (to the asker only), a DM's or the Assistant's thread."""

    @functools.wraps(listener)
    async def run(**kwargs: Any) -> None:
        try:
            await listener(**kwargs)
        except Exception as exc:
            where = f"slack {listener.__name__}"
            line = failed(exc, where, "Slack", slack_unreachable)
            try:
                await _tell(kwargs, escape(line))
            except Exception as again:
                could_not_tell(where, again)

    return run


async def _tell(kwargs: dict[str, Any], line: str) -> None:
    """`line` to the person behind this request, where their answer would have gone."""
    if (respond := kwargs.get("respond")) is not None:
        await respond(text=line, response_type="ephemeral", replace_original=False)
        return
    event = kwargs.get("event") or kwargs.get("payload") or {}
    thread = event.get("thread_ts") or event.get("ts")
    client = kwargs.get("client")
    if event.get("type") == "app_mention" and client is not None:
        await client.chat_postEphemeral(
            channel=event["channel"], user=event["user"], text=line, thread_ts=thread
        )
    elif (say := kwargs.get("say")) is not None:
        await say(text=line, thread_ts=thread)


def slack_unreachable(exc: BaseException) -> bool:
    """Slack (or the way to it) failed, not our request: a 5xx, a 429, a body that is not
    Slack's JSON (a proxy's error page), a timeout or a dropped connection."""
    if isinstance(exc, SlackApiError):
        status = _status(exc)
        return status is None or status >= 500 or status == 429 or not _json_body(exc)
    return isinstance(exc, (TimeoutError, ConnectionError, aiohttp.ClientError))


def _status(exc: SlackApiError) -> int | None:
    """The HTTP status of a failed call, whatever object the SDK put in `response`."""
    response = exc.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return status if isinstance(status, int) else None


def _json_body(exc: SlackApiError) -> dict[str, Any] | None:
    data = getattr(exc.response, "data", None)
    return data if isinstance(data, dict) else None


def error_word(exc: SlackApiError) -> str:
    """Slack's error word (`channel_not_found`); for a body that is not JSON (a proxy's 502
    page, a 405) the HTTP status."""
    body = _json_body(exc)
    if body is not None and isinstance(body.get("error"), str):
        return str(body["error"])
    status = _status(exc)
    return f"HTTP {status}" if status else "unknown_error"


def _limited(send: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """`send`, with a Web API 429 raised as RateLimited."""

    async def sending() -> None:
        try:
            await send()
        except SlackApiError as exc:
            if _status(exc) == 429:
                _raise_if_limited(429, exc.response.headers)
            raise

    return sending


def _retry_after(headers: Any) -> float:
    """Slack's Retry-After, in seconds (30 when it names none)."""
    return float(headers.get("Retry-After", 30))


def _raise_if_limited(status: int, headers: Any) -> None:
    """A 429 from the Web API or a response_url, as RateLimited (`pacing` waits it out)."""
    if status == 429:
        raise RateLimited(_retry_after(headers))


async def start_socket_mode(app: AsyncApp, app_token: str) -> Any:
    """Socket Mode (no public URL needed) when SLACK_APP_TOKEN is set; returns the handler."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(app, app_token)
    await handler.connect_async()
    return handler


class SlackSender:
    """Posts digest messages: a header with the first papers, the rest in its thread."""

    platform = "slack"
    confirms = True  # a message in doubt is looked up by its metadata key
    draws = True  # the blocks are drawn from the payload's cards as the message goes

    def __init__(self, client: AsyncWebClient, pace: Pace | None = None) -> None:
        self.client = client
        self.pace = pace  # None: the outbox sends as fast as Slack answers

    def plan(self, header: Reply, papers: list[PaperCard]) -> list[dict[str, Any]]:
        first = Reply(header.title, header.lines, papers[:PAPERS_IN_HEADER])
        payloads = [{"reply": dump_reply(first), "in_thread": False}]
        rest = papers[PAPERS_IN_HEADER:]
        for i in range(0, len(rest), PAPERS_PER_THREAD_MESSAGE):
            chunk = rest[i : i + PAPERS_PER_THREAD_MESSAGE]
            title = f"papers {chunk[0].rank}-{chunk[-1].rank} of {papers[-1].rank}"
            payloads.append({"reply": dump_reply(Reply(title, [], chunk)), "in_thread": True})
        return payloads

    async def send(
        self, sub: Subscription, payload: dict[str, Any], key: str, parent: str | None
    ) -> str:
        reply = load_reply(payload["reply"])
        try:
            response = await self.client.chat_postMessage(
                channel=sub.chat,
                text=fallback(reply),
                blocks=render_blocks(reply),
                thread_ts=parent,
                unfurl_links=False,
                metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key}},
            )
        except SlackApiError as exc:
            raise _delivery_error(exc) from None
        except (TimeoutError, OSError) as exc:
            raise RetryLater(f"Slack unreachable: {type(exc).__name__}", 60) from None
        return str(response["ts"])

    async def find(
        self, sub: Subscription, key: str, since: datetime, parent: str | None = None
    ) -> str | None:
        """Look for a message posted with this key (after a crash mid-delivery)."""
        try:
            if parent:
                found = await self.client.conversations_replies(
                    channel=sub.chat, ts=parent, include_all_metadata=True
                )
            else:
                found = await self.client.conversations_history(
                    channel=sub.chat, oldest=str(since.timestamp()), include_all_metadata=True,
                    limit=200,
                )  # fmt: skip
        except SlackApiError as exc:
            raise _delivery_error(exc) from None
        for message in found.get("messages") or []:
            meta = message.get("metadata") or {}
            if meta.get("event_payload", {}).get("key") == key:
                return str(message["ts"])
        return None


def _delivery_error(exc: SlackApiError) -> Exception:
    error = error_word(exc)
    if _status(exc) == 429:
        return RetryLater("Slack rate limit (429)", _retry_after(exc.response.headers))
    if error in PERMANENT:
        return ChatUnavailable(f"Slack: {error}")
    return RetryLater(f"Slack: {error}", 60)
