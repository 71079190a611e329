"""Ranking: followed authors first, then papers at or above the cutoffs, best first."""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from functools import lru_cache

from anyascii import anyascii

from digest.day import Cutoffs, Entry
from digest.papers import Paper
from digest.scoring import Score

AUTHOR_MATCH = "Author match"
_ACCENT_MARKS = re.compile(r"[`'^\"~{}\\]")


@lru_cache(maxsize=65_536)  # a day's authors are compared with every followed name
def _name_parts(name: str) -> tuple[str, ...]:
    """'Dom`enec Ruiz-Balet' -> ('domenec', 'ruiz', 'balet'): ascii, lower, no punctuation."""
    # arXiv listings keep LaTeX accents ('Dom`enec', 'G\\"odel'): drop the marks, keep the letters
    return tuple(re.findall(r"[a-z]+", _ACCENT_MARKS.sub("", anyascii(name)).lower()))


def same_author(followed: str, written: str) -> bool:
    """Case- and accent-insensitive; initials stand for first names ('Y. LeCun' ~ 'Yann LeCun')."""
    a, b = _name_parts(followed), _name_parts(written)
    if not a or not b or a[-1] != b[-1]:
        return False
    firsts_a, firsts_b = a[:-1], b[:-1]
    if not firsts_a or not firsts_b:
        return True
    return all(
        x == y or (len(x) == 1 and y.startswith(x)) or (len(y) == 1 and x.startswith(y))
        for x, y in zip(firsts_a, firsts_b, strict=False)
    )


def followed_in(paper: Paper, authors: Iterable[str]) -> str | None:
    """The first followed author who wrote the paper, as the criteria spell them."""
    for followed in authors:
        if any(same_author(followed, written) for written in paper.authors):
            return followed
    return None


def author_score(paper: Paper, author: str) -> Score:
    """Followed authors skip the scorer, as in the reference."""
    return Score(paper.id, 10, 10, AUTHOR_MATCH, f"author: {author}", "authors")


def rank(
    papers: list[Paper],
    scores: dict[str, Score],
    followed: dict[str, str],
    cutoffs: Cutoffs,
    top_k: int = 0,
    already_shown: AbstractSet[str] = frozenset(),
) -> list[Entry]:
    """Every paper in order with whether it was selected and why (or why not)."""

    def key(p: Paper) -> tuple:
        s = scores[p.id]
        return (p.id not in followed, -(s.relevance + s.novelty), -s.relevance, -(s.raw or 0), p.id)

    entries: list[Entry] = []
    chosen = 0
    for position, paper in enumerate(sorted(papers, key=key), 1):
        score = scores[paper.id]
        is_followed = paper.id in followed
        passes = score.relevance >= cutoffs.relevance and score.novelty >= cutoffs.novelty
        if paper.id in already_shown:
            selected, reason = False, "already shown on an earlier day"
        elif is_followed:
            selected, reason = True, f"written by followed author {followed[paper.id]}"
        elif not passes:
            selected = False
            reason = (
                f"below the cutoffs (relevance {score.relevance} vs >= {cutoffs.relevance}, "
                f"novelty {score.novelty} vs >= {cutoffs.novelty})"
            )
        elif top_k and chosen >= top_k:
            selected, reason = False, f"passed the cutoffs but the digest keeps the top {top_k}"
        else:
            selected, reason = (
                True,
                (
                    f"relevance {score.relevance} >= {cutoffs.relevance} and "
                    f"novelty {score.novelty} >= {cutoffs.novelty}"
                ),
            )
        if selected and not is_followed:
            chosen += 1
        entries.append(Entry(paper, score, position, selected, reason, is_followed))
    return entries
