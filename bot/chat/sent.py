"""The digest messages a chat was sent, as the outbox keeps them: what a button under one of
them (Telegram's **More** / **Less**) needs to draw the message again."""

from __future__ import annotations

from typing import Any

from bot.chat.commands import Context, Deps


def sent_message(ctx: Context, deps: Deps, message_id: str) -> dict[str, Any] | None:
    """The stored payload of this chat's digest message `message_id`; None for a message that
    is no digest message (a command's answer) or was not recorded as sent."""
    return deps.store.sent_payload(ctx.subscription_id, message_id)
