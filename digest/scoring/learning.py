"""Learning from labels for one criteria: people's ratings, the LLM's judgements in cascade
and llm runs, and reference digests (`learn --reference`).

One paper in HELD_BACK (by id) is never trained on: a new model is kept only when it ranks those
held-back labels better than the scorer in use (the model learned before, or the zero-shot
scorer). Learning with too few labels is a clear no-op.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from digest.criteria import Criteria
from digest.scoring import Score, local
from digest.store import Store

# how much one label of each kind weighs; a person's rating counts most
WEIGHTS = {"rating": 3.0, "reference": 2.0, "llm": 1.0}
RECALL = 0.97  # of the LLM's latest selection, kept by the share the cascade sends it
MIN_LABELS = 20  # labelled papers before learning starts
MIN_MEASURED = 20  # held-back papers the LLM wanted, before the cascade's share may shrink
MEASURED_DAYS = 10  # the latest LLM-judged days the share is measured on: a bounded daily cost
MIN_EACH = 5  # of wanted and of unwanted papers
HELD_BACK = 5  # one paper in this many (by id) judges a new model against the current one


@dataclass(frozen=True)
class Learned:
    """The outcome of one learning attempt, for a person."""

    kept: bool  # a new model was stored
    message: str


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


def label_counts(store: Store, criteria: Criteria) -> dict[str, int]:
    """Labelled papers of each kind for the criteria."""
    counts: dict[str, set[str]] = {k: set() for k in WEIGHTS}
    for pid, _, source in store.label_rows(criteria.scoring_hash):
        counts.setdefault(kind(source), set()).add(pid)
    return {k: len(v) for k, v in counts.items()}


def learn(store: Store, criteria: Criteria) -> Learned:
    """Refit the local scorer on every stored label for the criteria, if that does better."""
    key = criteria.scoring_hash
    grades: dict[str, list[tuple[float, float]]] = {}
    for pid, label, source in store.label_rows(key):
        grades.setdefault(pid, []).append((label, WEIGHTS.get(kind(source), 1.0)))
    papers = [p for p in store.papers(list(grades)) if p.id in grades]
    y = np.array([np.average([g for g, _ in grades[p.id]], weights=[w for _, w in grades[p.id]])
                  for p in papers])  # fmt: skip
    w = np.array([sum(w for _, w in grades[p.id]) for p in papers])
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
    params = local.fit(feats.take(~held), y[~held], w[~held])  # never sees held-back labels
    if (y[held] >= 0.5).any() and (y[held] < 0.5).any():
        before = _precision(local.raw_scores(feats.take(held), current), y[held])
        after = _precision(local.raw_scores(feats.take(held), params), y[held])
        if after <= before:
            return Learned(
                False,
                f"kept {in_use}: on {int(held.sum())} held-back labels a refit ranks no better "
                f"(average precision {after:.2f}, against {before:.2f})",
            )
        judged = f"; on {int(held.sum())} held-back labels {before:.2f} -> {after:.2f}"
    else:
        judged = "; too few held-back labels of both kinds to compare, so it replaces " + in_use
    params.update(cascade_share(store, criteria, params))
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
        f"({', '.join(sorted(unchanged))}) decide; until the next digest learns from them (with "
        f"{MIN_LABELS} or more), the local scorer scores these criteria zero-shot"
    )


def cascade_share(
    store: Store, criteria: Criteria, model: dict, min_measured: int = MIN_MEASURED
) -> dict:
    """The share of a day the cascade must send so that RECALL of the papers the LLM wanted
    come within it, ranked by `model`: the RECALL quantile of those papers' rank within their
    day, over the latest MEASURED_DAYS LLM-judged days ({} with fewer than `min_measured`).

    Only held-back papers count (the model never trained on them), and only papers the LLM
    saw have its judgement: the papers it did not see are not counted."""
    wanted = {
        pid for pid, grade, source in store.label_rows(criteria.scoring_hash)
        if kind(source) == "llm" and grade >= 0.5 and _held_back(pid)
    }  # fmt: skip
    days = store.labelled_days(criteria.scoring_hash, "llm:")[-MEASURED_DAYS:]
    places: list[float] = []  # each wanted paper's rank within its day, as a share of the day
    for day in days:
        papers = store.papers_of_day(day)
        raw = local.raw_scores(local.features(papers, criteria, store), model)
        order = np.argsort(-raw, kind="stable")
        places += [(r + 1) / len(papers) for r, i in enumerate(order) if papers[i].id in wanted]
    if len(places) < min_measured:
        return {}
    share = float(np.quantile(places, RECALL, method="higher"))
    return {
        "share": share,
        "recall": float(np.mean(np.array(places) <= share)),
        "measured_on": f"the LLM's {len(places)} held-back picks of {len(days)} day(s)",
    }


def _held_back(paper_id: str) -> bool:
    return int(hashlib.sha256(paper_id.encode()).hexdigest(), 16) % HELD_BACK == 0


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
