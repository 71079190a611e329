"""Work that many workers share through the store: each piece is done once, by whoever
claims it first; the others wait for its result or find nothing left to do."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from digest.errors import DigestError
from digest.metrics import CLAIMS_TAKEN_OVER
from digest.store import Store, store_unreachable

log = logging.getLogger(__name__)

WORKER = f"{socket.gethostname()}:{os.getpid()}"  # this process, in claims and logs
LEASE = timedelta(seconds=120)
POLL = 0.2  # seconds between looks at a claim another worker holds


def owner() -> str:
    """A claimant: this process, plus a tag so that two tasks of it never share a claim."""
    return f"{WORKER}/{uuid.uuid4().hex[:8]}"


@contextlib.asynccontextmanager
async def renewed(store: Store, key: str | int, who: str, lease: timedelta) -> AsyncIterator[None]:
    """Keep renewing a held claim's lease while the block runs: a claim key, or an outbox
    message's id. Only a worker that stopped (or froze) loses its claims."""
    held = _Held.of(store)
    held.add(store, (key, who), lease)
    try:
        yield
    finally:
        held.drop((key, who))


@dataclass
class _Held:
    """The claims one event loop holds in one store, renewed together: one transaction for
    all those due, not one for each (thousands of messages waiting for Telegram's pace
    made hundreds of round trips a second). The renewing is a task on the loop, so a loop
    that froze renews nothing; its statement runs in a thread of its own, so neither the
    loop nor a thread pool busy with scoring holds it up."""

    loop: asyncio.AbstractEventLoop
    claims: dict[tuple[str | int, str], tuple[timedelta, float]] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    next_due: float = 0.0  # when the task wakes next to renew (time.monotonic())
    holders: Counter[tuple[str | int, str]] = field(default_factory=Counter)  # blocks in it

    @classmethod
    def of(cls, store: Store) -> _Held:
        loop = asyncio.get_running_loop()
        held = _HELD.get(store)
        if held is None or held.loop is not loop:
            held = _HELD[store] = cls(loop)
        return held

    def add(self, store: Store, claim: tuple[str | int, str], lease: timedelta) -> None:
        """Hold `claim`: renewed every third of its lease from now on."""
        due = time.monotonic() + lease.total_seconds() / 3
        self.claims[claim] = (lease, due)
        self.holders[claim] += 1
        if due < self.next_due:  # a shorter lease than those held: the task waits too long
            self.changed.set()
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._renew(store))

    def drop(self, claim: tuple[str | int, str]) -> None:
        """The block holding `claim` ended: no longer renewed, unless another block holds it."""
        self.holders[claim] -= 1
        if self.holders[claim] <= 0:
            del self.holders[claim]
            self.claims.pop(claim, None)

    async def _renew(self, store: Store) -> None:
        while self.claims:
            self.changed.clear()
            self.next_due = min(due for _, due in self.claims.values())
            wait = self.next_due - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), wait)
                continue
            # every claim due within a sixth of its lease goes in this transaction
            soon = time.monotonic()
            due = [(c, lease) for c, (lease, at) in self.claims.items()
                   if at <= soon + lease.total_seconds() / 6]  # fmt: skip
            for lease in {lease for _, lease in due}:
                claims = [c for c, each in due if each == lease]
                keys = [(k, who) for k, who in claims if isinstance(k, str)]
                messages = [(k, who) for k, who in claims if isinstance(k, int)]
                try:
                    await self.loop.run_in_executor(_RENEWING, store.renew, lease, keys, messages)
                except Exception as exc:  # the store is away for now: tried again later
                    if not store_unreachable(exc):
                        log.exception("%d claims not renewed", len(claims))
                    else:
                        log.warning("%d claims not renewed: the store is unreachable; trying "
                                    "again", len(claims))  # fmt: skip
            for claim, lease in due:
                if claim in self.claims:
                    self.claims[claim] = (lease, time.monotonic() + lease.total_seconds() / 3)


_HELD: weakref.WeakKeyDictionary[Store, _Held] = weakref.WeakKeyDictionary()
_RENEWING = ThreadPoolExecutor(1, thread_name_prefix="renew")  # the claims' renewals


async def once(
    store: Store,
    key: str,
    work: Callable[[], Awaitable[dict[str, Any]]],
    lease: timedelta = LEASE,
    final: Callable[[dict[str, Any]], bool] = lambda result: True,
    again_after: timedelta = timedelta(minutes=1),
) -> dict[str, Any]:
    """Run `work` under the claim `key`, unless another worker has done it (its result is
    returned) or is doing it (its result is waited for).

    A claim whose holder died is taken over when its lease ends. A result that is not
    `final` (a feed that could not be read) is shared with those waiting, and the work is
    done again by the next caller after `again_after`; so is work that raised.
    """
    while True:
        who = owner()
        claim = await asyncio.to_thread(store.claim, key, who, lease)
        if claim is not None:
            if claim.taken_over:
                CLAIMS_TAKEN_OVER.labels(key.split(":", 1)[0], "").inc()
            again = datetime.now(UTC) + again_after
            try:
                async with renewed(store, key, who, lease):
                    result = await work()
            except BaseException as exc:
                try:
                    await asyncio.to_thread(
                        store.release, key, who, "retry", error=describe(exc), not_before=again
                    )
                except Exception as lost:  # the store is away: the claim ends with its lease
                    if not store_unreachable(lost):
                        raise
                    log.warning("%s: not released, the store is unreachable: %s", key, lost)
                raise
            state, not_before = ("done", None) if final(result) else ("retry", again)
            await asyncio.to_thread(
                store.release, key, who, state, result=result, not_before=not_before
            )
            return result
        current = await asyncio.to_thread(store.claim_of, key)
        if current is not None and current.state in ("done", "retry"):
            if current.result is not None:
                return current.result
            raise WorkFailed(f"{key}: {current.error}")
        await asyncio.sleep(POLL)


class WorkFailed(DigestError):
    """Shared work failed in another worker (or task); its error is in the message."""


def describe(exc: BaseException) -> str:
    """An exception as one stored line: its type and message."""
    return f"{type(exc).__name__}: {exc}"[:500]
