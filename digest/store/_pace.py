"""The pace of a chat platform's messages, shared by every worker through the store.

A platform limits a bot's messages (Telegram: 30 in any second per bot, whatever the number of
processes sending), counted as they reach it. Each worker asks the store for a moment before a
message (`next_slots`) and says when the platform's answer came back (`slots_done`, or with its
next ask). A moment is `interval` after the one handed out before, and late enough that fewer
than `limit` other messages can reach the platform in the `window` before it: a message counts
from its moment until its answer came back, plus the window (it reached the platform somewhere
in between). So the limit holds however late a moment is used and however long a message
takes to arrive, and the bot's rate is `limit` per window plus the time an answer takes (28 a
second at 30 and 60 ms). A margin guessed for the way there could not promise that: at 27 a
second, three late messages in one second made 31.

The pace's state is in the claims table: its row (`pace:<name>`: `not_before` the next free
moment, `attempts` a version changed by compare-and-set, which works alike on SQLite and
PostgreSQL without holding a lock across the wait) and a ring of RING marks
(`pace:<name>#N`: `lease_until` the moment, `not_before` when its answer came back, `attempts`
its ticket). A mark is written under the row's compare-and-set, so two workers never take the
same moment or place in the ring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from digest.store._base import StoreBase, aware, core, now, rowcount
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
    """A moment a message may go, and its mark in the pace's ring (for `slots_done`)."""

    at: datetime
    mark: str  # "": no mark (a pace without a limit)
    ticket: int


Answers = Sequence[tuple[PaceSlot, datetime | None]]  # a slot and when its answer came back


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
    def next_slots(
        self, name: str, pace: PaceRate, count: int = 1, at: datetime | None = None,
        answers: Answers = (),
    ) -> list[PaceSlot]:  # fmt: skip
        """Reserve the next `count` moments messages under pace `name` may go (by any worker):
        `at` or later, each `pace.interval` after the one before, and when fewer than
        `pace.limit` others count (see the module). Fewer, or none, while too many others have
        no answer yet: ask again shortly. `answers`: `slots_done`'s, recorded first, in the
        same transaction."""
        at = at or now()
        key = PACE_PREFIX + name
        for _ in range(_TRIES):
            with self.session() as s, s.begin():
                _record(s, answers)
                rows = {
                    r.key: r
                    for r in s.execute(
                        select(
                            ClaimRow.key, ClaimRow.lease_until, ClaimRow.not_before,
                            ClaimRow.attempts,
                        ).where(ClaimRow.key.in_([key, *_places(key, pace.limit)]))
                    )
                }  # fmt: skip
                row = rows.pop(key, None)
                if row is None:
                    fresh = {
                        "key": key, "state": "pace", "owner": "", "lease_until": at,
                        "not_before": at, "attempts": 0, "updated_at": at,
                    }  # fmt: skip
                    self.insert_new(s, ClaimRow, [fresh], ["key"])
                    continue  # made (by this worker or another): read it again
                ring = {
                    k: (aware(r.lease_until), aware(r.not_before) if r.not_before else None)
                    for k, r in rows.items()
                }
                slots: list[PaceSlot] = []
                moment = max(at, aware(row.not_before)) if row.not_before else at
                for ticket in range(row.attempts + 1, row.attempts + 1 + count):
                    found = _earliest(moment, list(ring.values()), pace)
                    if found is None:
                        break
                    mark = _place(key, ring, found, pace.limit) if pace.limit else ""
                    if mark:
                        ring[mark] = (found, None)
                    slots.append(PaceSlot(found, mark, ticket % _VERSIONS))
                    moment = found + pace.interval
                if not slots:
                    return []
                won = rowcount(
                    s.execute(
                        update(ClaimRow)
                        .where(ClaimRow.key == key, ClaimRow.attempts == row.attempts)
                        .values(not_before=moment, attempts=slots[-1].ticket, updated_at=at)
                    )
                )
                if not won:
                    continue  # another worker took a moment meanwhile: read it again
                marks = [
                    {"key": x.mark, "state": "pace", "owner": "", "lease_until": x.at,
                     "not_before": None, "attempts": x.ticket, "updated_at": at}
                    for x in slots if x.mark
                ]  # fmt: skip
                self.upsert(s, ClaimRow, marks, ["key"])
                return slots
        raise RuntimeError(f"pace {name}: no slot after {_TRIES} tries")  # a store gone mad

    def slots_done(self, answers: Answers) -> None:
        """When the platform's answers to the messages of these slots came back (each reached
        the platform before then); None: the moment was not used, its message never sent."""
        if answers:
            with self.session() as s, s.begin():
                _record(s, answers)

    def last_sent(self, subscription: str) -> datetime | None:
        """When the chat's latest digest message was sent (its platform accepted it)."""
        with self.reading() as c:  # built once: read before each of a chat's messages
            at = c.scalar(_LAST_SENT, {"subscription": subscription})
        return aware(at) if at else None


_LAST_SENT = select(func.max(OutboxRow.sent_at)).where(
    OutboxRow.subscription == bindparam("subscription")
)


def _record(s: Session, answers: Answers) -> None:
    """Each slot's answer on its mark, unless the mark was taken by another moment since."""
    rows = [
        {"mark": slot.mark, "ticket": slot.ticket, "answered": answered or _NEVER}
        for slot, answered in answers
        if slot.mark
    ]
    if rows:  # one statement for all (executemany)
        core(s).execute(_ANSWER, rows)


_ANSWER = (
    update(ClaimRow)
    .where(
        ClaimRow.key == bindparam("mark"),
        ClaimRow.attempts == bindparam("ticket"),
        ClaimRow.not_before.is_(None),
    )
    .values(not_before=bindparam("answered"))
)


def _places(key: str, limit: int) -> list[str]:
    if not limit:
        return []
    return [f"{key}#{i}" for i in range(max(RING, limit + 1))]


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
