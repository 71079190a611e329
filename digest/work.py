"""Work that many workers share through the store: each piece is done once, by whoever
claims it first; the others wait for its result or find nothing left to do."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
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

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease.total_seconds() / 3)
            # on the loop itself, not in the thread pool: a pool busy with scoring and queries
            # must never let a live worker's claim run out
            try:
                if isinstance(key, int):
                    store.renew_message(key, who, lease)
                else:
                    store.renew(key, who, lease)
            except Exception as exc:  # the store is away for now: renew when it is back
                if not store_unreachable(exc):
                    raise
                log.warning("claim %s not renewed: the store is unreachable; trying again", key)

    task = asyncio.create_task(renew())
    try:
        yield
    finally:
        task.cancel()


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
