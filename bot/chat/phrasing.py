"""Plain words to the command that answers them, by rules: no LLM.

`interpret("what are the top papers today?")` is `Interpretation("top")`. Some phrasings name
things only the store knows (a paper by its title words, an author by their surname, the
categories to add to): `resolve` settles those against the chat's latest digest and criteria.
Settings changes are interpretations with `changes` set: `bot.chat.ask` proposes them, never
runs them unasked.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import available_timezones

from bot.chat.readers import sources
from digest import arxiv_categories, current_criteria

if TYPE_CHECKING:
    from bot.chat.commands import Context, Deps

ID = re.compile(r"\b(\d{4}\.\d{4,5})(?:v\d+)?\b")
NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
ORDINALS = {
    w: i
    for i, w in enumerate(
        "zeroth first second third fourth fifth sixth seventh eighth ninth tenth".split()
    )
    if i
}
_NUM = r"(\d{1,3}|" + "|".join(NUMBER_WORDS) + r")"
_CATEGORY = re.compile(r"\b([a-z][a-z-]*\.[a-z]{2})\b", re.I)
_TIME = re.compile(
    r"\b(?:at\s+)?([01]?\d|2[0-3])(?::([0-5]\d))?\s*(am|pm|a\.m\.|p\.m\.|h|o'?clock)?(?!\S*\d)",
    re.I,
)
_WHEN_WORDS = re.compile(
    r"\b(today|tonight|yesterday|this (?:week|morning|month|year)|these days|lately|recently|"
    r"so far|right now|at the moment|in (?:today'?s |the |my )?digest|in the store|on arxiv|"
    r"please|pls|thanks?)\b",
    re.I,
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


@dataclass(frozen=True)
class Interpretation:
    """The exact command some plain words mean.

    `command` is what runs (or is proposed); `changes` says it changes settings. `paper`,
    `author` and `categories` are parts only the store can settle (see `resolve`).
    """

    command: str
    changes: bool = False
    paper: str = ""  # title words of the paper `why` is about
    author: str = ""  # a name as written, maybe a surname only
    categories: str = ""  # "+cs.CL", "-cs.AI" or "=cs.LG" (space-separated codes)

    @property
    def note(self) -> str:
        return f"(ran `{self.command}`)"

    @property
    def name(self) -> str:
        """The command's name: 'top', 'criteria add', ..."""
        words = self.command.split()
        two = " ".join(words[:2])
        return two if two.startswith("criteria ") and len(words) > 1 else words[0]


def interpret(text: str) -> Interpretation | None:
    """The command that plain words most likely mean, or None; see the module docstring."""
    found = readings(text)
    return found[0] if found else None


def readings(text: str) -> list[Interpretation]:
    """Every command the words may mean, the likeliest first: when the store cannot settle
    one (title words that fit no paper), the next is tried."""
    raw = " ".join(text.strip().split())
    low = _plain(raw)
    if not low:
        return []
    rules = (_by_id, _change, _why, _search, _criteria, _settings, _help, _top)
    return [found for rule in rules if (found := rule(raw, low)) is not None]


def _plain(text: str) -> str:
    """Lower case, contractions spelled out, curly quotes straightened."""
    low = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    low = re.sub(r"\bwhat's\b", "what is", low)
    low = re.sub(r"\b(is|was|did|does|do|are|were|has|have)n't\b", r"\1 not", low)
    low = re.sub(r"\bwon't\b", "will not", low)
    low = re.sub(r"\bcan't\b", "cannot", low)
    low = re.sub(r"\bi'm\b", "i am", low)
    return low.strip()


def _number(word: str) -> int | None:
    word = word.lower()
    if word.isdigit():
        return int(word)
    return NUMBER_WORDS.get(word)


# -- rules, most specific first ---------------------------------------------------------------


def _by_id(raw: str, low: str) -> Interpretation | None:
    """Any sentence naming an arXiv id asks about that paper (ratings are buttons)."""
    found = ID.search(raw)
    if not found or re.search(r"\b(rate|rating|thumbs)\b", low):
        return None
    return Interpretation(f"why {found.group(1)}")


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


def _clean_topic(text: str) -> str:
    """'mixture of experts this week?' -> 'mixture of experts'."""
    text = _WHEN_WORDS.sub(" ", text)
    text = re.sub(r"[?!.,;]+", " ", text)
    text = re.sub(r"^\s*(?:the|a|an|some|any|recent|new|latest)\s+", "", text, flags=re.I)
    text = re.sub(r"\s+(?:from|of|in|on|for)?\s*$", "", text.strip())
    return " ".join(text.split())


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


# -- what only the store knows ------------------------------------------------------------------


async def resolve(found: Interpretation, ctx: Context, deps: Deps) -> Interpretation | str | None:
    """Settle title words, surnames and category changes against the store.

    Returns the settled Interpretation, a clarifying question (str), or None when the words
    name nothing the store knows. `ctx` and `deps` are bot.chat.commands' Context and Deps.
    """
    if found.paper:
        pid = await paper_by_title(found.paper, ctx, deps)
        return replace(found, command=f"why {pid}", paper="") if pid else None
    if found.author:
        return _settle_author(found, ctx, deps)
    if found.categories:
        sub = deps.store.subscription(ctx.subscription_id)
        now = list(sub.categories if sub else deps.settings.arxiv.categories)
        sign, codes = found.categories[0], found.categories[1:].split()
        lowered = {c.lower() for c in codes}
        if sign == "+":
            now += [c for c in codes if c.lower() not in {n.lower() for n in now}]
        else:
            now = [c for c in now if c.lower() not in lowered]
        if not now:
            return "that would leave no category; send `categories <cat> ...` with the ones to read"
        return replace(found, command=f"categories {' '.join(now)}", categories="")
    return found


async def paper_by_title(words: str, ctx: Context, deps: Deps) -> str | None:
    """The paper of the chat's latest digest day whose title best matches `words`, if clear."""
    store = deps.store
    found = await sources(store, ctx.platform, ctx.subscription_id, ctx.chat, ctx.audience)
    if not found:
        return None
    digest = store.digest(found[0].sub.id)
    if digest is None:
        return None
    papers = store.papers_of_day(digest.day)
    titles = {p.id: set(_stems(p.title)) for p in papers}
    for e in digest.selected:
        titles.setdefault(e.paper.id, set(_stems(e.paper.title)))
    return best_title(_stems(words), titles)


def _stems(text: str) -> list[str]:
    return [
        w[:-1] if len(w) > 3 and w.endswith("s") else w
        for w in re.findall(r"[a-z0-9]+", text.lower())
    ]


def best_title(query: list[str], titles: dict[str, set[str]]) -> str | None:
    """The id whose title shares the rarest words with `query`, when it clearly leads."""
    if not titles or not query:
        return None
    df: dict[str, int] = {}
    for words in titles.values():
        for w in words:
            df[w] = df.get(w, 0) + 1
    n = len(titles)
    idf = {w: math.log(n / df[w]) for w in set(query) if w in df}
    scored = sorted(
        ((sum(idf.get(w, 0.0) for w in set(query) & words), pid) for pid, words in titles.items()),
        reverse=True,
    )
    (best, pid), second = scored[0], (scored[1][0] if len(scored) > 1 else 0.0)
    if best < math.log(n / 3) or best < second * 1.3:
        return None
    return pid


def _settle_author(found: Interpretation, ctx: Context, deps: Deps) -> Interpretation | str:
    """A surname alone becomes the full name of the one followed or listed author it fits."""
    name, verb = found.author, found.command.split()[0]
    if len(name.split()) >= 2:
        return found
    _, criteria = current_criteria(deps.store, ctx.subscription_id)
    known = list(criteria.authors)
    if verb == "follow":
        digest = deps.store.digest(ctx.subscription_id)
        for e in digest.selected if digest else []:
            known += list(e.paper.authors)
    fits = list(dict.fromkeys(a for a in known if a.split()[-1].lower() == name.lower()))
    if len(fits) == 1:
        return replace(found, command=f"{verb} {fits[0]}", author="")
    options = " or ".join(f"`{verb} {a}`" for a in fits[:3])
    return (
        f"which {name}? {options}"
        if fits
        else f"`{verb}` needs a first and last name as written on arXiv: `{verb} <first> {name}`"
    )
