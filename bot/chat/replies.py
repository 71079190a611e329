"""What every front end renders: a Reply (title, lines, paper sections, buttons). No SDK here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from digest import (
    AUTHOR_MATCH,
    EXTRACTIVE,
    EXTRACTIVE_LABEL,
    TLDR_LABEL,
    Entry,
    close_line,
    extractive,
    same_author,
)


@dataclass(frozen=True)
class Button:
    """A button whose press runs `command` (plain command text, e.g. 'why 2602.08007')."""

    label: str
    command: str


@dataclass(frozen=True)
class PaperCard:
    """One paper as a chat shows it."""

    id: str
    title: str
    url: str
    authors: tuple[str, ...]
    relevance: int | None
    novelty: int | None
    comment: str
    rank: int
    followed: str | None = None  # the followed author who wrote it, as the criteria spell them
    tldr: str = ""  # one sentence on what the paper does
    tldr_extractive: bool = False  # `tldr` is a line of the abstract, not an LLM's TL;DR
    abstract: str = ""  # shown on **More**

    def buttons(self) -> tuple[Button, ...]:
        more = (Button("More", f"more {self.id}"),) if self.abstract else ()
        return (
            Button("👍", f"rate {self.id} +1"),
            Button("👎", f"rate {self.id} -1"),
            Button("Why?", f"why {self.id}"),
            *more,
        )

    def tldr_line(self) -> str:
        """'TL;DR: …', or the extractive line marked as not being one; '' without either."""
        if not self.tldr:
            return ""
        return f"{EXTRACTIVE_LABEL if self.tldr_extractive else TLDR_LABEL}: {self.tldr}"

    def byline(self, first: int = 3) -> str:
        """The first authors; a followed author past them is named too."""
        names = ", ".join(self.authors[:first])
        if len(self.authors) <= first:
            return names
        names += " et al."
        shown = self.authors[:first]
        if self.followed and not any(same_author(self.followed, a) for a in shown):
            names += f" (with {self.followed})"
        return names


def card(entry: Entry, rank: int | None = None) -> PaperCard:
    """A ranked paper as every front end shows it; a followed author's paper names them."""
    paper, score = entry.paper, entry.score
    author = (score.matched or "").removeprefix("author: ") if entry.followed else None
    tldr, made = entry.tldr, bool(entry.tldr_by) and entry.tldr_by != EXTRACTIVE
    return PaperCard(
        id=paper.id,
        title=paper.title,
        url=paper.url,
        authors=paper.authors,
        relevance=None if entry.followed else score.relevance,
        novelty=None if entry.followed else score.novelty,
        comment=_pinned(entry, f"{AUTHOR_MATCH}: {author}" if author else score.comment),
        rank=entry.rank if rank is None else rank,
        followed=author,
        tldr=tldr if made else extractive(paper.abstract),  # never a blank card
        tldr_extractive=not made,
        abstract=paper.abstract,
    )


def _pinned(entry: Entry, comment: str) -> str:
    """A paper close to the group's own work says so first (📌)."""
    return comment if entry.close_to is None else f"{close_line(entry.close_to)}\n{comment}"


@dataclass
class Reply:
    """A command's answer, or one message of a digest."""

    title: str
    lines: list[str] = field(default_factory=list)
    papers: list[PaperCard] = field(default_factory=list)
    ephemeral: bool = False  # only the asker sees it (Slack); a private answer elsewhere
    error: bool = False
    buttons: list[Button] = field(default_factory=list)  # under the reply: a proposal's Apply

    def text(self) -> str:
        """Plain text, for the terminal and for notifications."""
        out = [self.title, *self.lines]
        for p in self.papers:
            scores = "" if p.relevance is None else f" (R{p.relevance} N{p.novelty})"
            tldr = f"\n   {p.tldr_line()}" if p.tldr else ""
            out.append(
                f"{p.rank}. {p.title}{scores} {p.url}{tldr}\n   {p.byline()}\n   {p.comment}"
            )
        return "\n".join(out)


_REPLY = TypeAdapter(Reply)


def dump_reply(reply: Reply) -> dict[str, Any]:
    """The Reply as JSON data, as the outbox stores it (the dataclass's fields, by name)."""
    result: dict[str, Any] = _REPLY.dump_python(reply, mode="json")
    return result


def load_reply(data: object) -> Reply:
    """The Reply an outbox payload holds (rows stored before `buttons` existed load too)."""
    return _REPLY.validate_python(data)
