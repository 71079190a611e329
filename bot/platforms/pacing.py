"""A platform's rate limits: the pace digest messages keep to, and command replies that wait
out a short 429 once.

`Pace` is what a sender tells the outbox (bot.service.outbox) about its platform: how many
messages the bot may send in any second in all (shared by every worker through the store) and
how long to leave between two messages in one chat. The outbox waits for both before each message,
so a fan-out to thousands of chats keeps under the limits instead of learning them from 429s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from digest import DeliveryError, PaceRate

log = logging.getLogger(__name__)

REPLY_WAIT = 10.0  # seconds: a reply waits out a rate limit this short; a longer one drops it


@dataclass(frozen=True)
class Pace:
    """A platform's published limits, as the outbox keeps to them (0: no such limit)."""

    per_second: float = 0.0  # the bot's messages in any second in all, across every worker
    chat_gap: float = 0.0  # seconds from one message in a chat to the next there
    group_gap: float = 0.0  # the same in a group chat (a chat id starting with "-": Telegram)
    window: float = 1.0  # seconds the platform counts `per_second` over (shorter in tests)

    @property
    def rate(self) -> PaceRate:
        """The bot's rate as the store keeps it: moments 1/per_second apart, and at most
        per_second x window messages reaching the platform in any window."""
        return PaceRate(
            timedelta(seconds=1 / self.per_second),
            max(1, int(self.per_second * self.window + 1e-9)),
            timedelta(seconds=self.window),
        )

    def gap(self, chat: str) -> float:
        """Seconds to leave between two messages in `chat`."""
        return max(self.chat_gap, self.group_gap if chat.startswith("-") else 0.0)

    @classmethod
    def telegram(
        cls, per_second: float, chat_gap: float, group_per_minute: float, window: float = 1.0
    ) -> Pace:
        """Telegram: about 30 messages a second per bot, 1 a second per chat, 20 a minute per
        group (core.telegram.org/bots/faq)."""
        group_gap = 60.0 / group_per_minute if group_per_minute else 0.0
        return cls(per_second, chat_gap, group_gap, window)

    @classmethod
    def slack(cls, per_second: float, channel_gap: float) -> Pace:
        """Slack's chat.postMessage: about 1 message a second per channel, with a
        workspace-wide limit Slack does not publish (docs.slack.dev/apis/web-api/rate-limits)."""
        return cls(per_second, channel_gap, 0.0)


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
