"""Command replies under a platform's rate limit: a short wait is waited out, once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from digest import DeliveryError

log = logging.getLogger(__name__)

REPLY_WAIT = 10.0  # seconds: a reply waits out a rate limit this short; a longer one drops it


class RateLimited(DeliveryError):
    """The platform answered 429 and asked to wait `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"rate limited for {seconds:g} s")
        self.seconds = seconds


async def reply_within(send: Callable[[], Awaitable[object]], where: str) -> bool:
    """Send a reply; after a 429 of at most REPLY_WAIT seconds, wait and send it again.

    A longer wait, or a second 429, drops the reply with one WARNING line naming the chat:
    a person who asked a minute ago is better served by asking again than by a late answer.
    """
    for attempt in range(2):
        try:
            await send()
            return True
        except RateLimited as exc:
            if attempt or exc.seconds > REPLY_WAIT:
                log.warning("reply in %s dropped: the platform asked to wait %s", where, exc)
                return False
            await asyncio.sleep(exc.seconds)
    return False
