"""The local scorer learns from its chat: ratings and LLM judgements become labels, a refit is
kept only when it ranks held-back labels better, and it runs once per day by itself."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import numpy as np

from bot.answer import run
from bot.commands import Context, Deps
from digest.config import load_settings
from digest.criteria import Criteria
from digest.evaluation import read_reference
from digest.papers import read_sample
from digest.pipeline import current_criteria, learn_for_day
from digest.scoring import local
from digest.scoring.learning import label_counts, learn
from digest.store import Store

REFERENCE = Path(__file__).parent / "data" / "digest-2026-02-10.txt"
DAY = date(2026, 2, 10)


def reference_labels(store: Store, criteria: Criteria, papers: list) -> None:
    wanted = {r.id for r in read_reference(REFERENCE)}
    store.save_labels(
        criteria.scoring_hash, {p.id: float(p.id in wanted) for p in papers}, "reference:day"
    )


def test_a_rating_moves_the_rated_papers_neighbours(
    scored_store: Store, criteria: Criteria
) -> None:
    papers = read_sample()
    train = papers[0::2]
    wanted = {r.id for r in read_reference(REFERENCE)}
    feats = local.features(papers, criteria, scored_store)
    index = {p.id: i for i, p in enumerate(papers)}
    rated = next(p for p in train if p.id not in wanted and "graph" in p.title.lower())
    sims = feats.embeddings @ feats.embeddings[index[rated.id]]
    neighbour = next(papers[i] for i in np.argsort(-sims) if papers[i] not in train)
    rows = np.array([index[p.id] for p in train])
    y = np.array([float(p.id in wanted) for p in train])
    weight = np.ones(len(train))

    def rank_of(model: dict) -> int:
        raw = local.raw_scores(feats, model)
        return int((raw > raw[index[neighbour.id]]).sum())

    before = rank_of(local.fit(feats.take(rows), y, weight))
    y[list(rows).index(index[rated.id])], weight[list(rows).index(index[rated.id])] = 1.0, 12.0
    after = rank_of(local.fit(feats.take(rows), y, weight))  # four people rated it 👍
    assert after < before  # its nearest unlabelled neighbour rises


def test_ratings_reach_the_learner_which_keeps_a_model_only_if_it_ranks_better(
    scored_store: Store, criteria: Criteria
) -> None:
    papers = read_sample()
    reference_labels(scored_store, criteria, papers[0::2])
    assert learn(scored_store, criteria).kept
    deps = Deps(scored_store, load_settings(env={}), lambda c: local.LocalScorer())
    unwanted = [p for p in papers[0::2] if p.id not in {r.id for r in read_reference(REFERENCE)}]
    for paper in unwanted[:40]:  # people contradict the reference on 40 papers
        reply = run(f"rate {paper.id} +1", Context("terminal", "default", "me"), deps)
        assert not reply.error
    assert label_counts(scored_store, criteria)["rating"] == 40
    outcome = learn(scored_store, criteria)
    assert not outcome.kept and outcome.message.startswith("kept the learned model: on ")


def test_learning_happens_once_a_day_and_a_few_labels_are_a_no_op(
    scored_store: Store, criteria: Criteria
) -> None:
    papers = read_sample()[:8]
    reference_labels(scored_store, criteria, papers)
    first = asyncio.run(learn_for_day(scored_store, criteria, DAY))
    assert first.startswith("not enough labels to learn yet: 8 labelled papers")
    reference_labels(scored_store, criteria, read_sample()[0::2])
    again = asyncio.run(learn_for_day(scored_store, criteria, DAY))
    assert again == first  # once per day: the day's scores stay cached, re-runs cost nothing
    assert scored_store.model(criteria.scoring_hash, local.NAME) is None
    next_day = asyncio.run(learn_for_day(scored_store, criteria, date(2026, 2, 11)))
    assert next_day.startswith("learned from 350 labelled papers")  # 346 + the 4 odd of 8
    assert scored_store.model(criteria.scoring_hash, local.NAME) is not None


def test_settings_count_the_labels_of_each_kind(deps: Deps, criteria: Criteria) -> None:
    ctx = Context("terminal", "default", "me")
    run("subscribe", ctx, deps)
    reference_labels(deps.store, criteria, read_sample()[:10])
    run("rate 2602.08007 +1", ctx, deps)
    lines = " ".join(run("settings", ctx, deps).lines)
    assert "labels: 1 rated by people, 0 judged by the LLM, 10 from references" in lines


def test_why_says_what_ratings_and_learned_weights_did(
    scored_store: Store, criteria: Criteria
) -> None:
    from digest.explain import explain
    from digest.pipeline import build_digest, sample_listing

    reference_labels(scored_store, criteria, read_sample()[0::2])
    assert learn(scored_store, criteria).kept
    learned = local.LocalScorer(
        scored_store.model(criteria.scoring_hash, local.NAME), vectors=scored_store
    )
    digest = asyncio.run(build_digest(scored_store, sample_listing(), criteria, learned))
    entry = next(e for e in digest.selected if not e.followed)
    scored_store.save_rating("default", entry.paper.id, "terminal:me", 1)
    said = "\n".join(explain(scored_store, "default", entry.paper.id))
    assert "rated 👍 in this chat" in said
    assert f"relevance {entry.score.relevance} learned, " in said and "zero-shot" in said
    assert "learned weights raised it by" in said or "learned weights left it" in said


def test_a_criteria_change_keeps_the_labels_of_unchanged_topics(deps: Deps) -> None:
    ctx = Context("terminal", "default", "me")
    run("subscribe", ctx, deps)
    _, old = current_criteria(deps.store, "default")
    papers = read_sample()
    reference_labels(deps.store, old, papers)
    reply = run("criteria remove 1", ctx, deps)  # Model Architecture goes
    said = reply.lines[-1]
    _, new = current_criteria(deps.store, "default")
    kept = {pid: label for pid, label, _ in deps.store.label_rows(new.scoring_hash)}
    assert f"kept {len(kept)} of {len(papers)} labelled papers" in said
    assert "Representation Learning" in said and "Model Architecture" not in said
    assert 0 < len(kept) < len(papers)
    topic = dict(zip([p.id for p in papers], local.topics_of(papers, old, deps.store), strict=True))
    wanted = {pid for pid, label in kept.items() if label >= 0.5}
    gone = {r.id for r in read_reference(REFERENCE)} - wanted  # wanted for the topic removed
    assert wanted and gone and {topic[pid] for pid in gone} == {"Model Architecture"}
    assert "Model Architecture" not in {topic[pid] for pid in wanted}
    assert "from references" in " ".join(run("settings", ctx, deps).lines)
    learned = asyncio.run(learn_for_day(deps.store, new, date(2026, 2, 11)))
    assert learned.startswith(f"learned from {len(kept)} labelled papers")


def test_criteria_with_disjoint_topics_start_from_zero_shot_and_say_so(deps: Deps) -> None:
    ctx = Context("terminal", "default", "me")
    run("subscribe", ctx, deps)
    _, old = current_criteria(deps.store, "default")
    reference_labels(deps.store, old, read_sample())
    assert learn(deps.store, old).kept
    reply = run("criteria set ## Protein Folding\n- Relevant: protein structure prediction", ctx,
                deps)  # fmt: skip
    assert "no topic is unchanged" in " ".join(reply.lines)
    assert "the local scorer starts from zero-shot" in " ".join(reply.lines)
    _, new = current_criteria(deps.store, "default")
    assert deps.store.label_rows(new.scoring_hash) == []
    assert deps.scorer_for(new).name == local.NAME  # not the old criteria's learned model
    assert asyncio.run(learn_for_day(deps.store, new, DAY)).startswith("not enough labels")


def test_following_an_author_keeps_every_label_and_the_model(deps: Deps) -> None:
    ctx = Context("terminal", "default", "me")
    run("subscribe", ctx, deps)
    _, old = current_criteria(deps.store, "default")
    reference_labels(deps.store, old, read_sample()[:30])
    reply = run("follow Ada Lovelace", ctx, deps)
    assert not reply.error and "labelled papers" not in " ".join(reply.lines)
    _, new = current_criteria(deps.store, "default")
    assert new.scoring_hash == old.scoring_hash  # authors skip scoring: the same labels apply


def test_a_share_is_certified_only_by_enough_picks() -> None:
    """The share the cascade may send keeps 97% of the LLM's picks with 90% confidence: the
    same 2% of picks placed low costs a large share on 100 picks and none on 1000, and 75
    picks, however well placed, certify nothing smaller than the whole day (their plain 97%
    quantile would say 0.2, 0.2 and 0.1)."""
    from digest.scoring.learning import certified_share

    assert certified_share([0.2] * 98 + [0.9] * 2) == 0.9
    assert certified_share([0.2] * 980 + [0.9] * 20) == 0.2
    assert certified_share([0.1] * 75) == 1.0
    assert certified_share([]) == 1.0


def test_the_cascade_share_falls_a_tenth_a_day_at_most_and_never_below_the_floor() -> None:
    """Each judged day's measured share, replayed: 0.6 configured, a measured 0.1 lets it fall
    to 0.54, 0.486, ... and never below the floor (0.2); a measurement that needs more raises
    it at once, never above the configured share. The share in use is in whole percents,
    rounded up (0.486 is 0.49)."""
    from digest.scoring.factory import cascade_fraction

    settings = load_settings(env={})

    def fraction(*shares: float) -> float:
        return cascade_fraction(settings, {"shares": [[f"d{i}", s] for i, s in enumerate(shares)]})

    assert cascade_fraction(settings, None) == fraction() == 0.6
    assert fraction(0.1) == 0.54 and fraction(0.1, 0.1) == 0.49
    assert fraction(*[0.1] * 30) == 0.2
    assert fraction(*[0.1] * 30, 0.45) == 0.45 and fraction(0.1, 0.9) == 0.6
    assert fraction(0.56) == 0.56  # a measured share within a tenth of the one in use
    assert fraction(0.5512) == 0.56
