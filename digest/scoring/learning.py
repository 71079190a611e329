"""Learning from labels for one criteria: people's ratings, the LLM's judgements in cascade
and llm runs, and reference digests (`learn --reference`).

One paper in HELD_BACK (by id) is never trained on: a new model is kept only when it ranks those
held-back labels better than the scorer in use (the model learned before, or the zero-shot
scorer). Learning with too few labels is a clear no-op. Each learning also calibrates the model's
scores to the chance that the LLM picks a paper, from which the cascade chooses how small a share
of each day it may send the LLM (`cascade_share`, `day_share`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date
from statistics import NormalDist
from typing import Any

import numpy as np

from digest.criteria import Criteria
from digest.papers import Paper
from digest.scoring import Score, local
from digest.store import Store

# how much one label of each kind weighs; a person's rating counts most
WEIGHTS = {"rating": 3.0, "example": 3.0, "reference": 2.0, "llm": 1.0}  # example: `like`
RECALL = 0.97  # of the LLM's expected picks of a day, kept by the share the cascade sends it
CONFIDENCE = 0.75  # of the upper bound on each paper's calibrated chance of being picked
MEASURED_DAYS = 10  # the latest LLM-judged days calibration is measured on: a bounded daily cost
MIN_LABELS = 20  # labelled papers before learning starts
MIN_EACH = 5  # of wanted and of unwanted papers
HELD_BACK = 5  # one paper in this many (by id) judges a new model against the current one


@dataclass(frozen=True)
class Learned:
    """The outcome of one learning attempt, for a person."""

    kept: bool  # a new model was stored
    message: str


@dataclass(frozen=True)
class Labels:
    """The labelled papers of one criteria, read once per learning."""

    papers: list[Paper]
    y: np.ndarray  # each paper's grade: its labels' weighted mean
    w: np.ndarray  # each paper's weight: the sum of its labels' weights
    judged: dict[str, bool]  # the papers an LLM judged: did it pick them


def kind(source: str) -> str:
    """rating | reference | llm, from a label's source ('rating:slack:U1', 'llm:gpt-5-mini')."""
    return source.split(":", 1)[0]


def llm_labels(scores: list[Score]) -> dict[str, dict[str, float]]:
    """Labels, by judge, from the papers an LLM judged (its local fallbacks are not labels):
    relevance mostly, novelty a little, as a grade in [0, 1]."""
    out: dict[str, dict[str, float]] = {}
    for s in scores:
        if s.scorer.startswith("llm:") and not s.fell_back:
            grade = 0.8 * (s.relevance - 4) / 5 + 0.2 * (s.novelty - 4) / 5
            out.setdefault(s.scorer, {})[s.paper_id] = float(np.clip(grade, 0.0, 1.0))
    return out


def choose_penalty(feats: local.Features, y: np.ndarray, w: np.ndarray, ids: list[str]) -> float:
    """The penalty (of local.PENALTIES) whose model, fitted on the labelled papers of the fifths
    2 to 4, ranks those of fifth 1 best; the held-back fifth 0 is not looked at. While fifth 1
    has under MIN_EACH papers wanted or not, local.PENALTY."""
    fold = np.array([_fold(pid) for pid in ids])
    train, valid = fold >= 2, fold == 1
    wanted = int((y[valid] >= 0.5).sum())
    if min(wanted, int(valid.sum()) - wanted) < MIN_EACH:
        return local.PENALTY

    def ranks(penalty: float) -> float:
        model = local.fit(feats.take(train), y[train], w[train], penalty)
        return _precision(local.raw_scores(feats.take(valid), model), y[valid])

    return max(local.PENALTIES, key=ranks)


def label_counts(store: Store, criteria: Criteria) -> dict[str, int]:
    """Labelled papers of each kind for the criteria."""
    counts: dict[str, set[str]] = {k: set() for k in WEIGHTS}
    for pid, _, source in store.label_rows(criteria.scoring_hash):
        counts.setdefault(kind(source), set()).add(pid)
    return {k: len(v) for k, v in counts.items()}


def learn(store: Store, criteria: Criteria) -> Learned:
    """Refit the local scorer on every stored label for the criteria, if that does better."""
    key = criteria.scoring_hash
    labels = _labelled(store, criteria)
    papers, y, w = labels.papers, labels.y, labels.w
    wanted = int((y >= 0.5).sum()) if len(y) else 0
    if len(papers) < MIN_LABELS or min(wanted, len(papers) - wanted) < MIN_EACH:
        return Learned(
            False,
            f"not enough labels to learn yet: {len(papers)} labelled papers, {wanted} wanted; "
            f"learning starts at {MIN_LABELS}, with {MIN_EACH} wanted and {MIN_EACH} not",
        )
    feats = local.features(papers, criteria, store)
    held = np.array([_held_back(p.id) for p in papers])
    current = store.model(key, local.NAME)
    in_use = "the learned model" if current else "the zero-shot scorer"
    penalty = choose_penalty(feats, y, w, [p.id for p in papers])
    params = local.fit(feats.take(~held), y[~held], w[~held], penalty)  # never sees held back
    if (y[held] >= 0.5).any() and (y[held] < 0.5).any():
        before = _precision(local.raw_scores(feats.take(held), current), y[held])
        after = _precision(local.raw_scores(feats.take(held), params), y[held])
        if after <= before:
            if current is not None:  # the LLM's latest judgements still measure its share
                remeasured = {**current, **cascade_share(store, criteria, current, labels, feats)}
                store.save_model(key, local.NAME, remeasured)
            return Learned(
                False,
                f"kept {in_use}: on {int(held.sum())} held-back labels a refit ranks no better "
                f"(average precision {after:.2f}, against {before:.2f})",
            )
        judged = f"; on {int(held.sum())} held-back labels {before:.2f} -> {after:.2f}"
    else:
        judged = "; too few held-back labels of both kinds to compare, so it replaces " + in_use
    params.update(cascade_share(store, criteria, params, labels, feats))
    store.save_model(key, local.NAME, params)
    counts = label_counts(store, criteria)
    return Learned(
        True,
        f"learned from {len(papers)} labelled papers ({wanted} wanted; {counts['rating']} rated "
        f"by people, {counts['llm']} judged by the LLM, {counts['reference']} from references)"
        f"{judged} (average precision); the local scorer is now "
        f"'{local.NAME}+learned-{params['id']}'",
    )


def carry_labels(store: Store, old: Criteria, new: Criteria) -> str:
    """Give `new` the labels of `old` that its unchanged topics still decide; say how many.

    A wanted paper keeps its label when it fits an unchanged topic under both criteria; an
    unwanted one when, under the new criteria, it fits an unchanged topic (not a new one)."""
    if old.scoring_hash == new.scoring_hash:
        return ""
    rows = store.label_rows(old.scoring_hash)
    labelled = sorted({pid for pid, _, _ in rows})
    if not labelled:
        return ""
    unchanged = {t.name for t in set(old.topics) & set(new.topics)}
    if not unchanged:
        return (
            f"no topic is unchanged, so none of the {len(labelled)} labelled papers of the old "
            "criteria apply: the local scorer starts from zero-shot for these criteria"
        )
    papers = store.papers(labelled)
    ids = [p.id for p in papers]
    before = dict(zip(ids, local.topics_of(papers, old, store), strict=True))
    after = dict(zip(ids, local.topics_of(papers, new, store), strict=True))
    by_source: dict[str, dict[str, float]] = {}
    for pid, label, source in rows:
        if after.get(pid) in unchanged and (label < 0.5 or before.get(pid) in unchanged):
            by_source.setdefault(source, {})[pid] = label
    for source, labels in by_source.items():
        store.save_labels(new.scoring_hash, labels, source)
    kept = len({pid for labels in by_source.values() for pid in labels})
    return (
        f"kept {kept} of {len(labelled)} labelled papers, those the unchanged topics "
        f"({', '.join(sorted(unchanged))}) decide; the local scorer scores these criteria "
        f"zero-shot until the next digest learns from them (learning needs {MIN_LABELS} labelled "
        f"papers, {MIN_EACH} wanted and {MIN_EACH} not)"
    )


def cascade_share(
    store: Store, criteria: Criteria, model: dict[str, Any], labels: Labels, feats: local.Features
) -> dict[str, Any]:
    """How the cascade chooses its share of a day with `model` as its prefilter, measured on the
    papers the LLM judged in its latest MEASURED_DAYS judged days.

    - Each judged paper is scored by a model that never trained on it: the held-back fifth by
      `model` itself, each other fifth (by id) by a refit without that fifth.
    - A probit fit of the LLM's picks on those scores (`calibrate`) gives each paper of a new
      day its chance of being picked; the cascade sends the smallest top share whose unsent
      papers hold at most 1 - RECALL of the day's expected picks (`day_share`), computed with
      each chance at its upper CONFIDENCE bound: the LLM only judges the papers it was sent,
      so the calibration is least sure where the cut falls.

    Kept in the model: the calibration, the share it gives the latest judged day (`share`),
    and the places of the LLM's picks in their days (`measured`), so that status can say what
    recall that share keeps of them. `feats` are those of `labels.papers`."""
    days = store.labelled_days(criteria.scoring_hash, "llm:")[-MEASURED_DAYS:]
    judged = _out_of_fold(store, criteria, model, days, labels, feats)
    if judged is None:
        return {}
    places, raw, picked, latest = judged
    calibration = calibrate(raw, picked)
    if calibration is None:
        return {}
    return {
        "calibration": calibration,
        "share": day_share(calibration, latest),
        "measured": places,
        "measured_on": f"the LLM's {len(places)} picks among {len(raw)} papers it judged on "
        f"{len(days)} day(s), each scored by a model that never trained on it",
    }


def calibrate(raw: np.ndarray, picked: np.ndarray) -> dict[str, Any] | None:
    """P(the LLM picks a paper) = Phi(a * raw + b), a probit fitted by Fisher scoring on judged
    papers, with the covariance of (a, b); None without MIN_EACH picks and MIN_EACH others.

    A probit, not a logistic: the judge picks a paper when its own noisy view of it clears a
    bar, so the chance falls off like a normal tail, and far below the papers it judged a
    logistic's heavier tail would expect picks the judge does not make."""
    if min(int(picked.sum()), int((1 - picked).sum())) < MIN_EACH:
        return None
    x = np.column_stack([raw, np.ones_like(raw)])
    coef = np.zeros(2)
    for _ in range(100):
        weights, working = _probit_step(x @ coef, picked)
        step = np.linalg.solve(x.T @ (weights[:, None] * x) + 1e-9 * np.eye(2),
                               x.T @ (weights * working)) - coef  # fmt: skip
        coef += step
        if np.abs(step).max() < 1e-9:
            break
    weights, _ = _probit_step(x @ coef, picked)
    cov = np.linalg.inv(x.T @ (weights[:, None] * x) + 1e-9 * np.eye(2))
    return {"link": "probit", "coef": coef.tolist(), "cov": cov.tolist(), "on": len(raw)}


_erf = np.vectorize(math.erf, otypes=[float])


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _erf(np.asarray(z, dtype=float) / math.sqrt(2.0)))


def _probit_step(eta: np.ndarray, picked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fisher scoring's weights and working response at the linear predictor `eta`."""
    p = np.clip(_normal_cdf(eta), 1e-12, 1 - 1e-12)
    density = np.maximum(np.exp(-(eta**2) / 2) / math.sqrt(2 * math.pi), 1e-300)
    return density**2 / (p * (1 - p)), eta + (picked - p) / density


def picked_chance(calibration: dict[str, Any], raw: np.ndarray) -> np.ndarray:
    """Each paper's chance of being picked, at the upper CONFIDENCE bound of the calibration
    (a model calibrated before the probit keeps its logistic)."""
    x = np.column_stack([raw, np.ones_like(raw)])
    spread = np.sqrt(np.einsum("ij,jk,ik->i", x, np.array(calibration["cov"]), x))
    bound = x @ np.array(calibration["coef"]) + NormalDist().inv_cdf(CONFIDENCE) * spread
    if calibration.get("link") == "probit":
        return _normal_cdf(bound)
    return 1 / (1 + np.exp(-bound))


def day_share(calibration: dict[str, Any], raw: np.ndarray) -> float:
    """The smallest top share of a day (scored `raw`) whose unsent papers hold at most
    1 - RECALL of the day's expected picks (`picked_chance`); 1.0 for an empty day."""
    if not len(raw):
        return 1.0
    chance = np.sort(picked_chance(calibration, np.asarray(raw, dtype=float)))  # worst first
    below = np.cumsum(chance)  # below[i]: expected picks of the i + 1 worst papers
    unsent = int(np.searchsorted(below, (1 - RECALL) * below[-1], side="right"))
    return (len(raw) - unsent) / len(raw)


def measured_recall(model: dict[str, Any] | None, share: float) -> float | None:
    """The recall a share keeps of the LLM's picks that measured the model (None: none did)."""
    measured = (model or {}).get("measured")
    if not measured:
        return None
    return float(np.mean(np.array(measured) <= share + 1e-9))


def _out_of_fold(
    store: Store,
    criteria: Criteria,
    model: dict[str, Any],
    days: list[date],
    labels: Labels,
    feats: local.Features,
) -> tuple[list[float], np.ndarray, np.ndarray, np.ndarray] | None:
    """Of the papers the LLM judged on these days, each scored by a model that never trained on
    it: the places of its picks within their day (a share of the day, 1/n .. 1; sorted), the
    scores of every judged paper and whether it was picked, and the scores of the latest
    day's papers (by `model`). None when the LLM judged nothing."""
    judged, y, w = labels.judged, labels.y, labels.w
    if not judged or not days:
        return None
    fold = np.array([_fold(p.id) for p in labels.papers])
    models = {0: model}  # the held-back fifth: `model` never trained on it
    for f in range(1, HELD_BACK):
        models[f] = local.fit(
            feats.take(fold != f), y[fold != f], w[fold != f], model.get("penalty", local.PENALTY)
        )
    places: list[float] = []
    raw: list[float] = []
    picked: list[bool] = []
    latest = np.zeros(0)
    for day in days:
        listed = store.papers_of_day(day)
        day_feats = local.features(listed, criteria, store)
        for f, m in models.items():
            scores = local.raw_scores(day_feats, m)
            if f == 0:
                latest = scores
            order = np.argsort(-scores, kind="stable")
            for r, i in enumerate(order):
                pid = listed[i].id
                if pid in judged and _fold(pid) == f:
                    raw.append(float(scores[i]))
                    picked.append(judged[pid])
                    if judged[pid]:
                        places.append((r + 1) / len(listed))
    if not raw:
        return None
    return sorted(places), np.array(raw), np.array(picked, dtype=float), latest


def _labelled(store: Store, criteria: Criteria) -> Labels:
    """The labelled papers of the criteria, their grades and weights (labels of all kinds)."""
    grades: dict[str, list[tuple[float, float]]] = {}
    judged: dict[str, bool] = {}
    for pid, label, source in store.label_rows(criteria.scoring_hash):
        grades.setdefault(pid, []).append((label, WEIGHTS.get(kind(source), 1.0)))
        if kind(source) == "llm":
            judged[pid] = judged.get(pid, False) or label >= 0.5
    papers = [p for p in store.papers(list(grades)) if p.id in grades]
    y = np.array([np.average([g for g, _ in grades[p.id]], weights=[w for _, w in grades[p.id]])
                  for p in papers])  # fmt: skip
    w = np.array([sum(w for _, w in grades[p.id]) for p in papers])
    return Labels(papers, y, w, judged)


def _fold(paper_id: str) -> int:
    """The fifth (by id) a paper falls in; fifth 0 is held back from every refit."""
    return int(hashlib.sha256(paper_id.encode()).hexdigest(), 16) % HELD_BACK


def _held_back(paper_id: str) -> bool:
    return _fold(paper_id) == 0


def _precision(raw: np.ndarray, y: np.ndarray) -> float:
    """Average precision of the ranking by `raw` for the wanted (>= 0.5) papers."""
    order = np.argsort(-raw, kind="stable")
    hits = (y[order] >= 0.5).astype(float)
    ranks = np.arange(1, len(hits) + 1)
    return float((np.cumsum(hits) / ranks * hits).sum() / max(hits.sum(), 1.0))


def share_for(ranked_ids: list[str], wanted: set[str], recall: float = RECALL) -> float:
    """The smallest top share of `ranked_ids` holding `recall` of the wanted papers in it."""
    places = [i + 1 for i, pid in enumerate(ranked_ids) if pid in wanted]
    if not places:
        return 0.0
    return float(np.quantile(places, recall, method="higher")) / len(ranked_ids)
