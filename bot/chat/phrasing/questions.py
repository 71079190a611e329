"""The rules for questions (why, search, criteria, settings, help, top), and the order every
rule is tried in: `readings`, and `interpret`, its likeliest reading.
"""

from __future__ import annotations

import re

from bot.chat.phrasing.changes import _change
from bot.chat.phrasing.liking import liking
from bot.chat.phrasing.words import (
    _NUM,
    ID,
    ORDINALS,
    Interpretation,
    _clean_topic,
    _number,
    _plain,
)

_TOPIC_OF = re.compile(
    r"\b(?:papers?|preprints?|articles?|work|research|results|anything|something|stuff)\s+"
    r"(?:on|about|regarding|concerning|related to|around|covering|mentioning|dealing with)\s+"
    r"(.+)",
    re.I,
)
_SEARCH_VERB = re.compile(
    r"^(?:please\s+|can you\s+|could you\s+)?(?:search|find|look for|look up|lookup)\s+"
    r"(?:for\s+|me\s+)?(.+)",
    re.I,
)
_STOP = frozenset(
    """a an the this that these those it its is are was were be been being am do does did
    done have has had having i me my we our us you your he she they them their of on in at to
    for from by with about into over under as and or but not no nor so such than too very
    can could would should will shall may might must why how come what which who whom whose
    when where there here get got gets make makes made high higher low lower score scored
    scores scoring so paper papers one ones explain explained reason reasoning behind left out
    cut in included include excluded selected picked chosen chose pick digest today isn
    didn wasn doesn s t much well good bad great just only did tell please end up ended
    into onto morning week yesterday new""".split()
)


def interpret(text: str) -> Interpretation | None:
    """The command that plain words most likely mean, or None; see `bot.chat.phrasing`."""
    found = readings(text)
    return found[0] if found else None


def readings(text: str) -> list[Interpretation]:
    """Every command the words may mean, the likeliest first: when the store cannot settle
    one (title words that fit no paper), the next is tried."""
    raw = " ".join(text.strip().split())
    low = _plain(raw)
    if not low:
        return []
    rules = (liking, _by_id, _change, _why, _search, _criteria, _settings, _help, _top)
    return [found for rule in rules if (found := rule(raw, low)) is not None]


# -- rules, most specific first (those for settings changes: `changes._change`) ---------------


def _by_id(raw: str, low: str) -> Interpretation | None:
    """Any sentence naming an arXiv id asks about that paper (ratings are buttons)."""
    found = ID.search(raw)
    if not found or re.search(r"\b(rate|rating|thumbs)\b", low):
        return None
    return Interpretation(f"why {found.group(1)}")


_RANK = re.compile(
    r"#\s*(\d{1,2})\b|\b(?:number|no\.?|rank|item|entry|paper)\s*#?\s*(\d{1,2})\b|"
    r"\b(\d{1,2})(?:st|nd|rd|th)\b|\b(" + "|".join(ORDINALS) + r")\b"
)


def _why(raw: str, low: str) -> Interpretation | None:
    if not re.search(
        r"\b(why|how come|explain|reason|reasoning|what made|justify|rationale)\b|"
        r"\bhow did\b.*\bscore|\bwhat did\b.*\bscore",
        low,
    ):
        return None
    rank = _RANK.search(low)
    if rank:
        value = next(g for g in rank.groups() if g)
        n = ORDINALS.get(value) or int(value)
        return Interpretation(f"why {n}")
    words = title_words(low)
    return Interpretation("why", paper=" ".join(words)) if words else None


def title_words(text: str) -> list[str]:
    """The words of a question that could be a paper's title words."""
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP and len(w) > 1]


def _search(raw: str, low: str) -> Interpretation | None:
    found = _TOPIC_OF.search(raw)
    if not found:
        verb = _SEARCH_VERB.match(raw)
        if not verb:
            return None
        rest = verb.group(1)
        inner = _TOPIC_OF.search(rest)
        found = inner or verb
        topic = _clean_topic(inner.group(1) if inner else rest)
    else:
        topic = _clean_topic(found.group(1))
    if not topic or topic.lower() in {"it", "that", "this", "them", "those", "me"}:
        return None
    return Interpretation(f"search {topic}")


def _criteria(raw: str, low: str) -> Interpretation | None:
    if re.search(r"\bcriteria\b.*\b(history|versions?|changes?|changed)\b", low):
        return Interpretation("criteria history")
    if re.search(
        r"(?<!-)\b(criteria|criterion|topics?|keywords?|filter(?:ing|s)?|interests?|looking for|"
        r"look for|who (?:do|am|are) (?:i|we) follow(?:ing)?|who is followed)\b",
        low,
    ):
        return Interpretation("criteria")
    return None


def _settings(raw: str, low: str) -> Interpretation | None:
    if re.search(
        r"\b(subscribed|subscription|settings?|schedule|when (?:does|do|will|is)|what time|"
        r"categor(?:y|ies)|cut-?offs?|thresholds?|top-?k|how many papers|config(?:uration)?)\b",
        low,
    ):
        return Interpretation("settings")
    return None


def _help(raw: str, low: str) -> Interpretation | None:
    if re.fullmatch(
        r"(?:help|help me|what can you do|what do you do|how do i use (?:you|this)|"
        r"(?:which|what) commands.*|how does this work)\W*",
        low,
    ):
        return Interpretation("help")
    if re.search(r"\b(preview|what would (?:change|today look like))\b", low):
        return Interpretation("preview")
    return None


def _top(raw: str, low: str) -> Interpretation | None:
    n = None
    patterns = (
        rf"\btop\s+{_NUM}\b",
        rf"\b{_NUM}\s+(?:best|top|most relevant|highest)\b",
        rf"\b(?:show|give|list|send)\s+(?:me\s+)?(?:the\s+)?{_NUM}\s+papers\b",
    )
    for pattern in patterns:
        found = re.search(pattern, low)
        if found:
            n = _number(found.group(1))
            break
    if n is None and not re.search(
        r"\b(top|best|new|news|highlights?|digest|picks?|good|interesting|worth reading|"
        r"recommend\w*|must-reads?|selected|made it|today|morning)\b",
        low,
    ):
        return None
    return Interpretation(f"top {n}" if n else "top")
