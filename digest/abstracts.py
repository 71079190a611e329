"""Where an abstract says what its paper does: the cascade's gist and the extractive TL;DR
start there."""

from __future__ import annotations

import functools
import re

CONTRIBUTION = re.compile(
    r"\b(we|this (?:paper|work|study))\s+(propose|introduce|present|develop|show|study|"
    r"establish|prove|derive|design|investigate|find|demonstrate)",
    re.I,
)
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def contribution_start(sentences: list[str]) -> int:
    """The index of the first sentence that says what the paper does ('we propose'), else 0."""
    return next((i for i, s in enumerate(sentences) if CONTRIBUTION.search(s)), 0)


EXTRACTIVE = "extractive"  # Entry.tldr_by of a line taken from the abstract
EXTRACTIVE_WORDS = 30


@functools.lru_cache(maxsize=4096)  # every chat shown the paper asks again: made once each
def extractive(abstract: str, words: int = EXTRACTIVE_WORDS) -> str:
    """The abstract's contribution sentence, clipped to `words` words ('…' when cut)."""
    sentences = SENTENCE.split(" ".join(abstract.split()))
    kept = sentences[contribution_start(sentences)].split() if sentences else []
    return " ".join(kept[:words]) + (" …" if len(kept) > words else "")
