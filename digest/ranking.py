"""Ranking: followed authors first, then papers at or above the cutoffs, best first."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache

from anyascii import anyascii

from digest.day import Cutoffs, Entry
from digest.papers import Paper
from digest.scoring import Score

AUTHOR_MATCH = "Author match"


@dataclass(frozen=True)
class Placed:
    """One paper's place in a day's ranking under one criteria and scorer (shared by chats)."""

    paper_id: str
    rank: int
    score: Score
    followed: str | None = None  # the followed author who wrote it: ranked first, never scored


_ACCENT_MARKS = re.compile(r"[`'^\"~{}\\]")


@lru_cache(maxsize=65_536)  # a day's authors are compared with every followed name
def _name_parts(name: str) -> tuple[str, ...]:
    """'Dom`enec Ruiz-Balet' -> ('domenec', 'ruiz', 'balet'): ascii, lower, no punctuation."""
    # arXiv listings keep LaTeX accents ('Dom`enec', 'G\\"odel'): drop the marks, keep the letters
    return tuple(re.findall(r"[a-z]+", _ACCENT_MARKS.sub("", anyascii(name)).lower()))


@dataclass(frozen=True)
class DayRanking:
    """A day's papers ranked under one criteria by one scorer. Built once, stored once and
    read by every chat with that criteria: a chat's digest keeps only what is its own (its
    cutoffs, top-k, what no-repeats removed) and this ranking's place in the store."""

    day: date
    criteria_hash: str
    scorer: str
    places: tuple[Placed, ...]
    criteria_text: str = ""
    prompt: str = ""
    unscored: tuple[str, ...] = ()  # papers no scorer could judge
    listing: str | None = None  # the ranked listing's fingerprint: set when a build made it
    id: int | None = None  # its row, once stored
    key: str = ""  # a hash of its content, once stored: equal rankings have equal keys


def listing_fingerprint(paper_ids: Iterable[str]) -> str:
    """Which papers a ranking ranked (order aside): chats reading the same papers share it."""
    return hashlib.sha256(" ".join(sorted(paper_ids)).encode()).hexdigest()[:32]


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


def order(papers: list[Paper], scores: dict[str, Score], followed: dict[str, str]) -> list[Placed]:
    """The day's papers in digest order: followed authors first, then by relevance + novelty,
    relevance, the scorer's raw score and id. The same for every chat with these scores."""

    def key(p: Paper) -> tuple:
        s = scores[p.id]
        return (p.id not in followed, -(s.relevance + s.novelty), -s.relevance, -(s.raw or 0), p.id)

    ranked = sorted(papers, key=key)
    return [Placed(p.id, i, scores[p.id], followed.get(p.id)) for i, p in enumerate(ranked, 1)]


def verdicts(
    places: Iterable[Placed],
    cutoffs: Cutoffs,
    top_k: int = 0,
    already_shown: AbstractSet[str] = frozenset(),
) -> list[tuple[bool, str]]:
    """Whether each paper of a ranking makes one chat's digest, and why (or why not)."""
    out: list[tuple[bool, str]] = []
    chosen = 0
    said: dict[tuple[int, int], tuple[bool, str]] = {}  # the same scores, the same sentence
    rel_cut, nov_cut = cutoffs.relevance, cutoffs.novelty
    for place in places:
        rel, nov = place.score.relevance, place.score.novelty
        if place.paper_id in already_shown:
            verdict = (False, "already shown on an earlier day")
        elif place.followed is not None:
            verdict = (True, f"written by followed author {place.followed}")
        elif rel < rel_cut or nov < nov_cut:
            verdict = said.get((rel, nov)) or said.setdefault((rel, nov), (False, (
                f"below the cutoffs (relevance {rel} vs >= {rel_cut}, "
                f"novelty {nov} vs >= {nov_cut})")))  # fmt: skip
        elif top_k and chosen >= top_k:
            verdict = (False, f"passed the cutoffs but the digest keeps the top {top_k}")
        else:
            verdict = (True, f"relevance {rel} >= {rel_cut} and novelty {nov} >= {nov_cut}")
            chosen += 1
        out.append(verdict)
    return out


def lead_pinned(entries: list[Entry]) -> list[Entry]:
    """Entries close to the group's own work (`close_to`) lead, the closest first, the rest
    after in their order; ranks numbered anew. Without such entries, `entries` unchanged."""
    led = sorted((e for e in entries if e.close_to), key=lambda e: -_similarity(e))
    if not led:
        return entries
    rest = [e for e in entries if e.close_to is None]
    return [replace(e, rank=n) for n, e in enumerate([*led, *rest], 1)]


def _similarity(entry: Entry) -> float:
    return entry.close_to.similarity if entry.close_to else 0.0


def select(
    places: list[Placed],
    papers: Mapping[str, Paper],
    cutoffs: Cutoffs,
    top_k: int = 0,
    already_shown: AbstractSet[str] = frozenset(),
) -> list[Entry]:
    """One chat's entries from a shared ranking: its cutoffs, top-k and what it saw before."""
    return [
        Entry(papers[p.paper_id], p.score, p.rank, selected, reason, p.followed is not None)
        for p, (selected, reason) in zip(
            places, verdicts(places, cutoffs, top_k, already_shown), strict=True
        )
    ]


def rank(
    papers: list[Paper],
    scores: dict[str, Score],
    followed: dict[str, str],
    cutoffs: Cutoffs,
    top_k: int = 0,
    already_shown: AbstractSet[str] = frozenset(),
) -> list[Entry]:
    """Every paper in order with whether it was selected and why (or why not)."""
    by_id = {p.id: p for p in papers}
    return select(order(papers, scores, followed), by_id, cutoffs, top_k, already_shown)
