"""Research criteria: a small Markdown document <-> a typed Criteria, its hash and its prompt.

The document has an introduction, one `## Topic` section per topic with `- Relevant:` and
`- Irrelevant:` lines, a `## Keywords` section (`Relevant`, `Irrelevant`, `Application`) and
a `## Followed authors` list. `Criteria.to_text()` writes the same format back.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from digest.errors import CriteriaError

KEYWORDS = "Keywords"
AUTHORS = "Followed authors"
_KEYWORD_LABELS = ("relevant", "irrelevant", "application")
_TOPIC = {"relevant", "irrelevant"}
_ITEM = re.compile(r"^\s*[-*•]\s*(?:(?P<label>[A-Za-z ]+):\s*)?(?P<body>.*)$")


@dataclass(frozen=True)
class Topic:
    name: str
    relevant: str = ""
    irrelevant: str = ""


@dataclass(frozen=True)
class Criteria:
    """What a channel wants to read."""

    intro: str = ""
    topics: tuple[Topic, ...] = ()
    keywords: tuple[str, ...] = ()
    irrelevant_keywords: tuple[str, ...] = ()
    application_keywords: tuple[str, ...] = ()
    authors: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, text: str, source: str = "criteria") -> Criteria:
        """Parse the Markdown format; `source` names the document in errors."""
        intro: list[str] = []
        sections: list[tuple[str, list[str]]] = []
        for raw in text.splitlines():
            line = raw.rstrip()
            if line.startswith("## "):
                sections.append((line[3:].strip(), []))
            elif line.startswith("# ") and not sections:
                continue
            elif sections:
                if line.strip():
                    sections[-1][1].append(line)
            elif line.strip():
                intro.append(line.strip())
        topics: list[Topic] = []
        keywords: dict[str, tuple[str, ...]] = {}
        authors: tuple[str, ...] = ()
        for name, lines in sections:
            items = [_item(line, source, name) for line in lines]
            if name.lower() == KEYWORDS.lower():
                keywords = {label.lower(): _split_list(body) for label, body in items}
                unknown = [lb for lb, _ in items if lb.lower() not in _KEYWORD_LABELS]
                if unknown:
                    raise CriteriaError(
                        f"{source}: '{KEYWORDS}' has a line '{unknown[0]}:'; expected "
                        "'- Relevant: ...', '- Irrelevant: ...' or '- Application: ...'"
                    )
            elif name.lower() == AUTHORS.lower():
                authors = tuple(body for _, body in items if body)
            else:
                fields = {label.lower(): body for label, body in items}
                unknown = [(label, body) for label, body in items if label.lower() not in _TOPIC]
                if unknown:
                    label, body = unknown[0]
                    line = f"{label}: {body}" if label else body
                    raise CriteriaError(
                        f"{source}: topic '{name}' has a line '- {line}'; "
                        "expected '- Relevant: ...' and '- Irrelevant: ...'"
                    )
                topics.append(Topic(name, fields.get("relevant", ""), fields.get("irrelevant", "")))
        if not topics and not keywords.get("relevant") and not authors:
            raise CriteriaError(f"{source}: no topics, keywords or followed authors found")
        return cls(
            intro=" ".join(intro),
            topics=tuple(topics),
            keywords=keywords.get("relevant", ()),
            irrelevant_keywords=keywords.get("irrelevant", ()),
            application_keywords=keywords.get("application", ()),
            authors=authors,
        )

    @classmethod
    def load(cls, path: Path) -> Criteria:
        try:
            return cls.parse(Path(path).read_text(encoding="utf-8"), source=str(path))
        except OSError as exc:
            raise CriteriaError(f"cannot read criteria file {path}: {exc.strerror}") from exc

    def to_text(self) -> str:
        """The canonical Markdown form; parse(to_text()) == self."""
        out = ["# Research criteria", ""]
        if self.intro:
            out += [self.intro, ""]
        for topic in self.topics:
            out.append(f"## {topic.name}")
            if topic.relevant:
                out.append(f"- Relevant: {topic.relevant}")
            if topic.irrelevant:
                out.append(f"- Irrelevant: {topic.irrelevant}")
            out.append("")
        if self.keywords or self.irrelevant_keywords or self.application_keywords:
            out.append(f"## {KEYWORDS}")
            for label, words in (
                ("Relevant", self.keywords),
                ("Irrelevant", self.irrelevant_keywords),
                ("Application", self.application_keywords),
            ):
                if words:
                    out.append(f"- {label}: {', '.join(words)}")
            out.append("")
        if self.authors:
            out.append(f"## {AUTHORS}")
            out += [f"- {a}" for a in self.authors]
            out.append("")
        return "\n".join(out).rstrip() + "\n"

    @property
    def hash(self) -> str:
        """Stable over formatting: the hash of the canonical text."""
        return hashlib.sha256(self.to_text().encode("utf-8")).hexdigest()[:16]

    @property
    def scoring_hash(self) -> str:
        """The hash of what scorers read: followed authors skip scoring, so they are left out."""
        return replace(self, authors=()).hash

    def with_authors(self, authors: tuple[str, ...]) -> Criteria:
        return replace(self, authors=authors)


def _item(line: str, source: str, section: str) -> tuple[str, str]:
    match = _ITEM.match(line)
    if not match:
        raise CriteriaError(
            f"{source}: in '{section}', expected a '- ' list item, got: {line.strip()}"
        )
    return (match.group("label") or "").strip(), match.group("body").strip()


def _split_list(body: str) -> tuple[str, ...]:
    return tuple(
        w.strip().rstrip(".") for w in body.split(",") if w.strip().rstrip(".") not in ("", "etc")
    )


def default_criteria_path() -> Path:
    from digest.config import config_dir

    return config_dir() / "criteria.md"
