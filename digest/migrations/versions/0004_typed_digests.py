"""Stored digests take the typed Digest's own JSON shape: the whole ranking as entries, each
paper by id (its text is in the papers table). Converts the digests stored before.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DIGESTS = sa.table("digests", sa.column("id", sa.Integer), sa.column("payload", sa.JSON))
_PAPERS = sa.table(
    "papers",
    sa.column("id", sa.String),
    sa.column("title", sa.Text),
    sa.column("abstract", sa.Text),
)
_SCORE = ("relevance", "novelty", "comment", "matched", "scorer")
_PLACE = ("rank", "selected", "reason", "followed")


def _typed(old: dict[str, Any]) -> dict[str, Any]:
    """A payload of 0001-0003 (`papers` selected, `ranking` all) as a Digest's JSON."""
    totals, scorer = old.get("totals") or {}, old.get("scorer") or "local"
    entries = [
        {
            "paper": {"id": r["id"]},
            "score": {"paper_id": r["id"], **{k: r.get(k) for k in _SCORE}},
            **{k: r.get(k) for k in _PLACE},
        }
        for r in old.get("ranking") or []
    ]
    for e in entries:
        e["score"]["scorer"] = e["score"]["scorer"] or scorer
        e["reason"], e["followed"] = e["reason"] or "", bool(e["followed"])
    keep = ("status", "message", "subscription", "categories", "scorer", "cutoffs")
    return {
        **{k: old[k] for k in keep if k in old},
        "day": old["date"],
        "total_entries": totals.get("total_entries", 0),
        "scanned": totals.get("scanned", 0),
        "entries": entries,
        "usage": [
            {k: v for k, v in u.items() if k != "total_tokens"} for u in old.get("usage", [])
        ],
        "criteria_text": old.get("criteria_text") or "",
        "criteria_hash": old.get("criteria_hash") or "",
        "prompt": old.get("prompt") or "",
        "unscored": old.get("unscored") or [],
    }


def _untyped(new: dict[str, Any], papers: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """The reverse, for a paperdigest of 0003: selected papers with their text, and the ranking."""
    ranking = [
        {"id": e["paper"]["id"], **{k: e["score"][k] for k in _SCORE}, **{k: e[k] for k in _PLACE}}
        for e in new.get("entries") or []
    ]
    selected = []
    for r in ranking:
        if r["selected"]:
            title, abstract = papers.get(r["id"], ("", ""))
            selected.append({**r, "title": title, "abstract": abstract, "authors": []})
    keep = ("status", "message", "subscription", "categories", "scorer", "cutoffs", "usage",
            "criteria_text", "criteria_hash", "prompt", "unscored")  # fmt: skip
    totals = {"total_entries": new.get("total_entries", 0), "scanned": new.get("scanned", 0),
              "selected": len(selected)}  # fmt: skip
    return {**{k: new[k] for k in keep if k in new}, "date": new["day"], "totals": totals,
            "papers": selected, "ranking": ranking}  # fmt: skip


def upgrade() -> None:
    bind = op.get_bind()
    for row_id, payload in bind.execute(sa.select(_DIGESTS.c.id, _DIGESTS.c.payload)).all():
        if "ranking" in payload or "date" in payload:
            new = _typed(payload)
            bind.execute(_DIGESTS.update().where(_DIGESTS.c.id == row_id).values(payload=new))


def downgrade() -> None:
    bind = op.get_bind()
    papers = {i: (t, a) for i, t, a in bind.execute(sa.select(_PAPERS)).all()}
    for row_id, payload in bind.execute(sa.select(_DIGESTS.c.id, _DIGESTS.c.payload)).all():
        if "entries" in payload:
            old = _untyped(payload, papers)
            bind.execute(_DIGESTS.update().where(_DIGESTS.c.id == row_id).values(payload=old))
