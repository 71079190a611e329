"""What the store keeps: pruning what is older than `store.keep_days`, and its size by table.

Pruning deletes in batches, each its own short transaction, so that no lock is held for long
and the service goes on reading and writing meanwhile. Kept whatever their age: labels,
learned models, ratings, criteria versions, subscriptions and the people seen in chats.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import delete, exists, select, text
from sqlalchemy.sql.elements import ColumnElement

from digest.store._base import StoreBase, rowcount
from digest.store.models import (
    Base,
    ClaimRow,
    DigestRow,
    EmbeddingRow,
    ExplanationRow,
    LabelRow,
    ListingRow,
    OutboxRow,
    PaperRow,
    RankingRow,
    ScoreRow,
    ShownRow,
    UsageRow,
)

BATCH = 500  # rows a delete takes at once: a short transaction


class RetentionStore(StoreBase):
    def prune(self, before: date, orphans_before: datetime, batch: int = BATCH) -> dict[str, int]:
        """Delete what belongs to days before `before`, then what nothing kept needs; returns
        the rows deleted per table.

        Dated rows first: digests, rankings no digest reads, outbox rows, shown papers, usage,
        listings, claims (proposals are claims) and explanations. Then papers neither listed
        on a kept day nor labelled, and the scores and embeddings of papers no longer stored.
        Scores only rank the days that list their paper: those of a paper listed on a pruned
        day and on no kept one go with that day's listing, so a labelled paper keeps its text
        and embedding (what `learn` reads), not its scores under every criteria.
        `orphans_before`: a ranking no digest reads is kept while newer (its digest may be
        being written)."""
        since = datetime.combine(before, time(), tzinfo=UTC)
        unread = ~exists().where(DigestRow.ranking_id == RankingRow.id)
        gone = ~exists().where(PaperRow.id == ScoreRow.paper_id)
        listed = exists().where(ListingRow.paper_id == ScoreRow.paper_id)
        past = listed.where(ListingRow.day < before) & ~listed.where(ListingRow.day >= before)
        steps: list[tuple[str, Any, ColumnElement[bool]]] = [  # table, the key it deletes by
            ("digests", DigestRow.id, DigestRow.day < before),
            ("rankings", RankingRow.id,
             unread & ((RankingRow.day < before) | (RankingRow.created_at < orphans_before))),
            ("scores", ScoreRow.id, past),  # before the listings that say so go
            ("outbox", OutboxRow.id, OutboxRow.day < before),
            ("shown", ShownRow.id, ShownRow.day < before),
            ("usage", UsageRow.id, UsageRow.day < before),
            ("day_listings", ListingRow.id, ListingRow.day < before),
            ("claims", ClaimRow.key, ClaimRow.updated_at < since),
            ("explanations", ExplanationRow.id, ExplanationRow.created_at < since),
            ("papers", PaperRow.id,
             ~exists().where(ListingRow.paper_id == PaperRow.id)
             & ~exists().where(LabelRow.paper_id == PaperRow.id)),
            ("scores", ScoreRow.id, gone),
            ("embeddings", EmbeddingRow.paper_id,
             ~exists().where(PaperRow.id == EmbeddingRow.paper_id)),
        ]  # fmt: skip
        deleted: dict[str, int] = {}
        for table, key, where in steps:
            deleted[table] = deleted.get(table, 0) + self._delete_batches(key, where, batch)
        return deleted

    def _delete_batches(self, key: Any, where: ColumnElement[bool], batch: int) -> int:
        """Delete the rows matching `where`, `batch` keys per transaction, until none is left."""
        deleted = 0
        while True:
            with self.session() as s, s.begin():
                chosen = select(key).where(where).limit(batch)
                stmt = delete(key.class_).where(key.in_(chosen))
                n = rowcount(s.execute(stmt.execution_options(synchronize_session=False)))
            deleted += n
            if n == 0:
                return deleted

    def table_sizes(self) -> dict[str, int]:
        """Bytes each of the store's tables takes on disk, its indexes included, largest
        first (SQLite: its pages, by the dbstat table; PostgreSQL: pg_total_relation_size)."""
        tables = set(Base.metadata.tables)
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                found = conn.execute(text(
                    "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
                    "LEFT JOIN sqlite_schema m ON m.name = d.name GROUP BY 1"
                ))  # fmt: skip
            else:
                found = conn.execute(text(
                    "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind = 'r' AND n.nspname = current_schema()"
                ))  # fmt: skip
            sizes = {name: int(size) for name, size in found if name in tables}
        return dict(sorted(sizes.items(), key=lambda kv: -kv[1]))
