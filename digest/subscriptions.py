"""A subscription: one channel's digest settings (criteria live as versions in the store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from digest.clock import check_timezone, parse_time, weekdays
from digest.config import DEFAULTS
from digest.day import Cutoffs
from digest.errors import ConfigError

__all__ = [  # the checks live in digest.clock; named here too for older callers
    "Subscription",
    "arxiv_categories",
    "check_categories",
    "check_timezone",
    "parse_time",
    "subscription_id",
    "weekdays",
]


@dataclass(frozen=True)
class Subscription:
    """Who gets a digest, where, and how it is cut."""

    id: str  # "<platform>:<chat id>", e.g. "slack:C0123", "telegram:-1001234"
    platform: str
    chat: str
    categories: tuple[str, ...] = DEFAULTS.arxiv.categories
    relevance_cutoff: int = DEFAULTS.digest.relevance_cutoff
    novelty_cutoff: int = DEFAULTS.digest.novelty_cutoff
    top_k: int = DEFAULTS.bot.top_k
    schedule: str = DEFAULTS.bot.schedule  # local time of day, after arXiv's announcement
    timezone: str = DEFAULTS.bot.timezone
    subscribed_by: str | None = None
    active: bool = True
    paused_reason: str | None = None
    last_error: str | None = None
    admins: tuple[str, ...] = field(default=())
    language: str = "en"  # of the TL;DRs (`language de`)
    ours: tuple[str, ...] = field(default=())  # arXiv ids of the group's own papers (`ours`)
    zotero_library: str = ""  # "users/123" | "groups/456": its items are examples (`zotero`)
    zotero_collection: str = ""  # one collection's key, or "" for the whole library

    @property
    def cutoffs(self) -> Cutoffs:
        return Cutoffs(self.relevance_cutoff, self.novelty_cutoff)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def last_due(self, now: datetime, days: str = "mon-fri") -> datetime | None:
        """The latest scheduled time at or before `now`, within a week (UTC): `schedule`
        local time on `days` (Monday to Friday: when arXiv announces)."""
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        at, on = parse_time(self.schedule), weekdays(days)
        for back in range(8):
            day = local.date() - timedelta(days=back)
            due = datetime.combine(day, at, tzinfo=zone)
            if day.weekday() in on and due <= local:
                return due.astimezone(UTC)
        return None


def subscription_id(platform: str, chat: str) -> str:
    return f"{platform}:{chat}"


def arxiv_categories() -> frozenset[str]:
    """arXiv's category codes, shipped with the package."""
    from pathlib import Path

    path = Path(__file__).resolve().parent / "data" / "arxiv_categories.txt"
    lines = (line for line in path.read_text().splitlines() if not line.startswith("#"))
    return frozenset(code for line in lines for code in line.split())


def check_categories(codes: list[str]) -> tuple[str, ...]:
    """Validate against arXiv's list; case-insensitive, returned as arXiv spells them."""
    known = {c.lower(): c for c in arxiv_categories()}
    if not codes:
        raise ConfigError("name at least one arXiv category, e.g. cs.LG")
    bad = [c for c in codes if c.lower() not in known]
    if bad:
        raise ConfigError(f"'{bad[0]}' is not an arXiv category; e.g. cs.LG, cs.AI, stat.ML")
    return tuple(dict.fromkeys(known[c.lower()] for c in codes))
