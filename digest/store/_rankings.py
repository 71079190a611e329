"""The day's shared rankings: one row per distinct (day, criteria, scorer) ranking, read by
every digest cut from it. A ranking never changes once stored (its key is a hash of its
content), so a process keeps the latest few it read, parsed."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import replace
from datetime import date
from typing import Any

from cachetools import LRUCache
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from digest.ranking import DayRanking, Placed
from digest.scoring import Score
from digest.store._base import StoreBase, now
from digest.store.models import RankingRow

# a place as one JSON list: paper id, rank, followed author, then the score's fields
_SCORE = ("relevance", "novelty", "comment", "matched", "scorer", "raw", "prompt_tokens",
          "cached_tokens", "completion_tokens", "reasoning_tokens", "cost")  # fmt: skip
_KEPT = 512  # parsed rankings a process keeps (about 0.4 MB each): a day's distinct criteria
# (200 in benchmarks/scale.py; fewer kept, every chat parsed its ranking again) and a few days back


class _Parsed:
    """The latest rankings read, by content key (the same content in any store)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: LRUCache[str, DayRanking] = LRUCache(_KEPT)

    def get(self, key: str) -> DayRanking | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: str, ranking: DayRanking) -> None:
        with self._lock:
            self._items[key] = replace(ranking, id=None, key=key)


PARSED = _Parsed()


def ranking_payload(ranking: DayRanking) -> dict[str, Any]:
    return {
        "criteria_text": ranking.criteria_text,
        "prompt": ranking.prompt,
        "unscored": list(ranking.unscored),
        "places": [
            [p.paper_id, p.rank, p.followed, *(getattr(p.score, f) for f in _SCORE)]
            for p in ranking.places
        ],
    }


def ranking_key(ranking: DayRanking, payload: dict[str, Any]) -> str:
    """A hash of everything the ranking holds: equal rankings share one row."""
    head = [ranking.day.isoformat(), ranking.criteria_hash, ranking.scorer, ranking.listing]
    text = json.dumps([head, payload], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _parse(row: Any) -> DayRanking:  # a RankingRow, or a row of its columns
    payload = row.payload
    places = tuple(
        Placed(pid, rank, Score(pid, **dict(zip(_SCORE, fields, strict=True))), followed)
        for pid, rank, followed, *fields in payload["places"]
    )
    return DayRanking(row.day, row.criteria_hash, row.scorer, places, payload["criteria_text"],
                      payload["prompt"], tuple(payload["unscored"]), row.listing)  # fmt: skip


class RankingStore(StoreBase):
    def save_ranking(self, ranking: DayRanking) -> DayRanking:
        """Store a ranking unless an equal one is stored; returns it with its row id."""
        with self.session() as s, s.begin():
            return self._save_ranking(s, ranking)

    def _save_ranking(self, s: Session | Connection, ranking: DayRanking) -> DayRanking:
        payload = ranking_payload(ranking)
        key = ranking_key(ranking, payload)
        row = {"key": key, "day": ranking.day, "criteria_hash": ranking.criteria_hash,
               "scorer": ranking.scorer, "listing": ranking.listing, "payload": payload,
               "complete": not ranking.unscored, "created_at": now()}  # fmt: skip
        self.insert_ignore(s, RankingRow, [row], ["key"])
        row_id = s.scalars(select(RankingRow.id).where(RankingRow.key == key)).one()
        PARSED.put(key, ranking)
        return replace(ranking, id=row_id, key=key)

    def find_ranking(
        self, day: date, criteria_hash: str, scorer: str, listing: str
    ) -> DayRanking | None:
        """The ranking a build made of these papers under the criteria, with every paper
        scored; None when there is none yet (then the day is scored and ranked)."""
        with self.reading() as s:  # Core: reads of rows, no ORM session
            given = {"day": day, "criteria_hash": criteria_hash, "scorer": scorer,
                     "listing": listing}  # fmt: skip
            found = s.execute(_FIND, given).first()
            return None if found is None else self._ranking(s, found.id, found.key)

    def _ranking(self, s: Session | Connection, row_id: int, key: str) -> DayRanking:
        parsed = PARSED.get(key)
        if parsed is None:
            columns = (RankingRow.day, RankingRow.criteria_hash, RankingRow.scorer,
                       RankingRow.listing, RankingRow.payload)  # fmt: skip
            parsed = _parse(s.execute(select(*columns).where(RankingRow.id == row_id)).one())
            PARSED.put(key, parsed)
        return replace(parsed, id=row_id, key=key)


_FIND = (  # built once: read on every chat's run
    select(RankingRow.id, RankingRow.key)
    .where(
        RankingRow.day == bindparam("day"),
        RankingRow.criteria_hash == bindparam("criteria_hash"),
        RankingRow.scorer == bindparam("scorer"),
        RankingRow.listing == bindparam("listing"),
        RankingRow.complete.is_(True),
    )
    .order_by(RankingRow.id.desc())
    .limit(1)
)
