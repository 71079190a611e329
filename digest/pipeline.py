"""One day for one subscription: fetch -> score -> rank -> Digest, stored and rendered."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cachetools import LRUCache

from digest.config import Settings
from digest.criteria import Criteria, default_criteria_path
from digest.day import Cutoffs, DayStatus, Digest, Entry, Usage
from digest.errors import FetchError
from digest.metrics import LLM_DOLLARS, LLM_TOKENS, SCORING_SECONDS
from digest.ours import close_to, pin
from digest.papers import SAMPLE_DAY, Paper, read_sample
from digest.papers.rss import feed_staleness, fetch_feeds, merge_feeds
from digest.prompt import build_prompt
from digest.ranking import (
    DayRanking,
    author_score,
    followed_in,
    listing_fingerprint,
    order,
    select,
)
from digest.scoring import Score, Scorer
from digest.scoring.learning import carry_labels, learn, llm_labels
from digest.store import Store
from digest.tldr import DEFAULT_LANGUAGE, add_tldrs, writer_for
from digest.work import LEASE, describe, once

ZERO = timedelta(0)
log = logging.getLogger(__name__)


@dataclass
class DayListing:
    """What arXiv announced on a day, or why there is nothing to score."""

    day: date
    status: DayStatus
    message: str
    papers: list[Paper] = field(default_factory=list)
    total_entries: int = 0
    empty_feeds: tuple[str, ...] = ()  # categories whose feed had no entry while others had


def sample_listing() -> DayListing:
    """The bundled real day (cs.LG + cs.AI, new and cross-listed, 2026-02-10)."""
    papers = read_sample()
    entries = sum(max(1, len(p.feeds)) for p in papers)
    return DayListing(
        date.fromisoformat(SAMPLE_DAY),
        DayStatus.BUILT,
        f"sample day {SAMPLE_DAY}: {entries} new and cross-listed entries, {len(papers)} papers",
        papers,
        entries,
    )


async def fetch_listing(
    settings: Settings,
    client: httpx.AsyncClient,
    expected: date | None = None,
    categories: tuple[str, ...] | None = None,
) -> DayListing:
    """Read today's RSS feeds; never raises for an empty, stale or unreachable feed."""
    arxiv = settings.arxiv
    categories = categories or arxiv.categories
    today = expected or date.today()
    try:
        feeds = await fetch_feeds(categories, client, base_url=arxiv.rss_url)
    except FetchError as exc:
        return DayListing(today, DayStatus.FETCH_FAILED, str(exc))
    dates = [f.pub_date for f in feeds if f.pub_date and f.entries]
    day = max(dates) if dates else today
    if not any(f.entries for f in feeds):
        cats = ", ".join(categories)
        return DayListing(
            day, DayStatus.NO_ANNOUNCEMENT, f"arXiv announced nothing today in {cats}"
        )
    stale = feed_staleness(feeds, expected)
    if stale:
        return DayListing(day, DayStatus.STALE_FEED, stale)
    listing = merge_feeds(feeds, keep=set(arxiv.announce_types))
    empty = [f.category for f in feeds if not f.entries]
    return DayListing(
        day,
        DayStatus.BUILT,
        f"{listing.total_entries} feed entries, {listing.unique} papers kept",
        list(listing.papers),
        listing.total_entries,
        tuple(empty),
    )


async def build_digest(
    store: Store,
    listing: DayListing,
    criteria: Criteria,
    scorer: Scorer,
    *,
    subscription: str = "default",
    cutoffs: Cutoffs = Cutoffs(),
    top_k: int = 0,
    no_repeats: bool = True,
    categories: tuple[str, ...] = (),
    lease: timedelta = LEASE,
    language: str = DEFAULT_LANGUAGE,
    ours: tuple[str, ...] | None = None,
    messages: Callable[[Digest], list[dict[str, Any]] | None] | None = None,
    done: tuple[str, str] | None = None,
) -> Digest:
    """Score what is not scored yet, rank, give each shown paper a TL;DR in `language`
    (digest.tldr), store the outcome; a re-run costs nothing.

    The scoring is claimed for `lease` (renewed while it runs): see `score_day`. `ours`: the
    subscription's own papers, when the caller has read the subscription (else they are
    read). `messages` gives the chat's messages of the digest (None: none), queued in the
    outbox with the digest in one transaction, which also ends the run's claim `done` (key,
    owner): see `Store.save_digest`.
    """
    base = Digest(
        day=listing.day,
        status=listing.status,
        message=listing.message,
        subscription=subscription,
        categories=categories,
        total_entries=listing.total_entries,
        scorer=scorer.name,
        cutoffs=cutoffs,
        criteria_text=criteria.to_text(),
        criteria_hash=criteria.hash,
        prompt=build_prompt(criteria),
    )
    if listing.status is not DayStatus.BUILT:
        await asyncio.to_thread(_save, store, base, None, [], messages, done)
        return base
    papers = listing.papers
    shown = (
        await asyncio.to_thread(store.shown_before, subscription, listing.day)
        if no_repeats
        else set()
    )
    ranking, fresh = await day_ranking(store, listing, criteria, scorer, lease)
    if ranking.id is None:  # built by this call: stored once, for every chat reading it
        ranking = await asyncio.to_thread(store.save_ranking, ranking)
    ids = _SAME_LISTING.get(papers, ("ids",), lambda: frozenset(p.id for p in papers))
    removed = {i for i in shown if i in ids}  # a chat's shown papers: fewer than the day's
    base.entries = cut(ranking, papers, cutoffs, top_k, removed)
    base.top_k = top_k
    base.unscored = ranking.unscored
    if ours != ():  # the chat's own papers (read when not given) lead: off the event loop
        base.entries = await asyncio.to_thread(
            _close_to_ours, store, subscription, base.entries, shown, ours
        )
    base.scanned = len(papers)
    base.already_shown = tuple(sorted(removed))
    base.usage = record_usage(store, subscription, fresh)
    base.entries, tldr_usage, tldr_note = await add_tldrs(
        store, base.entries, writer_for(scorer), language
    )
    if tldr_usage is not None:
        base.usage = [*base.usage, *record_usage_rows(store, subscription, [tldr_usage])]
    fell_back = _fell_back(ranking)
    unscored = len(ranking.unscored)
    base.notes = (
        *(f"the {cat} feed was empty today" for cat in listing.empty_feeds),
        *([f"{fell_back} papers were judged by the local scorer: the LLM failed on them"]
          if fell_back else []),
        *([f"{unscored} papers could not be scored"] if unscored else []),
        *([tldr_note] if tldr_note else []),
    )  # fmt: skip
    notes = [*getattr(scorer, "notes", []), *base.notes]
    base.message = "; ".join([f"{len(base.selected)} of {len(papers)} papers selected", *notes])
    # off the event loop: the worker's other runs go on while this one's commit waits
    shows = [e.paper.id for e in base.selected]
    await asyncio.to_thread(_save, store, base, ranking, shows, messages, done)
    return base


def _save(
    store: Store,
    digest: Digest,
    ranking: DayRanking | None,
    shown: list[str],
    messages: Callable[[Digest], list[dict[str, Any]] | None] | None,
    done: tuple[str, str] | None,
) -> None:
    """The digest stored with its shown papers, its messages (made here: a worker thread)
    and the end of its run's claim, in one transaction."""
    queued = messages(digest) if messages else None
    store.save_digest(digest, ranking, shown=shown, messages=queued, done=done)


def _close_to_ours(
    store: Store,
    subscription: str,
    entries: list[Entry],
    shown: set[str],
    ours_ids: tuple[str, ...] | None = None,
) -> list[Entry]:
    """Papers close to the subscription's own (`ours`) lead the digest, whatever their score."""
    if ours_ids is None:
        sub = store.subscription(subscription)
        ours_ids = sub.ours if sub is not None else ()
    ours = store.papers(list(ours_ids)) if ours_ids else []
    if not ours:
        return entries
    fresh = [e.paper for e in entries if e.paper.id not in shown]
    return pin(entries, close_to(fresh, ours, store))


def _fell_back(ranking: DayRanking) -> int:
    """How many of a ranking's papers the local scorer judged for a failed LLM: counted once
    per process for a stored ranking (this runs on the event loop, for every chat)."""
    if not ranking.key:
        return sum(p.score.fell_back for p in ranking.places)
    found = _FELL_BACK.get(ranking.key)
    if found is None:
        found = _FELL_BACK[ranking.key] = sum(p.score.fell_back for p in ranking.places)
    return found


_FELL_BACK: LRUCache[str, int] = LRUCache(512)  # a ranking's count is set by its content (key)


def cut(
    ranking: DayRanking, papers: list[Paper], cutoffs: Cutoffs, top_k: int, removed: set[str]
) -> list[Entry]:
    """A chat's entries from the day's ranking. Chats cutting a stored ranking alike (the
    same cutoffs, top-k and papers no-repeats removed) get equal entries: made once."""
    if not ranking.key:
        return select(list(ranking.places), {p.id: p for p in papers}, cutoffs, top_k, removed)
    key = (ranking.key, cutoffs, top_k, frozenset(removed))
    entries = _CUTS.get(key)
    if entries is None:
        by_id = {p.id: p for p in papers}
        entries = _CUTS[key] = tuple(select(list(ranking.places), by_id, cutoffs, top_k, removed))
    return list(entries)


# a day's distinct criteria (200 in benchmarks/scale.py) and a few cutoffs
_CUTS: LRUCache[tuple[str, Cutoffs, int, frozenset[str]], tuple[Entry, ...]] = LRUCache(512)


class _SameObject:
    """Values made from an object that is never changed once made (a day's listing, its
    papers), kept while that very object lives on: every chat's run asks for them again."""

    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self._items: LRUCache[tuple[int, tuple[Any, ...]], tuple[object, Any]] = LRUCache(size)

    def get(self, of: object, what: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        key = (id(of), what)
        with self._lock:
            found = self._items.get(key)
            if found is not None and found[0] is of:  # not another object at the same address
                return found[1]
        made = make()
        with self._lock:
            self._items[key] = (of, made)  # keeps `of` alive while kept: its id stays its own
        return made


_SAME_LISTING = _SameObject(32)  # the day's listing, its parts for the chats' categories: a few
# days of papers at most stay alive for it


async def learn_for_day(
    store: Store, criteria: Criteria, day: date, lease: timedelta = LEASE
) -> str:
    """Refit the criteria's local model from its labels once per announcement day, before the
    day is scored: every chat and worker then scores the day with the same model, so a re-run
    still finds its scores (and the LLM's) cached. Never raises: the digest comes first."""

    async def refit() -> dict[str, Any]:
        learned = await asyncio.to_thread(learn, store, criteria)
        return {"kept": learned.kept, "message": learned.message}

    key = f"learn:{criteria.scoring_hash}:{day}"
    seen = _LEARNED.setdefault(store, LRUCache(1024))
    if key in seen:  # this process saw it done: a done claim's result never changes
        return seen[key]
    try:
        done = await once(store, key, refit, lease)
    except Exception as exc:  # a learning bug must not cost anyone their digest
        log.exception("learning for criteria %s failed", criteria.scoring_hash)
        return f"learning failed: {describe(exc)}"
    seen[key] = message = str(done.get("message", ""))
    return message


# per store, the learn claims this process saw done and their messages: the chats after the
# first on a day ask the store nothing
_LEARNED: weakref.WeakKeyDictionary[Store, LRUCache[str, str]] = weakref.WeakKeyDictionary()


@dataclass
class Ranked:
    """A day's papers ranked under one criteria, and what it took."""

    entries: list[Entry]  # every scored paper, in digest order
    fresh: list[Score]  # scored by this call (it spent tokens); the rest came from the store
    unscored: list[Paper]  # no scorer could judge them


async def rank_day(
    store: Store,
    listing: DayListing,
    criteria: Criteria,
    scorer: Scorer,
    cutoffs: Cutoffs = Cutoffs(),
    top_k: int = 0,
    shown: set[str] | None = None,
    lease: timedelta = LEASE,
    keep_listing: bool = True,
) -> Ranked:
    """Score what is not scored yet, then rank as a digest does (followed authors first)."""
    ranking, fresh = await day_ranking(store, listing, criteria, scorer, lease, keep_listing)
    by_id = {p.id: p for p in listing.papers}
    entries = select(list(ranking.places), by_id, cutoffs, top_k, shown or set())
    return Ranked(entries, fresh, [by_id[i] for i in ranking.unscored])


async def day_ranking(
    store: Store,
    listing: DayListing,
    criteria: Criteria,
    scorer: Scorer,
    lease: timedelta = LEASE,
    keep_listing: bool = True,
) -> tuple[DayRanking, list[Score]]:
    """The listing ranked under the criteria by the scorer, and the scores this call made
    (which spent tokens). A ranking a build stored of the same papers, every one scored, is
    read back (nothing is scored or ranked again); else the day is scored (see `score_day`)
    and ranked, and the ranking is returned unstored (`id` None)."""
    papers = listing.papers
    fingerprint = _SAME_LISTING.get(
        papers, ("fingerprint",), lambda: listing_fingerprint(p.id for p in papers)
    )
    stored = await asyncio.to_thread(
        store.find_ranking, listing.day, criteria.hash, scorer.name, fingerprint
    )
    if stored is not None:
        return stored, []
    followed = followed_of(listing, criteria)
    scores, fresh = await score_day(
        store, listing, criteria, scorer, followed, lease, keep_listing=keep_listing
    )
    scores.update({p.id: author_score(p, followed[p.id]) for p in papers if p.id in followed})
    places = order([p for p in papers if p.id in scores], scores, followed)
    unscored = tuple(p.id for p in papers if p.id not in scores)
    text, prompt = criteria.to_text(), build_prompt(criteria)
    ranking = DayRanking(listing.day, criteria.hash, scorer.name, tuple(places), text, prompt,
                         unscored, fingerprint)  # fmt: skip
    return ranking, fresh


async def rank_ahead(
    store: Store, listing: DayListing, criteria: Criteria, scorer: Scorer, lease: timedelta = LEASE
) -> None:
    """Score and rank the listing under the criteria before any chat's build, and store the
    ranking: every build of it then reads it back (`day_ranking`). For a scorer that costs
    nothing: the tokens of one that does are counted to the chat whose build spent them."""
    ranking, _ = await day_ranking(store, listing, criteria, scorer, lease)
    if ranking.id is None:
        await asyncio.to_thread(store.save_ranking, ranking)


async def score_day(
    store: Store,
    listing: DayListing,
    criteria: Criteria,
    scorer: Scorer,
    followed: dict[str, str] | None = None,
    lease: timedelta = LEASE,
    *,
    keep_listing: bool = True,
) -> tuple[dict[str, Score], list[Score]]:
    """The day's scores under the criteria, and those scored by this call (which spent tokens).

    Papers scored before are read from the store. The rest are scored by one worker only:
    the build is claimed in the store, and other workers (or tasks) wait for it and read
    its scores. The papers are saved by the same claim, as the day's listing unless
    `keep_listing` is False (a file scored from the command line is not a day of arXiv).
    """
    to_score, scores, missing = await _stored(store, listing, criteria, scorer, followed or {})
    key = criteria.scoring_hash
    ids = [p.id for p in to_score]
    fresh: list[Score] = []
    if not missing:
        return scores, fresh

    async def build() -> dict[str, Any]:
        if keep_listing:
            await asyncio.to_thread(store.save_listing, listing.day, listing.papers)
        else:
            await asyncio.to_thread(store.save_papers, listing.papers)
        done = await asyncio.to_thread(store.scores, [p.id for p in missing], key, scorer.name)
        todo = [p for p in missing if p.id not in done]  # scored while this one waited
        if todo:
            started = time.perf_counter()
            fresh.extend(await scorer.score(todo, criteria))
            SCORING_SECONDS.labels(scorer.name).observe(time.perf_counter() - started)
        await asyncio.to_thread(store.save_scores, fresh, key, scorer.name)
        for judge, labels in llm_labels(fresh).items():  # what the LLM judged teaches `learn`
            await asyncio.to_thread(store.save_labels, key, labels, judge)
        return {"scored": len(fresh)}

    digest_of_ids = hashlib.sha256(" ".join(sorted(ids)).encode()).hexdigest()[:16]
    build_key = f"build:{listing.day}:{key}:{scorer.name}:{digest_of_ids}"
    # The claim makes concurrent builds wait for one another and share the result; once it
    # ends anyone may build again, so that papers a scorer could not score are tried again.
    await once(store, build_key, build, lease, final=lambda result: False, again_after=ZERO)
    scores.update(await asyncio.to_thread(store.scores, [p.id for p in missing], key, scorer.name))
    scores.update({s.paper_id: s for s in fresh})
    return scores, fresh


def followed_of(listing: DayListing, criteria: Criteria) -> dict[str, str]:
    """The day's papers by a followed author (id -> the author): ranked first, never scored."""
    return {p.id: a for p in listing.papers if (a := followed_in(p, criteria.authors))}


async def _stored(
    store: Store, listing: DayListing, criteria: Criteria, scorer: Scorer, followed: dict[str, str]
) -> tuple[list[Paper], dict[str, Score], list[Paper]]:
    """The papers the scorer judges (all but the followed authors'), the scores the store has
    for them under the criteria, and the papers it has none for."""
    to_score = [p for p in listing.papers if p.id not in followed]
    ids = [p.id for p in to_score]
    scores = await asyncio.to_thread(store.scores, ids, criteria.scoring_hash, scorer.name)
    return to_score, scores, [p for p in to_score if p.id not in scores]


@dataclass
class Plan:
    """What building a day's digest would score, and what it would cost (`run --dry-run`)."""

    followed: dict[str, str]  # paper id -> followed author: ranked first, never scored
    cached: dict[str, Score]  # scored before, read from the store
    todo: list[Paper]  # still to score
    estimate: str  # the scorer's one line on `todo`: papers, tokens, cost
    tldrs: str = ""  # the one line on the digest's TL;DR request: papers, tokens, cost
    cost: float | None = 0.0  # dollars, scoring and TL;DRs; None when a model has no price


# The share of its day's papers the reference digest of 2026-02-10 showed (82 of 692): how many
# TL;DRs a dry run expects when neither digest.top_k nor an earlier digest says.
REFERENCE_SHARE = 82 / 692


async def plan_day(
    store: Store,
    listing: DayListing,
    criteria: Criteria,
    scorer: Scorer,
    *,
    subscription: str = "default",
    top_k: int = 0,
    language: str = DEFAULT_LANGUAGE,
) -> Plan:
    """What `build_digest` would score of the day, by the same split, without scoring it, and
    what its TL;DR request would cost: no tokens are spent, no LLM is called and no digest is
    stored."""
    from digest.scoring.cascade import dollars, dry_run_line, estimate_scoring  # imports openai

    followed = followed_of(listing, criteria)
    _, cached, todo = await _stored(store, listing, criteria, scorer, followed)
    scoring = await estimate_scoring(scorer, todo, criteria, store)
    writer = writer_for(scorer)
    if writer is None:
        tldrs = "TL;DRs: lines from the abstract (no LLM), no tokens, $0.00"
        return Plan(followed, cached, todo, dry_run_line(scorer, scoring, len(todo)), tldrs)
    count, why = _tldrs_asked(
        store, listing, subscription, top_k, len(followed), language, writer.model
    )
    history = store.completion_per_tldr(writer.model)
    request = await asyncio.to_thread(writer.plan, listing.papers, count, language, history)
    costs = [e.cost for e in (scoring, request) if e is not None]
    cost = None if None in costs else sum(c for c in costs if c is not None)
    line = f"TL;DR request {why}: {request.line(writer.model)}"
    total = "unknown (a model has no price)" if cost is None else dollars(cost)
    line += f"\nthe day's LLM cost: about {total}"
    return Plan(followed, cached, todo, dry_run_line(scorer, scoring, len(todo)), line, cost)


def _tldrs_asked(
    store: Store, listing: DayListing, subscription: str, top_k: int, followed: int, language: str,
    model: str,
) -> tuple[int, str]:  # fmt: skip
    """How many papers the digest's TL;DR request would ask for, and why that many: a re-run
    asks for those of the day's digest without one; else digest.top_k (and followed authors'
    papers), else as many as the latest digest showed, else REFERENCE_SHARE of the day."""
    built = store.digest(subscription, listing.day)
    if built is not None and built.selected:
        shown = [e.paper.id for e in built.selected]
        count = len(shown) - len(store.tldrs(shown, language, model))
        why = f"(the day's digest shows {len(shown)} papers, {count} without one in {language})"
        return count, why
    if top_k:
        n = top_k + followed
        return n, f"(at most digest.top_k {top_k} and {followed} papers by followed authors)"
    latest = store.digest(subscription)
    if latest is not None and latest.selected:
        n = len(latest.selected)
        return n, f"(as many papers as the latest digest, of {latest.day}, showed)"
    n = round(REFERENCE_SHARE * len(listing.papers))
    return n, "(no digest yet: the share of the day the reference digest showed, 82 of 692)"


def label_reference(
    store: Store,
    criteria: Criteria,
    papers: list[Paper],
    chosen: set[str],
    source: str,
    day: date | None = None,
) -> dict[str, float]:
    """A reference digest's selection as labels that `learn` fits: 1.0 for each paper it chose,
    0.0 for the rest of the listing it chose from. The papers are saved as `day`'s listing,
    or (without a day: a file given on the command line) as papers only."""
    if day is None:
        store.save_papers(papers)
    else:
        store.save_listing(day, papers)
    labels = {p.id: float(p.id in chosen) for p in papers}
    store.save_labels(criteria.scoring_hash, labels, source)
    return labels


def record_usage(store: Store, subscription: str, fresh: list[Score]) -> list[Usage]:
    """What the fresh scores cost, per judge, added to today's spend (`usage`, the budget)."""
    return record_usage_rows(store, subscription, usage_of(fresh))


def record_usage_rows(store: Store, subscription: str, usage: list[Usage]) -> list[Usage]:
    """Add each model's tokens and cost to today's spend (`usage`, the budget, the metrics)."""
    for u in usage:
        store.record_usage(datetime.now(UTC).date(), subscription, u)
        if u.total_tokens:  # the metrics count what was spent, as the store does
            for kind, n in (("prompt", u.prompt_tokens), ("cached", u.cached_tokens),
                            ("completion", u.completion_tokens),
                            ("reasoning", u.reasoning_tokens)):  # fmt: skip
                LLM_TOKENS.labels(u.model, kind).inc(n)
            if u.cost is not None:
                LLM_DOLLARS.labels(u.model).inc(u.cost)
    return usage


def usage_of(fresh: list[Score]) -> list[Usage]:
    """Tokens and cost this run spent, per judge (none on a cached re-run)."""
    by_judge: dict[str, list[Score]] = {}
    for s in fresh:
        by_judge.setdefault(s.scorer, []).append(s)
    return [
        Usage(
            model=judge,
            prompt_tokens=sum(s.prompt_tokens for s in scores),
            cached_tokens=sum(s.cached_tokens for s in scores),
            completion_tokens=sum(s.completion_tokens for s in scores),
            reasoning_tokens=sum(s.reasoning_tokens for s in scores),
            cost=None if any(s.cost is None for s in scores) else sum(s.cost or 0 for s in scores),
        )
        for judge, scores in sorted(by_judge.items())
    ] or [Usage(model="none (all scores cached)")]


def for_categories(listing: DayListing, categories: tuple[str, ...]) -> DayListing:
    """The part of a day's listing a subscription reads (its categories only); chats reading
    the same categories of the same listing get the same part (made once)."""
    return _SAME_LISTING.get(listing, ("categories", tuple(categories)),
                             lambda: _for_categories(listing, categories))  # fmt: skip


def _for_categories(listing: DayListing, categories: tuple[str, ...]) -> DayListing:
    wanted = set(categories)
    papers = [p for p in listing.papers if wanted & (set(p.feeds) or set(p.categories))]
    entries = sum(len(wanted & set(p.feeds)) or 1 for p in papers)
    empty = tuple(c for c in listing.empty_feeds if c in wanted)
    return DayListing(listing.day, listing.status, listing.message, papers, entries, empty)


def change_criteria(
    store: Store, subscription: str, new: Criteria, who: str, seed: str | Path | None = None
) -> tuple[int, str]:
    """Store `new` as the subscription's next criteria version (the same text: the version it
    has), and give it the labels of the old version that its unchanged topics still decide.
    Returns the version, and what became of those labels ("" when nothing to say)."""
    _, old = current_criteria(store, subscription, seed)
    version = store.save_criteria(subscription, new.to_text(), new.hash, who)
    return version, carry_labels(store, old, new)


def current_criteria(
    store: Store, subscription: str, seed: str | Path | None = None, *, save_seed: bool = True
) -> tuple[int, Criteria]:
    """A subscription's latest criteria version; the first call stores version 1 from `seed`
    (a criteria file, `digest.criteria`) or the bundled default. Only explicit changes write
    later versions: chat commands and `paperdigest criteria set`. With `save_seed` False (a
    dry run) the seed is read but not stored: version 0."""
    latest = store.latest_criteria(subscription)
    if latest is None:
        first = Criteria.load(Path(seed) if seed else default_criteria_path())
        if not save_seed:
            return 0, first
        store.save_criteria(subscription, first.to_text(), first.hash, "seed")
        latest = store.latest_criteria(subscription)
        assert latest is not None  # just saved
    version, _, text = latest
    return version, _parsed(text, f"criteria v{version} of {subscription}")


@functools.lru_cache(maxsize=1024)  # every chat's run reads its criteria: parsed once each
def _parsed(text: str, source: str) -> Criteria:
    return Criteria.parse(text, source=source)
