"""paperdigest's engine: an arXiv day becomes a scored, ranked digest. Knows nothing of chat.

These names are its public surface: `bot/` imports them from here, never from a submodule
(tests/test_imports.py checks). The few that pull in a heavy library (openai, arxiv) are
imported on first use, so that `import digest` stays quick for the command line.
"""

import importlib as _importlib
import typing as _typing

from digest.config import DEFAULTS, Secrets, Settings, load_secrets, load_settings, secret_values
from digest.criteria import Criteria, Topic
from digest.day import Cutoffs, DayStatus, Digest, Entry, Usage
from digest.errors import (
    ChatMoved,
    ChatUnavailable,
    ConfigError,
    CriteriaError,
    DeliveryError,
    DigestError,
    FeedParseError,
    FetchError,
    NotFoundError,
    ReferenceFormatError,
    RetryLater,
    ScoringError,
    UsageError,
    clip,
)
from digest.evaluation import (
    ReferencePaper,
    day_of,
    evaluate,
    listings_in_date_order,
    read_labels,
    read_reference,
)
from digest.examples import Fetched
from digest.examples import add as add_examples
from digest.examples import by_author as papers_by_author
from digest.examples import embed_papers as embedding_of
from digest.examples import of_chat as chat_examples
from digest.examples import papers_for as example_papers
from digest.examples import parse_ids as parse_example_ids
from digest.examples import remove as remove_examples
from digest.examples import vectors as example_vectors
from digest.explain import deep_explain, explain  # here `explain` is the function
from digest.library import MAX_BYTES as BIB_MAX_BYTES
from digest.library import MAX_ENTRIES as BIB_MAX_ENTRIES
from digest.library import BibFile, parse_bib
from digest.library import resolve as resolve_library
from digest.metrics import METRICS
from digest.ours import THRESHOLD as OURS_THRESHOLD
from digest.ours import close_to, pin
from digest.ours import line as close_line
from digest.papers import Paper, dump_paper, read_listing, split_id
from digest.pipeline import (
    DayListing,
    build_digest,
    change_criteria,
    current_criteria,
    fetch_listing,
    for_categories,
    label_reference,
    learn_for_day,
    plan_day,
    rank_ahead,
    rank_day,
    record_usage,
    sample_listing,
    score_day,
)
from digest.ranking import AUTHOR_MATCH, same_author
from digest.render import write_outputs
from digest.retention import prune_day
from digest.scoring import Score, Scorer, finish
from digest.scoring.embedding import lend as lend_embeddings
from digest.scoring.embedding import reporting as embedding_progress
from digest.scoring.factory import make_scorer
from digest.scoring.factory import resolve as resolve_scorer
from digest.scoring.learning import label_counts, learn, share_for
from digest.scoring.local import LocalScorer
from digest.search import recent_days, search  # and `search` too, not their modules
from digest.status import status_report
from digest.store import OPEN, Claim, PaceRate, PaceSlot, Store, backup_store, store_unreachable
from digest.subscriptions import (
    Subscription,
    arxiv_categories,
    check_categories,
    check_timezone,
    parse_time,
    subscription_id,
)
from digest.tldr import (
    EXTRACTIVE,
    EXTRACTIVE_LABEL,
    TLDR_LABEL,
    check_language,
    extractive,
    language_name,
)
from digest.work import LEASE, WORKER, describe, once, owner, renewed
from digest.zotero import USAGE as ZOTERO_USAGE
from digest.zotero import Synced, check_collection, check_library
from digest.zotero import run as sync_zotero
from digest.zotero import stop as stop_zotero

if _typing.TYPE_CHECKING:
    from digest.papers.export_api import default_client, fetch_range
    from digest.scoring.llm import LLMScorer, create_completion

_LAZY = {  # name -> its module, imported on first use: each pulls in a heavy library
    "LLMScorer": "digest.scoring.llm",  # openai
    "create_completion": "digest.scoring.llm",
    "default_client": "digest.papers.export_api",  # arxiv, requests
    "fetch_range": "digest.papers.export_api",
}


def __getattr__(name: str) -> object:
    """A lazy name (PEP 562): imported once, then bound here like the others."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "AUTHOR_MATCH",
    "BIB_MAX_BYTES",
    "BIB_MAX_ENTRIES",
    "DEFAULTS",
    "EXTRACTIVE",
    "EXTRACTIVE_LABEL",
    "LEASE",
    "METRICS",
    "OPEN",
    "OURS_THRESHOLD",
    "TLDR_LABEL",
    "WORKER",
    "ZOTERO_USAGE",
    "BibFile",
    "ChatMoved",
    "ChatUnavailable",
    "Claim",
    "ConfigError",
    "Criteria",
    "CriteriaError",
    "Cutoffs",
    "DayListing",
    "DayStatus",
    "DeliveryError",
    "Digest",
    "DigestError",
    "Entry",
    "FeedParseError",
    "FetchError",
    "Fetched",
    "LLMScorer",
    "LocalScorer",
    "NotFoundError",
    "PaceRate",
    "PaceSlot",
    "Paper",
    "ReferenceFormatError",
    "ReferencePaper",
    "RetryLater",
    "Score",
    "Scorer",
    "ScoringError",
    "Secrets",
    "Settings",
    "Store",
    "Subscription",
    "Synced",
    "Topic",
    "Usage",
    "UsageError",
    "add_examples",
    "arxiv_categories",
    "backup_store",
    "build_digest",
    "change_criteria",
    "chat_examples",
    "check_categories",
    "check_collection",
    "check_language",
    "check_library",
    "check_timezone",
    "clip",
    "close_line",
    "close_to",
    "create_completion",
    "current_criteria",
    "day_of",
    "deep_explain",
    "default_client",
    "describe",
    "dump_paper",
    "embedding_of",
    "embedding_progress",
    "evaluate",
    "example_papers",
    "example_vectors",
    "explain",
    "extractive",
    "fetch_listing",
    "fetch_range",
    "finish",
    "for_categories",
    "label_counts",
    "label_reference",
    "language_name",
    "learn",
    "learn_for_day",
    "lend_embeddings",
    "listings_in_date_order",
    "load_secrets",
    "load_settings",
    "make_scorer",
    "once",
    "owner",
    "papers_by_author",
    "parse_bib",
    "parse_example_ids",
    "parse_time",
    "pin",
    "plan_day",
    "prune_day",
    "rank_ahead",
    "rank_day",
    "read_labels",
    "read_listing",
    "read_reference",
    "recent_days",
    "record_usage",
    "remove_examples",
    "renewed",
    "resolve_library",
    "resolve_scorer",
    "same_author",
    "sample_listing",
    "score_day",
    "search",
    "secret_values",
    "share_for",
    "split_id",
    "status_report",
    "stop_zotero",
    "store_unreachable",
    "subscription_id",
    "sync_zotero",
    "write_outputs",
]
