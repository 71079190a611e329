"""The pace of a chat platform's messages, shared by every worker through the store.

A platform limits a bot's messages (Telegram: 30 in any second per bot, whatever the number of
processes sending), counted as they reach it. Each worker asks the store for a moment before a
message (`next_slot`) and says when the platform's answer came back (`slot_done`). A moment is
`interval` after the one handed out before, and late enough that fewer than `limit` other
messages can reach the platform in the `window` before it: a message counts from its moment
until its answer came back, plus the window (it reached the platform somewhere in between).
So the limit holds however late a moment is used and however long a message takes to arrive,
and a bot's rate is `limit` per window less the time its answers take (28 a second at 30 and
60 ms). A guess of the way there could not promise that: 25 a second at 30 met 429s when three
messages of one second were late.

The pace's state is in the claims table: its row (`pace:<name>`: `not_before` the next free
moment, `attempts` a version changed by compare-and-set, which works alike on SQLite and
PostgreSQL without holding a lock across the wait) and a ring of RING marks
(`pace:<name>#NN`: `lease_until` the moment, `not_before` when its answer came back, `attempts`
its ticket). A mark is written under the row's compare-and-set, so two workers never take the
same moment or place in the ring.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from digest.store._base import StoreBase, aware, now, rowcount
from digest.store.models import ClaimRow, OutboxRow

PACE_PREFIX = "pace:"
RING = 64  # marks kept per pace: more than any limit a window counts (Telegram's 30)
STALE = timedelta(seconds=60)  # a mark with no answer this long after its moment: its worker
# died mid-send; it counts as answered then (a send gives up long before)
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # the answer time of a moment not used: never counts
_VERSIONS = 1_000_000_000  # the version wraps round, far below a 32-bit column's end
_TRIES = 50  # compare-and-set rounds before giving up (two workers rarely collide twice)


@dataclass(frozen=True)
class PaceSlot:
    """A moment a message may go, and its mark in the pace's ring (for `slot_done`)."""

    at: datetime
    mark: str
    ticket: int


@dataclass(frozen=True)
class PaceRate:
    """At most `limit` messages reaching the platform in any `window`, one `interval` apart."""

    interval: timedelta
    limit: int = 0  # 0: only the interval
    window: timedelta = timedelta(seconds=1)


def _earliest(at: datetime, marks: list[tuple[datetime, datetime | None]], pace: PaceRate
              ) -> datetime | None:  # fmt: skip
    """The first moment from `at` on when fewer than `pace.limit` of the `marks` (moment,
    answered) still count; None while too many have no answer yet."""
    if not pace.limit:
        return at
    free = pace.limit - 1  # others that may still count when this one goes
    released = []  # when each answered mark stops counting
    for moment, answered in marks:
        if answered is None and moment + STALE > at:
            free -= 1  # on its way, or not sent yet: it counts until its answer is known
        else:
            released.append((answered or moment + STALE) + pace.window)
    if free < 0:
        return None
    released = sorted(r for r in released if r > at)
    return at if len(released) <= free else max(at, released[len(released) - free - 1])


class PaceStore(StoreBase):
    def next_slot(self, name: str, pace: PaceRate, at: datetime | None = None) -> PaceSlot | None:
        """Reserve the next moment a message under pace `name` may go (by any worker): `at` or
        later, `pace.interval` after the moment handed out before, and when fewer than
        `pace.limit` others count (see the module). None while too many others have no answer
        yet: ask again shortly."""
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
                        "not_before": at, "attempts": 0, "updated_at": at,
                    }  # fmt: skip
                    self.insert_new(s, ClaimRow, [fresh], ["key"])
                    continue  # made (by this worker or another): read it again
                ring = _ring(s, key, pace.limit) if pace.limit else {}
                start = max(at, aware(row.not_before)) if row.not_before else at
                slot = _earliest(start, list(ring.values()), pace)
                if slot is None:
                    return None
                ticket = (row.attempts + 1) % _VERSIONS
                won = rowcount(
                    s.execute(
                        update(ClaimRow)
                        .where(ClaimRow.key == key, ClaimRow.attempts == row.attempts)
                        .values(not_before=slot + pace.interval, attempts=ticket, updated_at=at)
                    )
                )
                if not won:
                    continue  # another worker took a moment meanwhile: read it again
                if not pace.limit:
                    return PaceSlot(slot, "", ticket)
                mark = _place(key, ring, slot, pace.limit)
                values = {"lease_until": slot, "not_before": None, "attempts": ticket,
                          "updated_at": at}  # fmt: skip
                if mark in ring:
                    s.execute(update(ClaimRow).where(ClaimRow.key == mark).values(**values))
                else:
                    s.add(ClaimRow(key=mark, state="pace", owner="", **values))
                return PaceSlot(slot, mark, ticket)
        raise RuntimeError(f"pace {name}: no slot after {_TRIES} tries")  # a store gone mad

    def slot_done(self, slot: PaceSlot, answered: datetime | None) -> None:
        """When the platform's answer to the message of `slot` came back (it reached the
        platform before then); None: the moment was not used, its message never sent."""
        if not slot.mark:
            return
        with self.session() as s, s.begin():
            s.execute(
                update(ClaimRow)
                .where(
                    ClaimRow.key == slot.mark,
                    ClaimRow.attempts == slot.ticket,
                    ClaimRow.not_before.is_(None),
                )
                .values(not_before=answered or _NEVER)
            )

    def last_sent(self, subscription: str) -> datetime | None:
        """When the chat's latest digest message was sent (its platform accepted it)."""
        with self.reading() as c:  # built once: read before each of a chat's messages
            at = c.scalar(_LAST_SENT, {"subscription": subscription})
        return aware(at) if at else None


_LAST_SENT = select(func.max(OutboxRow.sent_at)).where(
    OutboxRow.subscription == bindparam("subscription")
)


def _places(key: str, limit: int) -> list[str]:
    return [f"{key}#{i}" for i in range(max(RING, limit + 1))]


def _ring(s: Session, key: str, limit: int) -> dict[str, tuple[datetime, datetime | None]]:
    """The pace's marks: (moment, answered) by place."""
    rows = s.execute(
        select(ClaimRow.key, ClaimRow.lease_until, ClaimRow.not_before).where(
            ClaimRow.key.in_(_places(key, limit))
        )
    )
    return {r.key: (aware(r.lease_until), aware(r.not_before) if r.not_before else None)
            for r in rows}  # fmt: skip


def _place(key: str, ring: dict[str, tuple[datetime, datetime | None]], at: datetime,
           limit: int) -> str:  # fmt: skip
    """The ring's place for a new mark: one never used, else the one answered longest ago
    (fewer than `limit` count at `at`, and the ring holds more)."""
    places = _places(key, limit)
    unused = [p for p in places if p not in ring]
    if unused:
        return unused[0]

    def answered(place: str) -> datetime:
        moment, done = ring[place]
        if done is None:  # on its way: not to be overwritten unless its worker died
            return moment + STALE if moment + STALE <= at else datetime.max.replace(tzinfo=UTC)
        return done

    return min(places, key=answered)
