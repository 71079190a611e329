"""Build the configured scorer for a criteria."""

from __future__ import annotations

from digest.config import Settings
from digest.criteria import Criteria
from digest.errors import ConfigError
from digest.scoring import Scorer
from digest.scoring.local import NAME as LOCAL
from digest.scoring.local import LocalScorer
from digest.store import Store

SCORERS = (LOCAL,)


def make_scorer(name: str, store: Store, criteria: Criteria, settings: Settings) -> Scorer:
    """The local scorer uses the model learned for this criteria, when there is one."""
    if name == LOCAL:
        return LocalScorer(store.model(criteria.scoring_hash, LOCAL))
    raise ConfigError(f"unknown scorer '{name}'; available: {', '.join(SCORERS)}")
