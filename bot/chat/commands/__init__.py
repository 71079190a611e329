"""The command core: text -> Command -> handler -> Reply, the same on every platform.

Slack's `/digest why 2602.08007`, Telegram's `/why 2602.08007` and the terminal `chat` arrive
here as typed text with a Context, through `bot.chat.answer`, which first turns plain words
("why did 2602.08007 score 9?") into the command they mean (`bot.chat.ask`).

`parser` turns text into a Command (the table of commands, SPECS, and `parse`); `dispatch`
runs it (`handle`: who may change settings, then the handler; `help`); `context` holds who is
asking (Context), what handlers need (Deps) and the lookups they share. Then one module per
family of handlers: `subscriptions` (subscribe, unsubscribe), `settings` (settings, threshold,
topk, categories, schedule), `criteria` (criteria and its subcommands, follow, unfollow),
`reading` (top, why, search, preview) and `ratings` (rate).
"""

from bot.chat.commands.context import Context, Deps
from bot.chat.commands.dispatch import handle, is_slow, writes
from bot.chat.commands.parser import COMMAND_WORDS, SPECS, Command, Spec, parse
from digest import UsageError  # what a handler raises on wrong arguments: named here as before

__all__ = [
    "COMMAND_WORDS",
    "SPECS",
    "Command",
    "Context",
    "Deps",
    "Spec",
    "UsageError",
    "handle",
    "is_slow",
    "parse",
    "writes",
]
