"""Outbox payloads keep only what is a chat's own on each card: a card's title, link, authors
and abstract are its paper's, read from the papers table when the message is drawn (Slack) or
drawn again (Telegram's More). Leans the rows stored before; the downgrade makes them whole.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 15:10:00
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OUTBOX = sa.table("outbox", sa.column("id", sa.Integer), sa.column("payload", sa.JSON))
_PAPERS = sa.table(
    "papers",
    sa.column("id", sa.String),
    sa.column("title", sa.Text),
    sa.column("abstract", sa.Text),
    sa.column("authors", sa.JSON),
)
_BATCH = 500  # rows read and written at a time
Card = dict[str, Any]


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _cards(payload: dict[str, Any]) -> list[Card]:
    """A payload's cards: Telegram's under `cards`, Slack's in its `reply`."""
    reply = payload.get("reply")
    papers = reply.get("papers") if isinstance(reply, dict) else None
    return [*(payload.get("cards") or ()), *(papers or ())]


def _mapped(payload: dict[str, Any], one: Callable[[Card], Card]) -> dict[str, Any]:
    out = dict(payload)
    if isinstance(out.get("cards"), list):
        out["cards"] = [one(c) for c in out["cards"]]
    reply = out.get("reply")
    if isinstance(reply, dict) and isinstance(reply.get("papers"), list):
        out["reply"] = {**reply, "papers": [one(c) for c in reply["papers"]]}
    return out


def _papers(bind: sa.Connection, ids: set[str]) -> dict[str, Card]:
    """The papers' fields a card shows, by id (as bot.chat.sent spells them)."""
    out: dict[str, Card] = {}
    ordered = sorted(ids)
    for i in range(0, len(ordered), _BATCH):
        query = sa.select(_PAPERS).where(_PAPERS.c.id.in_(ordered[i : i + _BATCH]))
        for row in bind.execute(query):
            authors = list(_loaded(row.authors) or ())
            url = f"https://arxiv.org/abs/{row.id}"
            out[row.id] = {"title": row.title, "url": url, "authors": authors,
                           "abstract": row.abstract}  # fmt: skip
    return out


def _rewrite(change: Callable[[Card, dict[str, Card]], Card]) -> None:
    """Every outbox row's cards changed by `change(card, its paper's fields)`, in batches."""
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(_OUTBOX.c.id, _OUTBOX.c.payload)
            .where(_OUTBOX.c.id > last)
            .order_by(_OUTBOX.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        last = rows[-1].id
        payloads = {row.id: _loaded(row.payload) for row in rows}
        cards = [c for p in payloads.values() if isinstance(p, dict) for c in _cards(p)]
        papers = _papers(bind, {str(c.get("id")) for c in cards})
        for row_id, payload in payloads.items():
            if not isinstance(payload, dict) or not _cards(payload):
                continue
            new = _mapped(payload, functools.partial(_with, change, papers))
            if new != payload:
                bind.execute(_OUTBOX.update().where(_OUTBOX.c.id == row_id).values(payload=new))


def _with(
    change: Callable[[Card, dict[str, Card]], Card], papers: dict[str, Card], card: Card
) -> Card:
    return change(card, papers)


def _lean(card: Card, papers: dict[str, Card]) -> Card:
    given = papers.get(str(card.get("id")))
    if given is None:
        return card
    return {k: v for k, v in card.items() if k not in given or v != given[k]}


def _whole(card: Card, papers: dict[str, Card]) -> Card:
    pid = str(card.get("id"))
    given = papers.get(pid) or {"title": pid, "url": f"https://arxiv.org/abs/{pid}",
                                "authors": [], "abstract": ""}  # fmt: skip
    return {**given, **card}


def upgrade() -> None:
    _rewrite(_lean)


def downgrade() -> None:
    _rewrite(_whole)
