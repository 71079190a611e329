"""Each subscription's digests, and the papers it was shown."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from digest.day import DIGEST, Digest
from digest.papers import Paper
from digest.store._base import StoreBase, aware, now
from digest.store._papers import papers_by_id
from digest.store.models import DigestRow, ShownRow

# a stored entry names its paper by id only
_PAPER_TEXT = {"entries": {"__all__": {"paper": {f.name for f in fields(Paper)} - {"id"}}}}


class DigestStore(StoreBase):
    def save_digest(self, digest: Digest) -> None:
        """One digest per (subscription, day): a later build of the same day replaces it.

        Its whole ranking is kept, each paper by id (its text is in the papers table)."""
        row = {"subscription": digest.subscription, "day": digest.day,
               "status": str(digest.status), "message": digest.message,
               "criteria_hash": digest.criteria_hash, "created_at": now(),
               "payload": DIGEST.dump_python(digest, mode="json", exclude=_PAPER_TEXT)}  # fmt: skip
        with self.session() as s, s.begin():
            self.upsert(s, DigestRow, [row], ["subscription", "day"])

    def digest(self, subscription: str, day: date | None = None) -> Digest | None:
        """The stored digest of a day, or the latest one, with its papers."""
        with self.session() as s:
            q = select(DigestRow).where(DigestRow.subscription == subscription)
            q = q.where(DigestRow.day == day) if day else q.order_by(DigestRow.day.desc())
            row = s.scalars(q.limit(1)).first()
            if row is None:
                return None
            payload = dict(row.payload)
            entries = payload.get("entries") or []
            papers = papers_by_id(s, [e["paper"]["id"] for e in entries])
        payload["entries"] = [
            {**e, "paper": papers.get(e["paper"]["id"]) or Paper(e["paper"]["id"], "", "")}
            for e in entries
        ]
        return DIGEST.validate_python(payload)

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
        with self.session() as s:
            return set(
                s.scalars(
                    select(ShownRow.paper_id).where(
                        ShownRow.subscription == subscription, ShownRow.day < day
                    )
                )
            )

    def mark_shown(self, subscription: str, day: date, paper_ids: Iterable[str]) -> None:
        rows = [{"subscription": subscription, "paper_id": p, "day": day} for p in paper_ids]
        if rows:
            with self.session() as s, s.begin():
                self.insert_ignore(s, ShownRow, rows, ["subscription", "paper_id"])
