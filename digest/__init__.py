"""paperdigest's engine: an arXiv day becomes a scored, ranked digest. Knows nothing of chat."""

from digest.config import Settings, load_settings
from digest.criteria import Criteria, Topic
from digest.day import Cutoffs, DayStatus, Digest, Entry, Usage
from digest.errors import (
    ConfigError,
    CriteriaError,
    DigestError,
    FeedParseError,
    FetchError,
    NotFoundError,
    ReferenceFormatError,
    ScoringError,
)
from digest.papers import Paper
from digest.pipeline import DayListing, build_digest, fetch_listing, sample_listing
from digest.scoring import Score, Scorer
from digest.store import Store

__all__ = [
    "ConfigError",
    "Criteria",
    "CriteriaError",
    "Cutoffs",
    "DayListing",
    "DayStatus",
    "Digest",
    "DigestError",
    "Entry",
    "FeedParseError",
    "FetchError",
    "NotFoundError",
    "Paper",
    "ReferenceFormatError",
    "Score",
    "Scorer",
    "ScoringError",
    "Settings",
    "Store",
    "Topic",
    "Usage",
    "build_digest",
    "fetch_listing",
    "load_settings",
    "sample_listing",
]
