"""Search by meaning: the papers of recent days ranked by how close their embedding is to the
question (the local model), with the question's words as a second signal."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np

from digest.papers import Paper
from digest.scoring import embedding
from digest.store import Store

RECENT_DAYS = 5  # announcement days: about a week
WORD_WEIGHT = 0.15  # every question word in the paper adds this much to its cosine
MIN_COSINE = 0.3  # below this, only a paper holding every word is a match
_STOP = frozenset("a an and any are by for from in is it of on or papers paper the to with".split())


SEARCH_WORDS = 20


def search_terms(words: str) -> list[str]:
    """The first SEARCH_WORDS distinct words of two characters or more, compared case-blind."""
    terms: dict[str, str] = {}
    for word in words.split():
        if len(word) >= 2:
            terms.setdefault(word.casefold(), word)
            if len(terms) == SEARCH_WORDS:
                break
    return list(terms.values())


@dataclass(frozen=True)
class Found:
    paper: Paper
    similarity: float  # cosine of the paper's and the question's embeddings
    words: float  # the share of the question's words the paper holds


@dataclass(frozen=True)
class SearchResult:
    found: list[Found]
    days: list[date]  # the days looked at, oldest first


def search(store: Store, question: str, days: list[date], limit: int = 10) -> SearchResult:
    """The `limit` papers of `days` closest to the question. CPU work: call it off the loop.

    Paper vectors come from the embedding store (kept when the day was scored), so a search
    encodes only the question.
    """
    papers = list({p.id: p for day in days for p in store.papers_of_day(day)}.values())
    terms = [t.casefold() for t in search_terms(question) if t.casefold() not in _STOP]
    if not papers or not question.strip():
        return SearchResult([], days)
    vectors = embedding.embed([p.id for p in papers], [p.text for p in papers], store)
    cosine = vectors @ embedding.encode([question])[0]
    words = np.array([_share(p, terms) for p in papers])
    score = cosine + WORD_WEIGHT * words * len(terms)
    kept = [i for i in np.argsort(-score) if cosine[i] >= MIN_COSINE or words[i] == 1.0]
    found = [Found(papers[i], float(cosine[i]), float(words[i])) for i in kept[:limit]]
    return SearchResult(found, days)


def recent_days(store: Store, subscription: str, n: int = RECENT_DAYS) -> list[date]:
    """The chat's last `n` digest days; for a chat without digests, the store's last listed."""
    days = store.digest_days(subscription)[-n:] or store.listing_days(n)
    return sorted(days)


def _share(paper: Paper, terms: list[str]) -> float:
    if not terms:
        return 0.0
    text = f"{paper.title} {paper.abstract}".casefold()
    return sum(bool(re.search(rf"\b{re.escape(t)}", text)) for t in terms) / len(terms)
