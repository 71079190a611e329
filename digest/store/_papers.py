"""Papers and the days that listed them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from digest.errors import NotFoundError
from digest.papers import Paper
from digest.store._base import StoreBase, chunks
from digest.store.models import ListingRow, PaperRow


class PaperStore(StoreBase):
    def save_papers(self, papers: Iterable[Paper]) -> None:
        """The papers, listed on no day (a file scored from the command line)."""
        self.save_listing(None, papers)

    def save_listing(self, day: date | None, papers: Iterable[Paper]) -> None:
        """Idempotent: any number of workers may save the same day at once; a day whose
        listing holds every one of the papers already is left as it is."""
        papers = list({p.id: p for p in papers}.values())
        if not papers:
            return
        with self.session() as s, s.begin():
            if day is not None and _listed(s, day, [p.id for p in papers]) == len(papers):
                return  # saved already (each criteria's first build saves its day again)
            self.upsert(s, PaperRow, [_paper_row(p) for p in papers], ["id"])
            if day is None:
                return
            listed = [
                {"day": day, "paper_id": p.id, "announce_type": p.announce_type,
                 "feeds": dict(p.feeds)}
                for p in papers
            ]  # fmt: skip
            self.insert_ignore(s, ListingRow, listed, ["day", "paper_id"])

    def papers(self, paper_ids: list[str]) -> list[Paper]:
        """The stored papers among `paper_ids`, in id order."""
        with self.session() as s:
            return sorted(papers_by_id(s, paper_ids).values(), key=lambda p: p.id)

    def paper(self, paper_id: str) -> Paper | None:
        with self.session() as s:
            row = s.get(PaperRow, paper_id)
            return _paper(row) if row else None

    def require_paper(self, paper_id: str) -> Paper:
        paper = self.paper(paper_id)
        if paper is None:
            raise NotFoundError(
                f"paper {paper_id} is not in the store: no digest paperdigest has built lists "
                "it. `search <words>` finds the papers it has read; a new paper appears after "
                "the digest of the day arXiv announces it"
            )
        return paper

    def papers_of_day(self, day: date) -> list[Paper]:
        with self.session() as s:
            rows = s.execute(
                select(PaperRow, ListingRow)
                .join(ListingRow, ListingRow.paper_id == PaperRow.id)
                .where(ListingRow.day == day)
                .order_by(PaperRow.id)
            ).all()
            return [_paper(p, lst) for p, lst in rows]

    def listing_days(self, n: int) -> list[date]:
        """The last `n` days the store has a listing of, newest first."""
        with self.session() as s:
            return list(
                s.scalars(
                    select(ListingRow.day).distinct().order_by(ListingRow.day.desc()).limit(n)
                )
            )


def _listed(s: Session, day: date, paper_ids: list[str]) -> int:
    """How many of these papers the day's listing holds."""
    return sum(
        s.scalar(
            select(func.count())
            .select_from(ListingRow)
            .where(ListingRow.day == day, ListingRow.paper_id.in_(chunk))
        )
        or 0
        for chunk in chunks(paper_ids, 500)
    )


def papers_by_id(session: Session, paper_ids: Iterable[str]) -> dict[str, Paper]:
    """The stored papers among `paper_ids`, by id."""
    out: dict[str, Paper] = {}
    for chunk in chunks(sorted(set(paper_ids)), 500):
        for row in session.scalars(_PAPERS, {"ids": list(chunk)}):
            out[row.id] = _paper(row)
    return out


def _paper_row(paper: Paper) -> dict:
    return {
        "id": paper.id,
        "version": paper.version,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "categories": list(paper.categories),
        "primary_category": paper.primary_category,
        "comment": paper.comment,
    }


def _paper(row: PaperRow, listing: ListingRow | None = None) -> Paper:
    return Paper(
        id=row.id,
        version=row.version,
        title=row.title,
        abstract=row.abstract,
        authors=tuple(row.authors),
        categories=tuple(row.categories),
        primary_category=row.primary_category,
        comment=row.comment,
        announce_type=listing.announce_type if listing else "new",
        feeds=dict(listing.feeds) if listing else {},
    )


_PAPERS = select(PaperRow).where(PaperRow.id.in_(bindparam("ids", expanding=True)))  # built once
