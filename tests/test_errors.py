"""Every error paperdigest raises on purpose is one tree under DigestError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import bot
import digest
from digest.errors import (
    ChatMoved,
    ChatUnavailable,
    DeliveryError,
    DigestError,
    RetryLater,
    UsageError,
)


def _our_exceptions() -> list[type[BaseException]]:
    """Each exception class defined in a module of `digest/` or `bot/`."""
    found = []
    for package in (digest, bot):
        names = [package.__name__] + [
            m.name for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
        ]
        for name in names:
            if ".migrations" in name:
                continue  # alembic scripts, run by alembic only
            module = importlib.import_module(name)
            for _, value in inspect.getmembers(module, inspect.isclass):
                if issubclass(value, BaseException) and value.__module__ == name:
                    found.append(value)
    return found


def test_every_error_we_define_is_a_digest_error() -> None:
    found = _our_exceptions()
    assert {RetryLater, ChatMoved, ChatUnavailable, UsageError} <= set(found)
    assert [e.__qualname__ for e in found if not issubclass(e, DigestError)] == []


def test_delivery_and_usage_errors_sit_in_the_tree() -> None:
    for error in (RetryLater, ChatUnavailable, ChatMoved):
        assert error.__mro__[1:3] == (DeliveryError, DigestError)
    assert UsageError.__mro__[1] is DigestError
    assert not issubclass(UsageError, DeliveryError)


def test_the_names_are_where_they_were() -> None:
    from bot.chat.commands import UsageError as from_commands
    from bot.service.outbox import ChatMoved as moved
    from bot.service.outbox import ChatUnavailable as unavailable
    from bot.service.outbox import RetryLater as later

    assert (from_commands, moved, unavailable, later) == (
        UsageError,
        ChatMoved,
        ChatUnavailable,
        RetryLater,
    )


def test_delivery_errors_keep_what_the_outbox_reads() -> None:
    later, moved = RetryLater("Slack rate limit (429)", 12.5), ChatMoved("-100123")
    assert (str(later), later.seconds) == ("Slack rate limit (429)", 12.5)
    assert RetryLater("Telegram: flood").seconds == 30.0
    assert (str(moved), moved.new_chat) == ("chat moved to -100123", "-100123")
    with pytest.raises(DigestError, match="blocked"):
        raise ChatUnavailable("Telegram: bot was blocked by the user")
