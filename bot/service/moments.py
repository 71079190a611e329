"""The bot's moments within one worker: its messages wait in one line for the next moment.

A platform's bot-wide rate (Telegram: 30 messages in any second, whatever the number of
workers) is kept by moments the store hands out to every worker in turn (`Store.next_slot`),
each late enough that the platform cannot count too many messages in the second before it,
whenever the messages before it arrive (the store counts a message until its answer came
back: `answered`). A worker asks for one moment at a time (and the next while waiting for it),
for the first message in its line, and hands it to that message when it comes, so it never
holds moments far ahead: asked for by each of 200 waiting chats at once, moments would lie up
to 8 s ahead.

A moment used late (the worker's loop was held up) breaks nothing: the message is counted from
its moment until its answer, whenever it goes. Moments are asked in the pace's own thread: on
the event loop each ask (a transaction of several round trips) would hold up the messages past
their moment; in the shared thread pool it queues behind the builds' writes and comes back late.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from digest import PaceRate, PaceSlot, Store

log = logging.getLogger(__name__)

_THREAD = ThreadPoolExecutor(1, thread_name_prefix="pace")  # asks the store for moments


@dataclass
class _Line:
    """One worker's messages waiting for the bot's next moment, first come first served."""

    loop: asyncio.AbstractEventLoop
    waiting: deque[asyncio.Future[PaceSlot]] = field(default_factory=deque)
    serving: asyncio.Task[None] | None = None


_LINES: weakref.WeakKeyDictionary[object, _Line] = weakref.WeakKeyDictionary()


async def wait_for_moment(store: Store, owner: object, name: str, rate: PaceRate) -> PaceSlot:
    """Return when this message may go under pace `name` (shared by every worker through the
    store), with its moment: tell the store when its answer came back (`answered`). `owner`:
    what the line belongs to (the sender: one line per platform and worker)."""
    loop = asyncio.get_running_loop()
    line = _LINES.get(owner)
    if line is None or line.loop is not loop:
        line = _LINES[owner] = _Line(loop)
    turn: asyncio.Future[PaceSlot] = loop.create_future()
    line.waiting.append(turn)
    if line.serving is None or line.serving.done():
        line.serving = loop.create_task(_serve(line, store, name, rate))
    try:
        return await turn
    except asyncio.CancelledError:  # its moment, if it came meanwhile, is not used
        if turn.done() and not turn.cancelled():
            _release(store, turn.result())
        raise


def answered(store: Store, slot: PaceSlot) -> None:
    """The platform's answer to the message of `slot` came back now: it counts one window more
    (recorded in the pace's thread; the message is sent whatever becomes of the record)."""
    at = datetime.now(UTC)
    _THREAD.submit(store.slot_done, slot, at).add_done_callback(_logged)


def _release(store: Store, slot: PaceSlot) -> None:
    _THREAD.submit(store.slot_done, slot, None).add_done_callback(_logged)


def _logged(future: object) -> None:
    exc = future.exception()  # type: ignore[attr-defined]
    if exc is not None:  # the message went; a moment held one window longer is the cost
        log.warning("a message's answer time was not recorded: %s", exc)


async def _serve(line: _Line, store: Store, name: str, rate: PaceRate) -> None:
    """Hand out moments to the line's first message until the line is empty."""
    loop = asyncio.get_running_loop()

    def ask() -> asyncio.Future[PaceSlot | None]:
        return loop.run_in_executor(_THREAD, store.next_slot, name, rate)

    ahead: asyncio.Future[PaceSlot | None] | None = None
    try:
        while _first(line) is not None:
            slot = await (ahead or ask())
            ahead = None
            if slot is None:  # the platform has not answered enough messages yet
                await asyncio.sleep(rate.interval.total_seconds())
                continue
            if len(line.waiting) > 1:
                ahead = ask()  # the next one, asked meanwhile
            pause = (slot.at - datetime.now(UTC)).total_seconds()
            if pause > 0:
                await asyncio.sleep(pause)
            turn = _first(line)
            if turn is None:
                _release(store, slot)
            else:
                line.waiting.popleft()
                turn.set_result(slot)
    except Exception as exc:  # the store unreachable: every waiting message hears of it
        while line.waiting:
            turn = line.waiting.popleft()
            if not turn.done():
                turn.set_exception(exc)
    finally:
        if ahead is not None:  # asked for nobody: its moment, if it got one, is given back
            ahead.add_done_callback(lambda done: _dropped(store, done))


def _dropped(store: Store, future: asyncio.Future[PaceSlot | None]) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    slot = future.result()
    if slot is not None:
        _release(store, slot)


def _first(line: _Line) -> asyncio.Future[PaceSlot] | None:
    """The first message still waiting (one cancelled meanwhile leaves the line)."""
    while line.waiting and line.waiting[0].done():
        line.waiting.popleft()
    return line.waiting[0] if line.waiting else None
