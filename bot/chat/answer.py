"""The one entry point of every front end: plain words first, then the command core.

`answer` asks the plain-words layer (`bot.chat.ask`) for the Reply; when the text is a command
as typed (`ask` returns None), the core's `bot.chat.commands.handle` runs it. Both layers sit
below this module, so neither imports the other in a circle.
"""

from __future__ import annotations

import asyncio
import time

from bot.chat.ask import ask
from bot.chat.commands import Context, Deps, handle
from bot.chat.replies import Reply
from digest import METRICS


async def answer(text: str, ctx: Context, deps: Deps) -> Reply:
    """The Reply to one message: what plain words mean, else the command as typed (timed, for
    `paperdigest_command_seconds`, failures included)."""
    started = time.perf_counter()
    try:
        if (asked := await ask(text, ctx, deps)) is not None:
            return asked
        return await handle(text, ctx, deps)
    finally:
        METRICS.COMMAND_SECONDS.labels(ctx.platform).observe(time.perf_counter() - started)


def run(text: str, ctx: Context, deps: Deps) -> Reply:
    """Synchronous `answer` for front ends without a loop (the terminal)."""
    return asyncio.run(answer(text, ctx, deps))
