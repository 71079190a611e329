"""The chat platforms: Slack and Telegram, and the one place that knows which are on.

`slack` is a Bolt app (the /digest command, mentions, DMs, buttons) rendering Replies as Block
Kit; `telegram` a python-telegram-bot Application (commands, DMs, inline buttons) rendering
them as HTML. Each adapter builds a `bot.chat` Context, asks `bot.chat.answer` and renders the
Reply; each has a sender, what the outbox calls (`sender.Sender`); `enabled` makes one sender
per platform whose token is set, at the pace its settings ask for; `pacing` holds a platform's
limits (`Pace`, which the outbox keeps to) and waits out a short rate limit before a reply.

These names are what the service and the terminal use. Those of an adapter are imported on
first use (PEP 562): they load its SDK, which a process without that platform never needs.
Nothing here imports `bot.service` (tests/test_imports.py checks).
"""

import importlib as _importlib
import typing as _typing

from bot.platforms.enabled import close_senders, senders, slack_pace, telegram_pace
from bot.platforms.pacing import Pace
from bot.platforms.sender import Sender

if _typing.TYPE_CHECKING:
    from bot.platforms.slack import SlackSender, build_app, start_socket_mode
    from bot.platforms.telegram import TelegramSender, build_application, register_commands

_LAZY = {  # name -> its adapter, imported on first use: each pulls in its platform's SDK
    "SlackSender": "bot.platforms.slack",
    "build_app": "bot.platforms.slack",  # the Bolt app
    "start_socket_mode": "bot.platforms.slack",
    "TelegramSender": "bot.platforms.telegram",
    "build_application": "bot.platforms.telegram",  # python-telegram-bot's Application
    "register_commands": "bot.platforms.telegram",  # setMyCommands
}


def __getattr__(name: str) -> object:
    """A lazy name (PEP 562): imported once, then bound here like the others."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "Pace",
    "Sender",
    "SlackSender",
    "TelegramSender",
    "build_app",
    "build_application",
    "close_senders",
    "register_commands",
    "senders",
    "slack_pace",
    "start_socket_mode",
    "telegram_pace",
]
