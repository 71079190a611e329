"""Other ways `like` examples could lift the zero-shot score, measured as benchmarks/examples.py
measures the shipped one (10 picks of a starting day liked, the next 10 days' R-precision against
zero-shot), so the README's comparison can be re-run.

Each family is tried at a few weights; the weight a family would ship with is the best on the
TUNED starting days alone (marked *), and the held-out columns say what it is worth: the six
HELD_OUT starting days of benchmarks/examples.py, and every starting day from 16 on (21 windows
that overlap, so a steadier mean but not independent rows). Nothing is fitted on a measured day.
A second table is a bound, not a signal: what labels are worth when every paper of the starting
day, and of the days before it, is labelled (about 300 papers and 30 picks a day) and learned
from as `learn` would: the learned score alone, and added to the zero-shot score at half its
spread.

    python benchmarks/examples_variants.py [--store PATH]   # PATH: as for local_quality
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from examples import AHEAD, HELD_OUT, LIKED, TUNED, liked_rows  # noqa: E402
from local_quality import Day, arguments, labelled_days, learned_model, measure  # noqa: E402

from digest.criteria import Criteria, default_criteria_path  # noqa: E402
from digest.scoring import embedding, examples, local  # noqa: E402
from digest.scoring.lexical import _STOP, tokens  # noqa: E402

LATER = tuple(range(16, 37))  # every starting day whose window starts after the tuned ones
# a variant: (the measured day, the starting day, the liked rows of it, a weight) -> raw scores
Variant = Callable[[Day, Day, np.ndarray, float], np.ndarray]


def _z(x: np.ndarray) -> np.ndarray:
    spread = float(x.std())
    return (x - x.mean()) / (spread or 1.0)


def _add(day: Day, signal: np.ndarray, weight: float) -> np.ndarray:
    """The zero-shot score plus `weight` of its spread times the standardised signal."""
    return day.feats.refined + weight * float(day.feats.refined.std()) * _z(signal)


def ridge(day: Day, start: Day, rows: np.ndarray, weight: float) -> np.ndarray:
    """The ridge direction (penalty 3) that tells the examples (each weighing 3 papers) apart
    from the batch: the signal shipped before the nearest examples'."""
    emb, liked = day.feats.embeddings, start.feats.embeddings[rows]
    x = np.vstack([emb, liked])
    y = np.concatenate([np.zeros(len(emb)), np.ones(len(liked))])
    w = np.concatenate([np.ones(len(emb)), np.full(len(liked), 3.0)])
    mean = (w[:, None] * x).sum(0) / w.sum()
    centred = x - mean
    direction = np.linalg.solve(
        centred.T @ (centred * w[:, None]) + 3.0 * np.eye(x.shape[1]),
        centred.T @ (w * (y - (w * y).sum() / w.sum())),
    )
    return _add(day, emb @ direction, weight)


def centroid(day: Day, start: Day, rows: np.ndarray, weight: float) -> np.ndarray:
    """Cosine to the examples' mean direction."""
    return _add(day, day.feats.embeddings @ start.feats.embeddings[rows].mean(0), weight)


def _lift(emb: np.ndarray, raw: np.ndarray, liked: np.ndarray, weight: float) -> np.ndarray:
    """The shipped signal (digest/scoring/examples.py: mean cosine to the NEAREST nearest
    examples) added to `raw` at another weight."""
    shipped, examples.WEIGHT = examples.WEIGHT, weight
    try:
        return examples.lift(emb, raw, liked)
    finally:
        examples.WEIGHT = shipped


def nearest(day: Day, start: Day, rows: np.ndarray, weight: float) -> np.ndarray:
    """The shipped signal at `weight`."""
    return _lift(day.feats.embeddings, day.feats.refined, start.feats.embeddings[rows], weight)


def topic_of(feats: local.Features) -> np.ndarray:
    """Each paper's topic index, as the scorer's comment names it (phrases, else meaning)."""
    return np.array(
        [int(np.argmax(m.topic_strengths)) if m.topic else int(np.argmax(c))
         for m, c in zip(feats.matches, feats.topic_cos, strict=True)]
    )  # fmt: skip


def topic_share(day: Day, start: Day, rows: np.ndarray, prior: float) -> np.ndarray:
    """Topics reweighted by the share of examples each claims (`prior` examples' worth of
    shrinkage toward equal weights), in the meaning (mean and closest topic) and phrase
    signals, then the feedback."""
    feats, topics = day.feats, day.feats.topic_cos.shape[1]
    counts = np.bincount(topic_of(start.feats)[rows], minlength=topics)
    share = (counts + prior) / (counts.sum() + topics * prior)
    signals = feats.signals.copy()
    signals[:, 0] = feats.topic_cos @ share
    signals[:, 5] = (feats.topic_cos * topics * share).max(1)
    strengths = np.array([m.topic_strengths for m in feats.matches])
    signals[:, 3] = np.log1p((strengths * topics * share).max(1))
    zero = ((signals - local.SIGNAL_MEAN) / local.SIGNAL_STD) @ local.SIGNAL_WEIGHT
    return local.feedback(feats.embeddings, zero)


def topic_tilt(day: Day, start: Day, rows: np.ndarray, weight: float) -> np.ndarray:
    """Towards the topics the examples lean to more than the day's zero-shot top tenth."""
    cos = day.feats.topic_cos
    mean, spread = cos.mean(0), cos.std(0)
    top = np.argsort(-day.feats.refined)[: len(cos) // 10]
    lean = ((start.feats.topic_cos[rows] - mean) / spread).mean(0) - (
        (cos[top] - mean) / spread
    ).mean(0)
    return _add(day, ((cos - mean) / spread) @ lean, weight)


def seeded(day: Day, start: Day, rows: np.ndarray, weight: float) -> np.ndarray:
    """The pseudo-relevance feedback with the examples among its wanted papers, each weighing
    `weight` papers of the batch."""
    emb, zero = day.feats.embeddings, day.feats.zero_shot
    n, liked = len(zero), start.feats.embeddings[rows]
    wanted = np.full(n, -1.0)
    wanted[np.argsort(-zero, kind="stable")[: max(1, int(local.FEEDBACK_TOP * n))]] = 1.0
    x, y = np.vstack([emb, liked]), np.concatenate([wanted, np.ones(len(liked))])
    w = np.concatenate([np.ones(n), np.full(len(liked), weight)])
    mean = (w[:, None] * x).sum(0) / w.sum()
    centred = x - mean
    direction = np.linalg.solve(
        centred.T @ (centred * w[:, None]) + local.FEEDBACK_RIDGE * np.eye(x.shape[1]),
        centred.T @ (w * (y - (w * y).sum() / w.sum())),
    )
    lift = (emb - mean) @ direction
    return local._with_neighbours(emb, zero + local.FEEDBACK_WEIGHT * lift / lift.std())


def before_feedback(day: Day, start: Day, rows: np.ndarray, weight: float) -> np.ndarray:
    """The shipped signal added before the pseudo-relevance feedback and the neighbours, not
    after them, so both carry it further."""
    emb, liked = day.feats.embeddings, start.feats.embeddings[rows]
    return local.feedback(emb, _lift(emb, day.feats.zero_shot, liked, weight))


def then_neighbours(day: Day, start: Day, rows: np.ndarray, weight: float) -> np.ndarray:
    """The shipped signal at `weight`, then each paper leaning to its neighbours' scores again."""
    return local._with_neighbours(day.feats.embeddings, nearest(day, start, rows, weight))


_TOPICS: list[np.ndarray] = []


def rocchio(day: Day, start: Day, rows: np.ndarray, pull: float) -> np.ndarray:
    """Each topic's query moved toward the examples closest to it (Rocchio: the topic's vector
    plus `pull` times their mean, renormalised), the meaning signals recomputed from it."""
    if not _TOPICS:
        criteria = Criteria.load(default_criteria_path())
        texts = [f"{t.name}: {t.relevant}" for t in criteria.topics]
        _TOPICS.append(embedding.embed([local.TOPIC_ID] * len(texts), texts))
    topics, liked = _TOPICS[0].copy(), start.feats.embeddings[rows]
    closest = np.argmax(liked @ topics.T, axis=1)
    for k in set(closest.tolist()):
        moved = topics[k] + pull * liked[closest == k].mean(0)
        topics[k] = moved / np.linalg.norm(moved)
    cos = day.feats.embeddings @ topics.T
    signals = day.feats.signals.copy()
    signals[:, 0], signals[:, 5] = cos.mean(1), cos.max(1)
    zero = ((signals - local.SIGNAL_MEAN) / local.SIGNAL_STD) @ local.SIGNAL_WEIGHT
    return local.feedback(day.feats.embeddings, zero)


_MODELS: dict[tuple[str, float], dict] = {}


def labels_from_day_one(day: Day, start: Day, rows: np.ndarray, weight: float) -> np.ndarray:
    """The learned model fitted on the examples (weight 3) against the rest of their day
    (weight 0.3: unlabelled, mostly unwanted), its learned part added at `weight`."""
    key = (start.name, weight)
    if key not in _MODELS:
        others = np.ones(len(start.papers), bool)
        others[rows] = False
        feats = _join([start.feats.take(others), start.feats.take(rows)])
        y = np.concatenate([np.zeros(others.sum()), np.ones(len(rows))])
        w = np.concatenate([np.full(others.sum(), 0.3), np.full(len(rows), 3.0)])
        _MODELS[key] = local.fit(feats, y, w)
    model = _MODELS[key]
    raw = local.raw_scores(day.feats, model) - model["weights"][-1] * day.feats.zero_shot
    return _add(day, raw, weight)


def _join(parts: list[local.Features]) -> local.Features:
    return local.Features(
        np.concatenate([f.embeddings for f in parts]),
        np.concatenate([f.topic_cos for f in parts]),
        [m for f in parts for m in f.matches],
        np.concatenate([f.signals for f in parts]),
        np.concatenate([f.zero_shot for f in parts]),
        np.concatenate([f.refined for f in parts]),
    )


_TERMS: dict[str, set[str]] = {}


def _terms(day: Day, i: int) -> set[str]:
    paper = day.papers[i]
    if paper.id not in _TERMS:
        text = f"{paper.title} {paper.abstract}"
        stems = [s for s in tokens(text) if s not in _STOP and len(s) > 2]
        _TERMS[paper.id] = set(stems) | {f"{a} {b}" for a, b in pairwise(stems)}
    return _TERMS[paper.id]


def lexical(day: Day, start: Day, rows: np.ndarray, weight: float) -> np.ndarray:
    """The examples' 100 most telling words and word pairs (in two examples or more, rare in
    the day) as weak phrases: each paper's sum of their idf."""
    docs = [_terms(day, i) for i in range(len(day.papers))]
    df: dict[str, int] = {}
    for doc in docs:
        for t in doc:
            df[t] = df.get(t, 0) + 1
    in_examples: dict[str, int] = {}
    for i in rows:
        for t in _terms(start, int(i)):
            in_examples[t] = in_examples.get(t, 0) + 1
    idf = {t: float(np.log((len(docs) + 1) / (df.get(t, 0) + 1))) for t in in_examples}
    telling = sorted((t for t, c in in_examples.items() if c >= 2),
                     key=lambda t: -in_examples[t] * idf[t])[:100]  # fmt: skip
    return _add(day, np.array([sum(idf[t] for t in telling if t in doc) for doc in docs]), weight)


LABELLED_DAYS = (1, 3, 5, 10)  # days labelled for the bound: the starting day and those before it


def labelled_bound(days: list[Day], k: int, starts: tuple[int, ...], base: dict[int, float]
                   ) -> tuple[float, float, float, float]:  # fmt: skip
    """Mean gain over the starting days of the AHEAD days after each, with the starting day and
    the k - 1 before it labelled: the learned score alone, and added at 0.5; and the mean
    number of papers and of picks labelled."""
    alone, added, papers, picks = [], [], [], []
    for s in starts:
        train = days[max(0, s - k + 1) : s + 1]
        papers.append(sum(len(d.papers) for d in train))
        picks.append(sum(len(d.wanted) for d in train))
        model = learned_model(train)  # fitted once, scores each of the AHEAD days
        for j in range(s + 1, s + 1 + AHEAD):
            raw = local.raw_scores(days[j].feats, model)
            alone.append(measure(days[j], raw).result.r_precision - base[j])
            added.append(measure(days[j], _add(days[j], raw, 0.5)).result.r_precision - base[j])
    return (
        float(np.mean(alone)),
        float(np.mean(added)),
        float(np.mean(papers)),
        float(np.mean(picks)),
    )


FAMILIES: list[tuple[str, Variant, tuple[float, ...]]] = [
    ("cosine to the 3 nearest examples (shipped)", nearest, (0.2, 0.3, 0.4, 0.5, 0.6)),
    ("ridge direction from the batch (shipped before)", ridge, (0.25, 0.5, 1.0)),
    ("cosine to the examples' centroid", centroid, (0.25, 0.5, 1.0)),
    ("topics reweighted by examples' share (prior)", topic_share, (1.0, 3.0, 10.0)),
    ("tilt to the examples' topics", topic_tilt, (0.1, 0.25, 0.5)),
    ("feedback seeded with the examples (each weighs)", seeded, (1.0, 3.0, 10.0, 30.0)),
    ("examples as labels from day one (PU)", labels_from_day_one, (0.25, 0.5)),
    ("examples' telling words as phrases", lexical, (0.1, 0.25, 0.5)),
    ("the nearest examples' signal before the feedback", before_feedback, (0.2, 0.4, 0.7)),
    ("the nearest examples' signal, then the neighbours", then_neighbours, (0.2, 0.4, 0.7)),
    ("topics pulled toward their examples (Rocchio)", rocchio, (0.6, 1.0, 2.0, 3.0)),
]


def gain(days: list[Day], variant: Variant, weight: float, starts: tuple[int, ...],
         base: dict[int, float]) -> float:  # fmt: skip
    """Mean over the starting days of the AHEAD days' mean R-precision gain."""
    per_start = []
    for s in starts:
        rows = liked_rows(days[s])
        measured = range(s + 1, s + 1 + AHEAD)
        for j in measured:
            if j not in base:
                base[j] = measure(days[j], days[j].feats.refined).result.r_precision
        per_start.append(np.mean([
            measure(days[j], variant(days[j], days[s], rows, weight)).result.r_precision - base[j]
            for j in measured
        ]))  # fmt: skip
    return float(np.mean(per_start))


def main() -> None:
    args = arguments(__doc__ or "").parse_args()
    days = labelled_days(args.store)
    base: dict[int, float] = {}
    print(f"like {LIKED} picks of a day, mean R-precision gain over zero-shot on the next {AHEAD}"
          " days; * the weight the tuned rows choose")  # fmt: skip
    print(f"| variant | weight | {len(TUNED)} tuned | {len(HELD_OUT)} held out | "
          f"{len(LATER)} later starts |")  # fmt: skip
    print("| --- | --- | --- | --- | --- |")
    for name, variant, weights in FAMILIES:
        tuned = {w: gain(days, variant, w, TUNED, base) for w in weights}
        chosen = max(weights, key=lambda w: tuned[w])
        for w in weights:
            held = gain(days, variant, w, HELD_OUT, base)
            later = gain(days, variant, w, LATER, base)
            mark = "*" if w == chosen else ""
            print(f"| {name} | {w:g}{mark} | {tuned[w]:+.3f} | {held:+.3f} | {later:+.3f} |",
                  flush=True)  # fmt: skip
    print(f"\nbound: whole days labelled, mean gain on the next {AHEAD} days of the "
          f"{len(HELD_OUT)} held-out starting days")  # fmt: skip
    print("| days labelled | papers (picks) | learned alone | added at 0.5 |")
    print("| --- | --- | --- | --- |")
    for k in LABELLED_DAYS:
        alone, added, papers, picks = labelled_bound(days, k, HELD_OUT, base)
        print(f"| {k} | {papers:.0f} ({picks:.0f}) | {alone:+.3f} | {added:+.3f} |", flush=True)


if __name__ == "__main__":
    main()
