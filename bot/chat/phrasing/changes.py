"""The rules for settings changes in plain words: cutoffs, the schedule, top-k, following an
author, categories, the subscription and the criteria. What they find is only proposed.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from zoneinfo import available_timezones

from bot.chat.phrasing.words import _NUM, ORDINALS, Interpretation, _clean_topic, _number
from digest import arxiv_categories

_CATEGORY = re.compile(r"\b([a-z][a-z-]*\.[a-z]{2})\b", re.I)
_TIME = re.compile(
    r"\b(?:at\s+)?([01]?\d|2[0-3])(?::([0-5]\d))?\s*(am|pm|a\.m\.|p\.m\.|h|o'?clock)?(?!\S*\d)",
    re.I,
)


def _change(raw: str, low: str) -> Interpretation | None:
    for rule in (_threshold, _schedule, _topk, _unfollow, _follow, _categories, _subscription,
                 _criteria_change):  # fmt: skip
        found = rule(raw, low)
        if found is not None:
            return replace(found, changes=True)
    return None


_RAISE = re.compile(
    r"\b(only|just|set|raise|lower|increase|decrease|change|make|at least|or (?:more|higher|"
    r"above|better)|minimum|min|above|over|higher than|greater than|more than|bar|cut-?off|"
    r"threshold|hide|drop|no papers? below|nothing below|\+)",
)


def _threshold(raw: str, low: str) -> Interpretation | None:
    if not re.search(r"\b(relevance|novelty)\b", low) or not _RAISE.search(low):
        return None
    parts = []
    for key in ("relevance", "novelty"):
        after = re.search(
            rf"\b{key}\b\D{{0,40}}?(above|over|more than|greater than|higher than)?\s*"
            rf"(?:of\s+|to\s+|at\s+|>=?\s*|=\s*)?(\d{{1,2}})\b",
            low,
        )
        before = re.search(
            rf"\b(\d{{1,2}})\s*\+?\s*(?:or (?:more|higher|above)\s+)?(?:on|for|in)?\s*{key}\b", low
        )
        if after:
            value = int(after.group(2)) + (1 if after.group(1) else 0)
        elif before:
            value = int(before.group(1))
        else:
            continue
        parts.append(f"{key}={min(max(value, 1), 10)}")
    return Interpretation(f"threshold {' '.join(parts)}") if parts else None


def _schedule(raw: str, low: str) -> Interpretation | None:
    if not re.search(r"\b(post|send|deliver|arrive|schedule|digest|move|come|publish)", low):
        return None
    at = None
    for match in _TIME.finditer(low):
        hour, minute, suffix = int(match.group(1)), match.group(2), match.group(3)
        if not (minute or suffix or match.group(0).lstrip().startswith("at")):
            continue
        suffix = (suffix or "").replace(".", "")
        if suffix == "pm" and hour < 12:
            hour += 12
        if suffix == "am" and hour == 12:
            hour = 0
        at = f"{hour:02d}:{minute or '00'}"
        break
    if at is None:
        return None
    zone = _zone(low)
    return Interpretation(f"schedule {at} {zone}" if zone else f"schedule {at}")


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    """'berlin' -> 'Europe/Berlin', 'new york' -> 'America/New_York', and a few names."""
    regions = ("Europe/", "America/", "Asia/", "Africa/", "Australia/", "Pacific/", "Atlantic/")
    names = {"utc": "UTC", "gmt": "UTC", "zulu": "UTC"}
    for zone in sorted(available_timezones()):
        if zone.startswith(regions):
            names.setdefault(zone.rsplit("/", 1)[-1].lower().replace("_", " "), zone)
            names.setdefault(zone.lower(), zone)
    names.update(
        {
            "pacific time": "America/Los_Angeles", "eastern time": "America/New_York",
            "central time": "America/Chicago", "mountain time": "America/Denver",
            "cet": "Europe/Berlin", "central european": "Europe/Berlin",
            "british time": "Europe/London", "uk time": "Europe/London",
        }
    )  # fmt: skip
    return names


def _zone(low: str) -> str:
    """The IANA zone named in the text ('Berlin time' -> Europe/Berlin), or ''."""
    best = ""
    for name in _zones():
        if len(name) > len(best) and re.search(rf"(?<![\w/]){re.escape(name)}(?![\w/])", low):
            best = name
    return _zones()[best] if best else ""


def _topk(raw: str, low: str) -> Interpretation | None:
    patterns = (
        rf"\b{_NUM}\s+(?:papers?|items?|results?)\s+(?:a|per|each|every)\s+"
        r"(?:day|digest|morning|post)",
        rf"\b(?:only|just|at most|max(?:imum)?|no more than|limit (?:it |the digest |me )?to)\s+"
        rf"{_NUM}\s+(?:papers?|items?)\b(?!\s+(?:on|about))",
        rf"\btop-?k\b\D{{0,12}}{_NUM}\b",
        rf"\b(?:keep|cap|set)\b.*\b(?:digest|it)\b.*\bto\s+{_NUM}\s+papers?\b",
    )
    for pattern in patterns:
        found = re.search(pattern, low)
        if found and (n := _number(found.group(1))):
            return Interpretation(f"topk {n}")
    return None


_NAME = r"((?:[A-Z][\w'.-]*|van|von|de|der|den|da|di|du|del|le|la)(?:\s+(?:[A-Z][\w'.-]*|van|von|de|der|den|da|di|du|del|le|la))*)"  # noqa: E501


def _name_after(raw: str, trigger: str) -> str:
    """The capitalised name that follows `trigger` (a lower-case regex) in the text, or ''."""
    found = re.search(
        rf"(?i:{trigger})\s+(?:(?i:papers?\s+(?:by|from)|the\s+author)\s+)?{_NAME}", raw
    )
    name = found.group(1) if found else ""
    return re.sub(r"[.'\u2019]s$|[.,!?]+$", "", name).strip()


def _unfollow(raw: str, low: str) -> Interpretation | None:
    trigger = (
        r"(?:unfollow|stop following|no longer follow|do not follow|don't follow|"
        r"no more papers (?:by|from)|stop showing (?:me )?(?:papers )?(?:by|from))"
    )
    if not re.search(trigger, low):
        return None
    name = _name_after(raw, trigger)
    return Interpretation(f"unfollow {name}", author=name) if name else None


def _follow(raw: str, low: str) -> Interpretation | None:
    trigger = (
        r"(?:follow|track|keep (?:me |us )?(?:posted|updated|up to date) on (?:anything |"
        r"everything |papers |whatever )?by|(?:everything|anything|all papers|all the papers|"
        r"every paper|whatever) (?:by|from|written by)|papers (?:written )?by)"
    )
    if not re.search(trigger, low):
        return None
    name = _name_after(raw, trigger)
    return Interpretation(f"follow {name}", author=name) if name else None


def _categories(raw: str, low: str) -> Interpretation | None:
    known = {c.lower(): c for c in arxiv_categories()}
    codes = [known[c.lower()] for c in _CATEGORY.findall(raw) if c.lower() in known]
    if not codes:
        return None
    joined = " ".join(codes)
    if re.search(r"\b(remove|drop|exclude|stop reading|no more|without|not)\b", low):
        return Interpretation("categories", categories=f"-{joined}")
    if re.search(r"\b(only|just|instead|switch)\b", low):
        return Interpretation(f"categories {joined}")
    if re.search(r"\b(add|include|also|read|follow|plus|too|as well)\b", low):
        return Interpretation("categories", categories=f"+{joined}")
    return None


def _subscription(raw: str, low: str) -> Interpretation | None:
    if re.search(
        r"\b(unsubscribe|stop (?:sending|posting|the (?:daily )?digest)|no more digests?|"
        r"turn off the digest|pause the digest|cancel (?:my |the )?subscription)\b",
        low,
    ):
        return Interpretation("unsubscribe")
    if re.match(
        r"(?:please\s+)?(?:subscribe(?: me| us)?|sign (?:me|us) up|start (?:sending|posting)|"
        r"i (?:want|would like) (?:a|the|my own) (?:daily )?digest)\b",
        low,
    ):
        return Interpretation("subscribe")
    return None


def _criteria_change(raw: str, low: str) -> Interpretation | None:
    if re.search(r"\b(undo|revert|roll back)\b.*\b(criteria|change|topic|edit)", low) or re.search(
        r"\bgo back to the (?:previous|old|last) criteria\b", low
    ):
        return Interpretation("criteria undo")
    removal = re.search(
        rf"\b(?:remove|drop|delete)\s+(?:the\s+)?(?:(\w+)\s+(?:topic|criterion)|(?:topic|criterion)"
        rf"\s+(?:#|number\s+)?{_NUM})",
        low,
    )
    if removal:
        n = ORDINALS.get(removal.group(1) or "") or _number(removal.group(2) or "")
        return Interpretation(f"criteria remove {n}") if n else None
    added = re.search(
        r"\badd\s+(?:a\s+)?(?:new\s+)?topic\s+(?:about|on|for|called|named)?\s*(.+)|"
        r"\badd\s+(.+?)\s+to\s+(?:my\s+|the\s+|our\s+)?criteria\b",
        raw,
        re.I,
    )
    if added:
        topic = _clean_topic(added.group(1) or added.group(2) or "")
        return Interpretation(f"criteria add {topic}: {topic}") if topic else None
    return None
