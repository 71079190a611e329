"""Research criteria: a small Markdown document <-> a typed Criteria, its hash and its prompt.

The document has an introduction, one `## Topic` section per topic with `- Relevant:` and
`- Irrelevant:` lines, a `## Keywords` section (`Relevant`, `Irrelevant`, `Application`) and
a `## Followed authors` list. `Criteria.to_text()` writes the same format back.

A document is capped (MAX_CHARS, MAX_TOPICS, MAX_NAME_CHARS, MAX_TEXT_CHARS): scoring time grows
with its size. An edited Criteria is checked with `Criteria.validated()` before it is saved.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from digest.config import config_dir
from digest.errors import CriteriaError, clip

KEYWORDS = "Keywords"
AUTHORS = "Followed authors"
_KEYWORD_LABELS = ("relevant", "irrelevant", "application")
_TOPIC = {"relevant", "irrelevant"}
MAX_CHARS = 20_000  # the whole document
MAX_TOPICS = 30
MAX_NAME_CHARS = 100  # a topic name
MAX_TEXT_CHARS = 2_000  # a topic's Relevant or Irrelevant text
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
        if len(text) > MAX_CHARS:
            raise CriteriaError(
                f"{source}: {len(text):,} characters is over the limit of {MAX_CHARS:,}; "
                "shorten the criteria"
            )
        if "\x00" in text:
            raise CriteriaError(f"{source}: contains NUL bytes; criteria are Markdown text")
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
                strays = [(label, body) for label, body in items if label.lower() not in _TOPIC]
                if strays:
                    label, body = strays[0]
                    line = f"{label}: {body}" if label else body
                    raise CriteriaError(
                        f"{source}: topic '{name}' has a line '- {line}'; "
                        "expected '- Relevant: ...' and '- Irrelevant: ...'"
                    )
                topics.append(Topic(name, fields.get("relevant", ""), fields.get("irrelevant", "")))
        if not topics and not keywords.get("relevant") and not authors:
            raise CriteriaError(f"{source}: no topics, keywords or followed authors found")
        _check_limits(topics, source)
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
            with Path(path).open("rb") as fh:
                data = fh.read(MAX_CHARS * 4 + 1)  # UTF-8 takes at most 4 bytes a character
        except OSError as exc:
            raise CriteriaError(f"cannot read criteria file {path}: {exc.strerror}") from exc
        if len(data) > MAX_CHARS * 4:
            raise CriteriaError(
                f"{path}: over the limit of {MAX_CHARS:,} characters; shorten the criteria"
            )
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CriteriaError(
                f"criteria file {path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                f"offset {exc.start}); criteria are a Markdown document"
            ) from None
        return cls.parse(text, source=str(path))

    def validated(self, source: str = "criteria") -> Criteria:
        """Self, if it is within the limits and reads back from `to_text()` unchanged.

        Call it before saving an edited Criteria; raises CriteriaError naming the bad part.
        """
        for topic in self.topics:
            if not topic.name:
                raise CriteriaError(f"{source}: a topic needs a name")
            _check_line(topic.name, f"topic name '{clip(topic.name)}'", source)
            _check_line(topic.relevant, f"topic '{clip(topic.name)}'", source)
            _check_line(topic.irrelevant, f"topic '{clip(topic.name)}'", source)
            if topic.name.strip().lower() in (KEYWORDS.lower(), AUTHORS.lower()):
                raise CriteriaError(
                    f"{source}: '{clip(topic.name)}' is a section of its own, not a topic name"
                )
        words = (*self.keywords, *self.irrelevant_keywords, *self.application_keywords)
        for word in words:
            _check_line(word, f"keyword '{clip(word)}'", source)
            if "," in word:
                raise CriteriaError(f"{source}: keyword '{clip(word)}' contains a comma")
        for author in self.authors:
            _check_line(author, f"author '{clip(author)}'", source)
        _check_line(self.intro, "the introduction", source)
        back = Criteria.parse(self.to_text(), source)
        if back != self:
            raise CriteriaError(
                f"{source}: {_first_difference(self, back)} would not read back as written; "
                "use plain one-line text"
            )
        return self

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

    @functools.cached_property  # frozen: the text never changes
    def hash(self) -> str:
        """Stable over formatting: the hash of the canonical text."""
        return hashlib.sha256(self.to_text().encode("utf-8")).hexdigest()[:16]

    @functools.cached_property
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


def _check_limits(topics: list[Topic], source: str) -> None:
    if len(topics) > MAX_TOPICS:
        raise CriteriaError(
            f"{source}: {len(topics)} topics is over the limit of {MAX_TOPICS}; merge some"
        )
    for topic in topics:
        if len(topic.name) > MAX_NAME_CHARS:
            raise CriteriaError(
                f"{source}: topic name '{clip(topic.name)}' is {len(topic.name):,} characters, "
                f"over the limit of {MAX_NAME_CHARS}"
            )
        for label, text in (("Relevant", topic.relevant), ("Irrelevant", topic.irrelevant)):
            if len(text) > MAX_TEXT_CHARS:
                raise CriteriaError(
                    f"{source}: topic '{clip(topic.name)}' has a {label} text of "
                    f"{len(text):,} characters, over the limit of {MAX_TEXT_CHARS:,}"
                )


def _check_line(text: str, what: str, source: str) -> None:
    """Refuse text that would not stay on one line of the document."""
    if text and text.splitlines() != [text]:
        problem = "a line break"
    elif text != text.strip():
        problem = "leading or trailing spaces"
    else:
        return
    raise CriteriaError(f"{source}: {what} contains {problem}; use one line of text")


def _first_difference(wanted: Criteria, got: Criteria) -> str:
    """Names the first part of `wanted` that reads back differently, e.g. "topic 'Evil'"."""
    for i, topic in enumerate(wanted.topics):
        if i >= len(got.topics) or got.topics[i] != topic:
            return f"topic '{clip(topic.name)}'"
    if len(got.topics) != len(wanted.topics):
        return "the list of topics"
    parts = {
        "keywords": "the relevant keywords",
        "irrelevant_keywords": "the irrelevant keywords",
        "application_keywords": "the application keywords",
        "authors": "the followed authors",
        "intro": "the introduction",
    }
    for name, part in parts.items():
        if getattr(wanted, name) != getattr(got, name):
            return part
    return "the criteria"


def _split_list(body: str) -> tuple[str, ...]:
    return tuple(
        w.strip().rstrip(".") for w in body.split(",") if w.strip().rstrip(".") not in ("", "etc")
    )


def default_criteria_path() -> Path:
    return config_dir() / "criteria.md"
