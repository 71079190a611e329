"""Build the configured scorer for a criteria: local, llm, or the cascade of both."""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
from cachetools import LRUCache

from digest.config import Settings, load_secrets
from digest.criteria import Criteria
from digest.errors import ConfigError
from digest.examples import KIND as EXAMPLE
from digest.examples import vectors as examples_of  # the chats' `like` examples
from digest.scoring import Scorer
from digest.scoring.learning import day_share
from digest.scoring.local import NAME as LOCAL
from digest.scoring.local import LocalScorer
from digest.store import Store

if TYPE_CHECKING:
    import openai


def resolve(name: str, env: Mapping[str, str] | None = None) -> str:
    """`auto` is the cascade when OPENAI_API_KEY is set, else the local scorer."""
    if name == "auto":
        return "cascade" if load_secrets(env).openai_api_key else LOCAL
    return name


def make_scorer(
    name: str,
    store: Store,
    criteria: Criteria,
    settings: Settings,
    env: Mapping[str, str] | None = None,
) -> Scorer:
    """The local scorer uses the model learned for this criteria, when there is one, and
    keeps paper embeddings in the store."""
    name = resolve(name, env)
    local = local_scorer(store, criteria)
    if name == LOCAL:
        return local
    if name not in ("llm", "cascade"):
        raise ConfigError(f"unknown scorer '{name}'; available: auto, local, llm, cascade")
    if not load_secrets(env).openai_api_key:
        raise ConfigError(
            f"the {name} scorer needs OPENAI_API_KEY (and OPENAI_BASE_URL for a server other "
            "than OpenAI); without it, use --scorer local"
        )
    from digest.scoring.cascade import CascadeScorer
    from digest.scoring.llm import LLMScorer

    llm = LLMScorer(
        _client(settings, env),
        settings.llm.model,
        batch_size=settings.llm.batch_size,
        concurrency=settings.llm.concurrency,
        prices=dict(settings.llm.prices),
        fallback=local,
        abstract_words=(settings.llm.abstract_words or None) if name == "cascade" else None,
        reasoning_effort=settings.llm.reasoning_effort or None,
        max_completion_tokens=settings.llm.max_completion_tokens or None,
        daily_budget=settings.llm.daily_budget,
    )
    if name == "llm":
        return llm
    budget = settings.llm.daily_budget
    left = budget - store.spent(datetime.now(UTC).date()) if budget else None
    model = local.model
    cut = None
    if model is not None and "calibration" in model:  # each day's share, from its papers

        def cut(raw: np.ndarray) -> float:
            return cascade_fraction(settings, model, raw)

    return CascadeScorer(local, llm, cascade_fraction(settings, model), store, left, cut)


def local_scorer(store: Store, criteria: Criteria) -> LocalScorer:
    """The criteria's local scorer: its learned model, else its wanted examples (`like`).

    Made once per process for what it reads: every chat's run asks the store only when the
    model was learned and which papers are wanted examples (one short read), and makes the
    scorer again (the model and the examples' embeddings read anew) when either changed, so a
    `learn`, a rating that a refit learns from, a `like` or an `unlike` is in the next run."""
    key = (criteria.scoring_hash, *store.scorer_inputs(criteria.scoring_hash, LOCAL, f"{EXAMPLE}:"))
    with _LOCK:
        kept = _LOCAL_SCORERS.setdefault(store, LRUCache(_KEPT))
        found = kept.get(key)
    if found is not None:
        return found
    model = store.model(criteria.scoring_hash, LOCAL)
    wanted = examples_of(store, criteria) if model is None else None  # learned: among labels
    made = LocalScorer(model, vectors=store, examples=wanted)
    with _LOCK:  # made from reads at least as new as the key's: never older than it says
        kept[key] = made
    return made


_KEPT = 1024  # local scorers a process keeps per store: a day's distinct criteria and more
_LOCK = threading.Lock()  # runs make scorers in worker threads
_LOCAL_SCORERS: weakref.WeakKeyDictionary[Store, LRUCache[tuple[object, ...], LocalScorer]] = (
    weakref.WeakKeyDictionary()
)


def cascade_fraction(
    settings: Settings, model: dict | None, raw: np.ndarray | None = None
) -> float:
    """The share of a day the cascade sends the LLM: the configured one until a learned model
    is calibrated (learning.cascade_share), then the smallest top share of the day's papers
    (scored `raw` by the model) that keeps RECALL of the day's expected picks
    (learning.day_share); without `raw`, the share of the latest judged day. Never above the
    configured share nor below the floor; in whole percents, rounded up."""
    configured, floor = settings.scoring.cascade_fraction, settings.scoring.cascade_floor
    model = model or {}
    calibration = model.get("calibration")
    if calibration is None:
        return configured
    share = model["share"] if raw is None else day_share(calibration, raw)
    fraction = min(configured, max(floor, float(share)))
    return math.ceil(round(fraction * 100, 6)) / 100


def _client(settings: Settings, env: Mapping[str, str] | None) -> openai.AsyncOpenAI:
    import openai

    secrets = load_secrets(env)
    return openai.AsyncOpenAI(
        api_key=secrets.openai_api_key,
        base_url=secrets.openai_base_url or None,
        timeout=settings.llm.timeout,
        max_retries=settings.llm.max_retries,
    )
