"""Each subscription's digests, and the papers it was shown."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from digest.store._base import StoreBase, aware, now
from digest.store.models import DigestRow, ShownRow


class DigestStore(StoreBase):
    def save_digest(
        self,
        subscription: str,
        day: date,
        status: str,
        message: str,
        criteria_hash: str,
        payload: dict[str, Any],
    ) -> None:
        """One digest per (subscription, day): a later build of the same day replaces it."""
        row = {"subscription": subscription, "day": day, "status": status, "message": message,
               "criteria_hash": criteria_hash, "payload": payload, "created_at": now()}  # fmt: skip
        with self.session() as s, s.begin():
            self.upsert(s, DigestRow, [row], ["subscription", "day"])

    def digest(self, subscription: str, day: date | None = None) -> dict[str, Any] | None:
        """The stored digest payload of a day, or the latest one."""
        with self.session() as s:
            q = select(DigestRow).where(DigestRow.subscription == subscription)
            q = q.where(DigestRow.day == day) if day else q.order_by(DigestRow.day.desc())
            row = s.scalars(q.limit(1)).first()
            return dict(row.payload) if row else None

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
