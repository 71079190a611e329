"""Retention: once a day, one worker deletes what is older than `store.keep_days`."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from digest.store import Store
from digest.work import LEASE, once

log = logging.getLogger(__name__)
ORPHAN_AGE = timedelta(days=2)  # a ranking no digest reads is kept this long (being written)


async def prune_day(
    store: Store, keep_days: int, today: date | None = None, lease: timedelta = LEASE
) -> dict[str, Any]:
    """Prune the store once a day, whichever worker (or `post`) comes first: the others
    find the day's claim done and get its result, the rows deleted per table."""
    today = today or datetime.now(UTC).date()
    before = today - timedelta(days=keep_days)

    async def work() -> dict[str, Any]:
        orphans = datetime.now(UTC) - ORPHAN_AGE
        deleted = await asyncio.to_thread(store.prune, before, orphans)
        log.info("pruned the store before %s: %s", before, deleted)
        return {"before": before.isoformat(), "deleted": deleted}

    return await once(store, f"prune:{today.isoformat()}", work, lease)
