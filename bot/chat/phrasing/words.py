"""What the rules share: Interpretation (the exact command some plain words mean), arXiv ids,
numbers written as words, ordinals, and text made plain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
_WHEN_WORDS = re.compile(
    r"\b(today|tonight|yesterday|this (?:week|morning|month|year)|these days|lately|recently|"
    r"so far|right now|at the moment|in (?:today'?s |the |my )?digest|in the store|on arxiv|"
    r"please|pls|thanks?)\b",
    re.I,
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


def _clean_topic(text: str) -> str:
    """'mixture of experts this week?' -> 'mixture of experts'."""
    text = _WHEN_WORDS.sub(" ", text)
    text = re.sub(r"[?!.,;]+", " ", text)
    text = re.sub(r"^\s*(?:the|a|an|some|any|recent|new|latest)\s+", "", text, flags=re.I)
    text = re.sub(r"\s+(?:from|of|in|on|for)?\s*$", "", text.strip())
    return " ".join(text.split())
