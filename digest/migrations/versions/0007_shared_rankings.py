"""The day's ranking is stored once per (day, criteria, scorer) in `rankings` and shared; a
digest keeps what is its own (the entries it shows, cutoffs, top-k, what no-repeats removed,
verdicts that differ from those) and its ranking's id. Converts the digests stored before.
Also what retention needs: explanations get a `created_at`, and the columns it prunes by an
index.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 09:30:00
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DIGESTS = sa.table(
    "digests",
    sa.column("id", sa.Integer),
    sa.column("day", sa.Date),
    sa.column("criteria_hash", sa.String),
    sa.column("payload", sa.JSON),
    sa.column("ranking_id", sa.Integer),
)
_RANKINGS = sa.table(
    "rankings",
    sa.column("id", sa.Integer),
    sa.column("key", sa.String),
    sa.column("day", sa.Date),
    sa.column("criteria_hash", sa.String),
    sa.column("scorer", sa.String),
    sa.column("listing", sa.String),
    sa.column("complete", sa.Boolean),
    sa.column("payload", sa.JSON),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_SCORE = ("relevance", "novelty", "comment", "matched", "scorer", "raw", "prompt_tokens",
          "cached_tokens", "completion_tokens", "reasoning_tokens", "cost")  # fmt: skip
_SCORE_DEFAULTS = {"raw": None, "prompt_tokens": 0, "cached_tokens": 0, "completion_tokens": 0,
                   "reasoning_tokens": 0, "cost": 0.0}  # fmt: skip
_SHARED = ("entries", "criteria_text", "prompt", "unscored")
_EXTRA = ("tldr", "tldr_by", "close_to")  # a chat's own, on the entries it shows
_INDEXES = (("digests", "day"), ("outbox", "day"), ("shown", "day"), ("claims", "updated_at"),
            ("day_listings", "paper_id"))  # fmt: skip


def _verdicts(places: list[list[Any]], own: dict[str, Any]) -> list[tuple[bool, str]]:
    """digest.ranking.verdicts as of 0006: a chat's verdict on each place of a ranking."""
    cut = own.get("cutoffs") or {"relevance": 8, "novelty": 7}
    rel_cut, nov_cut = cut["relevance"], cut["novelty"]
    top_k, shown = own.get("top_k", 0), set(own.get("already_shown") or ())
    out, chosen = [], 0
    for pid, _rank, followed, rel, nov, *_ in places:
        if pid in shown:
            selected, reason = False, "already shown on an earlier day"
        elif followed is not None:
            selected, reason = True, f"written by followed author {followed}"
        elif not (rel >= rel_cut and nov >= nov_cut):
            selected = False
            reason = (f"below the cutoffs (relevance {rel} vs >= {rel_cut}, "
                      f"novelty {nov} vs >= {nov_cut})")  # fmt: skip
        elif top_k and chosen >= top_k:
            selected, reason = False, f"passed the cutoffs but the digest keeps the top {top_k}"
        else:
            selected = True
            reason = f"relevance {rel} >= {rel_cut} and novelty {nov} >= {nov_cut}"
        chosen += selected and followed is None
        out.append((selected, reason))
    return out


def _split(old: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A 0004-0005 digest payload as (its shared ranking's payload, its own part)."""
    entries = old.get("entries") or []
    places = []
    for e in entries:
        score = {**_SCORE_DEFAULTS, **e["score"]}
        followed = (score.get("matched") or "").removeprefix("author: ") if e["followed"] else None
        places.append([e["paper"]["id"], e["rank"], followed, *(score[f] for f in _SCORE)])
    shared = {"criteria_text": old.get("criteria_text") or "", "prompt": old.get("prompt") or "",
              "unscored": list(old.get("unscored") or []), "places": places}  # fmt: skip
    own = {k: v for k, v in old.items() if k not in _SHARED}
    cut = next((m for e in entries if (m := re.search(r"keeps the top (\d+)", e["reason"]))), None)
    own["top_k"] = int(cut.group(1)) if cut else 0
    given = _verdicts(places, own)
    own["differs"] = {
        str(i): [e["selected"], e["reason"]]
        for i, (e, v) in enumerate(zip(entries, given, strict=True))
        if (e["selected"], e["reason"]) != v
    }
    own["shows"] = [[e["paper"]["id"], e["rank"], e["score"]["relevance"], e["score"]["novelty"]]
                    for e in entries if e["selected"]]  # fmt: skip
    own["extras"] = {str(i): extra for i, e in enumerate(entries)
                     if (extra := {k: e[k] for k in _EXTRA if e.get(k)})}  # fmt: skip
    return shared, own


def _joined(shared: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """The reverse: a 0005 payload with the whole ranking as entries."""
    places, differs, extras = shared["places"], own.get("differs") or {}, own.get("extras") or {}
    entries = []
    for i, (place, verdict) in enumerate(zip(places, _verdicts(places, own), strict=True)):
        pid, rank, followed, *fields = place
        selected, reason = differs.get(str(i), verdict)
        entries.append({"paper": {"id": pid}, "score": {"paper_id": pid, **dict(zip(_SCORE, fields,
                        strict=True))}, "rank": rank, "selected": selected, "reason": reason,
                        "followed": followed is not None, **extras.get(str(i), {})})  # fmt: skip
    old = {k: v for k, v in own.items() if k not in ("differs", "shows", "top_k", "extras")}
    return {**old, "entries": entries, "criteria_text": shared["criteria_text"],
            "prompt": shared["prompt"], "unscored": shared["unscored"]}  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "rankings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("criteria_hash", sa.String(length=64), nullable=False),
        sa.Column("scorer", sa.String(length=100), nullable=False),
        sa.Column("listing", sa.String(length=32), nullable=True),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rankings")),
        sa.UniqueConstraint("key", name=op.f("uq_rankings_key")),
    )
    op.create_index(op.f("ix_rankings_day"), "rankings", ["day"], unique=False)
    # plain ALTERs (no table copied on SQLite): a new store's migrations stay quick
    op.add_column("digests", sa.Column("ranking_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_digests_ranking_id"), "digests", ["ranking_id"], unique=False)
    for table, column in _INDEXES:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)
    bind = op.get_bind()
    at = datetime.now(UTC)
    # the explanations stored before are dated now (a NOT NULL column needs a constant default)
    op.add_column("explanations", sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False,
        server_default=sa.text(f"'{at.strftime('%Y-%m-%d %H:%M:%S')}'"),
    ))  # fmt: skip

    ids: dict[str, int] = {}
    rows = bind.execute(sa.select(_DIGESTS.c.id, _DIGESTS.c.day, _DIGESTS.c.criteria_hash,
                                  _DIGESTS.c.payload)).all()  # fmt: skip
    for row_id, day, criteria_hash, payload in rows:
        shared, own = _split(payload)
        scorer = own.get("scorer") or "local"
        head = [day.isoformat(), criteria_hash, scorer, None]
        text = json.dumps([head, shared], separators=(",", ":"), ensure_ascii=False)
        key = hashlib.sha256(text.encode()).hexdigest()
        if key not in ids:
            bind.execute(_RANKINGS.insert().values(
                key=key, day=day, criteria_hash=criteria_hash, scorer=scorer, listing=None,
                complete=not shared["unscored"], payload=shared, created_at=at,
            ))  # fmt: skip
            found = sa.select(_RANKINGS.c.id).where(_RANKINGS.c.key == key)
            ids[key] = bind.execute(found).one()[0]
        update = _DIGESTS.update().where(_DIGESTS.c.id == row_id)
        bind.execute(update.values(payload=own, ranking_id=ids[key]))


def downgrade() -> None:
    bind = op.get_bind()
    shared = dict(bind.execute(sa.select(_RANKINGS.c.id, _RANKINGS.c.payload)).all())
    rows = bind.execute(sa.select(_DIGESTS.c.id, _DIGESTS.c.ranking_id, _DIGESTS.c.payload)).all()
    for row_id, ranking_id, own in rows:
        if ranking_id is not None:
            old = _joined(shared[ranking_id], own)
            bind.execute(_DIGESTS.update().where(_DIGESTS.c.id == row_id).values(payload=old))
    with op.batch_alter_table("explanations") as batch:
        batch.drop_column("created_at")
    for table, column in _INDEXES:
        op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
    op.drop_index(op.f("ix_digests_ranking_id"), table_name="digests")
    with op.batch_alter_table("digests") as batch:
        batch.drop_column("ranking_id")
    op.drop_index(op.f("ix_rankings_day"), table_name="rankings")
    op.drop_table("rankings")
