"""Wanted examples (`like`): papers a chat names as what it wants, used by the local scorer
next to its criteria before there are enough labels to learn from.

The signal: each paper's mean cosine to its NEAREST closest examples, standardised over the
batch being scored and added to the zero-shot score at WEIGHT times the score's spread (a paper
close to a few examples rises, whatever theme of the examples it shares). A batch under
MIN_BATCH papers keeps its scores (its spread says too little).

WEIGHT was chosen on the benchmark's first starting days only (10 picks of 2025-10-17 ..
2025-10-23, each measured on the next 10 days): `python benchmarks/examples.py`; other signals
measured the same way (the ridge direction that tells the examples from the batch, shipped
before, among them): `python benchmarks/examples_variants.py`.
"""

from __future__ import annotations

import hashlib

import numpy as np

WEIGHT = 0.4  # the lift's spread, in the zero-shot score's spreads
NEAREST = 3  # a paper's closeness: its mean cosine to this many nearest examples
MIN_BATCH = 50  # fewer papers: no lift


def lift(emb: np.ndarray, raw: np.ndarray, examples: np.ndarray) -> np.ndarray:
    """`raw` (the zero-shot scores of the papers embedded `emb`) with the examples' lift.

    `examples` holds the examples' unit embeddings, one per row."""
    if len(raw) < MIN_BATCH or not len(examples):
        return raw
    nearest = min(NEAREST, len(examples))
    close = np.sort(emb @ examples.T, axis=1)[:, -nearest:].mean(1)
    spread, scale = float(close.std()), float(raw.std())
    if spread == 0 or scale == 0:
        return raw
    return raw + WEIGHT * scale * (close - close.mean()) / spread


def key(paper_ids: list[str]) -> str:
    """A short name for a set of examples: scores are cached per scorer name, so a chat's
    next scoring after `like` or `unlike` scores its papers anew."""
    return hashlib.sha256(" ".join(sorted(set(paper_ids))).encode()).hexdigest()[:8]
