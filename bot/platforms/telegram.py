"""Telegram: a python-telegram-bot Application for commands, DMs and buttons; HTML; the sender.

Handlers only answer callbacks, build a Context, call `bot.chat.answer` and send the
rendered Reply.
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
import re
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from cachetools import TTLCache
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.chat import (
    COMMAND_WORDS,
    SPECS,
    Button,
    Context,
    Deps,
    PaperCard,
    Reply,
    answer,
    dump_reply,
    is_bib,
    load_reply,
    only_paper,
    read_bib,
    sent_message,
    this_paper,
    writes,
)
from bot.platforms.failures import could_not_tell, failed
from bot.platforms.pacing import Pace, RateLimited, reply_within
from digest import ChatMoved, ChatUnavailable, FetchError, RetryLater, Subscription

# python-telegram-bot 22.2+ gives time periods (a 429's retry_after) as timedeltas when this is
# set, the type its next major version makes the default; unset, every 429 logs a deprecation.
os.environ.setdefault("PTB_TIMEDELTA", "true")

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CALLBACK = 64  # bytes of callback_data
MIN_ABSTRACT = 200  # characters of abstract worth opening a message for; less: a new message
AUDIENCE_TTL = 300  # seconds a membership (and a group's title) is remembered
# seconds a digest message's request may take to go out and be answered: past it, the message is
# in doubt and sent again a minute later (the Bot API cannot be asked whether it arrived), so a
# slow answer from a loaded Bot API must not cut it short (python-telegram-bot's default: 5 s)
SEND_TIMEOUT = 30.0
COMMANDS = sorted({name.split()[0] for name in SPECS if name != "rate"} | {"start"})


_CODE = re.compile(r"`([^`\n]+)`")


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def as_telegram(line: str) -> str:
    """Command-core text for Telegram: a quoted command (`why <id>`) becomes `/why <id>`, which
    Telegram clients make tappable; other quotes lose their backticks."""

    def one(match: re.Match[str]) -> str:
        text = match.group(1)
        return f"/{text}" if text.split()[0].lower() in COMMAND_WORDS else text

    return _CODE.sub(one, line)


def _tldr_html(card: PaperCard) -> str:
    """The TL;DR line; an extractive one keeps its label in italics: it is no TL;DR."""
    label, _, text = card.tldr_line().partition(": ")
    if card.tldr_extractive:
        return f"<i>{_escape(label)}:</i> {_escape(text)}"
    return f"<b>{_escape(label)}:</b> {_escape(text)}"


def paper_html(card: PaperCard, abstract: str | None = None) -> str:
    """One paper: bold linked title, its TL;DR, authors, scores, comment; with `abstract` (the
    escaped HTML **More** shows), the abstract last."""
    title = f'<b><a href="{html.escape(card.url)}">{_escape(card.title)}</a></b>'
    tldr = f"\n{_tldr_html(card)}" if card.tldr else ""
    scores = (
        "" if card.relevance is None else f"\nrelevance {card.relevance} · novelty {card.novelty}"
    )
    comment = f"\n<i>{_escape(card.comment)}</i>" if card.comment else ""
    more = f"\n<b>Abstract:</b> {abstract}" if abstract is not None else ""
    return f"{card.rank}. {title}{tldr}\n{_escape(card.byline())}{scores}{comment}{more}"


def _keyboard(cards: list[PaperCard], opened: Collection[str] = ()) -> InlineKeyboardMarkup | None:
    """A row of buttons per paper; an opened paper's **More** is **Less**."""
    rows = []
    for card in cards:
        buttons = [
            Button("Less", f"less {card.id}") if b.command == f"more {card.id}" and
            card.id in opened else b
            for b in card.buttons()
        ]  # fmt: skip
        rows.append(
            [
                InlineKeyboardButton(f"{b.label.rstrip('?')} {card.rank}", callback_data=b.command)
                for b in buttons
                if len(b.command.encode()) <= MAX_CALLBACK
            ]
        )
    return InlineKeyboardMarkup(rows) if rows else None


def _pieces(line: str, limit: int) -> list[str]:
    """One plain line as escaped pieces of at most `limit` characters, never cut in an entity."""
    pieces: list[str] = []
    piece: list[str] = []
    size = 0
    for ch in line:
        escaped = _escape(ch)
        if size + len(escaped) > limit:
            pieces.append("".join(piece))
            piece, size = [], 0
        piece.append(escaped)
        size += len(escaped)
    return [*pieces, "".join(piece)]


def _fitting(card: PaperCard, limit: int) -> tuple[PaperCard, str]:
    """A paper's block, its comment (then its title) shortened until the block fits."""
    block = paper_html(card)
    for comment, title in ((1000, None), (300, None), (0, None), (0, 300), (0, 100)):
        if len(block) <= limit:
            break
        cut = {"comment": card.comment[:comment] + "…" if comment else ""}
        if title is not None:
            cut["title"] = card.title[:title] + "…"
        card = PaperCard(**{**card.__dict__, **cut})
        block = paper_html(card)
    return card, block


def layout(reply: Reply) -> list[tuple[str, str, list[PaperCard]]]:
    """A Reply cut into Telegram messages under 4096 characters, between lines and papers:
    each as (its HTML, the HTML before its first paper, its papers as shown).

    Every cut falls between escaped pieces, so each message is valid HTML on its own."""
    limit = MAX_TEXT - 16
    title = reply.title if len(reply.title) <= 300 else reply.title[:300] + "…"
    units: list[tuple[str, str, PaperCard | None]] = [("\n", f"<b>{_escape(title)}</b>", None)]
    for line in map(as_telegram, reply.lines):
        units += [
            ("\n", piece, None) for part in line.split("\n") for piece in _pieces(part, limit)
        ]
    for card in reply.papers:
        card, block = _fitting(card, limit)
        units.append(("\n\n", block, card))
    messages: list[tuple[str, str, list[PaperCard]]] = []
    for glue, text, unit_card in units:
        cards = [unit_card] if unit_card is not None else []
        if messages and len(messages[-1][0]) + len(glue) + len(text) <= MAX_TEXT:
            before, head, held = messages[-1]
            head = head if held or unit_card is not None else f"{before}{glue}{text}"
            messages[-1] = (f"{before}{glue}{text}", head, held + cards)
        else:
            messages.append((text, "" if unit_card is not None else text, cards))
    return messages


def render_messages(reply: Reply) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """A Reply as Telegram HTML messages under 4096 characters (`layout`), with its buttons."""
    out = [(text, _keyboard(cards)) for text, _, cards in layout(reply)]
    if reply.buttons:  # the reply's own buttons (a proposal's Apply) under its last message
        text, keyboard = out[-1]
        rows = [list(row) for row in (keyboard.inline_keyboard if keyboard else ())]
        fits = [b for b in reply.buttons if len(b.command.encode()) <= MAX_CALLBACK]
        rows.append([InlineKeyboardButton(b.label, callback_data=b.command) for b in fits])
        out[-1] = (text, InlineKeyboardMarkup(rows))
    return out


class TelegramAudience:
    """What Telegram says about one person: of the groups where the bot has seen them, those
    they are still a member of (getChatMember), which are public, and their titles. Answers
    are cached for a few minutes."""

    def __init__(self, bot: Any, seen: set[str], user: str, cache: TTLCache) -> None:
        self.bot, self.seen, self.user, self.cache = bot, seen, user, cache

    async def member_of(self, chats: list[str]) -> set[str]:
        out = set()
        for chat in set(chats) & self.seen:
            key = ("member", chat, self.user)
            if key not in self.cache:
                try:
                    member = await self.bot.get_chat_member(int(chat), int(self.user))
                    self.cache[key] = member.status in _MEMBER or bool(
                        getattr(member, "is_member", False)
                    )
                except UNREADABLE:  # left, kicked, the bot is not there, or a garbled answer
                    self.cache[key] = False
            if self.cache[key]:
                out.add(chat)
        return out

    async def _chat(self, chat: str) -> Any:
        key = ("chat", chat)
        if key not in self.cache:
            try:
                self.cache[key] = await self.bot.get_chat(int(chat))
            except UNREADABLE:
                self.cache[key] = None
        return self.cache[key]

    async def is_public(self, chat: str) -> bool:
        found = await self._chat(chat)
        return bool(found is not None and found.username)

    async def name(self, chat: str) -> str:
        found = await self._chat(chat)
        return (found.title if found is not None else None) or chat

    async def cannot_post(self, chat: str) -> str | None:
        """getChat and the bot's own getChatMember, asked fresh."""
        try:
            found = await self.bot.get_chat(int(chat))
            if found.type == ChatType.PRIVATE:
                return None
            me = await self.bot.get_chat_member(int(chat), self.bot.id)
        except TelegramError as exc:
            return f"Telegram would not tell me about this chat ({_said(exc)}); try again later."
        except UNREADABLE as exc:  # an answer the SDK could not read (not the Bot API's shape)
            log.warning("getChat/getChatMember answer unreadable: %s", type(exc).__name__)
            return "Telegram's answer about this chat made no sense to me; try again later."
        status = me.status
        if status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
            return (
                "I am not a member of this chat, so I could not post here. Add me, then /subscribe."
            )
        if status == ChatMemberStatus.RESTRICTED and not getattr(me, "can_send_messages", True):
            return (
                "I may not send messages in this chat, so I could not post here. An admin can "
                "allow it in the chat's permissions; then /subscribe again."
            )
        if found.type == ChatType.CHANNEL and not getattr(me, "can_post_messages", False):
            return "In a channel I post only as an admin allowed to post messages: make me one."
        return None


# What reading a Bot API answer may raise: its errors, and (for an answer that is not the Bot
# API's shape, e.g. a proxy's page or a truncated object) the SDK's parsing errors.
UNREADABLE = (TelegramError, KeyError, TypeError, ValueError)
_MEMBER = (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


def _context(
    update: Update, deps: Deps, cache: TTLCache, bot: Any, chat_admin: bool = False
) -> Context:  # a reply to a message naming one paper is about that paper (`Context.paper`)
    """Who asks, where; a group message also notes that its sender reads that group."""
    chat = update.effective_chat
    user = update.effective_user
    chat_id, user_id = (str(chat.id) if chat else "0"), (str(user.id) if user else "0")
    private = bool(chat and chat.type == ChatType.PRIVATE)
    if chat is not None and user is not None and not private:
        deps.store.saw_member("telegram", chat_id, user_id)
    seen = deps.store.chats_of_member("telegram", user_id) if private else set()
    return Context(
        "telegram",
        chat_id,
        user_id,
        (user.username or user.full_name) if user else "",
        chat_admin=chat_admin,
        dm=private,
        audience=TelegramAudience(bot, seen, user_id, cache),
        paper=_replied_paper(update),
    )


def _replied_paper(update: Update) -> str:
    """The one paper the message replied to names ("" if none or several)."""
    message = update.effective_message
    replied = message.reply_to_message if message is not None else None
    return only_paper(replied.text or "") if replied is not None else ""


async def _is_chat_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None or chat.type == ChatType.PRIVATE:
        return False
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


def build_application(deps: Deps, token: str, base_url: str | None = None) -> Application:
    """The Application with every command, plain DMs, buttons and one error handler."""
    builder = ApplicationBuilder().token(token)
    if base_url:
        builder = builder.base_url(base_url).base_file_url(base_url.replace("/bot", "/file/bot"))
    # updates are handled concurrently: one slow command (a preview) never holds the others
    app = builder.concurrent_updates(True).post_init(register_commands).build()
    cache: TTLCache = TTLCache(maxsize=10_000, ttl=AUDIENCE_TTL)

    def asking(update: Update, chat_admin: bool = False) -> Context:
        return _context(update, deps, cache, app.bot, chat_admin)

    async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/why 2602.08007`, `/criteria add ...`: the same words as everywhere."""
        message = update.effective_message
        if message is None:
            return
        text = message.text or ""
        if text.split()[0].split("@")[0] == "/start":
            text = "/help"
        admin = await _is_chat_admin(update, context) if writes(text) else False
        await _answer(message, await answer(text, asking(update, admin), deps))

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A plain DM: "why did 2602.08007 score 9?"."""
        message = update.effective_message
        if message is None:
            return
        await _answer(message, await answer(message.text or "", asking(update), deps))

    async def on_reply_in_group(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A group member answers the bot's paper with "I like this one" / "we wrote this"."""
        message = update.effective_message
        replied = message.reply_to_message if message is not None else None
        if message is None or replied is None or replied.from_user is None:
            return
        if replied.from_user.id != context.bot.id or this_paper(message.text or "") is None:
            return  # other replies in a group are the group's own talk
        await _answer(message, await answer(message.text or "", asking(update), deps))

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """👍 / 👎 answer as a toast; More / Less open and fold a digest message's abstract in
        place; Why? (and More under a command's answer) answers in the chat."""
        query = update.callback_query
        if query is None:
            return
        command = query.data or ""
        if command.startswith("rate "):
            reply = await answer(command, asking(update), deps)
            await query.answer(reply.title if not reply.error else reply.text()[:190])
            return
        if command.startswith(("more ", "less ")) and await _fold(query, asking(update), deps):
            return
        await query.answer()
        reply = await answer(command, asking(update), deps)
        if query.message is not None:
            await _answer(query.message, reply)

    async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/foo`, `/subscibe`: the closest commands; a command for another bot: nothing."""
        message = update.effective_message
        if message is None:
            return
        word = (message.text or "").split(maxsplit=1)[0]
        _, _, addressee = word.partition("@")
        if addressee and addressee.lower() != (context.bot.username or "").lower():
            return
        await _answer(message, await answer(message.text or "", asking(update), deps))

    async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A file sent to the bot (or in a group it reads): a .bib becomes wanted examples."""
        message = update.effective_message
        document = message.document if message is not None else None
        if message is None or document is None:
            return
        name = document.file_name or ""
        if not is_bib(name) and message.chat.type != ChatType.PRIVATE:
            return  # a group's other files are its own business

        async def download() -> bytes:
            try:
                found = await context.bot.get_file(document.file_id)
                return bytes(await found.download_as_bytearray())
            except TelegramError as exc:
                raise FetchError(f"could not download the file from Telegram ({_said(exc)}); "
                                 "nothing was added, try again") from None  # fmt: skip

        admin = await _is_chat_admin(update, context)
        reply = await read_bib(name, document.file_size, download, asking(update, admin), deps)
        if reply is not None:
            await _answer(message, reply)

    app.add_handler(CommandHandler(COMMANDS, on_command))
    app.add_handler(MessageHandler(filters.Document.ALL, on_document))
    app.add_handler(MessageHandler(filters.COMMAND, on_unknown_command))
    app.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, on_text)
    )
    app.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & filters.REPLY, on_reply_in_group)
    )
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_error_handler(_on_error)
    return app


def unfolded(head: str, cards: list[PaperCard], opened: str | None) -> str | None:
    """A digest message drawn again with the abstract of paper `opened` (None: all folded);
    None when the message has no room left for a useful part of it."""
    blocks = [paper_html(c) for c in cards]
    base = head + "".join(("\n\n" if head or i else "") + b for i, b in enumerate(blocks))
    if opened is None:
        return base
    room = MAX_TEXT - len(base) - len("\n<b>Abstract:</b> ") - 1
    if room < MIN_ABSTRACT:
        return None
    for i, c in enumerate(cards):
        if c.id == opened:
            pieces = _pieces(" ".join(c.abstract.split()), room)
            blocks[i] = paper_html(c, pieces[0] + ("…" if len(pieces) > 1 else ""))
    return head + "".join(("\n\n" if head or i else "") + b for i, b in enumerate(blocks))


async def _fold(query: Any, ctx: Context, deps: Deps) -> bool:
    """More / Less under a digest message: edit it to show or fold the paper's abstract.
    False when the message is not a stored digest message (or has no room): the caller
    answers `more` in the chat instead."""
    message = query.message
    payload = sent_message(ctx, deps, str(message.message_id)) if message is not None else None
    if payload is None or payload.get("cards") is None:
        return False
    cards = load_reply({"title": "", "papers": payload["cards"]}).papers
    word, _, paper = (query.data or "").partition(" ")
    opened = paper if word == "more" else None
    text = unfolded(str(payload.get("head") or ""), cards, opened)
    if text is None or not any(c.id == paper for c in cards):
        return False
    await query.answer()
    with contextlib.suppress(BadRequest):  # "message is not modified": a double tap
        await query.edit_message_text(
            text, parse_mode=ParseMode.HTML, disable_web_page_preview=True,
            reply_markup=_keyboard(cards, {opened} if opened else set()),
        )  # fmt: skip
    return True


async def _answer(message: Any, reply: Reply) -> None:
    """Each message of the reply; a short RetryAfter is waited out (bot.platforms.pacing)."""
    for text, keyboard in render_messages(reply):

        async def send(text: str = text, keyboard: Any = keyboard) -> None:
            try:
                await message.reply_text(
                    text, parse_mode=ParseMode.HTML, reply_markup=keyboard,
                    disable_web_page_preview=True,
                )  # fmt: skip
            except RetryAfter as exc:
                raise RateLimited(_seconds(exc.retry_after)) from None

        if not await reply_within(send, f"telegram:{message.chat_id}"):
            return


def _seconds(wait: float | timedelta) -> float:
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


async def register_commands(app: Application) -> None:
    """setMyCommands, so clients list the commands."""
    commands = [BotCommand(name, menu_description(name)) for name in COMMANDS if name in SPECS]
    await app.bot.set_my_commands(commands)


def menu_description(name: str) -> str:
    """What the command menu says: the arguments, then what the command does."""
    spec = SPECS[name]
    args = spec.usage.removeprefix(name).strip()
    subs = [k.split()[1] for k in SPECS if k.startswith(f"{name} ")]
    if subs:
        args = f"[{' | '.join(subs)}]"
    return f"{args} — {spec.summary}".lstrip(" —")[:256]


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The edge of every handler: the failure is logged with its traceback and an error id, and
    the person who sent the command, DM or button press gets one line with that id."""
    error = context.error
    if error is None:
        return
    if not isinstance(update, Update):  # polling or the network, not a person's request
        log.error("Telegram: %s", type(error).__name__, exc_info=error)
        return
    where = "telegram " + ("button" if update.callback_query else "message")
    line = failed(error, where, "Telegram", telegram_unreachable)
    if update.callback_query is not None:  # stop the button's spinner; it may be answered
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer()
    message = update.effective_message
    if message is None:
        return
    try:
        await message.reply_text(_escape(line), parse_mode=ParseMode.HTML)
    except Exception as again:
        could_not_tell(where, again)


def telegram_unreachable(exc: BaseException) -> bool:
    """Telegram (or the way to it) failed: a timeout, a 5xx, a 429, a dropped connection, an
    answer that is not JSON (a proxy's page). A refused request (BadRequest) is not this."""
    if isinstance(exc, BadRequest):
        return False
    if isinstance(exc, TelegramError) and isinstance(exc.__cause__, ValueError):
        return True  # PTB: "Invalid server response", the body was not JSON
    return isinstance(exc, (NetworkError, RetryAfter, TimeoutError, ConnectionError))


def _said(exc: TelegramError) -> str:
    """The Bot API's description, without the raw body PTB appends when it was not JSON."""
    return exc.message.split(". Parsing the server response")[0]


class TelegramSender:
    """Posts digest messages: a header, then papers in HTML messages with 👍 / 👎 / Why."""

    platform = "telegram"
    confirms = False  # the Bot API cannot read a chat's history
    draws = False  # the HTML goes as planned; the cards are for More / Less only

    def __init__(self, bot: Any, pace: Pace | None = None) -> None:
        self.bot = bot
        self.pace = pace  # None: the outbox sends as fast as Telegram answers

    async def aclose(self) -> None:
        await self.bot.shutdown()  # a no-op when never initialised

    def plan(self, header: Reply, papers: list[PaperCard]) -> list[dict[str, Any]]:
        whole = Reply(header.title, header.lines, papers)
        return [
            {"text": text, "keyboard": keyboard.to_dict() if keyboard else None, "in_thread": False,
             "head": head, "cards": dump_reply(Reply("", [], cards))["papers"]}  # for More/Less
            for text, head, cards in layout(whole)
            for keyboard in [_keyboard(cards)]
        ]  # fmt: skip

    async def send(
        self, sub: Subscription, payload: dict[str, Any], key: str, parent: str | None
    ) -> str:
        keyboard = payload.get("keyboard")
        markup = InlineKeyboardMarkup.de_json(keyboard, self.bot) if keyboard else None
        try:
            await self.bot.initialize()  # once; later calls return at once
            message = await self.bot.send_message(
                chat_id=int(sub.chat), text=payload["text"], parse_mode=ParseMode.HTML,
                reply_markup=markup, disable_web_page_preview=True,
                read_timeout=SEND_TIMEOUT, write_timeout=SEND_TIMEOUT,
            )  # fmt: skip
        except RetryAfter as exc:
            raise RetryLater("Telegram rate limit (429)", _seconds(exc.retry_after)) from None
        except ChatMigrated as exc:
            raise ChatMoved(str(exc.new_chat_id)) from None
        except Forbidden as exc:
            raise ChatUnavailable(f"Telegram: {exc.message}") from None
        except NetworkError as exc:
            raise RetryLater(f"Telegram unreachable: {exc.message}", 60) from None
        except TelegramError as exc:
            raise RetryLater(f"Telegram: {exc.message}", 60) from None
        return str(message.message_id)

    async def find(
        self, sub: Subscription, key: str, since: datetime, parent: str | None
    ) -> str | None:
        """Never called: the Bot API cannot read a chat's history (`confirms` is False)."""
        return None
