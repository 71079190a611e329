"""Which chat platforms are on: decided by the secrets present in the environment."""

from __future__ import annotations

import os

from bot.delivery import Sender
from digest.config import Settings


def enabled(env: dict[str, str] | None = None) -> list[str]:
    env = dict(os.environ if env is None else env)
    return [name for name, var in (("slack", "SLACK_BOT_TOKEN"),) if env.get(var)]


def senders(settings: Settings, env: dict[str, str] | None = None) -> dict[str, Sender]:
    """A sender per enabled platform, with its client built from the environment's token."""
    env = dict(os.environ if env is None else env)
    out: dict[str, Sender] = {}
    if env.get("SLACK_BOT_TOKEN"):
        from slack_sdk.web.async_client import AsyncWebClient

        from bot.slack import SlackSender

        client = AsyncWebClient(token=env["SLACK_BOT_TOKEN"], base_url=settings.slack.api_url)
        out["slack"] = SlackSender(client)
    return out
