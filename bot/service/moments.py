"""The bot's moments within one worker: its messages wait in one line for the next moment.

A platform's bot-wide rate (Telegram: about 30 messages a second, whatever the number of
workers) is kept by moments the store hands out one interval apart to every worker in turn
(`Store.next_slot`). A worker asks for one moment at a time (and the next while waiting for
it), for the first message in its line, and hands it to that message when it comes, so it never
holds moments far ahead: asked for by each of 200 waiting chats at once, moments would lie up
to 8 s ahead, and a message that wakes late for its moment would queue behind them all again.

A moment passed by more than LATE when its message can go (the worker's loop was held up) is
not used: a burst of late messages would break the rate. The message asks again from the
front of the line; after LATE_TRIES it goes with its last moment, alone (one message per
moment), so no burst follows. Moments are asked in the pace's own thread: on the event loop
each ask (a transaction of several round trips) would hold up the messages past their moment;
in the shared thread pool it queues behind the builds' writes and comes back late.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from digest import Store

log = logging.getLogger(__name__)

LATE = timedelta(seconds=0.05)  # a moment this far behind when its message can go is not used
LATE_TRIES = 5  # ...this many times at most, then the message goes with its moment
_THREAD = ThreadPoolExecutor(1, thread_name_prefix="pace")  # asks the store for moments


@dataclass
class _Line:
    """One worker's messages waiting for the bot's next moment, first come first served."""

    loop: asyncio.AbstractEventLoop
    waiting: deque[asyncio.Future[datetime]] = field(default_factory=deque)
    serving: asyncio.Task[None] | None = None


_LINES: weakref.WeakKeyDictionary[object, _Line] = weakref.WeakKeyDictionary()


async def wait_for_moment(store: Store, owner: object, name: str, interval: timedelta) -> None:
    """Return when this message may go under pace `name` (one moment every `interval`,
    shared by every worker through the store). `owner`: what the line belongs to (the
    sender: one line per platform and worker)."""
    loop = asyncio.get_running_loop()
    line = _LINES.get(owner)
    if line is None or line.loop is not loop:
        line = _LINES[owner] = _Line(loop)
    for attempt in range(LATE_TRIES):
        turn: asyncio.Future[datetime] = loop.create_future()
        if attempt:  # held up after its moment came: it keeps its place, first in line
            line.waiting.appendleft(turn)
        else:
            line.waiting.append(turn)
        if line.serving is None or line.serving.done():
            line.serving = loop.create_task(_serve(line, store, name, interval))
        moment = await turn
        if datetime.now(UTC) - moment <= LATE:
            return
    log.info("%s: the worker was late for %d moments in a row; the message goes with its last",
             name, LATE_TRIES)  # fmt: skip


async def _serve(line: _Line, store: Store, name: str, interval: timedelta) -> None:
    """Hand out moments to the line's first message until the line is empty."""
    loop = asyncio.get_running_loop()

    def ask() -> asyncio.Future[datetime]:
        return loop.run_in_executor(_THREAD, store.next_slot, name, interval)

    ahead: asyncio.Future[datetime] | None = None
    try:
        while _first(line) is not None:
            moment = await (ahead or ask())
            ahead = ask() if len(line.waiting) > 1 else None  # the next one, asked meanwhile
            pause = (moment - datetime.now(UTC)).total_seconds()
            if pause > 0:
                await asyncio.sleep(pause)
            if datetime.now(UTC) - moment > LATE:
                continue  # this worker was held up: a moment passed is not used
            turn = _first(line)
            if turn is not None:
                line.waiting.popleft()
                turn.set_result(moment)
    except Exception as exc:  # the store unreachable: every waiting message hears of it
        while line.waiting:
            turn = line.waiting.popleft()
            if not turn.done():
                turn.set_exception(exc)
    finally:
        if ahead is not None:  # asked for nobody: its outcome (a moment or an error) is dropped
            ahead.add_done_callback(_dropped)


def _dropped(future: asyncio.Future[datetime]) -> None:
    if not future.cancelled():
        future.exception()


def _first(line: _Line) -> asyncio.Future[datetime] | None:
    """The first message still waiting (one cancelled meanwhile leaves the line)."""
    while line.waiting and line.waiting[0].done():
        line.waiting.popleft()
    return line.waiting[0] if line.waiting else None
