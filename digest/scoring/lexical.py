"""Phrase matching of a paper against the criteria: which criterion, which phrases, how strongly."""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

from digest.criteria import Criteria

_STEMMERS = threading.local()  # a Snowball stemmer keeps state while it stems: one per thread
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_STOP = frozenset(
    (
        "a an and or the of on in for to with without by from into other existing their "
        "its that this these those as at be is are etc approaches approach methods method "
        "techniques technique analysis innovations insights how deep enabling "
        "breakthroughs level new information merely certain task structure themselves"
    ).split()
)
# Phrases a criteria author writes in shorthand; each expands to what abstracts say.
_EXPANSIONS: dict[str, tuple[str, ...]] = {
    "moe": ("mixture of experts", "mixture-of-experts", "experts"),
    "cache": ("kv cache", "kv-cache", "key-value cache"),
    "low-rank": ("low rank", "low-rank"),
    "sparsity": ("sparse",),
    "transformers": ("transformer", "attention"),
    "quantization": ("quantized", "quantize", "bit"),
    "pruning": ("pruned", "prune"),
    "distributed training": ("data-parallel", "communication", "all-reduce", "parallelism"),
    "memory optimization": ("memory-efficient", "memory footprint"),
    "training dynamics": ("learning dynamics", "optimization dynamics", "loss landscape"),
    "dictionary learning": ("sparse autoencoder", "sparse autoencoders", "sae"),
    "representation learning": ("representations", "representation"),
    "foundation model": ("foundation models", "large language models", "llm", "llms"),
    "efficiency": ("efficient", "speedup", "throughput", "latency"),
}


def tokens(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower())]


@lru_cache(maxsize=50_000)
def _stem(word: str) -> str:
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        stemmer = _STEMMERS.english = snowballstemmer.stemmer("english")
    return stemmer.stemWord(word)


@dataclass(frozen=True)
class Phrase:
    text: str  # as written in the criteria
    stems: tuple[str, ...]
    topic: str


@dataclass(frozen=True)
class Match:
    topic: str | None
    strength: float  # best topic's weighted phrase hits
    phrases: tuple[str, ...]  # the matched phrases of that topic, as written
    penalty: float  # irrelevant and application keywords found
    penalties: tuple[str, ...]
    topic_strengths: tuple[float, ...]


class PhraseIndex:
    """The criteria's phrases, stemmed once, matched against many papers."""

    def __init__(self, criteria: Criteria) -> None:
        self.topics = [t.name for t in criteria.topics] or ["Keywords"]
        self.phrases: list[Phrase] = []
        for topic in criteria.topics:
            for item in [topic.name, *_items(topic.relevant)]:
                self._add(item, topic.name)
        for keyword in criteria.keywords:
            for item in _items(keyword):
                self._add(item, self._closest_topic(item))
        self.negative = [
            Phrase(item, tuple(tokens(item)), "")
            for kw in (*criteria.irrelevant_keywords, *criteria.application_keywords)
            for item in _items(kw)
            if tokens(item)
        ]

    def _add(self, item: str, topic: str) -> None:
        for variant in (item, *_EXPANSIONS.get(item.lower(), ())):
            stems = tuple(s for s in tokens(variant) if s not in _STOP)
            if stems and all(p.stems != stems or p.topic != topic for p in self.phrases):
                self.phrases.append(Phrase(item, stems, topic))

    def _closest_topic(self, item: str) -> str:
        stems = set(tokens(item))
        best = max(
            self.topics,
            key=lambda t: sum(len(stems & set(p.stems)) for p in self.phrases if p.topic == t),
        )
        return best

    def match(self, title: str, abstract: str) -> Match:
        title_stems, abstract_stems = _text(title), _text(abstract)
        strengths = dict.fromkeys(self.topics, 0.0)
        hits: dict[str, dict[str, float]] = {t: {} for t in self.topics}
        for phrase in self.phrases:
            n_title = _count(title_stems, phrase.stems)
            n_abs = _count(abstract_stems, phrase.stems)
            if not n_title and not n_abs:
                continue
            weight = (1.0 + 0.5 * (len(phrase.stems) - 1)) * (
                2.0 * min(n_title, 1) + math.log1p(min(n_abs, 4))
            )
            previous = hits[phrase.topic].get(phrase.text, 0.0)
            hits[phrase.topic][phrase.text] = max(previous, weight)
        for topic, found in hits.items():
            strengths[topic] = sum(found.values())
        best = max(self.topics, key=lambda t: strengths[t])
        penalties = tuple(
            p.text
            for p in self.negative
            if _count(title_stems, p.stems) or _count(abstract_stems, p.stems) >= 2
        )
        found = hits[best]
        return Match(
            topic=best if strengths[best] > 0 else None,
            strength=strengths[best],
            phrases=tuple(sorted(found, key=lambda k: -found[k])),
            penalty=float(len(penalties)),
            penalties=penalties,
            topic_strengths=tuple(strengths[t] for t in self.topics),
        )


def _items(text: str) -> list[str]:
    """'Mixture-of-Experts (MoE), Conditional/Dynamic Networks' -> phrases."""
    out: list[str] = []
    for part in re.split(r"[,;]|\bor\b|\band\b", text):
        part = part.strip().rstrip(".")
        inner = re.findall(r"\(([^)]*)\)", part)
        part = re.sub(r"\([^)]*\)", "", part).strip()
        for piece in [*part.split("/"), *inner]:
            piece = piece.strip()
            if piece and piece.lower() != "etc":
                out.append(piece)
    return out


@lru_cache(maxsize=2048)  # a day's titles and abstracts, stemmed once for every criteria
def _text(text: str) -> _Text:
    return _Text(tokens(text))


class _Text:
    """A text's stems and where each stem occurs, to count phrases without scanning it."""

    def __init__(self, stems: list[str]) -> None:
        self.stems = stems
        self.at: dict[str, list[int]] = {}
        for i, stem in enumerate(stems):
            self.at.setdefault(stem, []).append(i)


def _count(text: _Text, needle: tuple[str, ...]) -> int:
    starts = text.at.get(needle[0], ())
    if len(needle) == 1:
        return len(starts)
    n = len(needle)
    return sum(1 for i in starts if tuple(text.stems[i : i + n]) == needle)
