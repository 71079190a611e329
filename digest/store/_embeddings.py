"""Paper embeddings, kept per (paper, model, text hash): vector bytes and a scale."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from digest.store._base import StoreBase, chunks, now
from digest.store.models import EmbeddingRow


class EmbeddingStore(StoreBase):
    def embeddings(
        self, model: str, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[bytes, float]]:
        """The kept (vector bytes, scale) of those (paper id, text hash) pairs stored."""
        wanted = set(keys)
        out: dict[tuple[str, str], tuple[bytes, float]] = {}
        columns = (EmbeddingRow.paper_id, EmbeddingRow.text_hash, EmbeddingRow.vector,
                   EmbeddingRow.scale)  # fmt: skip
        with self.session() as s:
            for chunk in chunks(sorted({pid for pid, _ in wanted}), 500):
                rows = s.execute(
                    select(*columns).where(
                        EmbeddingRow.model == model, EmbeddingRow.paper_id.in_(chunk)
                    )
                )
                out.update({(p, h): (bytes(v), sc) for p, h, v, sc in rows if (p, h) in wanted})
        return out

    def save_embeddings(self, model: str, rows: Sequence[tuple[str, str, bytes, float]]) -> None:
        """Keep rows not stored yet; a row another worker stored first is left alone."""
        made = now()
        records = [
            {"paper_id": pid, "model": model, "text_hash": hash_, "vector": vector,
             "scale": scale, "created_at": made}
            for pid, hash_, vector, scale in rows
        ]  # fmt: skip
        if records:
            with self.session() as s, s.begin():
                self.insert_ignore(s, EmbeddingRow, records, ["paper_id", "model", "text_hash"])
