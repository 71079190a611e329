"""The conversation, whatever the platform: text -> Command -> handler -> Reply. No chat SDK.

Every front end hands a message to `answer` (the terminal to `run`). Plain words go first to
`ask`, which maps them to the command they mean by the rules of `phrasing`, proposes a
settings change instead of making it (`proposals`), and gives words no rule maps to the LLM
`agent`; a command as typed goes to the command core, `commands` (the parser, `handle`, and
one module per family of handlers). `readers` decides which digests a person may read where
they ask; `replies` holds the Reply every platform renders its own way.

These names are what the platforms, the service and the terminal use: they import them from
here, never from a module inside. `bot/chat/` itself imports neither `bot.platforms` nor
`bot.service` (tests/test_imports.py checks both).
"""

from bot.chat.answer import answer, run  # here `answer` is the function
from bot.chat.commands import COMMAND_WORDS, SPECS, Context, Deps, handle, is_slow, writes
from bot.chat.commands.library import is_bib, read_bib
from bot.chat.phrasing import only_paper, this_paper
from bot.chat.readers import Audience
from bot.chat.replies import Button, PaperCard, Reply, card, dump_reply, load_reply
from bot.chat.sent import lean, sent_message, whole

__all__ = [
    "COMMAND_WORDS",
    "SPECS",
    "Audience",
    "Button",
    "Context",
    "Deps",
    "PaperCard",
    "Reply",
    "answer",
    "card",
    "dump_reply",
    "handle",
    "is_bib",
    "is_slow",
    "lean",
    "load_reply",
    "only_paper",
    "read_bib",
    "run",
    "sent_message",
    "this_paper",
    "whole",
    "writes",
]
