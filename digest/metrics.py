"""The service's counters, for Prometheus (`GET /metrics` in `serve`).

One registry of this process, so a scrape shows only paperdigest's own series. Each metric
below is moved by the code that does the work it counts; `serve` exposes them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)
# the classic text format, which every Prometheus reads (what generate_latest writes)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

DIGESTS = Counter(
    "paperdigest_digests", "Chat digests built, by the day's status (built, no announcement, "
    "stale feed, fetch failed).", ["status"], registry=REGISTRY,
)  # fmt: skip
MESSAGES = Counter(
    "paperdigest_messages", "Outbox messages by platform and outcome: sent; deferred (the "
    "platform asked to wait or failed for now: tried again later); error (an unexpected "
    "error: tried again a minute later); failed (the chat is unavailable, or the platform "
    "failed every attempt: not tried again).",
    ["platform", "outcome"], registry=REGISTRY,
)  # fmt: skip
CLAIMS_TAKEN_OVER = Counter(
    "paperdigest_claims_taken_over", "Claims taken over after their worker died: an outbox "
    "message mid-send (looked up or sent again; work=message, by platform), a digest build "
    "(work=build), a chat's daily run (work=run), another shared step (work=its kind).",
    ["work", "platform"], registry=REGISTRY,
)  # fmt: skip
COMMAND_SECONDS = Histogram(
    "paperdigest_command_seconds", "Time to answer a chat command or question.",
    ["platform"], registry=REGISTRY, buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)  # fmt: skip
COMMAND_FAILURES = Counter(
    "paperdigest_command_failures", "Commands that failed on our side, by cause (store, "
    "platform, bug).", ["platform", "cause"], registry=REGISTRY,
)  # fmt: skip
LLM_TOKENS = Counter(
    "paperdigest_llm_tokens", "LLM tokens spent scoring, by model and kind: prompt, cached "
    "(part of prompt), completion, reasoning (part of completion).", ["model", "kind"],
    registry=REGISTRY,
)  # fmt: skip
LLM_DOLLARS = Counter(
    "paperdigest_llm_dollars", "LLM dollars spent scoring, by model (priced models only).",
    ["model"], registry=REGISTRY,
)  # fmt: skip
SCORING_SECONDS = Histogram(
    "paperdigest_scoring_seconds", "Time a scorer took on one batch of unscored papers.",
    ["scorer"], registry=REGISTRY, buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600),
)  # fmt: skip
STORE_ERRORS = Counter(
    "paperdigest_store_errors", "Times the store could not be reached, by where it was "
    "noticed (command, healthz, status, schedule, outbox).", ["where"], registry=REGISTRY,
)  # fmt: skip


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE


class Metrics:
    """Every series by name, and the scrape: what the front ends use (`digest.METRICS`)."""

    DIGESTS = DIGESTS
    MESSAGES = MESSAGES
    CLAIMS_TAKEN_OVER = CLAIMS_TAKEN_OVER
    COMMAND_SECONDS = COMMAND_SECONDS
    COMMAND_FAILURES = COMMAND_FAILURES
    LLM_TOKENS = LLM_TOKENS
    LLM_DOLLARS = LLM_DOLLARS
    SCORING_SECONDS = SCORING_SECONDS
    STORE_ERRORS = STORE_ERRORS
    exposition = staticmethod(exposition)


METRICS = Metrics()
