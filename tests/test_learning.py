"""The local scorer learns from its chat: ratings and LLM judgements become labels, a refit is
kept only when it ranks held-back labels better, and it runs once per day by itself."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import numpy as np

from bot.chat.answer import run
from bot.chat.commands import Context, Deps
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


def test_the_calibration_fits_the_chance_of_a_pick() -> None:
    """A probit fit of the LLM's picks on the model's scores finds the chance they were drawn
    with, and the chance it gives a paper far below the judged ones is the normal tail's, not
    a logistic's; fewer than 5 picks (or 5 others) calibrate nothing."""
    from statistics import NormalDist

    import numpy as np

    from digest.scoring.learning import calibrate, picked_chance

    rng = np.random.default_rng(7)
    raw = rng.normal(size=4000)
    chance = np.array([NormalDist().cdf(2 * r - 1) for r in raw])
    picked = (rng.random(4000) < chance).astype(float)
    fitted = calibrate(raw, picked)
    assert fitted is not None and fitted["on"] == 4000 and fitted["link"] == "probit"
    assert np.allclose(fitted["coef"], [2, -1], atol=0.15)
    sure = {**fitted, "cov": [[0.0, 0.0], [0.0, 0.0]]}
    far_below = picked_chance(sure, np.array([-1.5]))[0]  # true chance Phi(-4) = 3e-5
    assert 1e-6 < far_below < 3e-4  # a logistic with the same slope at the cut says ~1e-3
    assert calibrate(raw[:40], np.r_[np.ones(4), np.zeros(36)]) is None


def test_a_day_s_share_leaves_at_most_3_percent_of_its_expected_picks_unsent() -> None:
    """Five papers with a 0.9 chance of a pick and five with 0.02: the five unlikely ones hold
    0.1 of 4.6 expected picks (2.2%), so half the day is enough. An uncertain calibration
    (its intercept's variance 1) raises every chance to its upper 75% bound (0.02 -> 0.039):
    three of them may stay unsent. The share in use stays between the floor and the configured
    share, in whole percents rounded up; without a calibration it is the configured one. (These
    calibrations are logistic, as a model calibrated before the probit keeps.)"""
    import numpy as np

    from digest.scoring.factory import cascade_fraction
    from digest.scoring.learning import day_share

    raw = np.log(np.array([0.9] * 5 + [0.02] * 5) / np.array([0.1] * 5 + [0.98] * 5))
    sure = {"coef": [1.0, 0.0], "cov": [[0.0, 0.0], [0.0, 0.0]], "on": 100}
    unsure = {**sure, "cov": [[0.0, 0.0], [0.0, 1.0]]}
    assert day_share(sure, raw) == 0.5 and day_share(unsure, raw) == 0.7
    assert day_share(sure, raw[:6]) == 5 / 6 and day_share(sure, np.zeros(0)) == 1.0

    settings = load_settings(env={})
    assert cascade_fraction(settings, None) == cascade_fraction(settings, {"id": "x"}) == 0.6
    model = {"calibration": sure, "share": 0.333}
    assert cascade_fraction(settings, model) == 0.34  # the latest judged day's share
    assert cascade_fraction(settings, model, raw) == 0.5
    assert cascade_fraction(settings, {**model, "calibration": unsure}, raw) == 0.6  # the cap
    one_likely = np.r_[raw[0], np.full(9, np.log(0.001 / 0.999))]  # 0.1 of the day holds it
    assert (
        day_share(sure, one_likely) == 0.1 and cascade_fraction(settings, model, one_likely) == 0.2
    )


def test_the_next_run_scores_with_a_new_model_or_examples_the_kept_scorer_notwithstanding(
    deps: Deps, criteria: Criteria
) -> None:
    from digest.pipeline import build_digest, sample_listing

    store, key = deps.store, criteria.scoring_hash
    first = deps.scorer_for(criteria)
    assert first.name == local.NAME and deps.scorer_for(criteria) is first  # kept: unchanged
    liked = read_sample()[3].id
    store.save_labels(key, {liked: 1.0}, "example:slack:C1")  # `like`
    assert deps.scorer_for(criteria).name.startswith(f"{local.NAME}+examples-")
    store.save_labels(key, {liked: 0.0}, "example:slack:C1")  # the same label, changed in place
    assert deps.scorer_for(criteria).name == local.NAME
    reference_labels(store, criteria, read_sample()[0::2])
    assert learn(store, criteria).kept  # `learn`
    model = store.model(key, local.NAME)
    assert model is not None
    digest = asyncio.run(build_digest(store, sample_listing(), criteria, deps.scorer_for(criteria)))
    assert digest.scorer == f"{local.NAME}+learned-{model['id']}"  # the digest's header says so
    assert all(e.score.scorer == digest.scorer for e in digest.selected if not e.followed)
