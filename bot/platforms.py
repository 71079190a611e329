"""Which chat platforms are on: decided by the secrets present in the environment."""

from __future__ import annotations

import os

from bot.delivery import Sender
from digest.config import Settings

TOKENS = {"slack": "SLACK_BOT_TOKEN", "telegram": "TELEGRAM_BOT_TOKEN"}


def senders(settings: Settings, env: dict[str, str] | None = None) -> dict[str, Sender]:
    """A sender per enabled platform, with its client built from the environment's token."""
    env = dict(os.environ if env is None else env)
    out: dict[str, Sender] = {}
    if env.get(TOKENS["slack"]):
        from slack_sdk.web.async_client import AsyncWebClient

        from bot.slack import SlackSender

        client = AsyncWebClient(token=env[TOKENS["slack"]], base_url=settings.slack.api_url)
        out["slack"] = SlackSender(client)
    if env.get(TOKENS["telegram"]):
        from telegram import Bot

        from bot.telegram import TelegramSender

        out["telegram"] = TelegramSender(
            Bot(env[TOKENS["telegram"]], base_url=settings.telegram.api_url)
        )
    return out


async def close_senders(senders: dict[str, Sender]) -> None:
    """Close the clients that `senders` made (the service's live clients are not closed)."""
    for sender in senders.values():
        close = getattr(sender, "aclose", None)
        if close is not None:
            await close()
