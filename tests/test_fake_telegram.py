"""The real python-telegram-bot talks to tests/fakes/telegram_api.py over loopback HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from telegram import (
    Bot,
    BotCommand,
    ChatMemberAdministrator,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from tests.fakes.telegram_api import FakeTelegram, HtmlError, parse_html

TOKEN = "123456:TEST-token_abc"


def run(fake: FakeTelegram, body: Callable[[Bot], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with Bot(TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:
            return await body(bot)

    return asyncio.run(main())


def seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


@pytest.fixture
def fake() -> Any:
    with FakeTelegram() as server:
        yield server


def keyboard(data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("Open", callback_data=data)]])


# ---- plain Bot ------------------------------------------------------------------------------
def test_get_me_and_send_message_are_answered_and_recorded(fake: FakeTelegram) -> None:
    async def body(bot: Bot) -> Any:
        me = await bot.get_me()
        first = await bot.send_message(42, "<b>Today</b> &amp; more", parse_mode="HTML")
        second = await bot.send_message(42, "plain", reply_markup=keyboard("paper:1"))
        other = await bot.send_message(-7, "group")
        return me, first, second, other

    me, first, second, other = run(fake, body)
    assert (me.id, me.is_bot, me.username) == (999, True, "paperdigest_bot")
    assert (first.message_id, second.message_id, other.message_id) == (1, 2, 1)
    assert first.chat.id == 42 and first.chat.type == "private" and other.chat.type == "group"
    assert first.text == "Today & more" and isinstance(first.date, dtm.datetime)
    assert second.reply_markup == keyboard("paper:1")
    assert fake.count("getMe") == 2  # Bot.initialize() calls getMe too
    assert fake.count("sendMessage") == 3
    sent = fake.sent(42)
    assert [p["text"] for p in sent] == ["<b>Today</b> &amp; more", "plain"]
    assert sent[0]["chat_id"] == 42 and sent[0]["parse_mode"] == "HTML"
    assert sent[1]["reply_markup"] == {
        "inline_keyboard": [[{"text": "Open", "callback_data": "paper:1"}]]
    }
    assert fake.sent_texts(-7) == ["group"]
    assert fake.wait_for("sendMessage", 3, timeout=1)[0].time <= time.time()


@pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")
def test_retry_after_forbidden_and_migrate_raise_ptb_exceptions(fake: FakeTelegram) -> None:
    fake.fail_next("sendMessage", "retry_after", retry_after=7)
    fake.fail_chat(5, "forbidden")
    fake.fail_chat(-5, "forbidden")
    fake.fail_chat(-9, "migrate", to=-1001234567890)

    async def body(bot: Bot) -> dict[str, Any]:
        caught: dict[str, Any] = {}
        for key, chat in [("retry", 42), ("blocked", 5), ("kicked", -5), ("migrated", -9)]:
            try:
                await bot.send_message(chat, "hi")
            except (RetryAfter, Forbidden, ChatMigrated) as exc:
                caught[key] = exc
        caught["after"] = await bot.send_message(42, "again")
        caught["new_chat"] = await bot.send_message(-1001234567890, "hello supergroup")
        return caught

    caught = run(fake, body)
    assert isinstance(caught["retry"], RetryAfter) and seconds(caught["retry"].retry_after) == 7
    assert isinstance(caught["blocked"], Forbidden)
    assert "bot was blocked by the user" in caught["blocked"].message
    assert "bot was kicked from the group chat" in caught["kicked"].message
    assert (
        isinstance(caught["migrated"], ChatMigrated)
        and caught["migrated"].new_chat_id == -1001234567890
    )
    assert caught["after"].text == "again" and caught["new_chat"].chat.type == "supergroup"
    assert [c.status for c in fake.calls_to("sendMessage")] == [429, 403, 403, 400, 200, 200]
    assert fake.sent_texts() == ["again", "hello supergroup"]


def test_server_error_and_bad_request_injection(fake: FakeTelegram) -> None:
    async def body(bot: Bot) -> list[Exception]:
        fake.fail_next("getMe", "server_error", status=502)  # after Bot.initialize()'s getMe
        fake.fail_next("sendMessage", "bad_request", description="Bad Request: chat not found")
        errors: list[Exception] = []
        for call in (bot.get_me, lambda: bot.send_message(1, "x")):
            try:
                await call()
            except (NetworkError, BadRequest) as exc:
                errors.append(exc)
        return errors

    gateway, not_found = run(fake, body)
    assert type(gateway) is NetworkError and "Bad Gateway" in gateway.message
    assert isinstance(not_found, BadRequest) and not_found.message == "Chat not found"


def test_bad_html_long_text_and_long_callback_data_are_rejected(fake: FakeTelegram) -> None:
    bad = ["<b>open", "a < b", "AT&T", "<br>", "<b><i>x</b></i>", '<span class="x">y</span>']
    good = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s><strike>k"
        '</strike><del>d</del><a href="https://arxiv.org/abs/1?a=1&amp;b=2">a</a><code>c</code>'
        '<pre><code class="language-python">x</code></pre><tg-spoiler>t</tg-spoiler>'
        '<span class="tg-spoiler">p</span><blockquote>q</blockquote> &lt;&gt;&quot;&#39;'
    )

    async def body(bot: Bot) -> list[str]:
        messages = []
        for text in bad:
            with pytest.raises(BadRequest) as info:
                await bot.send_message(42, text, parse_mode="HTML")
            messages.append(info.value.message)
        await bot.send_message(42, good, parse_mode="HTML")
        await bot.send_message(42, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")  # 4096 shown
        with pytest.raises(BadRequest, match=r"(?i)too long"):
            await bot.send_message(42, "x" * 4097)
        with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
            await bot.send_message(42, "x", reply_markup=keyboard("é" * 33))  # 66 bytes
        await bot.send_message(42, "x", reply_markup=keyboard("d" * 64))
        return messages

    messages = run(fake, body)
    assert all(m.startswith("Can't parse entities: ") for m in messages), messages
    assert 'unsupported start tag "br" at byte offset 0' in messages[3].lower()
    assert len(fake.sent(42)) == 3


def test_parse_html_matches_telegram_rules() -> None:
    assert parse_html("<b>x</b> &lt;y&gt; &amp; &#8212;") == "x <y> & \u2014"
    assert parse_html('<a href="https://x.org/?a=1&amp;b=2">link</a>') == "link"
    for text, error in [
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("é <q>", 'Unsupported start tag "q" at byte offset 3'),
        ("&nbsp;", "Unsupported HTML entity at byte offset 0"),
        ("<b", "Unclosed start tag at byte offset 0"),
    ]:
        with pytest.raises(HtmlError) as info:
            parse_html(text)
        assert str(info.value) == error


def test_commands_are_validated_and_stored(fake: FakeTelegram) -> None:
    commands = [BotCommand("help", "How to use the bot"), BotCommand("subscribe", "Daily digest")]

    async def body(bot: Bot) -> Any:
        assert await bot.set_my_commands(commands)
        got = await bot.get_my_commands()
        with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
            await bot.set_my_commands([BotCommand("Help", "x")])
        with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_DESCRIPTION_INVALID"):
            await bot.set_my_commands([BotCommand("help", "x" * 257)])
        await bot.delete_my_commands(language_code="de")
        return got

    got = run(fake, body)
    assert list(got) == commands
    assert fake.my_commands() == [
        {"command": "help", "description": "How to use the bot"},
        {"command": "subscribe", "description": "Daily digest"},
    ]
    assert fake.calls_to("setMyCommands")[0].params["commands"][0]["command"] == "help"


def test_members_chat_edit_delete_and_wrong_token() -> None:
    with FakeTelegram(token=TOKEN) as fake:
        fake.members[(-5, 1)] = "administrator"
        fake.members[(-5, 2)] = "creator"

        async def body(bot: Bot) -> Any:
            admin = await bot.get_chat_member(-5, 1)
            owner = await bot.get_chat_member(-5, 2)
            plain = await bot.get_chat_member(-5, 3)
            chat = await bot.get_chat(-1001234567891)
            msg = await bot.send_message(-5, "v1", reply_markup=keyboard("a"))
            edited = await bot.edit_message_text("v2", -5, msg.message_id)
            with pytest.raises(BadRequest, match=r"(?i)not modified"):
                await bot.edit_message_text("v2", -5, msg.message_id)
            assert await bot.delete_message(-5, msg.message_id)
            with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
                await bot.delete_message(-5, msg.message_id)
            return admin, owner, plain, chat, edited

        admin, owner, plain, chat, edited = run(fake, body)
        assert isinstance(admin, ChatMemberAdministrator) and isinstance(owner, ChatMemberOwner)
        assert plain.status == "member"
        assert chat.type == "supergroup"
        assert edited.text == "v2" and edited.reply_markup is None

        async def wrong() -> None:
            async with Bot("123456:WRONG", base_url=fake.base_url) as bot:
                await bot.get_me()

        with pytest.raises(InvalidToken):
            asyncio.run(wrong())
        assert fake.calls[-1].status == 401


def test_upload_and_download_a_document(fake: FakeTelegram) -> None:
    async def body(bot: Bot) -> bytes:
        msg = await bot.send_document(42, b"%PDF digest", filename="digest.pdf", caption="today")
        assert msg.document.file_name == "digest.pdf" and msg.caption == "today"
        file = await bot.get_file(msg.document.file_id)
        return bytes(await file.download_as_bytearray())

    assert run(fake, body) == b"%PDF digest"


def test_get_updates_long_polls_until_an_update_is_queued(fake: FakeTelegram) -> None:
    async def body(bot: Bot) -> Any:
        assert await bot.get_updates(timeout=0) == ()
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await asyncio.to_thread(fake.wait_polling)
        start = time.monotonic()
        fake.send_text(7, "hello")
        updates = await poll
        took = time.monotonic() - start
        again = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
        return updates, took, again

    updates, took, again = run(fake, body)
    assert [u.message.text for u in updates] == ["hello"] and took < 1.5
    assert again == () and fake.pending_updates() == []


# ---- Application ----------------------------------------------------------------------------
def build_app(fake: FakeTelegram, seen: list[str]) -> Application:
    async def help_cmd(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update.effective_message.text)
        await update.effective_message.reply_text("<b>Help</b>", parse_mode="HTML")

    async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update.callback_query.data)
        await update.callback_query.answer("ok")

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("help", help_cmd))
    app.add_handler(CallbackQueryHandler(on_press))
    return app


def test_application_processes_command_and_callback_updates_directly(fake: FakeTelegram) -> None:
    seen: list[str] = []
    help_update = fake.send_text(-100123, "/help@paperdigest_bot now", chat_type="supergroup")
    assert help_update["message"]["entities"] == [
        {"offset": 0, "length": 21, "type": "bot_command"}
    ]

    async def main() -> None:
        app = build_app(fake, seen)
        async with app:
            await app.process_update(Update.de_json(help_update, app.bot))
            reply = fake.calls_to("sendMessage")[-1].response["result"]
            press = fake.press(-100123, reply["message_id"], "sub:add")
            await app.process_update(Update.de_json(press, app.bot))

    asyncio.run(main())
    assert seen == ["/help@paperdigest_bot now", "sub:add"]
    assert fake.sent_texts(-100123) == ["<b>Help</b>"]
    assert fake.calls_to("answerCallbackQuery")[0].status == 200


def test_application_polls_updates_through_get_updates(fake: FakeTelegram) -> None:
    seen: list[str] = []

    async def main() -> None:
        app = build_app(fake, seen)
        async with app:
            await app.start()
            await app.updater.start_polling(timeout=30)
            await asyncio.to_thread(fake.wait_polling)
            fake.send_text(42, "/help")
            await asyncio.to_thread(fake.wait_for, "sendMessage")
            await app.updater.stop()
            await app.stop()

    asyncio.run(main())
    assert seen == ["/help"]
    assert fake.sent(42) == [{"chat_id": 42, "text": "<b>Help</b>", "parse_mode": "HTML"}]
    assert fake.count("deleteWebhook") == 1 and fake.count("getUpdates") >= 2
    assert fake.pending_updates() == []  # the last offset confirmed the update


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_webhook_delivery_with_secret_token(fake: FakeTelegram) -> None:
    seen: list[str] = []
    port = _free_port()
    url = f"http://127.0.0.1:{port}/hook"

    async def main() -> tuple[int, int]:
        app = build_app(fake, seen)
        async with app:
            await app.start()
            await app.updater.start_webhook(
                listen="127.0.0.1", port=port, url_path="hook", webhook_url=url, secret_token="s3"
            )
            update = fake.send_text(42, "/help")
            wrong = await asyncio.to_thread(fake.post_update_to, url, update, "nope")
            right = await asyncio.to_thread(fake.post_update_to, url, update, "s3")
            await asyncio.to_thread(fake.wait_for, "sendMessage")
            await app.updater.stop()
            await app.stop()
        return wrong, right

    wrong, right = asyncio.run(main())
    assert (wrong, right) == (403, 200)
    assert seen == ["/help"]
    assert fake.calls_to("setWebhook")[0].params["secret_token"] == "s3"
