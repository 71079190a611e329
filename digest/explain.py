"""`why`: what the store knows about one paper's day in a digest, in plain sentences."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from digest.criteria import Criteria
from digest.errors import NotFoundError
from digest.papers import Paper, split_id
from digest.scoring import Score, local
from digest.store import Store

if TYPE_CHECKING:  # the module is heavy (openai): a caller of deep_explain has it already
    from digest.scoring.llm import LLMScorer


def explain(store: Store, subscription: str, paper_id: str, day: date | None = None) -> list[str]:
    """Scores, comment, matched criterion, rank, cutoffs, and why the paper is in or out."""
    try:
        pid, _ = split_id(paper_id)
    except ValueError:
        raise NotFoundError(f"'{paper_id}' is not an arXiv id (expected e.g. 2602.08007)") from None
    paper = store.require_paper(pid)
    digest = store.digest(subscription, day)
    if digest is None:
        raise NotFoundError(f"no digest has been built for '{subscription}' yet")
    row = next((r for r in digest.get("ranking", []) if r["id"] == pid), None)
    if row is None:
        raise NotFoundError(
            f"paper {pid} was not in the {digest['date']} digest of '{subscription}'"
        )
    cut = digest["cutoffs"]
    verdict = "made the digest" if row["selected"] else "did not make the digest"
    return [
        *_lines(paper, row, digest, cut, verdict),
        *_learned(store, subscription, paper, row, digest),
    ]


def _lines(paper: Paper, row: dict, digest: dict, cut: dict, verdict: str) -> list[str]:
    pid = paper.id
    return [
        f"{pid}: {paper.title}",
        f"authors: {', '.join(paper.authors)}",
        f"day: {digest['date']}  judged by: {row['scorer']}",
        f"relevance {row['relevance']}, novelty {row['novelty']}",
        f"matched criterion: {row['matched'] or 'none'}",
        f"comment: {row['comment']}",
        f"rank {row['rank']} of {len(digest['ranking'])}; cutoffs: relevance >= "
        f"{cut['relevance']}, novelty >= {cut['novelty']}",
        f"it {verdict}: {row['reason']}",
    ]


def _learned(store: Store, subscription: str, paper: Paper, row: dict, digest: dict) -> list[str]:
    """What ratings and learned weights did to the paper's score, and by how much."""
    out = []
    rated = store.ratings(subscription).get(paper.id)
    if rated:
        out.append(
            f"rated {'👍' if rated > 0 else '👎'} in this chat: a label the scorer learns from"
        )
    if str(row["scorer"]).startswith(f"{local.NAME}+learned-"):
        criteria = Criteria.parse(digest["criteria_text"], source="the digest's criteria")
        zero = local.LocalScorer(None, vectors=store).score_now([paper], criteria)[0]
        moved = row["relevance"] - zero.relevance
        how = (
            f"raised it by {moved}"
            if moved > 0
            else f"lowered it by {-moved}"
            if moved
            else "left it"
        )
        out.append(
            f"learned weights {how}: relevance {row['relevance']} learned, "
            f"{zero.relevance} zero-shot ({row['scorer']})"
        )
    return out


async def deep_explain(
    store: Store, llm: LLMScorer, criteria: Criteria, subscription: str, paper_id: str
) -> str:
    """The LLM's short explanation of a paper's score against the criteria, asked once."""
    pid, _ = split_id(paper_id)
    paper = store.require_paper(pid)
    cached = store.explanation(pid, criteria.scoring_hash, llm.model)
    if cached:
        return cached
    digest = store.digest(subscription)
    row = next((r for r in (digest or {}).get("ranking", []) if r["id"] == pid), None)
    if row is None:
        raise NotFoundError(f"paper {pid} is not in a stored digest of '{subscription}'")
    score = Score(
        pid, row["relevance"], row["novelty"], row["comment"], row["matched"], row["scorer"]
    )
    text = await llm.explain(paper, criteria, score)
    store.save_explanation(pid, criteria.scoring_hash, llm.model, text)
    return text
