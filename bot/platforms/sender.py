"""What a platform does for the outbox: split a digest into messages, post one, and find one
whose delivery is in doubt. Slack's and Telegram's senders have these methods; the outbox
(`bot.service.outbox`) calls nothing else of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from bot.chat import PaperCard, Reply
from bot.platforms.pacing import Pace
from digest import Subscription


class Sender(Protocol):
    """One platform's side of delivery."""

    platform: str
    confirms: bool  # can `find` tell whether a message in doubt arrived?
    pace: Pace | None  # the platform's limits the outbox keeps to; None: none
    draws: bool  # `send` draws a message from its payload's cards: the outbox makes them whole

    def plan(self, header: Reply, papers: list[PaperCard]) -> list[dict[str, Any]]:
        """Split a digest into message payloads: {"reply": ..., "in_thread": bool}."""
        ...

    async def send(
        self, sub: Subscription, payload: dict[str, Any], key: str, parent: str | None
    ) -> str:
        """Post one message; returns its platform id."""
        ...

    async def find(
        self, sub: Subscription, key: str, since: datetime, parent: str | None
    ) -> str | None:
        """The id of a message posted with `key` since `since`, if the platform can tell."""
        ...
