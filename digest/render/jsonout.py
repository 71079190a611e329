"""A day's digest as a JSON document, and back (enough to re-render its pages)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from digest.day import Cutoffs, DayStatus, Digest, Entry, Usage
from digest.papers import Paper
from digest.scoring import Score


def _paper_dict(entry: Entry) -> dict[str, Any]:
    paper, score = entry.paper, entry.score
    return {
        "id": paper.id,
        "version": paper.version,
        "title": paper.title,
        "authors": list(paper.authors),
        "abstract": paper.abstract,
        "url": paper.url,
        "categories": list(paper.categories),
        "relevance": score.relevance,
        "novelty": score.novelty,
        "comment": score.comment,
        "matched": score.matched,
        "rank": entry.rank,
        "followed": entry.followed,
        "reason": entry.reason,
    }


def digest_to_dict(digest: Digest) -> dict[str, Any]:
    """The JSON-ready dict of one day's digest; `papers` are the selected entries in order."""
    return {
        "date": digest.day.isoformat(),
        "status": digest.status.value,
        "message": digest.message,
        "unscored": list(digest.unscored),
        "subscription": digest.subscription,
        "categories": list(digest.categories),
        "totals": {
            "total_entries": digest.total_entries,
            "scanned": digest.scanned,
            "selected": len(digest.selected),
        },
        "scorer": digest.scorer,
        "usage": [
            {
                "model": u.model,
                "prompt_tokens": u.prompt_tokens,
                "cached_tokens": u.cached_tokens,
                "completion_tokens": u.completion_tokens,
                "total_tokens": u.total_tokens,
                "cost": u.cost,
            }
            for u in digest.usage
        ],
        "cutoffs": {"relevance": digest.cutoffs.relevance, "novelty": digest.cutoffs.novelty},
        "criteria_hash": digest.criteria_hash,
        "papers": [_paper_dict(e) for e in digest.selected],
        "criteria_text": digest.criteria_text,
        "prompt": digest.prompt,
    }


def render_json(digest: Digest) -> str:
    """Render one day's digest as an indented UTF-8 JSON document."""
    return json.dumps(digest_to_dict(digest), indent=2, ensure_ascii=False) + "\n"


def digest_from_dict(data: dict[str, Any]) -> Digest:
    """Rebuild a Digest from `digest_to_dict` output; only the selected entries come back."""
    scorer = str(data.get("scorer") or "local")
    entries = []
    for p in data.get("papers") or []:
        paper = Paper(
            id=p["id"],
            title=p.get("title", ""),
            abstract=p.get("abstract", ""),
            authors=tuple(p.get("authors") or ()),
            categories=tuple(p.get("categories") or ()),
            version=p.get("version"),
        )
        score = Score(
            paper_id=p["id"],
            relevance=int(p.get("relevance") or 0),
            novelty=int(p.get("novelty") or 0),
            comment=p.get("comment") or "",
            matched=p.get("matched"),
            scorer=scorer,
        )
        entries.append(
            Entry(
                paper=paper,
                score=score,
                rank=int(p.get("rank") or 0),
                selected=True,
                reason=p.get("reason") or "",
                followed=bool(p.get("followed")),
            )
        )
    totals = data.get("totals") or {}
    cutoffs = data.get("cutoffs") or {}
    return Digest(
        day=date.fromisoformat(data["date"]),
        status=DayStatus(data["status"]),
        message=data.get("message") or "",
        unscored=tuple(data.get("unscored") or ()),
        subscription=data.get("subscription") or "default",
        categories=tuple(data.get("categories") or ()),
        total_entries=int(totals.get("total_entries") or 0),
        scanned=int(totals.get("scanned") or 0),
        entries=entries,
        usage=[
            Usage(
                model=u["model"],
                prompt_tokens=int(u.get("prompt_tokens") or 0),
                cached_tokens=int(u.get("cached_tokens") or 0),
                completion_tokens=int(u.get("completion_tokens") or 0),
                cost=u.get("cost"),
            )
            for u in data.get("usage") or []
        ],
        scorer=scorer,
        cutoffs=Cutoffs(**{k: int(v) for k, v in cutoffs.items() if k in ("relevance", "novelty")}),
        criteria_text=data.get("criteria_text") or "",
        criteria_hash=data.get("criteria_hash") or "",
        prompt=data.get("prompt") or "",
    )


def digest_from_json(text: str) -> Digest:
    """Parse a document written by `render_json`."""
    return digest_from_dict(json.loads(text))
