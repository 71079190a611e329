"""Wanted examples (`like`): papers a chat names as what it wants, used by the local scorer
next to its criteria before there are enough labels to learn from.

The signal: a ridge direction in embedding space that tells the examples apart from the batch
being scored (each example weighing EXAMPLE_WEIGHT papers of the batch, as a person's rating
weighs three LLM judgements), added to the zero-shot score at WEIGHT times the score's spread.
A batch under MIN_BATCH papers keeps its scores (its spread says too little).

WEIGHT and RIDGE were chosen on the benchmark's first starting days only (10 picks of
2025-10-17 .. 2025-10-23, each measured on the next 10 days): `python benchmarks/examples.py`.
"""

from __future__ import annotations

import hashlib

import numpy as np

WEIGHT = 0.5  # the lift's spread, in the zero-shot score's spreads
RIDGE = 3.0  # the direction's ridge penalty
EXAMPLE_WEIGHT = 3.0  # one example weighs this many papers of the batch
MIN_BATCH = 50  # fewer papers: no lift


def lift(emb: np.ndarray, raw: np.ndarray, examples: np.ndarray) -> np.ndarray:
    """`raw` (the zero-shot scores of the papers embedded `emb`) with the examples' lift.

    `examples` holds the examples' unit embeddings, one per row."""
    n = len(raw)
    if n < MIN_BATCH or not len(examples):
        return raw
    x = np.vstack([emb, examples])
    y = np.concatenate([np.zeros(n), np.ones(len(examples))])
    w = np.concatenate([np.ones(n), np.full(len(examples), EXAMPLE_WEIGHT)])
    mean = (w[:, None] * x).sum(0) / w.sum()
    centred = x - mean
    direction = np.linalg.solve(
        centred.T @ (centred * w[:, None]) + RIDGE * np.eye(x.shape[1]),
        centred.T @ (w * (y - (w * y).sum() / w.sum())),
    )
    toward = emb @ direction
    spread, scale = float(toward.std()), float(raw.std())
    if spread == 0 or scale == 0:
        return raw
    return raw + WEIGHT * scale * (toward - toward.mean()) / spread


def key(paper_ids: list[str]) -> str:
    """A short name for a set of examples: scores are cached per scorer name, so a chat's
    next scoring after `like` or `unlike` scores its papers anew."""
    return hashlib.sha256(" ".join(sorted(set(paper_ids))).encode()).hexdigest()[:8]
