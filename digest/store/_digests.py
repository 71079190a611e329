"""Each subscription's digests, and the papers it was shown."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cachetools import LRUCache
from pydantic import TypeAdapter
from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from digest.abstracts import EXTRACTIVE, extractive
from digest.day import DIGEST, CloseTo, Cutoffs, Digest, Entry
from digest.papers import Paper
from digest.ranking import DayRanking, Placed, lead_pinned, verdicts
from digest.store._base import aware, now
from digest.store._papers import papers_by_id
from digest.store._rankings import RankingStore
from digest.store._work import end_claim, queue_messages
from digest.store.models import DigestRow, RankingRow, ShownRow

# what a digest row keeps of a Digest: the rest is in its shared ranking
_SHARED = {"entries", "criteria_text", "prompt", "unscored"}
_SHOWN_BEFORE = select(ShownRow.paper_id).where(  # built once: read on every chat's run
    ShownRow.subscription == bindparam("subscription"), ShownRow.day < bindparam("day")
)


class DigestStore(RankingStore):
    def save_digest(
        self,
        digest: Digest,
        ranking: DayRanking | None = None,
        shown: Iterable[str] = (),
        messages: list[dict[str, Any]] | None = None,
        done: tuple[str, str] | None = None,
    ) -> None:
        """One digest per (subscription, day): a later build of the same day replaces it.

        The day's ranking is stored once and shared (`ranking`, stored already, when the
        digest was cut from it; else it is made of the digest's entries). The digest row keeps
        what is its own: the entries it shows (id, rank, relevance, novelty), its cutoffs,
        top-k and what no-repeats removed, and where an entry's verdict is not what those
        give (a digest made by hand), that verdict. `shown`: papers to remember as shown to
        the chat on the digest's day (no-repeats), in the same transaction; so are the
        chat's `messages` of the digest, queued in the outbox unless that (chat, day) is
        queued already, and the end of the run's claim `done` (key, owner) with the digest's
        day and status: a run that stops before its commit leaves none of them."""
        entries = _unpinned(digest.entries, ranking)
        if ranking is not None and _ids(ranking) != tuple(e.paper.id for e in entries):
            ranking = None  # not the ranking these entries come from: keep the entries' own
        with self.engine.begin() as s:  # Core: one transaction of a few row writes
            if ranking is None or ranking.id is None:
                ranking = self._save_ranking(s, ranking or _ranking_of(digest, entries))
            own = DIGEST.dump_python(digest, mode="json", exclude=_SHARED)
            given = _verdicts(ranking, digest.cutoffs, digest.top_k, digest.already_shown)
            mine = tuple((e.selected, e.reason) for e in entries)
            own["differs"] = {} if mine == given else {
                str(i): list(m) for i, (m, v) in enumerate(zip(mine, given, strict=True))
                if m != v
            }  # fmt: skip
            own["extras"] = {
                str(i): extra
                for i, e in enumerate(entries)
                if (e.tldr or e.tldr_by or e.close_to) and (extra := _extra(e))  # few have any
            }
            own["shows"] = [[e.paper.id, e.rank, e.score.relevance, e.score.novelty]
                            for e in digest.selected]  # fmt: skip
            row = {"subscription": digest.subscription, "day": digest.day,
                   "status": str(digest.status), "message": digest.message,
                   "criteria_hash": digest.criteria_hash, "created_at": now(),
                   "ranking_id": ranking.id, "payload": own}  # fmt: skip
            self.upsert(s, DigestRow, [row], ["subscription", "day"])
            self._mark_shown(s, digest.subscription, digest.day, shown)
            if messages is not None:
                queue_messages(self, s, digest.subscription, digest.day, messages)
            if done is not None:
                result = {"day": digest.day.isoformat(), "status": digest.status.value}
                end_claim(s, *done, "done", result=result)

    def digest(self, subscription: str, day: date | None = None) -> Digest | None:
        """The stored digest of a day, or the latest one, with its whole ranking and papers."""
        with self.session() as s:
            q = select(DigestRow.payload, DigestRow.ranking_id, RankingRow.key).join(
                RankingRow, RankingRow.id == DigestRow.ranking_id
            )
            q = q.where(DigestRow.subscription == subscription)
            q = q.where(DigestRow.day == day) if day else q.order_by(DigestRow.day.desc())
            found = s.execute(q.limit(1)).first()
            if found is None:
                return None
            ranking = self._ranking(s, found.ranking_id, found.key)
            papers = papers_by_id(s, [p.paper_id for p in ranking.places])
        own = dict(found.payload)
        differs, extras = own.pop("differs", {}), own.pop("extras", {})
        own.pop("shows", None)
        digest = DIGEST.validate_python(own)
        digest.criteria_text, digest.prompt = ranking.criteria_text, ranking.prompt
        digest.unscored = ranking.unscored
        given = _verdicts(ranking, digest.cutoffs, digest.top_k, digest.already_shown)
        verdict = [tuple(differs.get(str(i), v)) for i, v in enumerate(given)]
        digest.entries = lead_pinned(
            [
                _entry(p, papers.get(p.paper_id), v, extras.get(str(i), {}))
                for i, (p, v) in enumerate(zip(ranking.places, verdict, strict=True))
            ]
        )
        return digest

    def last_fetch(self) -> dict[str, Any] | None:
        """The most recent day outcome of any subscription: when, which day, what status."""
        with self.session() as s:
            row = s.scalars(
                select(DigestRow).order_by(DigestRow.created_at.desc()).limit(1)
            ).first()
            if row is None:
                return None
            return {
                "at": aware(row.created_at).isoformat(timespec="seconds"),
                "day": row.day.isoformat(),
                "status": row.status,
                "message": row.message,
            }

    def last_digests(self) -> dict[str, tuple[date, str]]:
        """Each subscription's latest digest: its day and status (not its payload)."""
        latest = (
            select(DigestRow.subscription, func.max(DigestRow.day).label("day"))
            .group_by(DigestRow.subscription)
            .subquery()
        )
        q = select(DigestRow.subscription, DigestRow.day, DigestRow.status).join(
            latest,
            (DigestRow.subscription == latest.c.subscription) & (DigestRow.day == latest.c.day),
        )
        with self.session() as s:
            return {sub: (day, status) for sub, day, status in s.execute(q)}

    def last_built(self) -> dict[str, datetime]:
        """Each subscription's latest digest time (of any status)."""
        with self.session() as s:
            rows = s.execute(
                select(DigestRow.subscription, func.max(DigestRow.created_at)).group_by(
                    DigestRow.subscription
                )
            )
            return {sub: aware(at) for sub, at in rows}

    def digest_days(self, subscription: str) -> list[date]:
        with self.session() as s:
            return list(
                s.scalars(
                    select(DigestRow.day)
                    .where(DigestRow.subscription == subscription)
                    .order_by(DigestRow.day)
                )
            )

    def shown_before(self, subscription: str, day: date) -> set[str]:
        with self.reading() as c:  # Core: no ORM session for a column's rows
            return set(c.scalars(_SHOWN_BEFORE, {"subscription": subscription, "day": day}))

    def mark_shown(self, subscription: str, day: date, paper_ids: Iterable[str]) -> None:
        with self.session() as s, s.begin():
            self._mark_shown(s, subscription, day, paper_ids)

    def _mark_shown(
        self, s: Session | Connection, subscription: str, day: date, paper_ids: Iterable[str]
    ) -> None:
        rows = [{"subscription": subscription, "paper_id": p, "day": day} for p in paper_ids]
        self.insert_ignore(s, ShownRow, rows, ["subscription", "paper_id"])


def _verdicts(
    ranking: DayRanking, cutoffs: Cutoffs, top_k: int, shown: Iterable[str]
) -> tuple[tuple[bool, str], ...]:
    """`verdicts` of a ranking's places for a chat's cutoffs, top-k and papers no-repeats
    removed; made once per process for a stored ranking (chats alike share them)."""
    removed = frozenset(shown)
    if not ranking.key:
        return tuple(verdicts(ranking.places, cutoffs, top_k, removed))
    key = (ranking.key, cutoffs, top_k, removed)
    with _LOCK:
        found = _GIVEN.get(key)
    if found is not None:
        return found
    made = tuple(verdicts(ranking.places, cutoffs, top_k, removed))
    with _LOCK:
        _GIVEN[key] = made
    return made


def _ids(ranking: DayRanking) -> tuple[str, ...]:
    """A ranking's paper ids in order; once per process for a stored ranking."""
    if not ranking.key:
        return tuple(p.paper_id for p in ranking.places)
    with _LOCK:
        found = _IDS.get(ranking.key)
        if found is None:
            found = _IDS[ranking.key] = tuple(p.paper_id for p in ranking.places)
        return found


_KEPT = 512  # as the parsed rankings (digest/store/_rankings.py)
_LOCK = threading.Lock()  # digests are saved and read in worker threads
_GIVEN: LRUCache[tuple[str, Cutoffs, int, frozenset[str]], tuple[tuple[bool, str], ...]] = LRUCache(
    _KEPT
)
_IDS: LRUCache[str, tuple[str, ...]] = LRUCache(_KEPT)


@dataclass(frozen=True)
class _Extra:
    """What a chat adds to an entry of the shared ranking: its TL;DR, a pin (`ours`)."""

    tldr: str = ""
    tldr_by: str = ""
    close_to: CloseTo | None = None


_EXTRA = TypeAdapter(_Extra)
_NOTHING_ADDED = _Extra()


def _extra(entry: Entry) -> dict[str, Any]:
    """An extractive line is made again from the abstract when read, not stored."""
    tldr = "" if entry.tldr_by == EXTRACTIVE else entry.tldr
    extra = _Extra(tldr, entry.tldr_by, entry.close_to)
    return _EXTRA.dump_python(extra, mode="json", exclude_defaults=True)


def _entry(place: Placed, paper: Paper | None, verdict: tuple, extra: dict[str, Any]) -> Entry:
    """One entry of a stored digest: its place in the shared ranking, the chat's verdict on it
    and what the chat added."""
    more = _EXTRA.validate_python(extra) if extra else _NOTHING_ADDED  # few have any
    paper = paper or Paper(place.paper_id, "", "")
    tldr = extractive(paper.abstract) if more.tldr_by == EXTRACTIVE else more.tldr
    return Entry(paper, place.score, place.rank, bool(verdict[0]), str(verdict[1]),
                 place.followed is not None, tldr, more.tldr_by, more.close_to)  # fmt: skip


def _unpinned(entries: list[Entry], ranking: DayRanking | None) -> list[Entry]:
    """A digest's entries in its ranking's order: the papers a pin led (`lead_pinned`) back
    in their places (their ranks are numbered anew when the digest is read)."""
    if ranking is None or not any(e.close_to for e in entries):
        return entries
    place = {p.paper_id: i for i, p in enumerate(ranking.places)}
    if len(place) != len(entries) or any(e.paper.id not in place for e in entries):
        return entries
    return sorted(entries, key=lambda e: place[e.paper.id])


def _ranking_of(digest: Digest, entries: list[Entry]) -> DayRanking:
    """The ranking a digest's own entries make (a digest not cut from a stored ranking)."""
    places = tuple(
        Placed(e.paper.id, e.rank, e.score, _author(e.score.matched) if e.followed else None)
        for e in entries
    )
    return DayRanking(digest.day, digest.criteria_hash, digest.scorer, places,
                      digest.criteria_text, digest.prompt, digest.unscored)  # fmt: skip


def _author(matched: str | None) -> str:
    """The followed author an author match names ("author: Ada Lovelace")."""
    return (matched or "").removeprefix("author: ")
