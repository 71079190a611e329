"""Text to a Command: the table of commands (SPECS), their aliases, and `parse`."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from digest import UsageError

_ID = re.compile(r"\b(\d{4}\.\d{4,5})(?:v\d+)?\b")


@dataclass(frozen=True)
class Command:
    name: str
    args: tuple[str, ...] = ()
    rest: str = ""  # the raw text after the command word(s), for multi-line input


@dataclass(frozen=True)
class Spec:
    usage: str
    summary: str
    writes: bool = False  # changes settings: admins and the subscriber only
    slow: bool = False  # may take seconds: acknowledge first


SPECS: dict[str, Spec] = {
    "help": Spec("help", "what I can do"),
    "subscribe": Spec(
        "subscribe [like <#channel>]",
        "post the daily digest here (in a DM: your own; `like #channel` copies its criteria)",
        writes=True,
    ),
    "unsubscribe": Spec("unsubscribe", "stop the daily digest here", writes=True),
    "settings": Spec("settings", "what this chat gets: criteria, categories, cutoffs, size, time"),
    "top": Spec("top [n]", "the best n papers of the latest digest (default 5)"),
    "why": Spec("why <arxiv id | rank>", "why a paper scored as it did, and why it is in or out"),
    "criteria": Spec("criteria", "the research criteria papers are scored against, numbered"),
    "criteria add": Spec("criteria add <topic>: <what is relevant>", "add a topic", True),
    "criteria remove": Spec("criteria remove <n>", "remove topic n", writes=True),
    "criteria set": Spec("criteria set <the whole document>", "replace the criteria", True),
    "criteria undo": Spec("criteria undo", "go back to the previous version", writes=True),
    "criteria history": Spec("criteria history", "every version, newest first"),
    "threshold": Spec(
        "threshold relevance=<1-10> novelty=<1-10>", "the lowest scores a posted paper has", True
    ),
    "topk": Spec("topk <n>", "papers per digest (followed authors come first)", True),
    "follow": Spec("follow <author name>", "post this author's papers first, always", True),
    "unfollow": Spec("unfollow <author name>", "stop following an author", writes=True),
    "categories": Spec(
        "categories <cat> [<cat> ...]", "the arXiv categories read, e.g. cs.LG", True
    ),
    "schedule": Spec(
        "schedule <HH:MM> <IANA timezone>",
        "when the digest is posted, e.g. 08:30 Europe/Berlin",
        True,
    ),
    "more": Spec("more <arxiv id | rank>", "a paper's abstract (the card shows its TL;DR)"),
    "language": Spec("language <code>", "the language of the TL;DRs, e.g. de or en", True),
    "preview": Spec(
        "preview [like <arXiv ids>]",
        "the latest day's digest under the current criteria (with these examples: nothing kept)",
        slow=True,
    ),
    "search": Spec("search <words>", "stored papers with these words in title or abstract"),
    "like": Spec(
        "like <arXiv id | arXiv URL> ...",
        "papers like these are what this chat wants (up to 50; the scorer learns from them)",
        writes=True,
        slow=True,
    ),
    "unlike": Spec("unlike <arXiv id> ...", "stop a paper being a wanted example", True),
    "ours": Spec(
        "ours [<arXiv ids | author name> | remove <ids>]",
        "the group's own papers: a new paper close to one leads the digest (📌)",
        writes=True,
        slow=True,
    ),
    "zotero": Spec(
        "zotero <users/123 | groups/456> [<collection key>] | zotero off",
        "keep this chat's wanted examples in step with a Zotero library, read daily",
        writes=True,
        slow=True,
    ),
    "rate": Spec("rate <arxiv id> <+1|-1>", "rate a paper: the local scorer learns from it"),
}


HOW_TO_ASK = {
    "slack": "Type a command after /digest, mention me with it, or send it to me in a DM.",
    "telegram": "Tap a command, or type it with its arguments.",
}


ALIASES = {"threshold": ("thresholds", "cutoffs"), "topk": ("top-k",), "help": ("start", "?")}


COMMAND_WORDS = frozenset(
    {name.split()[0] for name in SPECS} | {alias for names in ALIASES.values() for alias in names}
)  # the words a command starts with


def parse(text: str) -> Command:
    """Plain text to a Command; a sentence that mentions a paper is read as `why`."""
    text = text.strip().removeprefix("/").strip()
    text = re.sub(r"^(digest|paperdigest)\b\s*", "", text, flags=re.I)  # "/digest why ..."
    text = re.sub(r"^(\w+)@\w+", r"\1", text)  # Telegram's "/why@paperdigest_bot"
    if not text:
        return Command("help")
    first, rest = [*text.split(maxsplit=1), ""][:2]  # text starts with a word
    word = first.lower()
    word = next((k for k, names in ALIASES.items() if word in names), word)
    if word == "criteria":
        if not rest:
            return Command("criteria")
        sub, tail = [*rest.split(maxsplit=1), ""][:2]
        if sub.lower() not in {"add", "remove", "set", "undo", "history"}:
            raise UsageError(_usage("criteria add") + "\n" + _usage("criteria remove"))
        return Command(f"criteria {sub.lower()}", tuple(tail.split()), tail)
    if word in SPECS:
        return Command(word, tuple(_split(rest)), rest.strip())
    return _natural(text)


def _natural(text: str) -> Command:
    """'why did 2602.08007 score 9?' -> why; 'top 3 please' -> top; else help."""
    lowered = text.lower()
    found = _ID.search(text)
    if found and ("rate" not in lowered):
        return Command("why", (found.group(1),), found.group(1))
    number = re.search(r"\btop\s+(\d+)", lowered)
    if number:
        return Command("top", (number.group(1),))
    return Command("help", ("unknown",), text)


def _split(rest: str) -> list[str]:
    try:
        return shlex.split(rest)
    except ValueError:
        return rest.split()


def _usage(name: str) -> str:
    return f"usage: {SPECS[name].usage}"


def _int(text: str, command: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"'{text}' is not a number; {_usage(command)}") from None
    if not low <= value <= high:
        raise UsageError(f"{value} is out of range {low}-{high}; {_usage(command)}")
    return value
