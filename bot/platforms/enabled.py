"""Which chat platforms are on: decided by the secrets present in the environment."""

from __future__ import annotations

from bot.platforms.pacing import Pace
from bot.platforms.sender import Sender
from digest import Settings, load_secrets


def slack_pace(settings: Settings) -> Pace:
    """The pace of Slack digest messages that the settings ask for."""
    return Pace.slack(settings.slack.messages_per_second, settings.slack.channel_gap_seconds)


def telegram_pace(settings: Settings) -> Pace:
    """The pace of Telegram digest messages that the settings ask for."""
    tg = settings.telegram
    return Pace.telegram(tg.messages_per_second, tg.chat_gap_seconds, tg.group_messages_per_minute)


def senders(settings: Settings, env: dict[str, str] | None = None) -> dict[str, Sender]:
    """A sender per enabled platform, with its client built from the environment's token."""
    secrets = load_secrets(env)
    out: dict[str, Sender] = {}
    if secrets.slack_bot_token:
        from slack_sdk.web.async_client import AsyncWebClient

        from bot.platforms.slack import SlackSender

        client = AsyncWebClient(token=secrets.slack_bot_token, base_url=settings.slack.api_url)
        out["slack"] = SlackSender(client, slack_pace(settings))
    if secrets.telegram_bot_token:
        from telegram import Bot

        from bot.platforms.telegram import TelegramSender

        bot = Bot(secrets.telegram_bot_token, base_url=settings.telegram.api_url)
        out["telegram"] = TelegramSender(bot, telegram_pace(settings))
    return out


async def close_senders(senders: dict[str, Sender]) -> None:
    """Close the clients that `senders` made (the service's live clients are not closed)."""
    for sender in senders.values():
        close = getattr(sender, "aclose", None)
        if close is not None:
            await close()
