"""Criteria versions, scores, labels, learned models, explanations and LLM usage."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, select

from digest.day import Usage
from digest.scoring import FALLBACK_PREFIX, Score
from digest.store._base import StoreBase, chunks, now
from digest.store.models import (
    CriteriaRow,
    ExplanationRow,
    LabelRow,
    ListingRow,
    ModelRow,
    ScoreRow,
    TldrRow,
    UsageRow,
)

_SCORE_FIELDS = (
    "paper_id", "relevance", "novelty", "comment", "matched", "scorer", "raw",
    "prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens", "cost",
)  # fmt: skip


class ScoreStore(StoreBase):
    # criteria
    def save_criteria(
        self, subscription: str, text: str, hash_: str, author: str | None = None
    ) -> int:
        """Store a new version unless it equals the latest; returns the version number."""
        while True:
            with self.session() as s, s.begin():
                latest = s.scalars(
                    select(CriteriaRow)
                    .where(CriteriaRow.subscription == subscription)
                    .order_by(CriteriaRow.version.desc())
                    .limit(1)
                ).first()
                if latest and latest.hash == hash_:
                    return latest.version
                version = latest.version + 1 if latest else 1
                row = {"subscription": subscription, "version": version, "hash": hash_,
                       "text": text, "author": author, "created_at": now()}  # fmt: skip
                if self.insert_new(s, CriteriaRow, [row], ["subscription", "version"]):
                    return version
            # another process saved that version first: compare with it again

    def latest_criteria(self, subscription: str) -> tuple[int, str, str] | None:
        """(version, hash, text) of the subscription's latest criteria; None before any."""
        with self.reading() as c:  # Core: a read of one row needs no ORM session
            found = c.execute(_LATEST_CRITERIA, {"subscription": subscription}).first()
        return None if found is None else (found.version, found.hash, found.text)

    def criteria_hashes(self) -> dict[str, str]:
        """Every subscription's latest criteria hash, in one read."""
        latest = (
            select(CriteriaRow.subscription, func.max(CriteriaRow.version).label("version"))
            .group_by(CriteriaRow.subscription)
            .subquery()
        )
        q = select(CriteriaRow.subscription, CriteriaRow.hash).join(
            latest,
            (CriteriaRow.subscription == latest.c.subscription)
            & (CriteriaRow.version == latest.c.version),
        )
        with self.reading() as c:
            return {row.subscription: row.hash for row in c.execute(q)}

    def criteria_versions(self, subscription: str) -> list[tuple[int, str, str]]:
        """(version, hash, text), oldest first."""
        with self.session() as s:
            rows = s.scalars(
                select(CriteriaRow)
                .where(CriteriaRow.subscription == subscription)
                .order_by(CriteriaRow.version)
            )
            return [(r.version, r.hash, r.text) for r in rows]

    # scores
    def scores(self, paper_ids: Iterable[str], criteria_hash: str, scorer: str) -> dict[str, Score]:
        ids = list(paper_ids)
        out: dict[str, Score] = {}
        with self.reading() as c:  # Core: a day's rows, no ORM objects
            for chunk in chunks(ids, 500):
                rows = c.execute(
                    select(*ScoreRow.__table__.c).where(
                        ScoreRow.paper_id.in_(chunk),
                        ScoreRow.criteria_hash == criteria_hash,
                        ScoreRow.key == scorer,
                    )
                )
                out.update({r.paper_id: _score(r) for r in rows})
        return out

    def save_scores(
        self, scores: Iterable[Score], criteria_hash: str, scorer: str | None = None
    ) -> None:
        """Insert scores not stored yet: one per (paper, criteria, scorer).

        `scorer` is the cache key (the pipeline's scorer, e.g. a cascade); each Score keeps
        the name of what judged it. Without `scorer`, the judge is the key.
        """
        rows = [
            {"criteria_hash": criteria_hash, "key": scorer or sc.scorer, "created_at": now(),
             **{f: getattr(sc, f) for f in _SCORE_FIELDS}}
            for sc in scores
        ]  # fmt: skip
        if rows:
            with self.session() as s, s.begin():
                self.insert_ignore(s, ScoreRow, rows, ["paper_id", "criteria_hash", "key"])

    # learning
    def save_labels(self, criteria_hash: str, labels: dict[str, float], source: str) -> None:
        rows = [
            {"paper_id": pid, "criteria_hash": criteria_hash, "label": label, "source": source}
            for pid, label in labels.items()
        ]
        if rows:
            with self.session() as s, s.begin():
                self.upsert(s, LabelRow, rows, ["paper_id", "criteria_hash", "source"])

    def delete_labels(self, criteria_hash: str, paper_ids: Iterable[str], source: str) -> int:
        """Forget one source's labels of these papers for the criteria; how many there were."""
        ids = list(paper_ids)
        with self.session() as s, s.begin():
            rows = s.scalars(
                select(LabelRow).where(
                    LabelRow.criteria_hash == criteria_hash,
                    LabelRow.source == source,
                    LabelRow.paper_id.in_(ids),
                )
            ).all()
            for row in rows:
                s.delete(row)
            return len(rows)

    def labels(self, criteria_hash: str) -> dict[str, float]:
        """Every label for the criteria; a later source overrides an earlier one."""
        with self.session() as s:
            rows = s.scalars(
                select(LabelRow)
                .where(LabelRow.criteria_hash == criteria_hash)
                .order_by(LabelRow.id)
            )
            return {r.paper_id: r.label for r in rows}

    def label_rows(self, criteria_hash: str) -> list[tuple[str, float, str]]:
        """(paper id, label, source) of every label for the criteria, oldest first."""
        with self.session() as s:
            rows = s.execute(
                select(LabelRow.paper_id, LabelRow.label, LabelRow.source)
                .where(LabelRow.criteria_hash == criteria_hash)
                .order_by(LabelRow.id)
            )
            return [(p, float(v), src) for p, v, src in rows]

    def labelled_days(self, criteria_hash: str, source_prefix: str) -> list[date]:
        """The listed days holding a paper labelled by such a source, oldest first."""
        with self.session() as s:
            return list(
                s.scalars(
                    select(ListingRow.day)
                    .join(LabelRow, LabelRow.paper_id == ListingRow.paper_id)
                    .where(
                        LabelRow.criteria_hash == criteria_hash,
                        LabelRow.source.startswith(source_prefix, autoescape=True),
                    )
                    .distinct()
                    .order_by(ListingRow.day)
                )
            )

    def save_model(self, criteria_hash: str, scorer: str, params: dict[str, Any]) -> None:
        row = {"criteria_hash": criteria_hash, "scorer": scorer, "params": params,
               "created_at": now()}  # fmt: skip
        with self.session() as s, s.begin():
            self.upsert(s, ModelRow, [row], ["criteria_hash", "scorer"])

    def model(self, criteria_hash: str, scorer: str) -> dict[str, Any] | None:
        with self.session() as s:
            row = s.scalars(
                select(ModelRow).where(
                    ModelRow.criteria_hash == criteria_hash, ModelRow.scorer == scorer
                )
            ).first()
            return dict(row.params) if row else None

    def scorer_inputs(
        self, criteria_hash: str, scorer: str, wanted_prefix: str
    ) -> tuple[datetime | None, tuple[str, ...]]:
        """What a scorer made for the criteria reads, in one session: when its model was
        learned (None: no model) and, without a model, the papers labelled wanted (>= 0.5) by
        sources starting with `wanted_prefix`, oldest label first (else none). Equal inputs
        make an equal scorer: a process keeps it while they stay equal."""
        given = {"criteria_hash": criteria_hash, "scorer": scorer}
        with self.reading() as c:  # Core: two short reads, one connection
            learned = c.scalars(_LEARNED_AT, given).first()
            if learned is not None:
                return learned, ()
            wanted = c.scalars(_wanted(wanted_prefix), {"criteria_hash": criteria_hash})
            return None, tuple(dict.fromkeys(wanted))

    # explanations (`why --deep`)
    def explanation(self, paper_id: str, criteria_hash: str, model: str) -> str | None:
        with self.session() as s:
            return s.scalars(
                select(ExplanationRow.text).where(
                    ExplanationRow.paper_id == paper_id,
                    ExplanationRow.criteria_hash == criteria_hash,
                    ExplanationRow.model == model,
                )
            ).first()

    def save_explanation(self, paper_id: str, criteria_hash: str, model: str, text: str) -> None:
        row = {"paper_id": paper_id, "criteria_hash": criteria_hash, "model": model, "text": text}
        with self.session() as s, s.begin():
            self.insert_ignore(s, ExplanationRow, [row], ["paper_id", "criteria_hash", "model"])

    # TL;DRs (digest.tldr)
    def tldrs(self, paper_ids: Iterable[str], language: str, model: str) -> dict[str, str]:
        """The TL;DRs stored for these papers in this language by this model."""
        out: dict[str, str] = {}
        with self.session() as s:
            for chunk in chunks(list(paper_ids), 500):
                rows = s.execute(
                    select(TldrRow.paper_id, TldrRow.text).where(
                        TldrRow.paper_id.in_(chunk),
                        TldrRow.language == language,
                        TldrRow.model == model,
                    )
                )
                out.update({pid: text for pid, text in rows})
        return out

    def save_tldrs(self, texts: dict[str, str], language: str, model: str) -> None:
        rows = [
            {"paper_id": pid, "language": language, "model": model, "text": text,
             "created_at": now()}
            for pid, text in texts.items()
        ]  # fmt: skip
        if rows:
            with self.session() as s, s.begin():
                self.insert_ignore(s, TldrRow, rows, ["paper_id", "language", "model"])

    # accounting
    def completion_per_paper(self, scorer: str, last: int = 2000) -> tuple[float, int] | None:
        """Mean completion tokens (reasoning included) per paper over the latest `last` papers
        `scorer` judged itself, and how many that is; None before it judged any."""
        with self.session() as s:
            rows = s.scalars(
                select(ScoreRow.completion_tokens)
                .where(
                    ScoreRow.key == scorer,  # each paper once: its own cache, not a cascade's
                    ScoreRow.scorer == scorer,
                    ~ScoreRow.comment.startswith(FALLBACK_PREFIX),
                )
                .order_by(ScoreRow.id.desc())
                .limit(last)
            ).all()
        return (sum(rows) / len(rows), len(rows)) if rows else None

    def completion_per_tldr(self, model: str) -> tuple[float, int] | None:
        """Mean completion tokens (reasoning included) per TL;DR `model` wrote for this store,
        and how many TL;DRs that is: the usage of its TL;DR requests over the TL;DRs kept since
        the first of them (a request whose answer was unusable counts, so it errs high); None
        before it wrote any."""
        with self.session() as s:
            spent, first = s.execute(
                select(func.sum(UsageRow.completion_tokens), func.min(UsageRow.day)).where(
                    UsageRow.model == f"tldr:{model}"
                )
            ).one()
            if first is None:
                return None
            since = datetime.combine(first, time(), tzinfo=UTC)
            written = s.scalar(
                select(func.count(TldrRow.id)).where(
                    TldrRow.model == model, TldrRow.created_at >= since
                )
            )
        return (spent / written, written) if written else None

    def record_usage(self, day: date, subscription: str, usage: Usage) -> None:
        if not usage.total_tokens:
            return
        with self.session() as s, s.begin():
            s.add(
                UsageRow(
                    day=day, model=usage.model, subscription=subscription,
                    prompt_tokens=usage.prompt_tokens, cached_tokens=usage.cached_tokens,
                    completion_tokens=usage.completion_tokens,
                    reasoning_tokens=usage.reasoning_tokens, cost=usage.cost,
                )
            )  # fmt: skip

    def spent(self, day: date) -> float:
        """Dollars spent on priced models on a UTC day."""
        with self.session() as s:
            rows = s.scalars(select(UsageRow.cost).where(UsageRow.day == day))
            return sum(c for c in rows if c)

    def usage(self) -> list[tuple[date, Usage]]:
        """(day, Usage) per day and model, oldest first; cost None if any part was unpriced."""
        sums: dict[tuple[date, str], list[Any]] = {}
        with self.session() as s:
            for r in s.scalars(select(UsageRow).order_by(UsageRow.day, UsageRow.model)):
                acc = sums.setdefault((r.day, r.model), [0, 0, 0, 0.0, 0])
                acc[0] += r.prompt_tokens
                acc[1] += r.cached_tokens
                acc[2] += r.completion_tokens
                acc[3] = None if acc[3] is None or r.cost is None else acc[3] + r.cost
                acc[4] += r.reasoning_tokens
        return [
            (d, Usage(m, p, c, o, cost, reasoning_tokens=r))
            for (d, m), (p, c, o, cost, r) in sums.items()
        ]


def _score(row: ScoreRow | Row[Any]) -> Score:
    return Score(**{f: getattr(row, f) for f in _SCORE_FIELDS})


# the statements of every chat's run, built once: building a select costs several times
# what running it does (0.76 ms of CPU against 0.28 on a 2.0 GHz EPYC)
_LATEST_CRITERIA = (
    select(CriteriaRow.version, CriteriaRow.hash, CriteriaRow.text)
    .where(CriteriaRow.subscription == bindparam("subscription"))
    .order_by(CriteriaRow.version.desc())
    .limit(1)
)
_LEARNED_AT = select(ModelRow.created_at).where(
    ModelRow.criteria_hash == bindparam("criteria_hash"), ModelRow.scorer == bindparam("scorer")
)


@functools.lru_cache(maxsize=8)  # one prefix in use (the wanted examples'): built once
def _wanted(prefix: str) -> Select[str]:
    """A criteria's papers labelled wanted by sources starting with `prefix` (SQLAlchemy
    escapes it: autoescape takes a literal, not a bound parameter)."""
    return (
        select(LabelRow.paper_id)
        .where(
            LabelRow.criteria_hash == bindparam("criteria_hash"),
            LabelRow.source.startswith(prefix, autoescape=True),
            LabelRow.label >= 0.5,
        )
        .order_by(LabelRow.id)
    )
