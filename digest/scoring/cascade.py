"""The cascade: the local scorer ranks every paper, the LLM judges the best share of them.

LLM scores are cached per (paper, criteria, model), so a second channel with the same
criteria, or a re-run, costs nothing; a daily budget caps what is sent.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from digest.criteria import Criteria
from digest.papers import Paper
from digest.scoring import Score
from digest.scoring.llm import LLMScorer, paper_block, user_prefix
from digest.scoring.local import LocalScorer
from digest.store import Store

PREFILTER_CAP = 5  # papers the LLM did not see cannot pass a sensible relevance cutoff
PREFILTER_NOTE = "[local prefilter] "
# Completion tokens a judged paper costs, reasoning included, until the store has its own: its
# short answer line ("2602.08007 4 5", a comment from relevance 5 on) and its share of 200
# reasoning tokens a request of 140 papers: 14.2 measured by benchmarks/llm_cascade.py on
# 2026-02-10 (12.8 without reasoning, 20.0 at 1,000 a request), rounded up.
COMPLETION_TOKENS_PER_PAPER = 15
# What `llm.daily_budget` prices a paper's completion at, at least: a line with a 30-word
# comment (41 tokens) and a share of reasoning. The best papers go first and most of them get a
# comment, so the typical figure above would let the cap be passed; this one keeps it.
BUDGET_TOKENS_PER_PAPER = 60


@dataclass(frozen=True)
class Estimate:
    """What sending `papers` to the LLM would cost, before sending anything."""

    papers: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    basis: str = ""  # where the completion tokens per paper come from

    def line(self, model: str) -> str:
        cost = "unknown (no price for this model)" if self.cost is None else dollars(self.cost)
        basis = f" ({self.basis})" if self.basis else ""
        return (
            f"{self.papers} papers to {model}: about {self.prompt_tokens:,} prompt and "
            f"{self.completion_tokens:,} completion tokens{basis}, {cost}"
        )


def dollars(cost: float) -> str:
    """$1.23, or four decimals below a dollar ($0.0459): a day's LLM bill is cents."""
    return f"${cost:.2f}" if cost >= 1 else f"${cost:.4f}"


def estimate(
    llm: LLMScorer,
    papers: list[Paper],
    criteria: Criteria,
    history: tuple[float, int] | None = None,
) -> Estimate:
    """Count the prompt tokens of the requests `llm` would send (o200k_base); completion at
    `history`'s mean per paper (from the store: `Store.completion_per_paper`), else the
    default COMPLETION_TOKENS_PER_PAPER."""
    import bpe_openai

    enc = bpe_openai.get_encoding("o200k_base")
    batches = math.ceil(len(papers) / llm.batch_size) if papers else 0
    fixed = len(enc.encode(user_prefix(criteria))) + 60  # + system prompt and framing
    body = sum(len(enc.encode(paper_block(p, llm.abstract_words))) + 1 for p in papers)
    prompt = batches * fixed + body
    if history is None:
        per_paper = float(COMPLETION_TOKENS_PER_PAPER)
        basis = f"completion at {COMPLETION_TOKENS_PER_PAPER} a paper: no history for the model"
    else:
        per_paper = history[0]
        basis = (
            f"completion at {per_paper:.0f} a paper, reasoning included, as in this store's "
            f"last {history[1]:,} papers"
        )
    completion = round(per_paper * len(papers))
    price = llm.prices.get(llm.model)
    cost = None if price is None else (prompt * price[0] + completion * price[2]) / 1e6
    return Estimate(len(papers), prompt, completion, cost, basis)


class CascadeScorer:
    """Local prefilter -> LLM for the top `fraction`; the rest keep capped local scores.

    With `cut`, the share is chosen per day from the local scores of the day's papers (the
    learned model's calibrated chances of an LLM pick): `fraction` is then the latest split's."""

    def __init__(
        self,
        local: LocalScorer,
        llm: LLMScorer,
        fraction: float,
        store: Store | None = None,
        budget_left: float | None = None,
        cut: Callable[[np.ndarray], float] | None = None,
    ) -> None:
        self.local, self.llm, self.fraction, self.cut = local, llm, fraction, cut
        self.store, self.budget_left = store, budget_left
        # with `cut`, a name per model: a re-run of a day finds its scores, a new model rescores
        share = f"{fraction:g}" if cut is None else f"cut-{(local.model or {}).get('id')}"
        self.name = f"cascade:{llm.name}@{share}"
        self.notes: list[str] = []

    def split(self, local: list[Score], papers: list[Paper]) -> tuple[list[Paper], list[Paper]]:
        """The best `fraction` by the local scorer (with `cut`, chosen on these papers), and
        the rest."""
        raw = {s.paper_id: s.raw or 0.0 for s in local}
        ranked = sorted(papers, key=lambda p: (-raw[p.id], p.id))
        if self.cut is not None and ranked:
            self.fraction = self.cut(np.array([raw[p.id] for p in ranked]))
        k = math.ceil(self.fraction * len(ranked))
        return ranked[:k], ranked[k:]

    async def aclose(self) -> None:
        await self.llm.aclose()

    async def _local(
        self, papers: list[Paper], criteria: Criteria, keep: bool = True
    ) -> list[Score]:
        """Local scores, from the store's cache where it has them; new ones are kept unless
        `keep` is False (a dry run)."""
        if self.store is None:
            return await self.local.score(papers, criteria)
        key = criteria.scoring_hash
        cached = self.store.scores([p.id for p in papers], key, self.local.name)
        fresh = await self.local.score([p for p in papers if p.id not in cached], criteria)
        if keep:
            self.store.save_scores(fresh, key, self.local.name)
        cached.update({s.paper_id: s for s in fresh})
        return [cached[p.id] for p in papers]

    async def plan(self, papers: list[Paper], criteria: Criteria) -> Estimate:
        """The dry run: what would go to the LLM, and its estimated tokens and cost."""
        survivors, _ = self.split(await self._local(papers, criteria, keep=False), papers)
        cached = self._llm_cached(survivors, criteria)
        ask = [p for p in survivors if p.id not in cached]
        return estimate(self.llm, ask, criteria, self._history())

    def _history(self) -> tuple[float, int] | None:
        """This store's completion tokens per paper for the LLM, if it has judged any."""
        return None if self.store is None else self.store.completion_per_paper(self.llm.name)

    def _llm_cached(self, papers: list[Paper], criteria: Criteria) -> dict[str, Score]:
        """LLM scores the store already has for these papers under these criteria."""
        if self.store is None:
            return {}
        return self.store.scores([p.id for p in papers], criteria.scoring_hash, self.llm.name)

    async def score(self, papers: list[Paper], criteria: Criteria) -> list[Score]:
        self.notes = []
        local = await self._local(papers, criteria)
        by_id = {s.paper_id: s for s in local}
        survivors, rest = self.split(local, papers)
        cached = self._llm_cached(survivors, criteria)
        ask = self._within_budget([p for p in survivors if p.id not in cached], criteria)
        if self.store is not None:
            store, key, name = self.store, criteria.scoring_hash, self.llm.name
            self.llm.on_scored = lambda scores: store.save_scores(scores, key, name)
        fresh = await self.llm.score(ask, criteria) if ask else []
        if ask:
            self.notes.append(self.llm.summary())
        judged = {s.paper_id: s for s in fresh}
        out: list[Score] = []
        for paper in survivors:
            score = cached.get(paper.id) or judged.get(paper.id)
            if score is None and paper.id not in self.llm.report.unscored:
                score = _capped(by_id[paper.id], "[over budget] ")  # never asked: budget
            if score is not None:
                out.append(score)
        out += [_capped(by_id[p.id], PREFILTER_NOTE) for p in rest]
        return out

    def _within_budget(self, ask: list[Paper], criteria: Criteria) -> list[Paper]:
        """As many papers (best first) as today's remaining budget pays for."""
        if self.budget_left is None or not ask:
            return ask
        history = self._history()
        per_paper = max(history[0] if history else 0.0, BUDGET_TOKENS_PER_PAPER)
        full = estimate(self.llm, ask, criteria, (per_paper, history[1] if history else 0))
        if full.cost is None or full.cost <= self.budget_left:
            return ask
        share = max(0.0, self.budget_left) / full.cost
        kept = ask[: int(len(ask) * share)]
        self.notes.append(
            f"daily LLM budget reached: {len(ask) - len(kept)} of {len(ask)} papers were judged "
            "by the local scorer only"
        )
        return kept


def _capped(score: Score, note: str) -> Score:
    return replace(
        score, relevance=min(score.relevance, PREFILTER_CAP), comment=note + score.comment
    )


async def estimate_scoring(
    scorer: object, papers: list[Paper], criteria: Criteria, store: Store | None = None
) -> Estimate | None:
    """What scoring `papers` would send to an LLM, completion from `store`'s history of the
    model when it has some; None for the local scorer."""
    if isinstance(scorer, CascadeScorer):
        return await scorer.plan(papers, criteria)
    if isinstance(scorer, LLMScorer):
        history = store.completion_per_paper(scorer.name) if store is not None else None
        return estimate(scorer, papers, criteria, history)
    return None


def dry_run_line(scorer: object, found: Estimate | None, papers: int) -> str:
    """One line: how many papers would reach an LLM, and the estimated tokens and cost."""
    if isinstance(scorer, CascadeScorer) and found is not None:
        return f"cascade: {found.line(scorer.llm.model)}; the rest stay with the local scorer"
    if isinstance(scorer, LLMScorer) and found is not None:
        return f"llm: {found.line(scorer.model)}"
    return f"local: {papers} papers, no tokens, $0.00"


async def dry_run(scorer: object, papers: list[Paper], criteria: Criteria) -> str:
    """One line: how many papers would reach an LLM, and the estimated tokens and cost."""
    return dry_run_line(scorer, await estimate_scoring(scorer, papers, criteria), len(papers))
