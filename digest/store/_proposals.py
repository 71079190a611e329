"""Settings changes proposed in a chat and waiting for the person's `yes`.

A proposal is a row of the claims table (no migration of its own): key
`propose:<platform>:<chat>:<user>`, state `proposed`, the exact command in `result`, and the
moment it lapses in `lease_until`. Taking it is one conditional UPDATE (`proposed` ->
`applied`), so a `yes` sent twice, or read by two workers, applies the change once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from digest.store._base import StoreBase, now
from digest.store.models import ClaimRow

PREFIX = "propose:"


class ProposalStore(StoreBase):
    def propose(self, key: str, owner: str, command: str, ttl: timedelta) -> None:
        """Remember `command` under `key` for `ttl`, replacing an earlier proposal there."""
        at = now()
        row = {"key": PREFIX + key, "state": "proposed", "owner": owner, "lease_until": at + ttl,
               "attempts": 1, "result": {"command": command}, "updated_at": at,
               "not_before": None, "error": None}  # fmt: skip
        with self.session() as s, s.begin():
            self.upsert(s, ClaimRow, [row], ["key"])

    def take_proposal(self, key: str) -> str | None:
        """The command proposed under `key` if it is still waiting; it waits no more."""
        return self._end(key, "applied")

    def drop_proposal(self, key: str) -> str | None:
        """Forget the waiting proposal under `key`; the command it held, if any."""
        return self._end(key, "dropped")

    def _end(self, key: str, state: str) -> str | None:
        """One conditional UPDATE: only a waiting, unlapsed proposal ends, and only once."""
        with self.session() as s, s.begin():
            row = s.execute(
                update(ClaimRow)
                .where(
                    ClaimRow.key == PREFIX + key,
                    ClaimRow.state == "proposed",
                    ClaimRow.lease_until >= now(),
                )
                .values(state=state, updated_at=now())
                .returning(ClaimRow.result)
                .execution_options(synchronize_session=False)
            ).first()
        return (row[0] or {}).get("command") if row else None
