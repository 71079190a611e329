"""A worker's build slots: at most N daily runs at once, the waiting ones let in by priority,
and within a priority those whose group is ready first."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class Slots:
    """At most `size` holders at once (asyncio.Semaphore, with an order among its waiters).

    A waiter of lower `priority` goes first. Among equal ones, a waiter whose `group` was
    declared `ready` goes before the others, then they go in the order they came. The service
    groups chats by their criteria: once one chat's criteria is scored, the other chats of that
    criteria are a quick build each, and their messages can go while more criteria are scored.
    """

    def __init__(self, size: int) -> None:
        self.free = size
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []  # (rank, order, turn)
        self._unready: defaultdict[Hashable, list[tuple[int, int, asyncio.Future[None]]]]
        self._unready = defaultdict(list)  # each group's waiting entries, not ready yet
        self._ready: set[Hashable] = set()
        self._order = itertools.count()

    def ready(self, group: Hashable) -> None:
        """Waiters of `group` (now and from now on) go before the unready ones of their
        priority."""
        self._ready.add(group)
        for rank, order, turn in self._unready.pop(group, ()):
            if not turn.done():  # its entry of the unready rank stays, skipped once handed
                heapq.heappush(self._waiting, (rank - 1, order, turn))

    def is_ready(self, group: Hashable) -> bool:
        return group in self._ready

    def forget(self) -> None:
        """Every group unready again (a new day: nothing of it is scored yet)."""
        self._ready.clear()
        for group, entries in list(self._unready.items()):
            self._unready[group] = [e for e in entries if not e[2].done()]
            if not self._unready[group]:
                del self._unready[group]

    @asynccontextmanager
    async def slot(self, priority: int = 0, group: Hashable | None = None) -> AsyncIterator[None]:
        if self.free and not self._waiting:
            self.free -= 1
        else:
            turn = asyncio.get_running_loop().create_future()
            unready = group is not None and group not in self._ready
            entry = (2 * priority + unready, next(self._order), turn)
            heapq.heappush(self._waiting, entry)
            if unready:
                self._unready[group].append(entry)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():  # handed a slot as it was cancelled
                    self._release()
                raise  # else its entries stay, and are skipped: the turn is done
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        """The slot passes to the first waiter (still waiting), else becomes free."""
        while self._waiting:
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():
                turn.set_result(None)
                return
        self.free += 1
