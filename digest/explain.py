"""`why`: what the store knows about one paper's day in a digest, in plain sentences."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from digest.criteria import Criteria
from digest.day import Digest, Entry
from digest.errors import NotFoundError
from digest.papers import Paper, split_id
from digest.prompt import COMMENT_FROM
from digest.scoring import local
from digest.store import Store

if TYPE_CHECKING:  # the module is heavy (openai): a caller of deep_explain has it already
    from digest.scoring.llm import LLMScorer


def explain(
    store: Store,
    subscription: str,
    paper_id: str,
    day: date | None = None,
    digest: Digest | None = None,
) -> list[str]:
    """Scores, comment, matched criterion, rank, cutoffs, and why the paper is in or out, in
    the digest of `day` (or the latest), or in `digest` when the caller has read it already."""
    try:
        pid, _ = split_id(paper_id)
    except ValueError:
        raise NotFoundError(f"'{paper_id}' is not an arXiv id (expected e.g. 2602.08007)") from None
    paper = store.require_paper(pid)
    digest = digest or store.digest(subscription, day)
    if digest is None:
        raise NotFoundError(f"no digest has been built for '{subscription}' yet")
    entry = digest.entry(pid)
    if entry is None:
        raise NotFoundError(f"paper {pid} was not in the {digest.day} digest of '{subscription}'")
    return [
        *_lines(paper, entry, digest),
        *_uncommented(store, paper, entry, digest),
        *_learned(store, subscription, paper, entry, digest),
    ]


def _lines(paper: Paper, entry: Entry, digest: Digest) -> list[str]:
    score, cut = entry.score, digest.cutoffs
    verdict = "made the digest" if entry.selected else "did not make the digest"
    return [
        f"{paper.id}: {paper.title}",
        f"authors: {', '.join(paper.authors)}",
        f"day: {digest.day}  judged by: {score.scorer}",
        f"relevance {score.relevance}, novelty {score.novelty}",
        f"matched criterion: {score.matched or 'none'}",
        f"comment: {score.comment or 'none'}",
        f"rank {entry.rank} of {len(digest.entries)}; cutoffs: relevance >= "
        f"{cut.relevance}, novelty >= {cut.novelty}",
        f"it {verdict}: {entry.reason}",
    ]


def _uncommented(store: Store, paper: Paper, entry: Entry, digest: Digest) -> list[str]:
    """For a paper the LLM scored without a comment: that it gave none, and the local scorer's
    evidence instead (its matched topic and phrases)."""
    score = entry.score
    if score.comment or not score.scorer.startswith("llm:") or score.relevance >= COMMENT_FROM:
        return []
    criteria = Criteria.parse(digest.criteria_text, source="the digest's criteria")
    scorer = local.LocalScorer(store.model(criteria.scoring_hash, local.NAME), vectors=store)
    evidence = scorer.score_now([paper], criteria)[0]
    return [
        f"the LLM gave no comment: it comments only on papers of relevance {COMMENT_FROM} or more",
        f"the local scorer's evidence: {evidence.comment or 'none'}",
    ]


def _learned(
    store: Store, subscription: str, paper: Paper, entry: Entry, digest: Digest
) -> list[str]:
    """What ratings and learned weights did to the paper's score, and by how much."""
    out = []
    rated = store.ratings(subscription).get(paper.id)
    if rated:
        out.append(
            f"rated {'👍' if rated > 0 else '👎'} in this chat: a label the scorer learns from"
        )
    score = entry.score
    if score.scorer.startswith(f"{local.NAME}+learned-"):
        criteria = Criteria.parse(digest.criteria_text, source="the digest's criteria")
        zero = local.LocalScorer(None, vectors=store).score_now([paper], criteria)[0]
        moved = score.relevance - zero.relevance
        how = (
            f"raised it by {moved}"
            if moved > 0
            else f"lowered it by {-moved}"
            if moved
            else "left it"
        )
        out.append(
            f"learned weights {how}: relevance {score.relevance} learned, "
            f"{zero.relevance} zero-shot ({score.scorer})"
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
    entry = digest.entry(pid) if digest else None
    if entry is None:
        raise NotFoundError(f"paper {pid} is not in a stored digest of '{subscription}'")
    text = await llm.explain(paper, criteria, entry.score)
    store.save_explanation(pid, criteria.scoring_hash, llm.model, text)
    return text
