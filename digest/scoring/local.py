"""The local scorer: no key, no network. Meaning (MiniLM embeddings against each topic) plus
the criteria's own phrases, sharpened by the day's own papers (`feedback`); after `learn`, a
logistic model over the same features.

Constants are fitted by `python benchmarks/local_quality.py --fit` on the 46 labelled days of
2025 (2025-10-17 .. 2025-12-30), so that the default cutoffs (relevance >= 8, novelty >= 7)
select a digest about the size of the reference's; the benchmark measures them date-ordered.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from digest.criteria import Criteria
from digest.papers import Paper
from digest.scoring import Score, embedding
from digest.scoring import examples as examples_signal
from digest.scoring.lexical import Match, PhraseIndex

NAME = "local"
# Zero-shot: a weighted sum of standardised signals (see `features`), the weights those of a
# logistic regression fitted on labelled days; `python benchmarks/local_quality.py --fit`
# prints them, and measures them on days after those they were fitted on.
SIGNAL_MEAN = np.array([0.2274, 0.331, 0.1925, 0.9447, 0.1482, 0.3076])
SIGNAL_STD = np.array([0.0638, 0.071, 0.0526, 0.5615, 0.3746, 0.0815])
SIGNAL_WEIGHT = np.array([0.832, 0.567, 0.195, 0.429, -0.448, 0.182])
# raw score -> relevance: relevance 8 starts where the labelled days' selected share (9%) does.
REL_AT_ZERO, REL_PER_UNIT = 2.80, 1.2
_CUES = re.compile(
    r"\b(we (?:propose|introduce|present)|novel|first|new (?:method|framework|"
    r"architecture|paradigm|theory)|outperform\w*|state-of-the-art)\b",
    re.I,
)
_LOW_NOVELTY = re.compile(r"\b(benchmark|dataset|survey|review|case study|position paper)\b", re.I)
# Feedback: the day's top FEEDBACK_TOP by the signals are taken as wanted and the rest not, and a
# ridge direction in embedding space (FEEDBACK_RIDGE) that tells them apart is added, scaled to
# FEEDBACK_WEIGHT standard deviations. Fewer than FEEDBACK_MIN papers: no feedback.
FEEDBACK_TOP, FEEDBACK_RIDGE, FEEDBACK_WEIGHT, FEEDBACK_MIN = 0.1, 100.0, 1.0, 50
# Then each paper takes NEIGHBOUR_WEIGHT of the mean score of its NEIGHBOURS nearest papers of the
# batch (papers close in meaning are wanted together); mean and spread stay those of the scores.
NEIGHBOURS, NEIGHBOUR_WEIGHT = 10, 0.5
# A learned model's penalty on its standardised weights: of PENALTIES, the one whose model
# ranks labels it did not train on best (learning.choose_penalty); PENALTY while too few say
PENALTIES, PENALTY = (30.0, 100.0, 300.0, 1000.0), 100.0
TOPIC_ID = ":topic"  # the id a criteria topic's text is kept under in the embedding store


@dataclass(frozen=True)
class Features:
    """What the local scorer knows about a batch of papers."""

    embeddings: np.ndarray  # (n, 384)
    topic_cos: np.ndarray  # (n, topics)
    matches: list[Match]
    signals: np.ndarray  # (n, 6) the zero-shot signals, before SIGNAL_MEAN and SIGNAL_STD
    zero_shot: np.ndarray  # (n,) the signals' weighted sum, paper by paper
    refined: np.ndarray  # (n,) with the batch's feedback: the zero-shot score

    def matrix(self) -> np.ndarray:
        lex = np.array([_lex(m) for m in self.matches])
        pen = np.array([m.penalty for m in self.matches])
        return np.hstack(
            [self.embeddings, self.topic_cos, lex[:, None], pen[:, None], self.zero_shot[:, None]]
        )

    def take(self, rows: np.ndarray) -> Features:
        """The features of some papers (an index or a boolean mask)."""
        picked = np.arange(len(self.matches))[rows]
        return Features(
            self.embeddings[picked], self.topic_cos[picked], [self.matches[i] for i in picked],
            self.signals[picked], self.zero_shot[picked], self.refined[picked],
        )  # fmt: skip


def _lex(match: Match) -> float:
    return (np.log1p(match.strength) - SIGNAL_MEAN[3]) / SIGNAL_STD[3]


def features(
    papers: list[Paper], criteria: Criteria, vectors: embedding.VectorStore | None = None
) -> Features:
    """Embeddings (kept in `vectors`, when given, so a criteria change embeds no paper),
    cosine to each topic, phrase matches and the zero-shot score."""
    topics = [f"{t.name}: {t.relevant}" for t in criteria.topics] or [", ".join(criteria.keywords)]
    irrelevant = [f"{t.name}: {t.irrelevant}" for t in criteria.topics] or topics
    index = PhraseIndex(criteria)
    phrases = sorted({p.text for p in index.phrases}) or topics
    queries = embedding.embed([TOPIC_ID] * (len(topics) + len(irrelevant) + len(phrases)),
                              [*topics, *irrelevant, *phrases], vectors)  # fmt: skip
    emb = embedding.embed([p.id for p in papers], [p.text for p in papers], vectors)  # last: a
    # progress bar ends on the papers' count
    topic_emb, irrelevant_emb = queries[: len(topics)], queries[len(topics) : 2 * len(topics)]
    phrase_emb = queries[2 * len(topics) :]
    matches = [index.match(p.title, p.abstract) for p in papers]
    if not papers:
        empty = np.zeros(0)
        return Features(emb, np.zeros((0, len(topics))), matches, np.zeros((0, 6)), empty, empty)
    cos = emb @ topic_emb.T
    signals = np.column_stack(
        [
            cos.mean(1),  # meaning: the paper against each topic's relevant part
            (emb @ phrase_emb.T).max(1),  # the closest single phrase of the criteria
            (emb @ irrelevant_emb.T).mean(1),  # the topics' "irrelevant" parts share their field
            np.log1p([m.strength for m in matches]),  # the criteria's phrases, as written
            [m.penalty for m in matches],  # irrelevant and application keywords
            cos.max(1),  # the closest topic: a paper may be wanted for any one of them
        ]
    )
    zero = ((signals - SIGNAL_MEAN) / SIGNAL_STD) @ SIGNAL_WEIGHT
    return Features(emb, cos, matches, signals, zero, feedback(emb, zero))


@functools.lru_cache(maxsize=1024)  # a day's papers, read once for every criteria
def _novelty(title: str, abstract: str) -> int:
    """Novelty before relevance: 6, up to 2 more for novelty cues, 3 less for a benchmark,
    dataset, survey or the like."""
    cues = len(_CUES.findall(f"{title} {abstract}"))
    return 6 + min(cues, 2) - (3 if _LOW_NOVELTY.search(title) else 0)


def feedback(emb: np.ndarray, zero: np.ndarray) -> np.ndarray:
    """The zero-shot scores sharpened by the batch itself (pseudo-relevance feedback): what
    sets the batch's best papers apart in meaning lifts papers the criteria's words miss, and
    each paper leans towards its nearest neighbours' scores. The scores keep their mean and
    spread, and a small batch keeps its scores."""
    n = len(zero)
    if n < FEEDBACK_MIN:
        return zero
    wanted = np.full(n, -1.0)
    wanted[np.argsort(-zero, kind="stable")[: max(1, int(FEEDBACK_TOP * n))]] = 1.0
    centred = emb - emb.mean(0)
    direction = np.linalg.solve(
        centred.T @ centred + FEEDBACK_RIDGE * np.eye(emb.shape[1]),
        centred.T @ (wanted - wanted.mean()),
    )
    lift = centred @ direction
    spread = float(lift.std())
    refined = zero if spread == 0 else zero + FEEDBACK_WEIGHT * lift / spread
    return _with_neighbours(emb, refined)


def _with_neighbours(emb: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Each score plus NEIGHBOUR_WEIGHT times its NEIGHBOURS nearest papers' mean score, brought
    back to the scores' mean and spread."""
    similar = emb @ emb.T
    np.fill_diagonal(similar, -np.inf)
    nearest = np.argpartition(-similar, NEIGHBOURS, axis=1)[:, :NEIGHBOURS]
    mean, spread = scores.mean(), scores.std()
    blended = scores + NEIGHBOUR_WEIGHT * scores[nearest].mean(1)
    if spread == 0 or blended.std() == 0:
        return scores
    return mean + (blended - blended.mean()) * spread / blended.std()


class LocalScorer:
    """Scores every paper in a few seconds; learns from labelled papers for one criteria.

    With `vectors` (the Store), each paper is embedded once per text and model.
    """

    def __init__(
        self,
        model: dict[str, Any] | None = None,
        vectors: embedding.VectorStore | None = None,
        examples: tuple[np.ndarray, str] | None = None,  # the `like` examples: embeddings, key
    ) -> None:
        self.model = model
        self.vectors = vectors
        self.name = NAME if model is None else f"{NAME}+learned-{model['id']}"
        # wanted examples (`like`) lift the zero-shot score; a learned model has them among
        # its labels (digest/scoring/examples.py)
        self.examples = examples if model is None and examples and len(examples[0]) else None
        if self.examples is not None:
            self.name = f"{NAME}+examples-{self.examples[1]}"

    async def score(self, papers: list[Paper], criteria: Criteria) -> list[Score]:
        """Runs in a worker thread: the event loop stays free while papers are embedded."""
        if not papers:
            return []
        return await asyncio.to_thread(self.score_now, papers, criteria)

    def score_now(self, papers: list[Paper], criteria: Criteria) -> list[Score]:
        feats = features(papers, criteria, self.vectors)
        raw, at_zero, per_unit = raw_scores(feats, self.model), REL_AT_ZERO, REL_PER_UNIT
        if self.examples is not None:
            raw = examples_signal.lift(feats.embeddings, raw, self.examples[0])
        if self.model is not None:
            at_zero, per_unit = self.model["rel_at_zero"], self.model["rel_per_unit"]
        topic_names = [t.name for t in criteria.topics] or ["Keywords"]
        return [
            self._score(
                p, float(r), at_zero, per_unit, feats.topic_cos[i], feats.matches[i], topic_names
            )
            for i, (p, r) in enumerate(zip(papers, raw, strict=True))
        ]

    def _score(
        self,
        paper: Paper,
        raw: float,
        at_zero: float,
        per_unit: float,
        cos: np.ndarray,
        match: Match,
        topic_names: list[str],
    ) -> Score:
        relevance = int(np.clip(round(at_zero + per_unit * raw), 1, 10))
        novelty = int(np.clip(_novelty(paper.title, paper.abstract) + (relevance >= 9), 1, 10))
        by_meaning = topic_names[int(np.argmax(cos))]
        topic = _topic(match, cos, topic_names)
        matched = topic if relevance >= 5 else None
        parts = [f"{topic}" if matched else "No close criterion"]
        if match.phrases and matched:
            parts.append("phrases " + ", ".join(f"'{p}'" for p in match.phrases[:4]))
        parts.append(f"closest topic by meaning: {by_meaning} (cosine {float(cos.max()):.2f})")
        if match.penalties:
            parts.append("off-topic terms " + ", ".join(f"'{p}'" for p in match.penalties[:3]))
        if self.model is not None:
            parts.append("learned from labels")
        return Score(paper.id, relevance, novelty, "; ".join(parts), matched, self.name, raw=raw)


def _topic(match: Match, cos: np.ndarray, names: list[str]) -> str:
    """The topic a paper fits: the one its phrases match, else the closest by meaning."""
    return match.topic or names[int(np.argmax(cos))]


def topics_of(papers: list[Paper], criteria: Criteria, vectors: embedding.VectorStore) -> list[str]:
    """Each paper's topic under the criteria, as the local scorer's comment names it."""
    feats = features(papers, criteria, vectors)
    names = [t.name for t in criteria.topics] or ["Keywords"]
    return [_topic(m, c, names) for m, c in zip(feats.matches, feats.topic_cos, strict=True)]


def fit(
    feats: Features,
    labels: np.ndarray,
    weights: np.ndarray | None = None,
    penalty: float = PENALTY,
) -> dict[str, Any]:
    """Weighted logistic regression on the standardised features (L2 `penalty`), by Newton's
    method; labels are grades in [0, 1] (>= 0.5: wanted). Relevance 8 starts where the wanted
    share of the labelled papers begins."""
    x = feats.matrix()
    w = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=float)
    mean = (w[:, None] * x).sum(0) / w.sum()
    std = np.sqrt((w[:, None] * (x - mean) ** 2).sum(0) / w.sum())
    std[std == 0] = 1.0
    z = np.column_stack([(x - mean) / std, np.ones(len(x))])
    ridge = penalty * np.eye(z.shape[1])
    ridge[-2:, -2:] = 0.0  # the zero-shot score (the last feature) and the intercept go
    # unpenalised: the prior keeps its say where labels are few or one-sided (the LLM judges
    # only what it is sent)
    beta = np.zeros(z.shape[1])
    for _ in range(25):
        p = 1 / (1 + np.exp(-(z @ beta)))
        hessian = z.T @ (z * (w * p * (1 - p))[:, None]) + ridge
        step = np.linalg.solve(hessian, z.T @ (w * (p - labels)) + ridge @ beta)
        beta -= step
        if np.abs(step).max() < 1e-6:
            break
    coef = beta[:-1] / std
    centred = x - mean
    raw = centred @ coef
    spread = float(raw.std()) or 1.0
    coef, raw = coef / spread, raw / spread
    wanted = labels >= 0.5
    share = float(wanted.mean())
    threshold = float(np.quantile(raw, 1 - share)) if 0 < share < 1 else 1.0
    params = {
        "weights": coef.tolist(),
        "bias": -float(mean @ coef),
        "rel_at_zero": 7.5 - REL_PER_UNIT * threshold,
        "rel_per_unit": REL_PER_UNIT,
        "labels": len(labels),
        "positives": int(wanted.sum()),
        "penalty": penalty,
    }
    params["id"] = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]
    return params


def raw_scores(feats: Features, model: dict[str, Any] | None) -> np.ndarray:
    """The continuous score a model (None: zero-shot) gives each paper of `feats`."""
    if model is None:
        return feats.refined
    return feats.matrix() @ np.array(model["weights"]) + model["bias"]
