"""Learning from labels (a reference digest, later chat ratings) for one criteria."""

from __future__ import annotations

import numpy as np

from digest.criteria import Criteria
from digest.errors import DigestError
from digest.papers import Paper
from digest.scoring import local
from digest.store import Store


def learn_from_labels(store: Store, criteria: Criteria, papers: list[Paper]) -> str:
    """Fit the local scorer on every stored label of `papers` for the criteria; store the model."""
    key = criteria.scoring_hash
    labels = store.labels(key)
    labelled = [p for p in papers if p.id in labels]
    y = np.array([labels[p.id] for p in labelled], dtype=float)
    if len(labelled) < 10 or y.min() == y.max():
        raise DigestError(
            f"not enough labels to learn: {len(labelled)} labelled papers, "
            f"{int(y.sum()) if len(y) else 0} wanted; need 10 and both kinds"
        )
    params = local.fit(local.features(labelled, criteria, store), y)
    store.save_model(key, local.NAME, params)
    return (
        f"learned from {len(labelled)} labelled papers ({int(y.sum())} wanted) for criteria "
        f"{key}; the local scorer is now '{local.NAME}+learned-{params['id']}'"
    )
