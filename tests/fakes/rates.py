"""The platforms' published rate limits, as a loopback fake enforces them when told to.

    limits = RateLimits([Limit("bot", 30, 1.0)])       # 30 messages in any 1 s window
    retry_after = limits.take(("bot",), ("chat", 42))  # None: accepted and counted

Each `Limit` counts the accepted messages of one key (the bot, a chat, a group) in a sliding
window; a message that would make one more than allowed is refused with the seconds until the
oldest leaves the window (what the platform puts in Retry-After), and is not counted. `scaled`
shortens every window by a factor, so that a test runs at 100 times the real rates.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """At most `count` messages of one `kind` of key in any `window` seconds."""

    kind: str  # "bot", "chat", "group", "channel"
    count: int
    window: float


class RateLimits:
    """Sliding-window counters per key; thread-safe (the fakes answer on many threads)."""

    def __init__(self, limits: list[Limit]) -> None:
        self.limits = {limit.kind: limit for limit in limits}
        self._sent: dict[tuple[str, Hashable], deque[float]] = {}
        self._lock = threading.Lock()
        self.refused = 0  # messages answered 429
        self.refused_by: Counter[str] = Counter()  # ... by the kind of limit they broke

    def scaled(self, factor: float) -> RateLimits:
        """The same limits with every window `factor` times shorter."""
        return RateLimits([Limit(x.kind, x.count, x.window / factor) for x in self.limits.values()])

    def take(self, *keys: tuple[str, Hashable]) -> float | None:
        """Count one message under every (kind, key) that has a limit; or, if one is full,
        count nothing and return the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            wait = 0.0
            for kind, key in keys:
                limit = self.limits.get(kind)
                if limit is None:
                    continue
                sent = self._sent.setdefault((kind, key), deque())
                while sent and sent[0] <= now - limit.window:
                    sent.popleft()
                if len(sent) >= limit.count:
                    wait = max(wait, sent[0] + limit.window - now)
                    self.refused_by[kind] += 1
            if wait > 0:
                self.refused += 1
                return wait
            for kind, key in keys:
                if kind in self.limits:
                    self._sent[(kind, key)].append(now)
            return None


def retry_after(seconds: float) -> int:
    """Retry-After as the platforms send it: whole seconds, at least 1."""
    return max(1, math.ceil(seconds))


def telegram_limits() -> RateLimits:
    """Telegram's: 30 messages a second per bot, 1 a second per chat, 20 a minute per group."""
    return RateLimits([Limit("bot", 30, 1.0), Limit("chat", 1, 1.0), Limit("group", 20, 60.0)])


def slack_limits() -> RateLimits:
    """Slack's chat.postMessage: 1 message a second per channel."""
    return RateLimits([Limit("channel", 1, 1.0)])
