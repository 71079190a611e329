"""The pace of a chat platform's messages, shared by every worker through the store.

A platform limits a bot's messages (Telegram: about 30 a second per bot, whatever the number
of processes sending). Each worker asks the store for the next free moment before a message;
the moments are handed out one `interval` apart, in one row of the claims table per pace
(`pace:<name>`, its `not_before` the next free moment), so two workers never get the same
one. The row is changed by compare-and-set on its `attempts` (a version), which works alike on
SQLite and PostgreSQL without holding a lock across the wait.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, update

from digest.store._base import StoreBase, aware, now, rowcount
from digest.store.models import ClaimRow, OutboxRow

PACE_PREFIX = "pace:"
_VERSIONS = 1_000_000_000  # the version wraps round, far below a 32-bit column's end
_TRIES = 50  # compare-and-set rounds before giving up (two workers rarely collide twice)


class PaceStore(StoreBase):
    def next_slot(self, name: str, interval: timedelta, at: datetime | None = None) -> datetime:
        """Reserve the next moment a message under pace `name` may go: `at` or later, and at
        least `interval` after the moment handed out before (by any worker)."""
        at = at or now()
        key = PACE_PREFIX + name
        for _ in range(_TRIES):
            with self.session() as s, s.begin():
                row = s.execute(
                    select(ClaimRow.not_before, ClaimRow.attempts).where(ClaimRow.key == key)
                ).first()
                if row is None:
                    fresh = {
                        "key": key, "state": "pace", "owner": "", "lease_until": at,
                        "not_before": at + interval, "attempts": 0, "updated_at": at,
                    }  # fmt: skip
                    if self.insert_new(s, ClaimRow, [fresh], ["key"]):
                        return at
                    continue  # another worker made the row first: read it again
                slot = max(at, aware(row.not_before)) if row.not_before else at
                won = rowcount(
                    s.execute(
                        update(ClaimRow)
                        .where(ClaimRow.key == key, ClaimRow.attempts == row.attempts)
                        .values(
                            not_before=slot + interval,
                            attempts=(row.attempts + 1) % _VERSIONS,
                            updated_at=at,
                        )
                    )
                )
                if won:
                    return slot
        raise RuntimeError(f"pace {name}: no slot after {_TRIES} tries")  # a store gone mad

    def last_sent(self, subscription: str) -> datetime | None:
        """When the chat's latest digest message was sent (its platform accepted it)."""
        with self.reading() as c:  # built once: read before each of a chat's messages
            at = c.scalar(_LAST_SENT, {"subscription": subscription})
        return aware(at) if at else None


_LAST_SENT = select(func.max(OutboxRow.sent_at)).where(
    OutboxRow.subscription == bindparam("subscription")
)
