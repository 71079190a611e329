"""The daily Zotero sync: every chat with `zotero users/123` has its library read once a day
(`library.zotero_sync`, UTC) and its Zotero examples brought in step (digest/zotero.py).

Each chat's sync of a day is a claim in the store (`zotero:<subscription>:<date>`), so of any
number of `serve` workers one syncs it and the others find it taken (a sync cut short by a
worker's death is made the next day). A missing ZOTERO_API_KEY, or a Zotero, arXiv or Semantic
Scholar error, is one log line, and the chat's examples stay as they were.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from digest import (
    LEASE,
    DigestError,
    Settings,
    Store,
    Synced,
    current_criteria,
    load_secrets,
    owner,
    renewed,
    sync_zotero,
)

log = logging.getLogger(__name__)

JOB = "zotero-sync"


class ZoteroSync:
    """Reads each linked chat's Zotero library once a day, under a claim."""

    def __init__(self, store: Store, settings: Settings, lease: timedelta = LEASE) -> None:
        self.store, self.settings, self.lease = store, settings, lease

    def add_to(self, scheduler: Any) -> None:
        """The daily job on the service's scheduler (replaced, never doubled)."""
        hour, minute = (int(x) for x in self.settings.library.zotero_sync.split(":"))
        scheduler.add_job(self.run, CronTrigger(hour=hour, minute=minute, timezone=UTC), id=JOB,
                          replace_existing=True)  # fmt: skip

    async def run(self, now: datetime | None = None) -> dict[str, Synced]:
        """Sync every linked chat whose sync of today no worker has taken; what each did."""
        now = now or datetime.now(UTC)
        linked = [s for s in self.store.subscriptions() if s.zotero_library]
        secrets = load_secrets()
        if linked and not secrets.zotero_api_key:
            log.warning("Zotero sync skipped: ZOTERO_API_KEY is not set; the examples of %d "
                        "linked chats stay as they are", len(linked))  # fmt: skip
            return {}
        done: dict[str, Synced] = {}
        for sub in linked:
            key, who = f"zotero:{sub.id}:{now.date().isoformat()}", owner()
            if self.store.claim(key, who, self.lease, at=now) is None:
                continue  # another worker syncs it, or did
            try:
                async with renewed(self.store, key, who, self.lease):
                    seed = self.settings.digest.criteria or None
                    _, criteria = current_criteria(self.store, sub.id, seed)
                    synced = await asyncio.to_thread(
                        sync_zotero, self.store, criteria, sub.id, sub.zotero_library,
                        sub.zotero_collection, self.settings, secrets.zotero_api_key,
                        secrets.semantic_scholar_api_key,
                    )  # fmt: skip
            except DigestError as exc:
                log.warning("%s: Zotero sync of %s failed, its examples stay as they are: %s",
                            sub.id, sub.zotero_library, exc)  # fmt: skip
                self.store.release(key, who, "failed", error=str(exc)[:500])
                continue
            log.info("%s: Zotero %s synced: %s", sub.id, sub.zotero_library, synced.line())
            self.store.release(key, who, "done", result={"line": synced.line()})
            done[sub.id] = synced
        return done
