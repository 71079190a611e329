"""What every front end renders: a Reply (title, lines, paper sections, buttons). No SDK here."""

from __future__ import annotations

from dataclasses import dataclass, field


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

    def buttons(self) -> tuple[Button, ...]:
        return (
            Button("👍", f"rate {self.id} +1"),
            Button("👎", f"rate {self.id} -1"),
            Button("Why?", f"why {self.id}"),
        )

    def byline(self, first: int = 3) -> str:
        names = ", ".join(self.authors[:first])
        return names + (" et al." if len(self.authors) > first else "")


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
            out.append(f"{p.rank}. {p.title}{scores} {p.url}\n   {p.byline()}\n   {p.comment}")
        return "\n".join(out)

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Reply:
        papers = [PaperCard(**{**p, "authors": tuple(p["authors"])}) for p in data["papers"]]
        buttons = [Button(**b) for b in data.get("buttons", [])]
        return cls(
            data["title"], list(data["lines"]), papers, data["ephemeral"], data["error"], buttons
        )
