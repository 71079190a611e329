"""The bot's moments within one worker: its messages wait in one line for the next moment.

A platform's bot-wide rate (Telegram: 30 messages in any second, whatever the number of
workers) is kept by moments the store hands out to every worker in turn (`Store.next_slots`),
each late enough that the platform cannot count too many messages in the second before it,
whenever the messages before it arrive (the store counts a message until its answer came
back: `answered`, recorded with the worker's next ask). A worker asks for as many moments as
messages wait in its line, AT_ONCE at most, in one transaction (and the next ones while
waiting for the last), and hands each to the first in line when it comes, so it never holds
moments far ahead: asked for by each of 200 waiting chats at once, moments would lie up to 8 s
ahead.

A moment used late (the worker's loop was held up) breaks nothing: the message is counted from
its moment until its answer, whenever it goes. Moments are asked in the pace's own thread: on
the event loop each ask (a transaction of several round trips) would hold up the messages past
their moment; in the shared thread pool it queues behind the builds' writes and comes back late.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from digest import PaceRate, PaceSlot, Store

log = logging.getLogger(__name__)

_THREAD = ThreadPoolExecutor(1, thread_name_prefix="pace")  # asks the store for moments
_ANSWERS: weakref.WeakKeyDictionary[Store, list[tuple[PaceSlot, datetime | None]]] = (
    weakref.WeakKeyDictionary()
)  # answers not yet recorded, by store: the next ask or flush records them
_LOCK = threading.Lock()
AT_ONCE = 8  # moments asked for at once, for as many messages waiting: one transaction each
RECORD_WITHIN = 0.1  # seconds: an answer waits this long at most for an ask to record it with


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
    """The platform's answer to the message of `slot` came back now: it counts one window more.
    Recorded with the worker's next ask, or on its own within RECORD_WITHIN; whatever becomes
    of the record, the message is sent."""
    _answer(store, slot, datetime.now(UTC))


def _release(store: Store, slot: PaceSlot) -> None:
    _answer(store, slot, None)


def _answer(store: Store, slot: PaceSlot, at: datetime | None) -> None:
    with _LOCK:
        answers = _ANSWERS.setdefault(store, [])
        answers.append((slot, at))
        first = len(answers) == 1
    if first:  # record this one and those that follow it soon
        try:
            asyncio.get_running_loop().call_later(RECORD_WITHIN, _flush_soon, store)
        except RuntimeError:  # not on a loop (it is closing): at once
            _flush_soon(store)


def _flush_soon(store: Store) -> None:
    _THREAD.submit(_in_store, store, None).add_done_callback(_logged)


def _in_store(store: Store, ask: tuple[str, PaceRate, int] | None) -> list[PaceSlot]:
    """Record the answers waiting, and ask for `ask`'s moments (name, rate, count) if given,
    in one transaction (in the pace's thread)."""
    with _LOCK:
        answers = _ANSWERS.pop(store, [])
    try:
        if ask is None:
            store.slots_done(answers)
            return []
        name, rate, count = ask
        return store.next_slots(name, rate, count, answers=answers)
    except Exception:  # kept for the next try: meanwhile their moments count, as if on their way
        with _LOCK:
            _ANSWERS.setdefault(store, [])[:0] = answers
        raise


def _logged(future: object) -> None:
    exc = future.exception()  # type: ignore[attr-defined]
    if exc is not None:  # the message went; its moment counts longer meanwhile
        log.warning("a message's answer time was not recorded yet: %s", exc)


async def _serve(line: _Line, store: Store, name: str, rate: PaceRate) -> None:
    """Hand out moments to the line's first message until the line is empty."""
    loop = asyncio.get_running_loop()

    def ask(wanted: int) -> asyncio.Future[list[PaceSlot]]:
        count = max(1, min(wanted, AT_ONCE))
        return loop.run_in_executor(_THREAD, _in_store, store, (name, rate, count))

    held: deque[PaceSlot] = deque()  # moments reserved for this line, in order
    ahead: asyncio.Future[list[PaceSlot]] | None = None
    try:
        while _first(line) is not None:
            if not held:
                held.extend(await (ahead or ask(len(line.waiting))))
                ahead = None
                if not held:  # the platform has not answered enough messages yet
                    await asyncio.sleep(rate.interval.total_seconds())
                    continue
            slot = held.popleft()
            if not held and ahead is None and len(line.waiting) > 1:
                ahead = ask(len(line.waiting) - 1)  # the next ones, asked meanwhile
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
        for slot in held:  # reserved for nobody: given back
            _release(store, slot)
        if ahead is not None:  # asked for nobody: its moments, if it got some, are given back
            ahead.add_done_callback(lambda done: _dropped(store, done))


def _dropped(store: Store, future: asyncio.Future[list[PaceSlot]]) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    for slot in future.result():
        _release(store, slot)


def _first(line: _Line) -> asyncio.Future[PaceSlot] | None:
    """The first message still waiting (one cancelled meanwhile leaves the line)."""
    while line.waiting and line.waiting[0].done():
        line.waiting.popleft()
    return line.waiting[0] if line.waiting else None
