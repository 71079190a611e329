"""Times of day, IANA time zones and week days, checked: for the settings and each subscription."""

from __future__ import annotations

import re
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.errors import ConfigError, clip

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def weekdays(spec: str) -> frozenset[int]:
    """Week days (0 = Monday) from a day_of_week spec such as "mon-fri" or "mon,wed,fri"."""
    out: set[int] = set()
    for part in spec.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ConfigError(f"'{spec}' is not a list of days; use e.g. mon-fri or mon,wed,fri")
        a, b = _DAYS.index(first), _DAYS.index(last or first)
        out.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(out)


def parse_time(text: str) -> time:
    """A time of day from HH:MM; ConfigError for anything else."""
    match = _TIME.match(text.strip())
    if not match:
        raise ConfigError(f"'{clip(text)}' is not a time of day; use HH:MM, e.g. 06:30")
    return time(int(match.group(1)), int(match.group(2)))


def check_timezone(name: str) -> str:
    """`name` if it is an IANA time zone; ConfigError for anything else, however long or odd."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
        raise ConfigError(
            f"'{clip(name)}' is not an IANA time zone; use e.g. Europe/Paris or America/New_York"
        ) from None
    return name
