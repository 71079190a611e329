"""Every error the engine raises on purpose, as one tree.

    DigestError                  anything paperdigest can explain to a person
    ├── ConfigError              a setting is unknown or invalid (names key and file)
    ├── FetchError               an arXiv feed or the export API could not be read
    │   └── FeedParseError       a feed answered with something that is not a feed
    ├── ListingError             a listing file (JSON lines) has a line that is not a paper
    ├── ScoringError             a scorer could not produce scores
    ├── CriteriaError            a criteria document could not be parsed
    ├── ReferenceFormatError     a reference digest could not be read
    ├── NotFoundError            an id, day or subscription is not in the store
    ├── UsageError               a command with wrong arguments (the message is its usage)
    └── DeliveryError            a chat platform did not take a message
        ├── RetryLater           rate limited or failing for now: try again after `seconds`
        ├── ChatUnavailable      the chat cannot receive messages: its subscription pauses
        └── ChatMoved            the chat has a new id (`new_chat`): its subscription moves

The CLI prints the message on one line and exits non-zero; chat handlers reply with it. The
outbox (bot.service.outbox) catches each DeliveryError by its kind before anything else does.
"""

from __future__ import annotations


class DigestError(Exception):
    """Base of every error paperdigest explains to a person."""


class ConfigError(DigestError):
    """A setting is unknown or invalid."""


class FetchError(DigestError):
    """An arXiv feed or the export API could not be read."""


class FeedParseError(FetchError):
    """A feed answered with something that is not a well-formed feed."""


class ListingError(DigestError, ValueError):
    """A listing file has a line that is not a paper; a ValueError too, for older callers."""


class ScoringError(DigestError):
    """A scorer could not produce scores."""


class CriteriaError(DigestError):
    """A criteria document could not be parsed."""


class ReferenceFormatError(DigestError):
    """A reference digest could not be read."""


class NotFoundError(DigestError):
    """An id, day or subscription is not in the store."""


class UsageError(DigestError):
    """A command with wrong arguments; the message is the command's usage."""


class DeliveryError(DigestError):
    """A chat platform did not take a message."""


class RetryLater(DeliveryError):
    """The platform asked us to wait (rate limit) or failed for now."""

    def __init__(self, reason: str, seconds: float = 30.0) -> None:
        super().__init__(reason)
        self.seconds = seconds


class ChatUnavailable(DeliveryError):
    """The chat cannot receive messages (removed, archived, blocked, bad token)."""


class ChatMoved(DeliveryError):
    """The chat has a new id (a Telegram group became a supergroup)."""

    def __init__(self, new_chat: str) -> None:
        super().__init__(f"chat moved to {new_chat}")
        self.new_chat = new_chat


def clip(text: str, limit: int = 60) -> str:
    """`text` on one line and at most `limit` characters, for naming a bad input in a message."""
    flat = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    return flat if len(text) <= limit and len(flat) <= limit else flat[: limit - 3] + "..."
