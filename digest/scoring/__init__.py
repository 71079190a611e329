"""One Scorer interface; every scorer returns a Score per paper."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from digest.criteria import Criteria
    from digest.papers import Paper


T = TypeVar("T")
FALLBACK_PREFIX = "[local fallback] "  # a paper the LLM did not score, judged by the local scorer


@dataclass(frozen=True)
class Score:
    """How one paper fared against one criteria document, and what it cost."""

    paper_id: str
    relevance: int
    novelty: int
    comment: str
    matched: str | None
    scorer: str
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = 0.0  # None: the model has no known price
    raw: float | None = None  # the scorer's continuous score, for ranking ties and eval
    reasoning_tokens: int = 0  # the model's reasoning, part of completion_tokens

    @property
    def fell_back(self) -> bool:
        """The LLM was asked but did not score it: the local scorer did (FALLBACK_PREFIX)."""
        return self.comment.startswith(FALLBACK_PREFIX)

    def to_line(self) -> dict:
        """The JSON line `paperdigest score` prints."""
        return {
            "id": self.paper_id,
            "relevance": self.relevance,
            "novelty": self.novelty,
            "comment": self.comment,
            "matched": self.matched,
        }


class Scorer(Protocol):
    """Anything that scores papers against criteria."""

    name: str

    async def score(self, papers: list[Paper], criteria: Criteria) -> list[Score]: ...


async def finish(scorer: object, work: Awaitable[T]) -> T:
    """Await `work`, then close the scorer's network client (if it has one)."""
    try:
        return await work
    finally:
        close = getattr(scorer, "aclose", None)
        if close is not None:
            await close()
