"""What one day produced for one subscription: a status, and a digest when there is one."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date

from pydantic import TypeAdapter

from digest.config import DEFAULTS
from digest.papers import Paper
from digest.scoring import Score


class DayStatus(enum.StrEnum):
    """Every run ends in exactly one of these."""

    BUILT = "built"
    NO_ANNOUNCEMENT = "no_announcement"
    STALE_FEED = "stale_feed"
    FETCH_FAILED = "fetch_failed"


@dataclass(frozen=True)
class Cutoffs:
    """A paper is selected when relevance >= `relevance` and novelty >= `novelty`."""

    relevance: int = DEFAULTS.digest.relevance_cutoff
    novelty: int = DEFAULTS.digest.novelty_cutoff


@dataclass(frozen=True)
class CloseTo:
    """A paper close to one of the group's own (`ours`), and the two closest sentences."""

    paper_id: str  # the group's paper
    title: str
    similarity: float
    theirs: str  # the new paper's sentence
    ours: str  # the group's paper's sentence


@dataclass(frozen=True)
class Entry:
    """One paper in a day's ranking; `selected` says whether it made the digest and `reason` why."""

    paper: Paper
    score: Score
    rank: int
    selected: bool
    reason: str
    followed: bool = False
    tldr: str = ""  # one sentence on what the paper does (shown papers only)
    tldr_by: str = ""  # "llm:<model>", or "extractive": a line of the abstract, not a TL;DR
    close_to: CloseTo | None = None  # leads the digest: close to the group's own work


@dataclass(frozen=True)
class Usage:
    """Tokens and cost of one model on one day (the reference's header table)."""

    model: str
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = 0.0  # None: the model has no known price
    reasoning_tokens: int = 0  # the model's reasoning, part of completion_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Digest:
    """One day's outcome for one subscription."""

    day: date
    status: DayStatus
    message: str
    subscription: str = "default"
    categories: tuple[str, ...] = ()
    total_entries: int = 0  # every feed entry, replacements included
    scanned: int = 0  # unique papers scored (new + cross, deduplicated across feeds)
    entries: list[Entry] = field(default_factory=list)  # every scanned paper, in rank order
    usage: list[Usage] = field(default_factory=list)
    scorer: str = "local"
    cutoffs: Cutoffs = field(default_factory=Cutoffs)
    top_k: int = 0  # the most papers above the cutoffs it keeps (0: all; followed authors apart)
    criteria_text: str = ""
    criteria_hash: str = ""
    prompt: str = ""
    already_shown: tuple[str, ...] = ()
    unscored: tuple[str, ...] = ()  # papers no scorer could judge: reported, never dropped
    notes: tuple[str, ...] = ()  # what a reader should know: an empty feed, an LLM fallback

    @property
    def selected(self) -> list[Entry]:
        return [e for e in self.entries if e.selected]

    def entry(self, paper_id: str) -> Entry | None:
        return next((e for e in self.entries if e.paper.id == paper_id), None)


# A Digest's JSON form, both ways: the day's JSON document and the store's copy.
DIGEST: TypeAdapter[Digest] = TypeAdapter(Digest)
