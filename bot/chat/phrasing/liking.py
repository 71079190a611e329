"""The rules for examples and the group's own papers: "more like 2602.08005" is `like
2602.08005`, "we wrote 2601.01234" is `ours 2601.01234`; "I like this one" (and "more like this",
"we wrote this") names the paper of the thread it is said in (`this_paper`). Both change
settings, so they are proposed, never run unasked.
"""

from __future__ import annotations

import re

from bot.chat.phrasing.words import ID, Interpretation

_MORE_LIKE = re.compile(
    r"\b(?:more|others?|(?:other |similar )?papers?|stuff|things|work)\s+(?:\w+\s+)?like\b|"
    r"\bi (?:really )?(?:like|love)\b|\bsimilar to\b",
    re.I,
)
_OURS = re.compile(
    r"\b(?:we|i) (?:wrote|authored|published|co-?authored|did)\b|\bours\b|"
    r"\b(?:our|my) (?:own )?(?:group'?s? )?(?:paper|work|preprint|article)\b|\bby us\b",
    re.I,
)
_THIS = re.compile(r"\b(?:this|that|it)(?: one| paper| preprint| work)?\b", re.I)


def liking(raw: str, low: str) -> Interpretation | None:
    """Sentences naming arXiv ids that say "more like these" or "we wrote these"."""
    ids = list(dict.fromkeys(m.group(1) for m in ID.finditer(raw)))
    if not ids or re.search(r"\b(rate|rating|thumbs|why)\b", low):
        return None
    if _OURS.search(low):
        return Interpretation(f"ours {' '.join(ids)}", changes=True)
    if _MORE_LIKE.search(low):
        return Interpretation(f"like {' '.join(ids)}", changes=True)
    return None


def this_paper(text: str) -> str | None:
    """'like' or 'ours' when the words say it of the paper in question ("I like this one",
    "more like this", "we wrote this"), without an id; else None."""
    low = " ".join(text.lower().replace("\u2019", "'").split())
    if ID.search(low) or not _THIS.search(low) or len(low.split()) > 12:
        return None
    if _OURS.search(low):
        return "ours"
    if _MORE_LIKE.search(low) or re.search(r"\b(?:like|love)s? (?:this|that|it)\b", low):
        return "like"
    return None


def only_paper(text: str) -> str:
    """The arXiv id a message is about: the one id it names ("" when none or several)."""
    ids = {m.group(1) for m in ID.finditer(text)}
    return ids.pop() if len(ids) == 1 else ""
